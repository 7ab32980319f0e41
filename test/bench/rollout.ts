// What one rollout of N canaries costs the compiled controller, measured on a local control plane
// of its own: Weir only (the side-by-side benchmark with Flagger is `npm run bench:peer`).
//   - N Deployments with Gateway API Canaries (interval, stepWeight 20 up to 60), each checking one
//     MetricTemplate against a real Prometheus (`vector(100)`, so analysis always passes);
//   - `node dist/... controller` as a child process (the code `npm run build` compiled), with its own
//     API identity, so the API server's audit log tells its writes from ours;
//   - CPU seconds and RSS from /proc: before any Canary, N Initialized and idle, over the rollout
//     of all N (new image on every Deployment at once, until all Succeeded);
//   - writes per canary and per analysis tick by verb/resource/subresource (audit log), writes
//     that changed nothing (a patch the Canary or HTTPRoute watch never saw as a new version), and
//     "cache did not show our status write" lines in the controller's log;
//   - optionally a CPU profile (--cpu-prof) and a heap snapshot at the end of the rollout.
// Prints figures; asserts nothing about time. Every wait is bounded.
//
//   npm run build && npx tsx test/bench/rollout.ts [--n 20] [--interval 10] [--idle 20]
//       [--workers 4] [--hog 0] [--cpu-prof DIR] [--heap DIR] [--json FILE] [--dist DIR]
//       [--node-flags=--max-semi-space-size=2]
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { createKube } from '../../src/kube/client.ts';
import { gatewayCanary } from '../cluster/canary-world.ts';
import { createNamespace, projectRoot, startCluster } from '../cluster/cluster.ts';
import { startProcess, waitFor, type Managed } from '../cluster/proc.ts';
import { startPrometheus } from '../cluster/prometheus.ts';
import { sampleLive } from './peer/controllers.ts';
import { deployment } from './peer/manifests.ts';
import { startHog } from './peer/hog.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20' },
    interval: { type: 'string', default: '10' },
    idle: { type: 'string', default: '20' },
    workers: { type: 'string' },
    hog: { type: 'string', default: '0' },
    'cpu-prof': { type: 'string' },
    heap: { type: 'string' },
    json: { type: 'string' },
    dist: { type: 'string' },
    'node-flags': { type: 'string' },
  },
});
const N = Number(args.n);
const INTERVAL_S = Number(args.interval);
const IDLE_S = Number(args.idle);
const HOGS = Number(args.hog);
const OVERALL_TIMEOUT_MS = 20 * 60_000;
const USER = 'weir';

