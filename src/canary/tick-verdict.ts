// What the metric results of one analysis tick add up to: pass, fail or hold (inconclusive). Pure;
// decide() applies it. Without analysis.score any metric that is not Successful fails the tick, as
// always. With analysis.score the tick is judged by a Kayenta-style score: the weighted share of
// metrics that pass (docs/analysis.md, "Score"); a `critical` metric that does not pass makes it 0.
//
// Inconclusive results (a judge with too few samples) never pass a tick: it holds its weight, adds
// no failed check, and the progress deadline keeps running, so a check that never concludes still
// ends the run.
import type { Analysis, ScoreStatus } from '../api/canary.ts';
import type { MetricResult } from '../vocab/metric-result.ts';

export type TickVerdict =
  | { kind: 'pass'; score?: TickScore }
  | { kind: 'fail'; failures: string[]; score?: TickScore }
  | { kind: 'hold'; reason: string; score?: TickScore };

export type TickScore = Omit<ScoreStatus, 'time'>;

export const SCORE_DEFAULTS = { pass: 95, marginal: 75 } as const;

/**
 * `final`: passing this tick would promote (the last step, or `weir promote --full`). A marginal score
 * continues an intermediate tick and fails the final one, as Kayenta's marginal threshold does.
 */
export function tickVerdict(
  analysis: Pick<Analysis, 'metrics' | 'score'>,
  results: readonly MetricResult[],
  final: boolean,
): TickVerdict {
  const inconclusive = results.filter((r) => r.result === 'Inconclusive');
  const failing = results.filter(isFailing);
  const hold = (score?: TickScore): TickVerdict => ({
    kind: 'hold',
    reason: inconclusive.map((r) => r.message).join('; '),
    ...(score ? { score } : {}),
  });
  if (!analysis.score) {
    if (failing.length) return { kind: 'fail', failures: failing.map((r) => r.message) };
    return inconclusive.length ? hold() : { kind: 'pass' };
  }
  const critical = failing.find((r) => analysis.metrics?.find((m) => m.name === r.name)?.critical);
  const raw = critical ? 0 : scoreOf(analysis, results);
  if (raw === undefined) return hold({ result: 'Inconclusive', message: 'no metric concluded' });
  // Judged as shown: a score printed as 95 never fails pass 95.
  const value = round(raw);
  const pass = analysis.score.pass ?? SCORE_DEFAULTS.pass;
  const marginal = analysis.score.marginal ?? SCORE_DEFAULTS.marginal;
  const shown = `score ${value}`;
  const fail = (message: string): TickVerdict => ({
    kind: 'fail',
    failures: [message, ...failing.map((r) => r.message)],
    score: { value, result: 'Fail', message },
  });
  if (critical) return fail(`${shown}: critical metric ${critical.name} did not pass`);
  if (value < marginal) return fail(`${shown} < marginal ${marginal}`);
  if (inconclusive.length)
    return hold({
      value,
      result: 'Inconclusive',
      message: `${shown} so far, ${inconclusive.length} metric(s) inconclusive`,
    });
  if (value >= pass)
    return { kind: 'pass', score: { value, result: 'Pass', message: `${shown} >= pass ${pass}` } };
  if (final) return fail(`${shown} < pass ${pass}: a marginal score does not promote`);
  const message = `${shown} is marginal (>= ${marginal}, < pass ${pass}): continuing, promotion needs ${pass}`;
  return { kind: 'pass', score: { value, result: 'Marginal', message } };
}

/** Counts against the tick: Failed, NoData, Error (Inconclusive holds instead). */
function isFailing(r: MetricResult): boolean {
  return r.result !== 'Successful' && r.result !== 'Inconclusive';
}

/**
 * The weighted share of concluded metrics that pass, 0 to 100: each group scores the share of its
 * metrics that are Successful, and groups count by their weight in analysis.score.groups (all
 * metrics weigh the same without groups). Inconclusive metrics are left out, and so is a group with
 * none left; undefined when no metric concluded.
 */
export function scoreOf(
  analysis: Pick<Analysis, 'metrics' | 'score'>,
  results: readonly MetricResult[],
): number | undefined {
  const weights = analysis.score?.groups;
  const groupOf = (name: string): string =>
    (weights && analysis.metrics?.find((m) => m.name === name)?.group) ?? '';
  const tally = new Map<string, { passed: number; total: number }>();
  for (const r of results) {
    if (r.result === 'Inconclusive') continue;
    const g = groupOf(r.name);
    const t = tally.get(g) ?? { passed: 0, total: 0 };
    t.total++;
    if (r.result === 'Successful') t.passed++;
    tally.set(g, t);
  }
  let weighted = 0;
  let weightSum = 0;
  for (const [g, t] of tally) {
    const w = weights?.[g] ?? 1;
    weighted += (w * t.passed) / t.total;
    weightSum += w;
  }
  return weightSum ? (100 * weighted) / weightSum : undefined;
}

/** Two decimals: enough to compare with a threshold, short in status. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
