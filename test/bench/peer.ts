// `npm run bench:peer`: Weir and Flagger side by side on one local control plane, at the same time,
// each in its own namespace with its own API identity (the audit log records every request with its
// user) and its own Prometheus (whose query log counts its metric queries). Both run the same
// Canaries (Flagger's manifests, converted for Weir by `weir convert`) on the same Deployments:
// create -> Initialized, an idle window, R rollouts of every Canary, then a few Canaries whose check
// fails. Prints the table, then one JSON line (also written to bench-results/). Asserts nothing.
// The bundled controller (dist/, built here by `npm run build`) is what is measured, as the image runs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createKube, type Kube } from '../../src/kube/client.ts';
import { VERSION as WEIR_VERSION } from '../../src/version.ts';
import {
  binPath,
  createNamespace,
  projectRoot,
  startCluster,
  toolVersion,
  type LocalCluster,
} from '../cluster/cluster.ts';
import { startPrometheus, type PrometheusInstance } from '../cluster/prometheus.ts';
import { waitFor } from '../cluster/proc.ts';
import { readAudit, readQueryLog, type Window } from './peer/attribution.ts';
import {
  alive,
  heapInUseMiB,
  metricsText,
  startFlagger,
  startWeir,
  type Controller,
} from './peer/controllers.ts';
import { rolloutMetrics } from './peer/weir-metrics.ts';
import { figures, type Figures, type Rollout } from './peer/figures.ts';
import { deployment, flaggerCanary, flaggerTemplate, weirObjects, type AppSpec } from './peer/manifests.ts';
import { parseOptions, type PeerOptions } from './peer/options.ts';
import { machine, ratios, table, writeResult } from './peer/report.ts';
import { startHog } from './peer/hog.ts';
import { sampleMachineLoad, type MachineLoad } from './peer/machine-load.ts';
import { Timeline } from './peer/timeline.ts';

const opts = parseOptions(process.argv.slice(2));
const guard = setTimeout(() => {
  console.error(`bench:peer: gave up after ${opts.timeoutMin} min`);
  process.exit(2);
}, opts.timeoutMin * 60_000);
guard.unref();
// Every wait is cut to what is left before the guard, less time to read the logs and report, so a
// run that runs out of time still prints what it measured (phases not reached show as missing).
const reportBy = Date.now() + opts.timeoutMin * 60_000 - 3 * 60_000;
const left = (ms: number) => Math.max(1_000, Math.min(ms, reportBy - Date.now()));

const USERS = { weir: 'weir-controller', flagger: 'flagger' } as const;

interface Side {
  name: 'weir' | 'flagger';
  ns: string;
  apiVersion: string;
  prom: PrometheusInstance;
  queryLog: string;
  controller: Controller;
  timeline: Timeline;
  baselineAt: number;
  /** Heap in use (MiB) at the baseline and at the end of the idle window. */
  heap: { baseline?: number; idle?: number };
  rollouts: Rollout[];
  failure?: Rollout;
}

const apps = (o: PeerOptions): { rolling: AppSpec[]; failing: AppSpec[] } => ({
  rolling: Array.from({ length: o.n }, (_, i) => ({
    name: `app-${String(i + 1).padStart(4, '0')}`,
    failing: false,
  })),
  failing: Array.from({ length: o.failing }, (_, i) => ({
    name: `bad-${String(i + 1).padStart(3, '0')}`,
    failing: true,
  })),
});

