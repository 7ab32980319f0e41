// `npm run demo`: Weir's main job on the local control plane, start to finish, with one command.
// Starts etcd + kube-apiserver + controller-manager + scheduler + KWOK (building them first if the
// cache is cold), a real Prometheus, a Slack capture server and `weir controller`; deploys a demo app
// whose primary and canary are real HTTP processes exporting http_request_duration_seconds; then
// plays a good release (promoted step by step) and a bad one (rolled back on its own), prints a
// summary and stops everything. `--keep` leaves it all running for exploring with weir/kubectl.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKube } from '../src/kube/client.ts';
import type { CanaryObject } from '../src/canary/context.ts';
import { CoreV1Api, type CoreV1Event, type V1Deployment } from '@kubernetes/client-node';
import { renderCanary } from '../src/cli/canary-view.ts';
import { COLOR, PLAIN } from '../src/cli/style.ts';
import { startAppExporter } from '../test/cluster/app-exporter.ts';
import { binPath, projectRoot, startCluster } from '../test/cluster/cluster.ts';
import { startProcess, waitFor } from '../test/cluster/proc.ts';
import { startPrometheus } from '../test/cluster/prometheus.ts';
import { startSlackCapture } from '../test/cluster/slack-capture.ts';
import { startWeightedLoad } from './demo/weighted-load.ts';

const keep = process.argv.includes('--keep');
const t0 = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const say = (msg: string) => console.log(`[${clock()}] ${msg}`);
const NS = 'demo';
const APP = 'podinfo';
// What each version does; the exporters take on the behaviour of the image their Deployment runs.
const VERSIONS: Record<string, { errorRate: number; latencyMs: number }> = {
  '1.0.0': { errorRate: 0, latencyMs: 5 },
  '2.0.0': { errorRate: 0, latencyMs: 8 },
  '3.0.0': { errorRate: 0.3, latencyMs: 5 },
};

function ensureBinaries(): void {
  try {
    binPath('kubernetes', 'kube-apiserver');
    binPath('etcd', 'etcd');
    binPath('kwok', 'kwok');
  } catch {
    say('building the control plane from Go modules (first run only: about 10-20 minutes on 2 cores)');
    const r = spawnSync('bash', [join(projectRoot, 'test/cluster/tools/build.sh')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the control plane failed (see above)');
  }
}

ensureBinaries();
const workDir = mkdtempSync(join(tmpdir(), 'weir-demo-'));
say('starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK)');
const cluster = await startCluster({
  crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
  logDir: join(workDir, 'cluster'),
});
const kube = createKube(cluster.kc);
say(`cluster ready in ${cluster.timings?.clusterReadyMs ?? '?'} ms`);
const prom = await startPrometheus({ scrapeInterval: '1s', logDir: workDir });
const slack = await startSlackCapture();
say(`Prometheus at ${prom.url}, Slack capture at ${slack.url}`);

const controllerLog = join(workDir, 'controller.log');
const controller = startProcess(
  'controller',
  process.execPath,
  [join(projectRoot, 'bin', 'weir.js'), 'controller', '--kubeconfig', cluster.kubeconfigPath],
  {
    logDir: workDir,
    env: {
      ...process.env,
      WEIR_NAMESPACE: NS,
      WEIR_PROMETHEUS_ADDRESS: prom.url,
      WEIR_SLACK_URL: slack.url,
      WEIR_LISTEN: '127.0.0.1:0',
      WEIR_LOG_LEVEL: 'info',
    },
  },
);
say(`weir controller running (log: ${controllerLog})`);

await cluster.kubectl(['create', 'namespace', NS]);
const primaryApp = await startAppExporter({
  pod: `${APP}-primary-6b7f9d-d3m0a`,
  namespace: NS,
  ...VERSIONS['1.0.0'],
});
const canaryApp = await startAppExporter({ pod: `${APP}-5c9d7f-c4n4r`, namespace: NS, ...VERSIONS['1.0.0'] });
for (const a of [primaryApp, canaryApp]) await prom.addTarget(a.target(a.pod));
const load = startWeightedLoad(
  kube,
  { namespace: NS, name: APP },
  { primary: primaryApp.address, canary: canaryApp.address },
);
say('demo app: two real HTTP processes stand in for the primary and canary pods (KWOK pods run no process);');
say(
  'a load generator reads the HTTPRoute weights Weir writes and splits requests accordingly, standing in for the gateway data plane',
);

const versionOf = async (name: string) => {
  const d = await kube.get<
    {
      spec?: { replicas?: number; template?: { spec?: { containers?: Array<{ image?: string }> } } };
    } & Record<string, never>
  >({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name });
  return d?.spec?.template?.spec?.containers?.[0]?.image?.split(':').pop();
};
const behaviour = setInterval(() => {
  void Promise.all([versionOf(`${APP}-primary`), versionOf(APP)]).then(([p, c]) => {
    if (p && VERSIONS[p]) primaryApp.set(VERSIONS[p]);
    if (c && VERSIONS[c]) canaryApp.set(VERSIONS[c]);
  });
}, 500);
let slackSeen = 0;
const slackPrinter = setInterval(() => {
  for (const m of slack.messages.slice(slackSeen))
    say(`slack> ${m.text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')}`);
  slackSeen = slack.messages.length;
}, 250);

const manifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${APP}, labels: {app: ${APP}}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${APP}}}
  template:
    metadata: {labels: {app: ${APP}}}
    spec:
      containers: [{name: ${APP}, image: "ghcr.io/stefanprodan/podinfo:1.0.0", ports: [{containerPort: 9898}]}]
