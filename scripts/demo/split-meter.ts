// The demo's measured split: steady load through the real gateway (Traefik) while a release runs,
// each answer attributed to the step it was sent in, so every step prints the share of real requests
// the release's pods answered next to the weight Weir wrote:
//   weight 20% → 19.6% of 512 requests answered by 6.0.1
// The load is also what Prometheus sees, so it is what Weir's analysis judges. Requests go out in
// short batches; a batch counts for a step only if the step (Canary phase, weight and the HTTPRoute's
// generation) was the same before and after it and Traefik had taken that generation a moment
// before the batch began, so requests sent while the route changes are left out rather than
// misattributed. Bounded in count and time.
import type { Kube } from '../../src/kube/client.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import { percent, runLoad, type LoadResponse, type LoadResult } from '../../test/cluster/load.ts';
import { TRAEFIK_CONTROLLER } from '../../test/cluster/traefik.ts';

export interface SplitMeterOptions {
  kube: Kube;
  namespace: string;
  /** The Canary's name, which is also its HTTPRoute's. */
  name: string;
  /** Traefik's entrypoint and the route's hostname. */
  url: string;
  host: string;
  /** The release's tag, named in each line. */
  tag: string;
  /** Whether an answer came from the release's pods. */
  answered: (r: LoadResponse) => boolean;
  /** Called with each finished step's line. */
  print: (line: string) => void;
  /** Requests started per second; default 100. */
  rps?: number;
  /** Bounds of the whole run; default 20 000 requests and 10 minutes. */
  maxRequests?: number;
  maxDurationMs?: number;
}

export interface SplitMeter {
  /** Ends the load after the batch in flight, prints the last step, resolves with the requests sent. */
  stop(): Promise<number>;
  /** The step being measured now (phase and weight as the Canary shows them), and its requests counted so far. */
  current(): { phase: string; weight: number; requests: number } | undefined;
}

interface Step {
  key: string;
  phase: string;
  weight: number;
  /** When Traefik was first seen to have taken this step's route generation. */
  takenAt?: number;
  results: LoadResult[];
}

/** How long after Traefik reports a route generation its configuration is surely in use (throttle 200 ms). */
const SETTLE_MS = 400;
const BATCH_MS = 500;

type RouteObject = {
  metadata?: { generation?: number };
  status?: {
    parents?: Array<{ controllerName?: string; conditions?: Array<{ observedGeneration?: number }> }>;
  };
} & Record<string, never>;

export function startSplitMeter(opts: SplitMeterOptions): SplitMeter {
  // 100/s, as the data-plane tests measure: on a loaded machine Traefik reports a step taken late,
  // and at 60/s a 10 s step was left with 180 requests measured (CI run, 2026-12-02).
  const rps = opts.rps ?? 100;
  const batch = Math.max(1, Math.round((rps * BATCH_MS) / 1000));
  const maxRequests = opts.maxRequests ?? 20_000;
  const deadline = Date.now() + (opts.maxDurationMs ?? 10 * 60_000);
  let stopping = false;
  let sent = 0;

  const read = async () => {
    const ref = { namespace: opts.namespace, name: opts.name };
    const [canary, route] = await Promise.all([
      opts.kube.get<CanaryObject>({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', ...ref }),
      opts.kube.get<RouteObject>({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        ...ref,
      }),
    ]);
    const phase = canary?.status?.phase ?? 'Pending';
    const weight = canary?.status?.canaryWeight ?? 0;
    const generation = route?.metadata?.generation ?? 0;
    const parent = route?.status?.parents?.find((p) => p.controllerName === TRAEFIK_CONTROLLER);
    const taken = !!parent?.conditions?.some((c) => c.observedGeneration === generation);
    return { key: `${phase}/${weight}/${generation}`, phase, weight, taken, at: Date.now() };
  };

  const finish = (step: Step | undefined) => {
    // Only Progressing steps have one weight on two fixed revisions; while promoting, the primary
    // itself changes revision.
    if (!step || step.phase !== 'Progressing' || step.results.length === 0) return;
    const all = merge(step.results);
    const statuses = Object.entries(all.byStatus)
      .map(([code, n]) => `${code} ×${n}`)
      .join(', ');
    const notAllOk = all.byStatus['200'] !== all.sent;
    opts.print(
      `weight ${step.weight}% → ${percent(all, opts.answered)} requests answered by ${opts.tag}` +
        (notAllOk ? ` (statuses ${statuses})` : ''),
    );
  };

  let step: Step | undefined;
  const run = async () => {
    let before = await read();
    while (!stopping && sent < maxRequests && Date.now() < deadline) {
      const t0 = Date.now();
      const result = await runLoad({
        url: opts.url,
        host: opts.host,
        count: Math.min(batch, maxRequests - sent),
        rps,
        timeoutMs: BATCH_MS + 3000,
        requestTimeoutMs: 3000,
      });
      sent += result.sent;
      const after = await read().catch(() => before);
      const settled = step?.takenAt !== undefined && t0 - step.takenAt >= SETTLE_MS;
      if (step && before.key === step.key && after.key === step.key && settled) step.results.push(result);
      if (after.key !== step?.key) {
        finish(step);
        step = { key: after.key, phase: after.phase, weight: after.weight, results: [] };
      }
      if (after.taken) step.takenAt ??= after.at;
      before = after;
    }
    finish(step);
  };
  const done = run().catch((err: Error) => opts.print(`(measuring stopped: ${err.message})`));
  return {
    async stop() {
      stopping = true;
      await done;
      return sent;
    },
    current() {
      if (!step) return undefined;
      const requests = step.results.reduce((n, r) => n + r.sent, 0);
      return { phase: step.phase, weight: step.weight, requests };
    },
  };
}

/** The batches of one step as one result, for `percent`. */
function merge(results: LoadResult[]): LoadResult {
  const responses = results.flatMap((r) => r.responses);
  const byStatus: Record<string, number> = {};
  const byPod: Record<string, number> = {};
  for (const r of results) {
    for (const [k, n] of Object.entries(r.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + n;
    for (const [k, n] of Object.entries(r.byPod)) byPod[k] = (byPod[k] ?? 0) + n;
  }
  return {
    sent: results.reduce((n, r) => n + r.sent, 0),
    responses,
    byStatus,
    byPod,
    errors: results.reduce((n, r) => n + r.errors, 0),
    elapsedMs: results.reduce((n, r) => n + r.elapsedMs, 0),
  };
}
