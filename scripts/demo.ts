// `npm run demo`: Weir's main job on a real local cluster and a real data plane, with one command.
// Outside: builds the Go tools it needs (cached after the first time), then runs itself again inside
// its own network namespace (test/cluster/netns.ts), where pod IPs are local and nothing leaves the
// machine. Inside: starts etcd + kube-apiserver + controller-manager + scheduler + KWOK, the data
// plane (podinfo on every pod's IP, Traefik serving the Gateway API, Prometheus discovering the pods),
// a Slack capture server and `weir controller`; deploys podinfo with a Canary; plays a good release
// (promoted step by step) and a bad one (rolled back on its own), printing at every step the split
// measured on real requests next to the weight Weir wrote; prints a summary and stops everything.
//   --keep              leave it all running to explore with kubectl and weir (Ctrl-C stops it)
//   --kubeconfig <path> use this local cluster (the test suite's) in a fresh namespace instead of
//                       starting one: two KWOK clusters in one network namespace would hand out the
//                       same pod IPs
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import type { CanaryObject } from '../src/canary/context.ts';
import { createKube } from '../src/kube/client.ts';
import {
  binPath,
  connectCluster,
  createNamespace,
  projectRoot,
  startCluster,
  type Cluster,
} from '../test/cluster/cluster.ts';
import { startDataPlane } from '../test/cluster/data-plane.ts';
import { percent, runLoad, share } from '../test/cluster/load.ts';
import { insideRunNetns, reexecInRunNetns, runNetnsProblem } from '../test/cluster/netns.ts';
import { startProcess, waitFor } from '../test/cluster/proc.ts';
import { startSlackCapture } from '../test/cluster/slack-capture.ts';
import { printCanaryView } from './demo/canary-view.ts';
import {
  APP,
  BAD,
  FIRST_TAG,
  GOOD,
  HOST,
  answeredBy,
  appManifest,
  releasePatch,
  type Release,
} from './demo/podinfo-app.ts';
import { startSplitMeter } from './demo/split-meter.ts';
import { MIN_STEP_REQUESTS, startStepGate } from './demo/step-gate.ts';

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const kubeconfigArg = args.includes('--kubeconfig') ? args[args.indexOf('--kubeconfig') + 1] : undefined;
const TOOLS = ['etcd', 'kubernetes', 'kwok', 'traefik', 'podinfo', 'prometheus'];

