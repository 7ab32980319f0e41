// A small load generator for data-plane tests and the demo: a fixed number of GET requests at a fixed
// rate through the proxy, bounded in count and in time, recording for each answer which pod answered
// (podinfo's JSON `hostname`) and what it runs (its `message`, the image tag, and `version`), and every status code.
// Requests start on a fixed schedule whatever the answers take (an open model, like `hey -q`), so a
// slow backend cannot lower the rate the proxy sees.
import { Agent, request } from 'node:http';
import { assertRunNetns } from './netns.ts';

export interface LoadOptions {
  /** Base URL of the proxy's entrypoint, e.g. http://127.0.0.1:41234. */
  url: string;
  /** Host header (the HTTPRoute's hostname). */
  host: string;
  /** Request path; default `/` (podinfo's JSON info for any non-browser User-Agent). */
  path?: string;
  headers?: Record<string, string>;
  /** Sent as one `Cookie` header. */
  cookies?: Record<string, string>;
  /** Requests to send (at most). */
  count: number;
  /** Requests started per second. */
  rps: number;
  /** Bound of the whole run: no request starts after it, and unanswered ones are cut at it. */
  timeoutMs: number;
  /** Bound of one request; default 5 s. */
  requestTimeoutMs?: number;
  /**
   * Ends the schedule early (background load during analysis): no request starts once it aborts,
   * those in flight still finish and count.
   */
  signal?: AbortSignal;
}

export interface LoadResponse {
  /** HTTP status; 0 when no response came (connection error or timeout). */
  status: number;
  /** podinfo's `hostname`: the pod's name (the pod runner gives each pod its own UTS namespace). */
  pod?: string;
  /** podinfo's `version`. */
  version?: string;
  /**
   * podinfo's `message`: the pod's image tag, which the pod runner passes as PODINFO_UI_MESSAGE unless
   * the pod sets its own message.
   */
  tag?: string;
  /** The response's Set-Cookie headers, when it had any (session affinity hands out cookies). */
  setCookies?: string[];
  error?: string;
  ms: number;
}

export interface LoadResult {
  /** Requests started (less than `count` when the time bound stopped the schedule). */
  sent: number;
  responses: LoadResponse[];
  /** Status code → count; `0` counts requests without a response. */
  byStatus: Record<string, number>;
  /** Pod name → count of answers identifying it. */
  byPod: Record<string, number>;
  /** Requests that got no response or a status >= 500. */
  errors: number;
  elapsedMs: number;
}

/** Fraction (0..1) of the requests sent whose answer satisfies `predicate`; 0 when none were sent. */
export function share(result: LoadResult, predicate: (r: LoadResponse) => boolean): number {
  return result.sent === 0 ? 0 : result.responses.filter(predicate).length / result.sent;
}

/** `80.4% of 500` style summary of a share, for test output and the demo. */
export function percent(result: LoadResult, predicate: (r: LoadResponse) => boolean): string {
  return `${(share(result, predicate) * 100).toFixed(1)}% of ${result.sent}`;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const target = new URL(opts.path ?? '/', opts.url);
  if (!isLoopback(target.hostname)) assertRunNetns(`load to ${target.host}`);
  if (!(opts.count > 0 && opts.rps > 0 && opts.timeoutMs > 0))
    throw new Error('runLoad: count, rps and timeoutMs must be > 0');
  const headers: Record<string, string> = { ...opts.headers, host: opts.host, accept: 'application/json' };
  if (opts.cookies) {
    headers.cookie = Object.entries(opts.cookies)
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const t0 = Date.now();
  const deadline = t0 + opts.timeoutMs;
  const pending: Array<Promise<LoadResponse>> = [];
  try {
    for (let i = 0; i < opts.count; i++) {
      const due = t0 + (i * 1000) / opts.rps;
      if (due >= deadline || opts.signal?.aborted) break;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (opts.signal?.aborted) break;
      const timeout = Math.min(opts.requestTimeoutMs ?? 5000, deadline - Date.now());
      pending.push(get(target, headers, agent, Math.max(timeout, 1)));
    }
    const responses = await Promise.all(pending);
    return summarise(responses, Date.now() - t0);
  } finally {
    agent.destroy();
  }
}

function summarise(responses: LoadResponse[], elapsedMs: number): LoadResult {
  const byStatus: Record<string, number> = {};
  const byPod: Record<string, number> = {};
  let errors = 0;
  for (const r of responses) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.pod) byPod[r.pod] = (byPod[r.pod] ?? 0) + 1;
    if (r.status === 0 || r.status >= 500) errors++;
  }
  return { sent: responses.length, responses, byStatus, byPod, errors, elapsedMs };
}

function get(
  url: URL,
  headers: Record<string, string>,
  agent: Agent,
  timeoutMs: number,
): Promise<LoadResponse> {
  const start = Date.now();
  return new Promise((resolve) => {
    const done = (r: Omit<LoadResponse, 'ms'>) => resolve({ ...r, ms: Date.now() - start });
    const req = request(
      url,
      { method: 'GET', headers, agent, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => done({ status: 0, error: err.message }));
        const setCookies = res.headers['set-cookie'];
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            ...identity(Buffer.concat(chunks).toString('utf8')),
            ...(setCookies?.length ? { setCookies } : {}),
          }),
        );
      },
    );
    req.on('error', (err) => done({ status: 0, error: err.message }));
    req.end();
  });
}

/** podinfo's info JSON: hostname (pod), version, message; nothing for any other body. */
function identity(body: string): Pick<LoadResponse, 'pod' | 'version' | 'tag'> {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const str = (k: string) => (typeof j[k] === 'string' ? (j[k] as string) : undefined);
    const [pod, version, tag] = [str('hostname'), str('version'), str('message')];
    return { ...(pod && { pod }), ...(version && { version }), ...(tag && { tag }) };
  } catch {
    return {};
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}
