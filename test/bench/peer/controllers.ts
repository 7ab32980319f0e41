// The two controllers under test as child processes, each with its own API identity (so the audit
// log attributes its requests), and a sampler of their CPU time and resident memory from /proc.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../cluster/cluster.ts';
import { freePort } from '../../cluster/ports.ts';
import { startProcess, waitFor, type Managed } from '../../cluster/proc.ts';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export interface Sample {
  at: number;
  cpuS: number;
  rssMiB: number;
}

/** CPU time (user + system, s) and RSS (MiB) of a process, from /proc. */
export function procSample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  const { cpuS } = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { at: Date.now(), cpuS, rssMiB: rssKiB / 1024 };
}

/** The parent and the CPU time (user + system, s) in a `/proc/<pid>/stat` line. */
export function parseStat(stat: string): { ppid: number; cpuS: number } {
  // Fields after the parenthesised command name; ppid is field 4, utime and stime 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(rest[1]), cpuS: (Number(rest[11]) + Number(rest[12])) / CLK_TCK };
}

/** procSample of a child process, or an error with its log's tail once it has exited. */
export function sampleLive(m: Managed): Sample {
  if (m.child.exitCode !== null || m.child.signalCode !== null)
    throw new Error(`${m.name} exited:\n${m.tail(20)}`);
  return procSample(m.child.pid!);
}

export interface Controller {
  name: 'weir' | 'flagger';
  proc: Managed;
  samples: Sample[];
  /** CPU seconds used within [from, to] (nearest samples). */
  cpuBetween(from: number, to: number): number;
  /** Largest RSS sampled within [from, to]. */
  peakRss(from: number, to: number): number;
  /** RSS of the last sample at or before `at`. */
  rssAt(at: number): number;
  /** The controller's Prometheus metrics endpoint (its runtime's heap figures are read from it). */
  metricsUrl: string;
  stop(): Promise<void>;
}

/** The sample taken closest to `at` (samples are never empty: one is taken at start). */
export function nearestSample<T extends { at: number }>(samples: readonly T[], at: number): T {
  return samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best), samples[0]!);
}

function sampled(name: Controller['name'], proc: Managed, metricsUrl = ''): Controller {
  const samples: Sample[] = [];
  const pid = proc.child.pid!;
  const take = () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) samples.push(procSample(pid));
  };
  take();
  const timer = setInterval(take, 1000);
  timer.unref();
  const nearest = (at: number) => nearestSample(samples, at);
  const within = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at <= to);
  return {
    name,
    proc,
    samples,
    cpuBetween: (from, to) => nearest(to).cpuS - nearest(from).cpuS,
    peakRss: (from, to) => Math.max(...within(from, to).map((s) => s.rssMiB)),
    rssAt: (at) => [...samples].reverse().find((s) => s.at <= at)?.rssMiB ?? samples[0]!.rssMiB,
    metricsUrl,
    async stop() {
      clearInterval(timer);
      await proc.stop(10_000);
    },
  };
}

/** Throws with the log's tail once the process has exited. */
export function alive(c: Controller): void {
  if (c.proc.child.exitCode !== null || c.proc.child.signalCode !== null)
    throw new Error(`${c.name} exited:\n${c.proc.tail(20)}`);
}

/**
 * The runtime settings the image sets (its Dockerfile's `ENV NODE_OPTIONS="…"` and
 * `ENV MALLOC_ARENA_MAX="…"`), so the bench measures the heap and allocator the image runs with.
 */
export function imageRuntimeEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
  const env: Record<string, string> = {};
  for (const key of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) {
    const line = new RegExp(`^ENV ${key}="([^"]*)"$`, 'm').exec(dockerfile);
    if (!line) throw new Error(`Dockerfile: no ENV ${key}="…" line`);
    env[key] = line[1]!;
  }
  return env;
}

/** The compiled controller (dist/, as the image runs it), log level info, one namespace. */
export async function startWeir(kubeconfig: string, ns: string, logDir: string): Promise<Controller> {
  // BENCH_WEIR_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`: node flags for the measured
  // controller alone (Node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_WEIR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [...nodeArgs, join(projectRoot, 'bin', 'weir.js'), 'controller'];
  const proc = startProcess('weir', process.execPath, args, {
    logDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      KUBECONFIG: kubeconfig,
      WEIR_NAMESPACE: ns,
      WEIR_LISTEN: '127.0.0.1:0',
      WEIR_LOG_LEVEL: process.env.BENCH_WEIR_LOG_LEVEL ?? 'info',
      ...imageRuntimeEnv(),
    },
  });
  const c = sampled('weir', proc);
  await waitFor(
    'weir controller /readyz',
    async () => {
      alive(c);
      const port = /"port":(\d+)[^\n]*weir controller started/.exec(readFileSync(proc.logFile, 'utf8'))?.[1];
      c.metricsUrl = `http://127.0.0.1:${port}/metrics`;
      return !!port && (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    },
    60_000,
    250,
  );
  return c;
}

/** Flagger with the Gateway API router, log level info, one namespace, no leader election. */
export async function startFlagger(
  bin: string,
  kubeconfig: string,
  ns: string,
  prometheusUrl: string,
  logDir: string,
): Promise<Controller> {
  const port = await freePort();
  const proc = startProcess(
    'flagger',
    bin,
    [
      `-kubeconfig=${kubeconfig}`,
      `-namespace=${ns}`,
      '-mesh-provider=gatewayapi:v1',
      `-metrics-server=${prometheusUrl}`,
      '-log-level=info',
      `-port=${port}`,
      '-enable-leader-election=false',
    ],
    { logDir },
  );
  const c = sampled('flagger', proc, `http://127.0.0.1:${port}/metrics`);
  await waitFor(
    'flagger /healthz',
    async () => {
      alive(c);
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
    },
    60_000,
    250,
  );
  return c;
}

/**
 * The heap the controller's runtime has in use (MiB): Node's used V8 heap (prom-client's
 * nodejs_heap_size_used_bytes) or Go's allocated heap (go_memstats_heap_alloc_bytes). Both count
 * garbage not collected yet; set beside RSS, the figure tells objects from the runtime's unused
 * pages. Undefined if unread.
 */
export async function heapInUseMiB(c: Controller): Promise<number | undefined> {
  const metric = c.name === 'weir' ? 'nodejs_heap_size_used_bytes' : 'go_memstats_heap_alloc_bytes';
  const value = new RegExp(`^${metric} (\\S+)$`, 'm').exec(await metricsText(c))?.[1];
  return value === undefined ? undefined : Number(value) / 2 ** 20;
}

/** The controller's /metrics page ('' when it cannot be read). */
export async function metricsText(c: Controller): Promise<string> {
  try {
    return await (await fetch(c.metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  } catch {
    return '';
  }
}
