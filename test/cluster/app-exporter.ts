// A tiny real HTTP app standing in for a canary's pods in analysis tests.
//
// Design: `GET /` is the app. It waits `latencyMs`, then answers 200 or 500, and records the request
// in `http_request_duration_seconds{method, path, status}` (histogram, podinfo/Flagger style) and
// `http_requests_total{method, path, status}`. `/metrics` serves its own prom-client registry.
// Failures are deterministic, not random: an accumulator fails exactly ⌊n × errorRate⌋ of n requests,
// so tests can assert exact counts. The app does not label its own pod or namespace: as in
// Kubernetes, those come from the scrape target's labels (`target()` builds one for Prometheus).
//
// Traffic is real HTTP to its own `/`: `driveLoad` sends a fixed number of requests (count- and
// time-bounded), and `startTraffic` keeps a light background load (a few requests per tick) until
// stopped, capped in count and duration.
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import type { ScrapeTarget } from './prometheus.ts';

export interface AppBehaviour {
  /** fraction of `/` requests answered 500, 0..1 */
  errorRate?: number;
  /** delay before answering `/` */
  latencyMs?: number;
}

export interface StartAppExporterOptions extends AppBehaviour {
  pod: string;
  namespace?: string;
}

export interface TrafficOptions {
  /** requests fired per tick (default 2) */
  perTick?: number;
  /** tick period (default 100 ms) */
  tickMs?: number;
  /** stop after this many requests in total (default 10 000) */
  maxRequests?: number;
  /** stop after this long (default 5 min) */
  maxDurationMs?: number;
}

export interface LoadResult {
  sent: number;
  /** responses by HTTP status; transport errors count under 0 */
  byStatus: Record<number, number>;
  elapsedMs: number;
}

export interface AppExporter {
  /** 127.0.0.1:port */
  address: string;
  url: string;
  pod: string;
  namespace: string;
  registry: Registry;
  set(b: AppBehaviour): void;
  /** requests served on `/` so far, and how many of them failed */
  counts(): { total: number; errors: number };
  /** a scrape target carrying this app's pod and namespace as target labels */
  target(job: string, extraLabels?: Record<string, string>): ScrapeTarget;
  startTraffic(opts?: TrafficOptions): void;
  stopTraffic(): void;
  stop(): Promise<void>;
}

export async function startAppExporter(opts: StartAppExporterOptions): Promise<AppExporter> {
  const namespace = opts.namespace ?? 'default';
  let behaviour = normalise({ errorRate: 0, latencyMs: 0 }, opts);
  const metrics = createMetrics();
  const failures = failureSchedule(() => behaviour.errorRate);
  let total = 0;
  let errors = 0;

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/metrics') return void serveMetrics(metrics.registry, res);
    if (path === '/healthz') return void res.end('ok');
    if (path !== '/') return void res.writeHead(404).end('not found');
    const started = process.hrtime.bigint();
    const fail = failures.next();
    setTimeout(() => {
      const status = fail ? 500 : 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(fail ? 'injected failure\n' : 'ok\n');
      total++;
      if (fail) errors++;
      record(metrics, req, '/', status, started);
    }, behaviour.latencyMs);
  });
  const address = await listen(server);
  const traffic = trafficLoop(address);

  return {
    address,
    url: `http://${address}`,
    pod: opts.pod,
    namespace,
    registry: metrics.registry,
    set(b) {
      behaviour = normalise(behaviour, b);
    },
    counts: () => ({ total, errors }),
    target: (job, extraLabels) => ({
      job,
      address,
      labels: { ...extraLabels, pod: opts.pod, namespace },
    }),
    startTraffic: traffic.start,
    stopTraffic: traffic.stop,
    async stop() {
      traffic.stop();
      await closeServer(server);
    },
  };
}

/**
 * Sends `requests` GETs to `http://address/` with `concurrency` workers. Bounded twice: by count and
 * by `timeoutMs` (default 30 s); it returns what it managed when time runs out rather than throwing.
 */
export async function driveLoad(
  address: string,
  opts: { requests: number; concurrency?: number; timeoutMs?: number; path?: string },
): Promise<LoadResult> {
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const byStatus: Record<number, number> = {};
  const started = Date.now();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < opts.requests && Date.now() < deadline) {
      sent++;
      const status = await get(agent, `http://${address}${opts.path ?? '/'}`, deadline - Date.now());
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return { sent, byStatus, elapsedMs: Date.now() - started };
}

function normalise(current: Required<AppBehaviour>, next: AppBehaviour): Required<AppBehaviour> {
  const errorRate = next.errorRate ?? current.errorRate;
  const latencyMs = next.latencyMs ?? current.latencyMs;
  if (!(errorRate >= 0 && errorRate <= 1)) throw new Error(`errorRate must be within 0..1, got ${errorRate}`);
  if (!(latencyMs >= 0)) throw new Error(`latencyMs must be >= 0, got ${latencyMs}`);
  return { errorRate, latencyMs };
}

/** Deterministic failures: after n requests, exactly floor(sum of rates) of them have failed. */
function failureSchedule(rate: () => number): { next(): boolean } {
  let acc = 0;
  return {
    next() {
      acc += rate();
      if (acc >= 1 - 1e-9) {
        acc -= 1;
        return true;
      }
      return false;
    },
  };
}

interface AppMetrics {
  registry: Registry;
  duration: Histogram<'method' | 'path' | 'status'>;
  requests: Counter<'method' | 'path' | 'status'>;
}

function createMetrics(): AppMetrics {
  // A registry per app, never the global one: several apps run in one test process.
  const registry = new Registry();
  const labelNames = ['method', 'path', 'status'] as const;
  return {
    registry,
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests in seconds.',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served.',
      labelNames,
      registers: [registry],
    }),
  };
}

function record(m: AppMetrics, req: IncomingMessage, path: string, status: number, started: bigint): void {
  const labels = { method: req.method ?? 'GET', path, status: String(status) };
  m.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
  m.requests.inc(labels);
}

async function serveMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType }).end(body);
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
}

/** Background load against the app's own `/`, a few requests per tick; never more than 2 ticks in flight. */
function trafficLoop(address: string): { start(opts?: TrafficOptions): void; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let agent: Agent | undefined;
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
    agent?.destroy();
    agent = undefined;
  };
  const start = (opts: TrafficOptions = {}): void => {
    stop();
    const perTick = opts.perTick ?? 2;
    const maxRequests = opts.maxRequests ?? 10_000;
    const until = Date.now() + (opts.maxDurationMs ?? 5 * 60_000);
    const own = new Agent({ keepAlive: true, maxSockets: perTick * 2 });
    agent = own;
    let sent = 0;
    let inFlight = 0;
    timer = setInterval(() => {
      if (sent >= maxRequests || Date.now() >= until) return stop();
      // Skip a tick rather than pile up when the app is slow (high latencyMs).
      if (inFlight >= perTick * 2) return;
      for (let i = 0; i < perTick && sent < maxRequests; i++) {
        sent++;
        inFlight++;
        void get(own, `http://${address}/`, 10_000).finally(() => inFlight--);
      }
    }, opts.tickMs ?? 100);
    timer.unref();
  };
  return { start, stop };
}

/** One GET; resolves to the status code, or 0 on a transport error or timeout. Never rejects. */
function get(agent: Agent, url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: Math.max(1, timeoutMs) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

function listen(server: ReturnType<typeof createServer>): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`127.0.0.1:${port}`);
    });
  });
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets (ours and Prometheus') would otherwise hold close() open.
    server.closeAllConnections();
  });
}