/** Runs `fn` over `items`, at most `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function buildDist(): void {
  const r = spawnSync('npm', ['run', 'build'], { cwd: projectRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

function flaggerBinary(): string {
  try {
    return binPath('flagger', 'flagger');
  } catch {
    const script = join(projectRoot, 'test/cluster/tools/build.sh');
    const r = spawnSync('bash', [script, 'flagger'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building Flagger failed (test/cluster/tools/build.sh flagger)');
    return binPath('flagger', 'flagger');
  }
}

async function startSide(
  cluster: LocalCluster,
  name: Side['name'],
  flaggerBin: string | undefined,
  logDir: string,
): Promise<Side> {
  const ns = await createNamespace(cluster, `bench-${name}`);
  const queryLog = join(logDir, `${name}-queries.log`);
  const prom = await startPrometheus({
    queryLogFile: queryLog,
    scrapeInterval: '5s',
    logDir: join(logDir, `prom-${name}`),
  });
  await prom.addTarget({ job: 'self', address: prom.url.replace('http://', '') });
  await prom.waitForTargetUp(prom.url.replace('http://', ''), 60_000);
  const kubeconfig = cluster.kubeconfigFor(USERS[name]);
  const controller =
    name === 'weir'
      ? await startWeir(kubeconfig, ns, logDir)
      : await startFlagger(flaggerBin!, kubeconfig, ns, prom.url, logDir);
  const apiVersion = name === 'weir' ? 'weir.dev/v1alpha1' : 'flagger.app/v1beta1';
  const timeline = new Timeline(createKube(cluster.kc), cluster.kc, apiVersion, ns);
  await timeline.start();
  return {
    name,
    ns,
    apiVersion,
    prom,
    queryLog,
    controller,
    timeline,
    baselineAt: 0,
    heap: {},
    rollouts: [],
  };
}

function canaryObjects(side: Side, all: AppSpec[]): Array<Record<string, unknown>> {
  const analysis = { interval: `${opts.intervalS}s`, stepWeight: 20, maxWeight: 60, threshold: 2 };
  return side.name === 'weir'
    ? weirObjects(side.ns, side.prom.url, all, analysis)
    : [flaggerTemplate(side.ns, side.prom.url), ...all.map((a) => flaggerCanary(side.ns, a, analysis))];
}

async function create(kube: Kube, side: Side, all: AppSpec[]): Promise<void> {
  await pool(all, 10, (a) =>
    kube
      .apply(deployment(side.ns, a.name, `example.com/${a.name}:1`) as never, 'bench')
      .then(() => undefined),
  );
  await pool(canaryObjects(side, all), 10, (o) => kube.apply(o as never, 'bench').then(() => undefined));
}

/** Patches every app's image, then waits until each reached one of `until` (bounded). */
async function rollout(
  kube: Kube,
  side: Side,
  names: string[],
  image: string,
  until: string[],
): Promise<Rollout> {
  const patchedAt = new Map<string, number>();
  const metricsBefore = side.name === 'weir' ? await metricsText(side.controller) : undefined;
  const from = Date.now();
  await pool(names, 10, async (n) => {
    await kube.mergePatch(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: side.ns, name: n },
      { spec: { template: { spec: { containers: [{ name: 'app', image: `example.com/${n}:${image}` }] } } } },
    );
    patchedAt.set(n, Date.now());
  });
  // Six steps of the interval at most, plus promotion; four times that before giving up.
  const limitMs = (opts.intervalS * 10 + 60) * 4 * 1000 + names.length * 200;
  const done = () => names.every((n) => until.some((p) => side.timeline.reached(n, p, patchedAt.get(n)!)));
  await waitFor(
    `${side.name}: ${names.length} Canaries ${until.join(' or ')}`,
    () => (alive(side.controller), done()),
    left(limitMs),
    500,
  ).catch((err: Error) => console.error(`bench:peer: ${err.message}`));
  const last = Math.max(
    ...names.map((n) =>
      Math.max(...until.map((p) => side.timeline.reached(n, p, patchedAt.get(n)!) ?? Date.now())),
    ),
  );
  // Weir's own account of the rollout; none when either read of its /metrics failed.
  const metricsAfter = metricsBefore ? await metricsText(side.controller) : '';
  const weir = metricsBefore && metricsAfter ? rolloutMetrics(metricsBefore, metricsAfter) : undefined;
  return { patchedAt, window: { from, to: last }, ...(weir ? { weir } : {}) };
}