const guard = setTimeout(() => {
  console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 60_000} min`);
  process.exit(2);
}, OVERALL_TIMEOUT_MS);
guard.unref();

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}
type CanaryObj = {
  metadata: { name: string; resourceVersion?: string };
  status?: { phase?: string; canaryWeight?: number };
};

async function inBatches<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

/** The controller's writes by `verb resource[/subresource]` in [from, to]. */
function writesByKind(path: string, ns: string, from: number, to: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as AuditEvent;
    if (e.stage !== 'ResponseComplete' || e.user.username !== USER) continue;
    if (e.objectRef?.namespace !== ns) continue;
    const at = Date.parse(e.requestReceivedTimestamp);
    if (at < from || at > to) continue;
    const r = e.objectRef;
    const key = `${e.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}${(e.responseStatus?.code ?? 0) >= 300 ? ` (${e.responseStatus?.code})` : ''}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/** Counts MODIFIED events of a namespaced resource (new versions), to tell real writes from no-ops. */
async function countVersions(
  kc: KubeConfig,
  path: string,
  onEvent?: (obj: CanaryObj) => void,
): Promise<{ modified: () => number; stop: () => void }> {
  let modified = 0;
  const ctl = await new Watch(kc).watch(
    path,
    {},
    (type, obj: CanaryObj) => {
      if (type === 'MODIFIED') modified++;
      onEvent?.(obj);
    },
    () => undefined,
  );
  return { modified: () => modified, stop: () => ctl.abort() };
}

async function main(): Promise<void> {
  const dist = join(args.dist ?? join(projectRoot, 'dist'), 'weir.js');
  if (!existsSync(dist)) throw new Error('no dist/: run `npm run build` first');
  const cluster = await startCluster({
    crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
    auditLog: true,
    users: [USER],
  });
  const prom = await startPrometheus({ scrapeInterval: '15s' });
  let hog: { stop(): void } | undefined;
  let controller: Managed | undefined;
  try {
    const ns = await createNamespace(cluster, 'bench-rollout');
    const kube = createKube(cluster.kc);
    const logDir = join(projectRoot, '.weir', 'bench-logs', ns);
    await kube.apply(
      {
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'MetricTemplate',
        metadata: { name: 'always-ok', namespace: ns },
        spec: { provider: { type: 'prometheus', address: prom.url }, query: 'vector(100)' },
      } as never,
      'weir-bench',
    );
    const nodeFlags = [
      ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] : []),
      ...(args.heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${args.heap}`] : []),
      ...(args['node-flags']?.split(' ').filter(Boolean) ?? []),
    ];
    for (const d of [args['cpu-prof'], args.heap]) if (d) mkdirSync(d, { recursive: true });
    controller = startProcess(
      'controller',
      process.execPath,
      [
        ...nodeFlags,
        '--input-type=module',
        '-e',
        // What bin/weir.js does with a built dist/, for the dist/ asked for.
        `process.exitCode = await (await import(${JSON.stringify(pathToFileURL(dist).href)})).main(process.argv)`,
        'weir',
        'controller',
        '--kubeconfig',
        cluster.kubeconfigFor(USER),
      ],
      {
        logDir,
        env: {
          ...process.env,
          WEIR_NAMESPACE: ns,
          WEIR_LISTEN: '127.0.0.1:0',
          WEIR_LOG_LEVEL: 'info',
          ...(args.workers ? { WEIR_WORKERS: args.workers } : {}),
        },
      },
    );
    const child = controller;
    const sample = () => sampleLive(child);
    let port = '';
    await waitFor(
      'controller /readyz',
      async () => {
        sample();
        const log = readFileSync(child.logFile, 'utf8');
        port = /"port":(\d+)[^\n]*weir controller started/.exec(log)?.[1] ?? '';
        return !!port && (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      },
      60_000,
      250,
    );
    /** Canary reconciles so far by result, from the controller's /metrics. */
    const reconciles = async (): Promise<Map<string, number>> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const out = new Map<string, number>();
      for (const m of text.matchAll(/^weir_reconcile_duration_seconds_count\{([^}]*)\} (\d+)/gm)) {
        if (!m[1]!.includes('kind="Canary"')) continue;
        const result = /result="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
        out.set(result, (out.get(result) ?? 0) + Number(m[2]));
      }
      return out;
    };
    await delay(3_000);
    const baseline = sample();

    // Phase and weight of every Canary, from one watch; weight changes time the ticks.
    const phases = new Map<string, string>();
    const steps = new Map<string, { weight?: number; at: number[] }>();
    // Every status the first Canary went through, to show what each status write changed.
    const history: Array<Record<string, unknown>> = [];
    const names = Array.from({ length: N }, (_, i) => `app-${String(i + 1).padStart(4, '0')}`);
    const canaryWatch = await countVersions(
      cluster.kc,
      `/apis/weir.dev/v1alpha1/namespaces/${ns}/canaries`,
      (c) => {
        const name = c.metadata.name;
        if (name === names[0]) history.push(c.status ?? {});
        if (c.status?.phase) phases.set(name, c.status.phase);
        const s = steps.get(name) ?? { at: [] };
        const w = c.status?.canaryWeight;
        if (c.status?.phase === 'Progressing' && w !== undefined && w !== s.weight) {
          s.weight = w;
          s.at.push(Date.now());
        }
        steps.set(name, s);
      },
    );
    const routeWatch = await countVersions(
      cluster.kc,
      `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`,
    );
    const allIn = (want: string[]) => names.every((n) => want.includes(phases.get(n) ?? ''));
    const tCreate = Date.now();
    await inBatches(names, 10, async (name) => {
      await kube.apply(deployment(ns, name, `example.com/${name}:1.0.0`) as never, 'weir-bench');
      const c = gatewayCanary(name, {
        interval: `${INTERVAL_S}s`,
        stepWeight: 20,
        maxWeight: 60,
        metrics: [{ name: 'ok', templateRef: { name: 'always-ok' }, thresholdRange: { min: 99 } }],
      });
      await kube.apply({ ...c, metadata: { name, namespace: ns } } as never, 'weir-bench');
    });
    await waitFor('all Initialized', async () => allIn(['Initialized']), 10 * 60_000, 500);
    const initS = (Date.now() - tCreate) / 1000;
    await delay(5_000);

    // Idle window.
    const idleStart = sample();
    const tIdle = Date.now();
    const idleRss: number[] = [];
    while (Date.now() - tIdle < IDLE_S * 1000) {
      idleRss.push(sample().rssMiB);
      await delay(1_000);
    }
    const idleEnd = sample();
    const idleWrites = writesByKind(cluster.auditLogPath!, ns, tIdle, Date.now());

    // The rollout: a new image everywhere at once, until all Succeeded.
    if (HOGS > 0) hog = startHog(HOGS, 10 * 60_000);
    const logBefore = readFileSync(child.logFile, 'utf8').length;
    const rvBefore = { canary: canaryWatch.modified(), route: routeWatch.modified() };
    steps.clear();
    history.length = 0;
    const reconcilesBefore = await reconciles();
    const t0 = Date.now();
    const start = sample();
    await inBatches(names, 10, async (name) => {
      await kube.mergePatch(
        { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name },
        {
          spec: { template: { spec: { containers: [{ name: 'app', image: `example.com/${name}:2.0.0` }] } } },
        },
      );
    });
    const peakRss: number[] = [];
    await waitFor(
      'all Succeeded',
      async () => {
        peakRss.push(sample().rssMiB);
        return allIn(['Succeeded', 'Failed']);
      },
      10 * 60_000,
      500,
    );
    const t1 = Date.now();
    const end = sample();
    const reconcilesAfter = await reconciles();
    const reconcileCounts = [...reconcilesAfter.entries()]
      .map(([k, v]) => `${k} ${((v - (reconcilesBefore.get(k) ?? 0)) / N).toFixed(1)}`)
      .join(', ');
    hog?.stop();
    await delay(2_000); // the audit log is written as requests complete
    const writes = writesByKind(cluster.auditLogPath!, ns, t0, t1 + 1_000);
    const failed = names.filter((n) => phases.get(n) === 'Failed').length;
    if (args.heap) {
      child.child.kill('SIGUSR2');
      await delay(5_000);
    }
    const log = readFileSync(child.logFile, 'utf8').slice(logBefore);
    const stalls = log.split('\n').filter((l) => l.includes('did not show our status write')).length;
    const rollS = (t1 - t0) / 1000;
    // Ticks: the analysis ticks of one run (20, 40, 60, promotion) are ~rollout time / interval.
    const ticks = Math.max(1, Math.round(rollS / INTERVAL_S));
    const gaps = [...steps.values()].flatMap(({ at }) => at.slice(1).map((t, i) => (t - at[i]!) / 1000));
    const maxGap = gaps.length ? Math.max(...gaps) : NaN;
    const totalWrites = [...writes.values()].reduce((a, b) => a + b, 0);
    const statusPatches = [...writes.entries()]
      .filter(([k]) => k.startsWith('patch canaries/status'))
      .reduce((a, [, v]) => a + v, 0);
    const routePatches = [...writes.entries()]
      .filter(([k]) => / httproutes$/.test(k))
      .reduce((a, [, v]) => a + v, 0);
    const canaryVersions = canaryWatch.modified() - rvBefore.canary;
    const routeVersions = routeWatch.modified() - rvBefore.route;
    canaryWatch.stop();
    routeWatch.stop();

    const f = (x: number, d = 2) => (Number.isNaN(x) ? '-' : x.toFixed(d));
    const rows: Array<[string, string]> = [
      ['canaries / interval (s) / workers', `${N} / ${INTERVAL_S} / ${args.workers ?? 4}`],
      ['CPU hogs during the rollout', String(HOGS)],
      ['create -> all Initialized (s)', f(initS, 1)],
      ['RSS before any Canary (MiB)', f(baseline.rssMiB, 1)],
      [`RSS idle, ${N} Initialized (MiB, max)`, f(Math.max(...idleRss), 1)],
      [`CPU while idle (s over ${IDLE_S} s)`, f(idleEnd.cpuS - idleStart.cpuS)],
      ['writes while idle', String([...idleWrites.values()].reduce((a, b) => a + b, 0))],
      ['rollout: new image -> all done (s)', f(rollS, 1)],
      ['rollout: failed canaries', String(failed)],
      ['rollout: CPU (s)', f(end.cpuS - start.cpuS)],
      ['rollout: RSS peak (MiB)', f(Math.max(...peakRss), 1)],
      ['rollout: ticks per canary (time / interval)', String(ticks)],
      ['rollout: reconciles per canary, by result', reconcileCounts],
      ['rollout: writes per canary', f(totalWrites / N, 1)],
      ['rollout: writes per canary per tick', f(totalWrites / N / ticks)],
      ['rollout: status writes per canary per tick', f(statusPatches / N / ticks)],
      ['rollout: status writes that changed nothing', String(Math.max(0, statusPatches - canaryVersions))],
      ['rollout: route writes that changed nothing', String(Math.max(0, routePatches - routeVersions))],
      ['rollout: max time between two weight steps (s)', f(maxGap, 1)],
      ['rollout: "did not show our status write" lines', String(stalls)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\nweir controller (dist/, child process), namespace ${ns}`);
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    console.log('\nrollout writes by kind (per canary):');
    for (const [k, v] of [...writes.entries()].sort((a, b) => b[1] - a[1]))
      console.log(`  ${k.padEnd(40)} ${String(v).padStart(6)}  ${f(v / N)}`);
    console.log(`\nstatus writes seen on ${names[0]} (fields each one changed):`);
    history.forEach((st, i) => {
      const prev = history[i - 1] ?? {};
      const keys = new Set([...Object.keys(prev), ...Object.keys(st)]);
      const changed = [...keys].filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(st[k]));
      console.log(
        `  ${String(st.phase).padEnd(12)} w=${String(st.canaryWeight ?? '-').padEnd(3)} ${changed.join(', ')}`,
      );
    });
    if (args.json)
      writeFileSync(
        args.json,
        JSON.stringify({ rows: Object.fromEntries(rows), writes: Object.fromEntries(writes) }, null, 2),
      );
  } finally {
    hog?.stop();
    await controller?.stop(10_000);
    await prom.stop();
    await cluster.stop();
    if (args['cpu-prof'])
      console.log(
        `cpu profiles: ${readdirSync(args['cpu-prof'])
          .map((p) => join(args['cpu-prof']!, p))
          .join(' ')}`,
      );
  }
}

await main();
clearTimeout(guard);
