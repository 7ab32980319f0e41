// The statistical judge (`metrics[].judge.mannWhitney`), as Kayenta's Mann-Whitney classifier does
// it: the canary's samples over a window against the primary's, from the same query. A metric fails
// when the difference in its direction is significant (p-value below 1 − confidence) AND larger than
// the tolerance (the canary's mean over the primary's, beyond allowedIncrease/allowedDecrease); too
// few samples on either side is Inconclusive, never a pass.
import type { CanarySpec, MannWhitneyJudge, MetricCheck } from '../api/canary.ts';
import { WeirError } from '../errors.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import { fmt } from './format.ts';
import { mannWhitney, type Alternative } from './mann-whitney.ts';
import type { QueryRange } from './provider.ts';

export const JUDGE_DEFAULTS = {
  confidence: 0.95,
  allowedIncrease: 1,
  allowedDecrease: 1,
  minSamples: 10,
  /** The window, in the metric's intervals, when judge.mannWhitney.window is not set. */
  windowIntervals: 10,
} as const;

/** Most samples per side: the Hodges-Lehmann shift takes all n·m differences. */
export const MAX_JUDGE_SAMPLES = 1000;

const FIELD = 'judge.mannWhitney';

/**
 * The range the judge samples: the window ending now, one point per metric interval, so that each
 * sample (a rate over `{{ interval }}`) covers its own stretch of time and no two overlap.
 */
export function judgeRange(metric: MetricCheck, analysisInterval: string, nowMs: number): QueryRange {
  const stepMs = parseDuration(metric.interval ?? analysisInterval);
  const problem = windowProblem(metric, analysisInterval);
  if (problem) throw new WeirError('INVALID_SPEC', problem);
  return { startMs: nowMs - windowMs(metric, stepMs), endMs: nowMs, stepMs };
}

function windowMs(metric: MetricCheck, stepMs: number): number {
  const window = metric.judge?.mannWhitney.window;
  return window ? parseDuration(window) : stepMs * JUDGE_DEFAULTS.windowIntervals;
}

/**
 * Why the judge's window cannot work with the metric's interval, naming the field; undefined when it
 * can. `weir lint` reports the same.
 */
export function windowProblem(metric: MetricCheck, analysisInterval: string): string | undefined {
  const judge = metric.judge?.mannWhitney;
  if (!judge) return undefined;
  const interval = metric.interval ?? analysisInterval;
  const stepMs = parseDuration(interval);
  const points = Math.floor(windowMs(metric, stepMs) / stepMs) + 1;
  const window = judge.window ?? `${JUDGE_DEFAULTS.windowIntervals} × ${interval}`;
  const minSamples = judge.minSamples ?? JUDGE_DEFAULTS.minSamples;
  if (points > MAX_JUDGE_SAMPLES)
    return `${FIELD}.window ${window} holds ${points} samples of interval ${interval}, more than ${MAX_JUDGE_SAMPLES}: shorten the window or lengthen the interval`;
  if (points < minSamples)
    return `${FIELD}.window ${window} holds at most ${points} samples of interval ${interval}, fewer than minSamples ${minSamples}: the check could never conclude`;
  return undefined;
}

/** windowProblem of every judge of `spec`, with its field path, for `weir lint` and the controller. */
export function judgeProblems(spec: CanarySpec): Array<{ path: string; message: string }> {
  return (spec.analysis.metrics ?? []).flatMap((m, i) => {
    const problem = windowProblem(m, spec.analysis.interval);
    return problem ? [{ path: `spec.analysis.metrics[${i}].${FIELD}.window`, message: problem }] : [];
  });
}

const ALTERNATIVE: Record<MannWhitneyJudge['direction'], Alternative> = {
  increase: 'greater',
  decrease: 'less',
  either: 'two-sided',
};

/** The verdict on the canary's and the primary's samples. */
export function judgeSamples(
  name: string,
  judge: MannWhitneyJudge,
  canary: readonly number[],
  primary: readonly number[],
  unit = '',
): MetricResult {
  const base = { name, value: mean(canary), primaryValue: mean(primary) };
  const shown = { name, ...finite({ value: base.value, primaryValue: base.primaryValue }) };
  const counts = `${canary.length} vs ${primary.length} samples`;
  const minSamples = judge.minSamples ?? JUDGE_DEFAULTS.minSamples;
  if (canary.length < minSamples || primary.length < minSamples) {
    return {
      ...shown,
      result: 'Inconclusive',
      message: `${name} inconclusive: ${canary.length} canary and ${primary.length} primary samples, fewer than ${FIELD}.minSamples ${minSamples}`,
    };
  }
  const test = mannWhitney(canary, primary, ALTERNATIVE[judge.direction]);
  const alpha = 1 - (judge.confidence ?? JUDGE_DEFAULTS.confidence);
  const effectSize = ratio(base.value, base.primaryValue);
  const way = directionOf(judge.direction, test.shift, effectSize);
  const allowed =
    way === 'increase'
      ? (judge.allowedIncrease ?? JUDGE_DEFAULTS.allowedIncrease)
      : (judge.allowedDecrease ?? JUDGE_DEFAULTS.allowedDecrease);
  const significant = test.pValue < alpha;
  const beyond = way === 'increase' ? effectSize > allowed : effectSize < allowed;
  const higher = way === 'increase' ? 'higher' : 'lower';
  const facts =
    `mean ${fmt(base.value)}${unit} vs ${fmt(base.primaryValue)}${unit} (${ratioText(effectSize)}), ` +
    `shift ${signed(test.shift)}${unit}, ${counts}`;
  const p = `Mann-Whitney p=${pText(test.pValue)}`;
  const tolerance = `${way === 'increase' ? 'allowedIncrease' : 'allowedDecrease'} ${fmt(allowed)}`;
  const verdict = !significant
    ? `no significant ${judge.direction === 'either' ? 'difference' : judge.direction} vs the primary (${p} ≥ ${fmt(alpha)})`
    : `significantly ${higher} than the primary (${p} < ${fmt(alpha)}), ${beyond ? 'beyond' : 'within'} ${tolerance}`;
  return {
    ...shown,
    ...finite({ pValue: test.pValue, effectSize }),
    result: significant && beyond ? 'Failed' : 'Successful',
    message: `${name} ${verdict}: ${facts}`,
  };
}

/** For `either`, the way the canary moved: by the shift, else by the means. */
function directionOf(
  direction: MannWhitneyJudge['direction'],
  shift: number,
  effectSize: number,
): 'increase' | 'decrease' {
  if (direction !== 'either') return direction;
  if (shift !== 0) return shift > 0 ? 'increase' : 'decrease';
  return effectSize >= 1 ? 'increase' : 'decrease';
}

/** Only finite numbers go into status: JSON has no NaN or Infinity. */
function finite(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
}

/** canary / primary; over a primary of 0, 1 when the canary is 0 too, else infinitely more. */
function ratio(canary: number, primary: number): number {
  if (primary === 0) return canary === 0 ? 1 : canary > 0 ? Number.POSITIVE_INFINITY : 0;
  return canary / primary;
}

function ratioText(r: number): string {
  return Number.isFinite(r) ? `${fmt(r)}× the primary` : 'above a primary of 0';
}

function signed(v: number): string {
  return v > 0 ? `+${fmt(v)}` : fmt(v);
}

/** Two significant digits: p=0.0031, p=0.42. */
function pText(p: number): string {
  return p === 0 ? '0' : String(Number(p.toPrecision(2)));
}
