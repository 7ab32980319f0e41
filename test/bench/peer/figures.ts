// The figures of one controller, computed from what the run recorded: phase and weight timelines,
// /proc samples, the audit log and the Prometheus query log. Pure functions of those records.
import type { WeirRolloutMetrics } from './weir-metrics.ts';
import { breakdown, inWindow, isWrite, type ApiRequest, type Window } from './attribution.ts';
import type { Controller } from './controllers.ts';
import type { Timeline } from './timeline.ts';

export interface Rollout {
  /** When each app's Deployment was patched. */
  patchedAt: Map<string, number>;
  /** From the first patch until this controller's last rollout finished (or the wait gave up). */
  window: Window;
  /** Weir's own metrics over the rollout (reconciles, queue waits). */
  weir?: WeirRolloutMetrics;
}

export interface Recorded {
  controller: Controller;
  timeline: Timeline;
  requests: ApiRequest[];
  queries: number[];
  rolling: string[];
  failing: string[];
  intervalS: number;
  baselineAt: number;
  /** Heap in use (MiB, from the controller's metrics) at the baseline and when idle. */
  heap: { baseline?: number; idle?: number };
  created: Window;
  idle: Window;
  rollouts: Rollout[];
  failure: Rollout | undefined;
}

export interface Figures {
  initSeconds: number | null;
  idleRequestsPerMin: number;
  idleQueriesPerMin: number;
  requestsPerSecondInRollouts: number;
  requestsPerCanaryPerTick: number;
  writesPerCanaryPerTick: number;
  queriesPerCanaryPerTick: number;
  requestsPerCanaryPerRollout: number;
  writesPerCanaryPerRollout: number;
  /** Kubernetes Events created or updated (apart: a controller that drops its Events writes less). */
  eventWritesPerCanaryPerRollout: number;
  writesWithoutEventsPerCanaryPerRollout: number;
  queriesPerCanaryPerRollout: number;
  /** Intervals from the first patch to the last Canary done: the ticks one rollout took. */
  intervalsPerRollout: number;
  toProgressingMedianS: number | null;
  toSucceededMedianS: number | null;
  succeeded: string;
  failureDetectionMedianS: number | null;
  failed: string;
  stepLatenessP50S: number | null;
  stepLatenessP99S: number | null;
  stepLatenessMaxS: number | null;
  cpuSecondsPerRollout: number;
  rssBaselineMiB: number;
  rssIdleMiB: number;
  rssPeakMiB: number;
  rssPerCanaryKiB: number;
  heapIdleMiB: number | null;
  /**
   * Growth of the heap in use per Canary, baseline to idle: the runtime's heap without its unused
   * pages (it still counts garbage no collection has freed yet, so it bounds live data from above).
   */
  heapPerCanaryKiB: number | null;
  /** Weir only (its metrics), over the first rollout. */
  reconcilesPerCanaryPerRollout: number | null;
  reconcileMeanMs: number | null;
  queueWaitMeanMs: number | null;
  queueWaitP99AtMostS: number | null;
  writesInRollouts: Record<string, number>;
  readsInRollouts: Record<string, number>;
  userAgents: string[];
}

export function quantile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const round = (x: number | null, d = 2): number | null => (x === null ? null : Number(x.toFixed(d)));
const minutes = (w: Window) => (w.to - w.from) / 60_000;

/** Seconds from each app's patch to its first `phase` after it. */
function latencies(r: Recorded, rollout: Rollout, names: string[], phase: string): number[] {
  const out: number[] = [];
  for (const n of names) {
    const t0 = rollout.patchedAt.get(n);
    const t1 = t0 === undefined ? undefined : r.timeline.reached(n, phase, t0);
    if (t0 !== undefined && t1 !== undefined) out.push((t1 - t0) / 1000);
  }
  return out;
}

/** Weir's account of the first rollout, per rolling Canary. */
function ownAccount(m: WeirRolloutMetrics | undefined, canaries: number) {
  return {
    reconcilesPerCanaryPerRollout: m ? round(m.reconciles / canaries, 1) : null,
    reconcileMeanMs: m?.reconcileMeanMs ?? null,
    queueWaitMeanMs: m?.queueWaitMeanMs ?? null,
    queueWaitP99AtMostS: m?.queueWaitP99AtMostS ?? null,
  };
}

const isEvent = (q: ApiRequest): boolean => q.resource === 'events';

/** How late each weight step came: the gap between two steps of one Canary, minus the interval. */
function stepLateness(r: Recorded): number[] {
  const out: number[] = [];
  for (const ro of r.rollouts)
    for (const n of r.rolling) {
      const steps = r.timeline.steps(n, ro.window.from, ro.window.to);
      for (let i = 1; i < steps.length; i++) out.push((steps[i]! - steps[i - 1]!) / 1000 - r.intervalS);
    }
  return out;
}

