// Figures for the canary engine on the local control plane, with `weir controller` as a child
// process (log level info, one namespace):
//   (a) latency from a change of the target's pod template to phase Progressing, seen through a
//       watch on the Canary (Weir reacts to the Deployment's watch event; Flagger waits for its next
//       tick), median of a few canaries, with no other canary and again with 100 idle ones;
//   (b) the controller's RSS and CPU (/proc/<pid>/status and /proc/<pid>/stat) with 100 idle
//       Canaries (100 Deployments + 100 Canaries, all Initialized), sampled over an idle minute.
// Prints figures only; it asserts nothing about time. Every wait is bounded.
//
//   npx tsx test/bench/canary.ts [idleCanaries=100] [idleSeconds=60]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AppsV1Api, Watch } from '@kubernetes/client-node';
import { createKube } from '../../src/kube/client.ts';
import { gatewayCanary } from '../cluster/canary-world.ts';
import { createNamespace, projectRoot, sharedCluster, type Cluster } from '../cluster/cluster.ts';
import { startProcess, waitFor, type Managed } from '../cluster/proc.ts';
import { sampleLive } from './peer/controllers.ts';

const IDLE = Number(process.argv[2] ?? 100);
const IDLE_SECONDS = Number(process.argv[3] ?? 60);
const LATENCY_RUNS = 5;
const OVERALL_TIMEOUT_MS = 15 * 60_000;

