// Argo Rollouts' measurement semantics per metric (docs/analysis.md, "Measurement limits"). A metric
// that sets failureLimit, inconclusiveLimit or consecutiveErrorLimit is judged by its own counts over
// the run instead of by the tick verdict and analysis.threshold, as an Argo user expects; a dryRun
// metric is measured and shown but judged by nothing. Pure; decide() applies the outcome.
import type { CanarySpec, CanaryStatus, MeasurementCount, MetricCheck } from '../api/canary.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import { activeMetrics } from './strategy.ts';

/** Argo's defaults for a limit the metric leaves out once it sets another. */
export const LIMIT_DEFAULTS = { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 } as const;

/**
 * `fail`: a failureLimit or consecutiveErrorLimit was exceeded, the run ends as analysis.onFailure
 * says. `inconclusive`: an inconclusiveLimit was exceeded, the run freezes for a person (Argo pauses
 * an Inconclusive run).
 */
export type LimitBreach = { kind: 'fail' | 'inconclusive'; reasons: string[] };

export interface MeasuredTick {
  /** The results the tick verdict and score judge: neither dryRun nor judged by limits. */
  forTick: MetricResult[];
  /** New counts of every metric judged by limits, in spec order. */
  counts: MeasurementCount[];
  breach?: LimitBreach;
}

type Limited = Pick<MetricCheck, 'failureLimit' | 'inconclusiveLimit' | 'consecutiveErrorLimit'>;

export function hasLimits(m: Limited): boolean {
  return (
    m.failureLimit !== undefined || m.inconclusiveLimit !== undefined || m.consecutiveErrorLimit !== undefined
  );
}

/** Judged by its own limits, not by the tick verdict (a dryRun metric is judged by nothing). */
function judgedByLimits(m: MetricCheck): boolean {
  return !m.dryRun && hasLimits(m);
}

/** A metric whose measurements are counted in status.measurements: judged by limits, or with a count. */
function isCounted(m: MetricCheck): boolean {
  return judgedByLimits(m) || m.count !== undefined;
}

/**
 * The metrics to measure at a tick at `nowMs` (Argo's count and initialDelay): not before
 * initialDelay after the run's first analysis tick (`startedAt`; none yet: this is the first), and
 * not once count measurements were taken in the run (`prior`, status.measurements).
 */
export function metricsDue(
  metrics: readonly MetricCheck[],
  prior: readonly MeasurementCount[],
  startedAt: string | undefined,
  nowMs: number,
): MetricCheck[] {
  const start = startedAt ? Date.parse(startedAt) : nowMs;
  return metrics.filter((m) => {
    if (m.initialDelay && nowMs - start < parseDuration(m.initialDelay)) return false;
    const taken = prior.find((c) => c.name === m.name)?.count ?? 0;
    return m.count === undefined || taken < m.count;
  });
}

/** Counts this tick's results into `prior` (status.measurements) and reports any limit exceeded. */
export function measureTick(
  metrics: readonly MetricCheck[],
  results: readonly MetricResult[],
  prior: readonly MeasurementCount[],
): MeasuredTick {
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const forTick = results.filter((r) => {
    const m = byName.get(r.name);
    return !m || (!m.dryRun && !hasLimits(m));
  });
  const counts: MeasurementCount[] = [];
  const fails: string[] = [];
  const inconclusive: string[] = [];
  for (const m of metrics) {
    if (!isCounted(m)) continue;
    const before = prior.find((c) => c.name === m.name) ?? zero(m.name);
    const r = results.find((x) => x.name === m.name);
    const now = r ? counted(before, r.result) : before;
    counts.push(now);
    if (!r || !judgedByLimits(m)) continue;
    fails.push(...failReasons(m, now, r));
    const limit = m.inconclusiveLimit ?? LIMIT_DEFAULTS.inconclusiveLimit;
    if (now.inconclusive > limit)
      inconclusive.push(
        `${m.name}: ${now.inconclusive} inconclusive measurements > inconclusiveLimit ${limit}: ${r.message}`,
      );
  }
  // A failure wins: it ends the run, where too many inconclusive results only ask a person.
  const breach: LimitBreach | undefined = fails.length
    ? { kind: 'fail', reasons: fails }
    : inconclusive.length
      ? { kind: 'inconclusive', reasons: inconclusive }
      : undefined;
  return { forTick, counts, ...(breach ? { breach } : {}) };
}

function zero(name: string): MeasurementCount {
  return { name, count: 0, failed: 0, inconclusive: 0, consecutiveErrors: 0 };
}

function counted(c: MeasurementCount, result: MetricResult['result']): MeasurementCount {
  const erred = result === 'Error' || result === 'NoData';
  return {
    name: c.name,
    count: c.count + 1,
    failed: c.failed + (result === 'Failed' ? 1 : 0),
    inconclusive: c.inconclusive + (result === 'Inconclusive' ? 1 : 0),
    // Argo resets the error streak on any measurement that is not an error.
    consecutiveErrors: erred ? c.consecutiveErrors + 1 : 0,
  };
}

function failReasons(m: Limited & { name: string }, c: MeasurementCount, r: MetricResult): string[] {
  const out: string[] = [];
  const failureLimit = m.failureLimit ?? LIMIT_DEFAULTS.failureLimit;
  if (c.failed > failureLimit)
    out.push(`${m.name}: ${c.failed} failed measurements > failureLimit ${failureLimit}: ${r.message}`);
  const errorLimit = m.consecutiveErrorLimit ?? LIMIT_DEFAULTS.consecutiveErrorLimit;
  if (c.consecutiveErrors > errorLimit)
    out.push(
      `${m.name}: ${c.consecutiveErrors} consecutive errors > consecutiveErrorLimit ${errorLimit}: ${r.message}`,
    );
  return out;
}

/**
 * The metrics a tick at the run's current step measures at `atMs`: the step's (stepOnly ones only at
 * theirs) that are due (count, initialDelay). What the controller queries, decide() judges and
 * `weir simulate` replays.
 */
export function metricsMeasuredAt(
  spec: CanarySpec,
  status: Pick<CanaryStatus, 'stepIndex' | 'measurements' | 'analysisStartTime'>,
  atMs: number,
): MetricCheck[] {
  const active = activeMetrics(spec, status.stepIndex ?? 0);
  return metricsDue(active, status.measurements ?? [], status.analysisStartTime, atMs);
}