---
apiVersion: weir.dev/v1alpha1
kind: Canary
metadata: {name: ${APP}}
spec:
  provider: gatewayapi
  targetRef: {kind: Deployment, name: ${APP}}
  service: {port: 9898, gatewayRefs: [{name: public, namespace: gateway}]}
  analysis:
    interval: 10s
    threshold: 2
    stepWeight: 20
    maxWeight: 60
    metrics:
      - {name: request-success-rate, thresholdRange: {min: 99}}
      - {name: request-duration, thresholdRange: {max: 500}}
`;
const applied = await cluster.kubectl(['apply', '-n', NS, '-f', '-'], { input: manifest });
if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
say(
  `applied Deployment ${APP} (podinfo:1.0.0, 2 replicas) and its Canary (stepWeight 20 up to 60, every 10s)`,
);

const canary = async () =>
  (await kube.get<CanaryObject>({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    namespace: NS,
    name: APP,
  }))!;
let last = '';
const follow = async (until: string[], timeoutMs: number): Promise<CanaryObject> =>
  waitFor(
    `canary phase ${until.join('|')}`,
    async () => {
      const c = await canary();
      const s = c.status ?? {};
      const line = `${(s.phase ?? 'Pending').padEnd(16)} weight ${String(s.canaryWeight ?? 0).padStart(3)}%  failed ${s.failedChecks ?? 0}/${c.spec.analysis.threshold ?? 1}  ${s.message ?? ''}`;
      if (line !== last) say(`canary  ${line}`);
      last = line;
      return s.phase && until.includes(s.phase) ? c : undefined;
    },
    timeoutMs,
    500,
  );

const results: Record<string, { phase: string; seconds: number; message: string }> = {};
const release = async (version: string, label: string) => {
  say(`--- ${label}: kubectl set image deployment/${APP} ${APP}=ghcr.io/stefanprodan/podinfo:${version}`);
  const start = Date.now();
  await cluster.kubectl([
    'set',
    'image',
    '-n',
    NS,
    `deployment/${APP}`,
    `${APP}=ghcr.io/stefanprodan/podinfo:${version}`,
  ]);
  const slackBefore = slack.messages.length;
  await follow(['Progressing'], 30_000);
  const done = await follow(['Succeeded', 'Failed'], 300_000);
  // The alert is sent right after the status write: wait for it, so it is printed with its release.
  await slack
    .waitFor(
      (m) => slack.messages.indexOf(m) >= slackBefore && /promotion finished|rolled back/.test(m.text),
      10_000,
    )
    .catch(() => say('(no Slack message about the outcome within 10 s)'));
  results[version] = {
    phase: done.status?.phase ?? '?',
    seconds: Math.round((Date.now() - start) / 1000),
    message: done.status?.message ?? '',
  };
  await showView();
};

/** The `weir get canary` view (the CLI's own renderer) at the end of each release. */
async function showView(): Promise<void> {
  const dep = (name: string) =>
    kube.get<V1Deployment & Record<string, never>>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: NS,
      name,
    });
  const events = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedEvent({
    namespace: NS,
    fieldSelector: `involvedObject.kind=Canary,involvedObject.name=${APP}`,
  });
  const view = renderCanary(
    {
      canary: await canary(),
      primary: await dep(`${APP}-primary`),
      target: await dep(APP),
      events: events.items as CoreV1Event[],
    },
    { style: process.stdout.isTTY ? COLOR : PLAIN, now: new Date() },
  );
  console.log(`\n$ weir get canary ${APP} -n ${NS}\n${view}\n`);
}

try {
  await follow(['Initialized'], 90_000);
  await release('2.0.0', 'a good release');
  await release('3.0.0', 'a bad release (30% errors)');
  await new Promise((r) => setTimeout(r, 1000));
} finally {
  clearInterval(slackPrinter);
  for (const m of slack.messages.slice(slackSeen)) say(`slack> ${m.text}`);
}
const sent = load.sent();
console.log('\n=== summary ===');
for (const [v, r] of Object.entries(results))
  console.log(`podinfo:${v}  ${r.phase.padEnd(10)} in ${r.seconds}s  ${r.message}`);
console.log(
  `requests sent by the load generator: ${sent.primary} to primary, ${sent.canary} to canary; Slack messages: ${slack.messages.length}`,
);
console.log(`logs: ${workDir} (controller.log, cluster/, prometheus.log)`);
console.log(
  `DEMO RESULT ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([v, r]) => [v, r.phase])))}`,
);

if (keep) {
  console.log(
    `\nstill running (--keep). In another shell:\n  export KUBECONFIG=${cluster.kubeconfigPath}\n  node bin/weir.js get canary ${APP} -n ${NS}\n  ${binPath('kubernetes', 'kubectl')} get canaries,deploy,svc,httproute -n ${NS}\nCtrl-C stops everything.`,
  );
  const hold = setInterval(() => undefined, 60_000);
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  clearInterval(hold);
}
clearInterval(behaviour);
load.stop();
await controller.stop();
await Promise.all([primaryApp.stop(), canaryApp.stop(), prom.stop(), slack.stop()]);
await cluster.stop();
say('everything stopped');
const ok = results['2.0.0']?.phase === 'Succeeded' && results['3.0.0']?.phase === 'Failed';
process.exit(ok ? 0 : 1);