export function figures(r: Recorded): Figures {
  const all = [...r.rolling, ...r.failing];
  const initDone = all.map((n) => r.timeline.reached(n, 'Initialized', r.created.from));
  const initialized = initDone.every((t) => t !== undefined);
  const rolloutReqs = r.requests.filter((q) => r.rollouts.some((ro) => inWindow(q.at, ro.window)));
  const rolloutQueries = r.queries.filter((t) => r.rollouts.some((ro) => inWindow(t, ro.window)));
  const ticks = r.rollouts.reduce((s, ro) => s + (ro.window.to - ro.window.from) / 1000 / r.intervalS, 0);
  const perTick = (count: number) => count / (r.rolling.length * ticks);
  const perRollout = (count: number) => count / (r.rolling.length * r.rollouts.length);
  const progressing = r.rollouts.flatMap((ro) => latencies(r, ro, r.rolling, 'Progressing'));
  const succeeded = r.rollouts.flatMap((ro) => latencies(r, ro, r.rolling, 'Succeeded'));
  const failed = r.failure ? latencies(r, r.failure, r.failing, 'Failed') : [];
  const lateness = stepLateness(r);
  const cpu = r.rollouts.map((ro) => r.controller.cpuBetween(ro.window.from, ro.window.to));
  const rssBaseline = r.controller.rssAt(r.baselineAt);
  const rssIdle = r.controller.rssAt(r.idle.to);
  const idleReqs = r.requests.filter((q) => inWindow(q.at, r.idle)).length;
  const idleQueries = r.queries.filter((t) => inWindow(t, r.idle)).length;
  return {
    initSeconds: initialized ? round((Math.max(...(initDone as number[])) - r.created.from) / 1000, 1) : null,
    idleRequestsPerMin: round(idleReqs / minutes(r.idle), 1)!,
    idleQueriesPerMin: round(idleQueries / minutes(r.idle), 1)!,
    requestsPerSecondInRollouts: round(rolloutReqs.length / (ticks * r.intervalS), 1)!,
    requestsPerCanaryPerTick: round(perTick(rolloutReqs.length))!,
    writesPerCanaryPerTick: round(perTick(rolloutReqs.filter(isWrite).length))!,
    queriesPerCanaryPerTick: round(perTick(rolloutQueries.length))!,
    requestsPerCanaryPerRollout: round(perRollout(rolloutReqs.length), 1)!,
    writesPerCanaryPerRollout: round(perRollout(rolloutReqs.filter(isWrite).length), 1)!,
    eventWritesPerCanaryPerRollout: round(
      perRollout(rolloutReqs.filter((q) => isWrite(q) && isEvent(q)).length),
      1,
    )!,
    writesWithoutEventsPerCanaryPerRollout: round(
      perRollout(rolloutReqs.filter((q) => isWrite(q) && !isEvent(q)).length),
      1,
    )!,
    queriesPerCanaryPerRollout: round(perRollout(rolloutQueries.length), 1)!,
    intervalsPerRollout: round(ticks / r.rollouts.length, 1)!,
    toProgressingMedianS: round(quantile(progressing, 0.5), 1),
    toSucceededMedianS: round(quantile(succeeded, 0.5), 1),
    succeeded: `${succeeded.length}/${r.rolling.length * r.rollouts.length}`,
    failureDetectionMedianS: round(quantile(failed, 0.5), 1),
    failed: `${failed.length}/${r.failure ? r.failing.length : 0}`,
    stepLatenessP50S: round(quantile(lateness, 0.5)),
    stepLatenessP99S: round(quantile(lateness, 0.99)),
    stepLatenessMaxS: round(quantile(lateness, 1)),
    cpuSecondsPerRollout: round(quantile(cpu, 0.5))!,
    rssBaselineMiB: round(rssBaseline, 1)!,
    rssIdleMiB: round(rssIdle, 1)!,
    rssPeakMiB: round(r.controller.peakRss(r.created.from, Date.now()), 1)!,
    rssPerCanaryKiB: round(((rssIdle - rssBaseline) * 1024) / all.length, 1)!,
    heapIdleMiB: r.heap.idle === undefined ? null : round(r.heap.idle, 1),
    heapPerCanaryKiB:
      r.heap.idle === undefined || r.heap.baseline === undefined
        ? null
        : round(((r.heap.idle - r.heap.baseline) * 1024) / all.length, 1),
    ...ownAccount(r.rollouts[0]?.weir, r.rolling.length),
    writesInRollouts: breakdown(rolloutReqs.filter(isWrite)),
    readsInRollouts: breakdown(rolloutReqs.filter((q) => !isWrite(q))),
    userAgents: [...new Set(r.requests.map((q) => q.userAgent))],
  };
}