const guard = setTimeout(() => {
  console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 60_000} min`);
  process.exit(2);
}, OVERALL_TIMEOUT_MS);
guard.unref();

type CanaryStatus = { phase?: string };
type CanaryObj = { metadata: { name: string }; status?: CanaryStatus };

// No metric checks: the bench runs no Prometheus.
const canary = (name: string) =>
  gatewayCanary(name, { interval: '1m', stepWeight: 20, maxWeight: 60, metrics: undefined });

/** Runs `fn` over `items`, `n` at a time. */
async function inBatches<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<void> {
  const cluster: Cluster = await sharedCluster();
  const ns = await createNamespace(cluster, 'bench-canary');
  const kube = createKube(cluster.kc);
  const apps = cluster.kc.makeApiClient(AppsV1Api);
  const logDir = join(projectRoot, '.weir', 'bench-logs', ns);
  let controller: Managed | undefined;
  try {
    controller = startProcess(
      'controller',
      process.execPath,
      [join(projectRoot, 'bin', 'weir.js'), 'controller', '--kubeconfig', cluster.kubeconfigPath],
      {
        logDir,
        env: { ...process.env, WEIR_NAMESPACE: ns, WEIR_LISTEN: '127.0.0.1:0', WEIR_LOG_LEVEL: 'info' },
      },
    );
    const child = controller;
    const sample = () => sampleLive(child);

    const deploy = (name: string) =>
      apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name, labels: { app: name } },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: { containers: [{ name: 'app', image: `example.com/${name}:1.0.0` }] },
            },
          },
        },
      });
    const setImage = (name: string, image: string) =>
      kube.mergePatch(
        { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name },
        { spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
      );
    const canaries = async () =>
      (await kube.objects.list('weir.dev/v1alpha1', 'Canary', ns)).items as unknown as CanaryObj[];
    const waitInitialized = (names: string[], timeoutMs: number) =>
      waitFor(
        `${names.length} Canaries Initialized`,
        async () => {
          const ready = new Set(
            (await canaries()).filter((c) => c.status?.phase === 'Initialized').map((c) => c.metadata.name),
          );
          return names.every((n) => ready.has(n));
        },
        timeoutMs,
        500,
      );
    const create = async (names: string[]) => {
      await inBatches(names, 10, async (n) => {
        await deploy(n);
        await kube.apply({ ...canary(n), metadata: { name: n, namespace: ns } } as never, 'weir-bench');
      });
    };

    /** ms from the template patch returning to a watch event showing phase Progressing. */
    const toProgressing = async (name: string, image: string): Promise<number> => {
      let resolve!: (t: number) => void;
      const seen = new Promise<number>((r) => (resolve = r));
      const abort = await new Watch(cluster.kc).watch(
        `/apis/weir.dev/v1alpha1/namespaces/${ns}/canaries`,
        { fieldSelector: `metadata.name=${name}` },
        (_t, c: CanaryObj) => {
          if (c.status?.phase === 'Progressing') resolve(performance.now());
        },
        () => undefined,
      );
      try {
        const t0 = performance.now();
        await setImage(name, image);
        const t1 = await Promise.race([seen, delay(30_000).then(() => Number.NaN)]);
        return t1 - t0;
      } finally {
        abort.abort();
      }
    };

    // Ready once its caches are synced (/readyz); the port is in the start-up log line.
    await waitFor(
      'controller /readyz',
      async () => {
        sample();
        const port = /"port":(\d+)[^\n]*weir controller started/.exec(
          readFileSync(child.logFile, 'utf8'),
        )?.[1];
        return !!port && (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      },
      60_000,
      250,
    );
    await delay(3_000); // let start-up garbage settle before the baseline
    const baseline = sample();

    // (a) with no other canary
    const lat = Array.from({ length: LATENCY_RUNS }, (_, i) => `lat-${i + 1}`);
    await create(lat);
    await waitInitialized(lat, 120_000);
    const latencyAlone: number[] = [];
    for (const n of lat) latencyAlone.push(await toProgressing(n, `example.com/${n}:2.0.0`));
    // Their runs would tick during the idle window: remove them (owned objects are collected).
    await inBatches(lat, 10, async (n) => {
      await kube.remove({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: ns, name: n });
      await kube.remove({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: n });
    });

    // (b) idle canaries
    const idle = Array.from({ length: IDLE }, (_, i) => `idle-${String(i + 1).padStart(3, '0')}`);
    const tCreate = performance.now();
    await create(idle);
    const created = performance.now() - tCreate;
    await waitInitialized(idle, 300_000);
    const allInitialized = performance.now() - tCreate;
    await delay(5_000); // let the last reconciles and GC settle before the idle window
    const samples: Array<{ rssMiB: number; cpuS: number; at: number }> = [];
    const windowStart = performance.now();
    while (performance.now() - windowStart < IDLE_SECONDS * 1000) {
      samples.push({ ...sample(), at: performance.now() });
      await delay(5_000);
    }
    samples.push({ ...sample(), at: performance.now() });
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const idleCpuPct = (100 * (last.cpuS - first.cpuS)) / ((last.at - first.at) / 1000);
    const rss = samples.map((s) => s.rssMiB);

    // (a) again, with the idle canaries present
    const latencyLoaded: number[] = [];
    for (const n of idle.slice(0, LATENCY_RUNS))
      latencyLoaded.push(await toProgressing(n, `example.com/${n}:2.0.0`));

    const fmt = (x: number, d = 0) => (Number.isNaN(x) ? 'timeout' : x.toFixed(d));
    const rows: Array<[string, string]> = [
      [`template change -> Progressing, alone (ms, median of ${LATENCY_RUNS})`, fmt(median(latencyAlone))],
      ['  each run (ms)', latencyAlone.map((x) => fmt(x)).join(', ')],
      [`template change -> Progressing, ${IDLE} idle (ms, median)`, fmt(median(latencyLoaded))],
      ['  each run (ms)', latencyLoaded.map((x) => fmt(x)).join(', ')],
      [`create ${IDLE} Deployments + Canaries (s)`, fmt(created / 1000, 1)],
      [`all ${IDLE} Initialized, from first create (s)`, fmt(allInitialized / 1000, 1)],
      ['controller RSS before any Canary (MiB)', fmt(baseline.rssMiB, 1)],
      [
        `controller RSS, ${IDLE} idle Canaries (MiB, min/median/max)`,
        `${fmt(Math.min(...rss), 1)} / ${fmt(median(rss), 1)} / ${fmt(Math.max(...rss), 1)}`,
      ],
      [
        `controller CPU while idle (% of one core over ${((last.at - first.at) / 1000).toFixed(0)} s)`,
        fmt(idleCpuPct, 2),
      ],
      ['controller CPU time in total (s)', fmt(last.cpuS, 2)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\nweir controller (child process, log level info), namespace ${ns}`);
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  } finally {
    await controller?.stop();
    if (process.env.WEIR_TEST_KUBECONFIG) await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
    await cluster.stop();
  }
}

await main();
clearTimeout(guard);