async function main(): Promise<void> {
  buildDist();
  const flaggerBin = opts.controllers.includes('flagger') ? flaggerBinary() : undefined;
  const logDir = mkdtempSync(join(tmpdir(), 'weir-bench-peer-'));
  const { rolling, failing } = apps(opts);
  const all = [...rolling, ...failing];
  const controllers = opts.controllers.length;
  const cluster = await startCluster({
    auditLog: 'all',
    users: Object.values(USERS),
    nodes: Math.max(2, Math.ceil((all.length * controllers * 3) / 400)),
    crds: [
      join(projectRoot, 'crds'),
      join(projectRoot, '..', 'shared', 'crds', 'gateway-api'),
      join(projectRoot, '..', 'shared', 'crds', 'flagger'),
    ],
    logDir: join(logDir, 'cluster'),
  });
  const kube = createKube(cluster.kc);
  const load = sampleMachineLoad();
  const sides: Side[] = [];
  let hog: { stop(): void } | undefined;
  try {
    for (const name of opts.controllers) sides.push(await startSide(cluster, name, flaggerBin, logDir));
    await delay(5_000); // start-up settles before the baseline RSS is read
    for (const s of sides) {
      s.baselineAt = Date.now();
      s.heap.baseline = await heapInUseMiB(s.controller);
    }
    console.error(
      `bench:peer: creating ${all.length} Deployments + Canaries per controller (logs: ${logDir})`,
    );

    const created: Window = { from: Date.now(), to: 0 };
    await Promise.all(sides.map((s) => create(kube, s, all)));
    await Promise.all(
      sides.map((s) =>
        waitFor(
          `${s.name}: ${all.length} Canaries Initialized`,
          () => (
            alive(s.controller),
            all.every((a) => s.timeline.reached(a.name, 'Initialized', created.from))
          ),
          left(10 * 60_000 + all.length * 1000),
          500,
        ).catch((err: Error) => console.error(`bench:peer: ${err.message}`)),
      ),
    );
    created.to = Date.now();
    console.error(`bench:peer: initialized; idle window of ${opts.idleS}s`);
    const idle: Window = { from: Date.now(), to: 0 };
    await delay(left(opts.idleS * 1000));
    idle.to = Date.now();
    for (const s of sides) s.heap.idle = await heapInUseMiB(s.controller);

    if (opts.hog) hog = startHog(opts.hog, opts.timeoutMin * 60_000);
    for (let r = 1; r <= opts.rollouts; r++) {
      console.error(`bench:peer: rollout ${r} of ${opts.rollouts}`);
      const names = rolling.map((a) => a.name);
      const done = await Promise.all(
        sides.map((s) => rollout(kube, s, names, `${r + 1}`, ['Succeeded', 'Failed'])),
      );
      sides.forEach((s, i) => s.rollouts.push(done[i]!));
    }
    hog?.stop();
    if (failing.length) {
      console.error('bench:peer: failing checks');
      const names = failing.map((a) => a.name);
      const done = await Promise.all(
        sides.map((s) => rollout(kube, s, names, 'bad', ['Failed', 'Succeeded'])),
      );
      sides.forEach((s, i) => (s.failure = done[i]!));
    }

    for (const s of sides) {
      s.timeline.stop();
      await s.controller.stop();
    }
    for (const s of sides)
      writeFileSync(
        join(logDir, `${s.name}-timelines.json`),
        JSON.stringify(Object.fromEntries(s.timeline.changes), null, 1),
      );
    const requests = await readAudit(cluster.auditLogPath!, new Set(Object.values(USERS)));
    const results: Partial<Record<Side['name'], Figures>> = {};
    for (const s of sides) {
      results[s.name] = figures({
        controller: s.controller,
        timeline: s.timeline,
        requests: requests.filter((q) => q.user === USERS[s.name]),
        queries: await readQueryLog(s.queryLog),
        rolling: rolling.map((a) => a.name),
        failing: failing.map((a) => a.name),
        intervalS: opts.intervalS,
        baselineAt: s.baselineAt,
        heap: s.heap,
        created,
        idle,
        rollouts: s.rollouts,
        failure: s.failure,
      });
    }
    report(results, rolloutLoad(load, sides, opts.rollouts));
  } finally {
    load.stop();
    hog?.stop();
    for (const s of sides) {
      s.timeline.stop();
      await s.controller.stop().catch(() => undefined);
      await s.prom.stop().catch(() => undefined);
    }
    await cluster.stop().catch(() => undefined);
  }
}

/** The machine's load during each rollout (from the first controller's start of it to the last one's end). */
function rolloutLoad(load: MachineLoad, sides: Side[], rollouts: number) {
  return Array.from({ length: rollouts }, (_, r) => {
    const windows = sides.map((s) => s.rollouts[r]!.window);
    return load.between(Math.min(...windows.map((w) => w.from)), Math.max(...windows.map((w) => w.to)));
  });
}

function report(results: Partial<Record<Side['name'], Figures>>, load: ReturnType<typeof rolloutLoad>): void {
  const { weir, flagger } = results;
  console.log(`\n${table(weir, flagger, opts)}\n`);
  for (const [i, l] of load.entries())
    console.log(
      `rollout ${i + 1}: machine ${l.busyPct}% busy; CPU s by program ${JSON.stringify(l.cpuSByProgram)}`,
    );
  const { timeoutMin, outDir, ...options } = opts;
  void timeoutMin;
  const result = {
    date: new Date().toISOString(),
    machine: machine(),
    options,
    // The whole machine during each rollout: busy share of all cores, CPU seconds per program.
    loadInRollouts: load,
    versions: { weir: WEIR_VERSION, flagger: toolVersion('flagger') },
    weir: weir ?? null,
    flagger: flagger ?? null,
    ratios: weir && flagger ? ratios(weir, flagger) : null,
  };
  console.error(`bench:peer: wrote ${writeResult(outDir, opts, result)}`);
  console.log(JSON.stringify(result));
}

await main();
clearTimeout(guard);