if (!insideRunNetns()) {
  // Before a possibly long build: a machine that cannot make the namespace is told so at once.
  const problem = runNetnsProblem();
  if (problem) {
    console.error(`weir demo: cannot make its own network namespace.\n${problem}`);
    process.exit(69);
  }
  console.error(
    '[demo] Go-built tools (cached in ~/.cache/weir; cold, all of them took about 20 minutes on 2 cores)',
  );
  const build = spawnSync('bash', [join(projectRoot, 'test/cluster/tools/build.sh'), ...TOOLS], {
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
  process.exit(await reexecInRunNetns(import.meta.filename, args));
}

const t0 = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const say = (msg: string) => console.log(`[${clock()}] ${msg}`);

const workDir = mkdtempSync(join(tmpdir(), 'weir-demo-'));
let cluster: Cluster;
if (kubeconfigArg) {
  cluster = connectCluster(kubeconfigArg);
  say(`using the cluster of ${kubeconfigArg}`);
} else {
  say('starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK)');
  cluster = await startCluster({
    crds: [
      join(projectRoot, 'crds'),
      join(projectRoot, '..', 'shared', 'crds', 'gateway-api'),
      // Traefik's CRD provider watches its own kinds as well as the Gateway API's.
      join(projectRoot, '..', 'shared', 'crds', 'traefik'),
    ],
    logDir: join(workDir, 'cluster'),
  });
  say(`cluster ready in ${cluster.timings?.clusterReadyMs ?? '?'} ms`);
}
const kube = createKube(cluster.kc);
// Its own cluster has room for a plain `demo`; in a shared one a fresh name keeps runs apart.
const NS = kubeconfigArg ? await createNamespace(cluster, 'demo') : await createDemoNamespace();

say('starting the data plane: podinfo on each pod IP, Traefik (Gateway API), Prometheus (kubernetes_sd)');
const dp = await startDataPlane({
  kubeconfigPath: cluster.kubeconfigPath,
  namespace: NS,
  logDir: workDir,
  gatewayName: 'public',
});
const slack = await startSlackCapture();
const gate = await startStepGate();
say(
  `Traefik at ${dp.traefik.url} (Gateway ${NS}/public), Prometheus at ${dp.prometheus.url}, Slack capture at ${slack.url}`,
);

const controller = startProcess(
  'controller',
  process.execPath,
  [join(projectRoot, 'bin', 'weir.js'), 'controller', '--kubeconfig', cluster.kubeconfigPath],
  {
    logDir: workDir,
    env: {
      ...process.env,
      WEIR_NAMESPACE: NS,
      WEIR_PROMETHEUS_ADDRESS: dp.prometheus.url,
      WEIR_SLACK_URL: slack.url,
      WEIR_LISTEN: '127.0.0.1:0',
      WEIR_LOG_LEVEL: 'info',
    },
  },
);
say(`weir controller running (log: ${controller.logFile})`);

let slackSeen = 0;
const printSlack = () => {
  for (const m of slack.messages.slice(slackSeen))
    say(`slack> ${m.text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')}`);
  slackSeen = slack.messages.length;
};
const slackPrinter = setInterval(printSlack, 250);

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

const load = (count: number) =>
  runLoad({ url: dp.traefik.url, host: HOST, count, rps: 60, timeoutMs: 20_000 });
let requestsSent = 0;

/**
 * After the release ends, once a short probe shows Traefik serving the outcome: 300 requests, and
 * whose answers they were. Promoted, the primary runs the release; rolled back, it gets nothing.
 */
async function measureOutcome(release: Release, promoted: boolean): Promise<void> {
  const answered = answeredBy(release);
  const expected = promoted ? 1 : 0;
  await waitFor(
    'Traefik serving the outcome',
    async () => share(await load(20), answered) === expected,
    30_000,
    250,
  ).catch(() => say('(Traefik did not serve the outcome within 30 s; measuring anyway)'));
  const result = await load(300);
  requestsSent += result.sent;
  say(
    promoted
      ? `split   promoted: ${percent(result, answered)} requests answered by ${release.tag} (the primary runs it now)`
      : `split   rolled back: weight 0% → ${percent(result, answered)} requests answered by ${release.tag}`,
  );
}

const results: Record<string, { phase: string; seconds: number; message: string }> = {};
async function play(release: Release): Promise<void> {
  say(`--- ${release.label}: podinfo:${release.tag} ${release.args.join(' ')}`);
  const start = Date.now();
  const meter = startSplitMeter({
    kube,
    namespace: NS,
    name: APP,
    url: dp.traefik.url,
    host: HOST,
    tag: release.tag,
    answered: answeredBy(release),
    print: (line) => say(`split   ${line}`),
  });
  gate.use(meter);
  let done: CanaryObject;
  const slackBefore = slack.messages.length;
  try {
    const patched = await cluster.kubectl([
      'patch',
      '-n',
      NS,
      `deployment/${APP}`,
      '-p',
      releasePatch(release),
    ]);
    if (patched.code !== 0) throw new Error(`kubectl patch failed: ${patched.stderr}`);
    await follow(['Progressing'], 30_000);
    done = await follow(['Succeeded', 'Failed'], 300_000);
  } finally {
    gate.use(undefined);
    requestsSent += await meter.stop();
  }
  // The alert is sent right after the status write: wait for it, so it is printed with its release.
  await slack
    .waitFor(
      (m) => slack.messages.indexOf(m) >= slackBefore && /promotion finished|rolled back/.test(m.text),
      10_000,
    )
    .catch(() => say('(no Slack message about the outcome within 10 s)'));
  printSlack();
  await measureOutcome(release, done.status?.phase === 'Succeeded');
  results[release.tag] = {
    phase: done.status?.phase ?? '?',
    seconds: Math.round((Date.now() - start) / 1000),
    message: done.status?.message ?? '',
  };
  await printCanaryView(cluster.kc, kube, NS, APP);
}

let ok = false;
try {
  const applied = await cluster.kubectl(['apply', '-n', NS, '-f', '-'], {
    input: appManifest('public', NS, gate.url),
  });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
  say(
    `applied Deployment ${APP} (podinfo:${FIRST_TAG}, 2 replicas) and its Canary (stepWeight 20 up to 60, every 10s, success rate ≥ 99%; a gate holds each step until ${MIN_STEP_REQUESTS} requests were measured at it)`,
  );
  await follow(['Initialized'], 90_000);
  await play(GOOD);
  await play(BAD);

  console.log('\n=== summary ===');
  for (const [tag, r] of Object.entries(results))
    console.log(`podinfo:${tag}  ${r.phase.padEnd(10)} in ${r.seconds}s  ${r.message}`);
  console.log(
    `requests sent through Traefik to real podinfo pods: ${requestsSent}; Slack messages: ${slack.messages.length}`,
  );
  console.log(`logs: ${workDir} (controller.log, traefik.log, prometheus.log, podinfo-*.log, cluster/)`);
  console.log(
    `DEMO RESULT ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([v, r]) => [v, r.phase])))}`,
  );
  ok = results[GOOD.tag]?.phase === 'Succeeded' && results[BAD.tag]?.phase === 'Failed';
  if (keep) await holdForExploring();
} finally {
  clearInterval(slackPrinter);
  await controller.stop();
  await dp.stop();
  await slack.stop();
  await gate.close();
  if (kubeconfigArg)
    await cluster.kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: NS })
      .catch(() => undefined);
  await cluster.stop();
  say('everything stopped');
}
process.exit(ok ? 0 : 1);

/** Namespace `demo`, once its default ServiceAccount exists (the API server refuses pods before). */
async function createDemoNamespace(): Promise<string> {
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
  await waitFor('ServiceAccount demo/default', () =>
    kube.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'demo', name: 'default' }),
  );
  return 'demo';
}

/** `--keep`: everything runs inside this process's network namespace, so say how to enter it. */
async function holdForExploring(): Promise<void> {
  const enter =
    process.getuid?.() === 0
      ? `nsenter --target ${process.pid} --net`
      : `nsenter --target ${process.pid} --user --net --preserve-credentials`;
  console.log(
    `\nstill running (--keep). The cluster and the data plane live in this process's network namespace;` +
      ` in another shell enter it first:\n  ${enter}\n  export KUBECONFIG=${cluster.kubeconfigPath}` +
      `\n  node bin/weir.js get canary ${APP} -n ${NS}\n  ${binPath('kubernetes', 'kubectl')} get canaries,deploy,svc,httproute -n ${NS}` +
      `\n  curl -H 'Host: ${HOST}' ${dp.traefik.url}/\nCtrl-C stops everything.`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
