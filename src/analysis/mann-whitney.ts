// The Mann-Whitney U test (Wilcoxon rank-sum test) of two independent samples, as R's
// wilcox.test(x, y) computes it: the exact distribution of U for small samples without ties, else
// the normal approximation with tie correction and continuity correction. No statistics package on
// npm does this with ties and an exact small-sample distribution, so the maths lives here, small
// and checked against published reference values (test/unit/mann-whitney.test.ts).
//
// U is x's statistic: the number of pairs (xi, yj) with xi > yj, ties counting one half (R's W).
// "greater" tests whether x tends to be larger than y.

export type Alternative = 'greater' | 'less' | 'two-sided';

export interface MannWhitneyResult {
  /** U of x: pairs with xi > yj, ties counted one half. */
  u: number;
  pValue: number;
  /** exact: the permutation distribution of U; normal: its normal approximation. */
  method: 'exact' | 'normal';
  /** Hodges-Lehmann estimate of the shift x − y: the median of all differences xi − yj. */
  shift: number;
}

/** Like R: exact when both samples are below this size and nothing is tied. */
const EXACT_BELOW = 50;

/** R's wilcox.test arguments of the same names; both default to true. */
export interface MannWhitneyOptions {
  /** Use the exact distribution where it applies (small samples, no ties). */
  exact?: boolean;
  /** Continuity correction of the normal approximation. */
  correct?: boolean;
}

export function mannWhitney(
  x: readonly number[],
  y: readonly number[],
  alternative: Alternative,
  opts: MannWhitneyOptions = {},
): MannWhitneyResult {
  if (!x.length || !y.length) throw new RangeError('mannWhitney needs two non-empty samples');
  const { ranks, tieGroups } = rank([...x, ...y]);
  const rankSumX = ranks.slice(0, x.length).reduce((a, b) => a + b, 0);
  const u = rankSumX - (x.length * (x.length + 1)) / 2;
  const small = x.length < EXACT_BELOW && y.length < EXACT_BELOW;
  const exact = (opts.exact ?? true) && small && tieGroups.length === 0;
  const pValue = exact
    ? exactP(u, x.length, y.length, alternative)
    : normalP(u, { n: x.length, m: y.length, tieGroups, correct: opts.correct ?? true }, alternative);
  return { u, pValue, method: exact ? 'exact' : 'normal', shift: hodgesLehmann(x, y) };
}

/** Mid-ranks (1-based, ties averaged) and the sizes of the groups of tied values. */
function rank(values: readonly number[]): { ranks: number[]; tieGroups: number[] } {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length);
  const tieGroups: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && order[end]!.v === order[start]!.v) end++;
    const mid = (start + 1 + end) / 2; // the mean of ranks start+1 … end
    for (let k = start; k < end; k++) ranks[order[k]!.i] = mid;
    if (end - start > 1) tieGroups.push(end - start);
    start = end;
  }
  return { ranks, tieGroups };
}

function exactP(u: number, n: number, m: number, alternative: Alternative): number {
  const dist = uDistribution(n, m);
  const atMost = (k: number): number =>
    dist.slice(0, Math.max(0, Math.floor(k) + 1)).reduce((a, b) => a + b, 0);
  const atLeast = (k: number): number => 1 - atMost(k - 1);
  switch (alternative) {
    case 'greater':
      return atLeast(u);
    case 'less':
      return atMost(u);
    case 'two-sided':
      // The distribution is symmetric about nm/2: double the tail u lies in.
      return Math.min(1, 2 * (u > (n * m) / 2 ? atLeast(u) : atMost(u)));
  }
}

/**
 * P(U = u) for u = 0 … nm when all (n+m choose n) orders of the samples are equally likely. Built one
 * position of the sorted pooled sample at a time: an x placed at position e after k−1 other x's has
 * e−(k−1) y's below it, which is what it adds to U. Additions only, so no cancellation.
 */
export function uDistribution(n: number, m: number): number[] {
  const maxU = n * m;
  const ways = Array.from({ length: n + 1 }, () => new Float64Array(maxU + 1));
  ways[0]![0] = 1;
  for (let e = 0; e < n + m; e++) {
    for (let k = Math.min(n, e + 1); k >= 1; k--) {
      const below = e - (k - 1);
      if (below > m) continue;
      const to = ways[k]!;
      const from = ways[k - 1]!;
      for (let v = maxU; v >= below; v--) to[v]! += from[v - below]!;
    }
  }
  const counts = ways[n]!;
  const total = counts.reduce((a, b) => a + b, 0);
  return Array.from(counts, (c) => c / total);
}

interface NormalParams {
  n: number;
  m: number;
  tieGroups: readonly number[];
  correct: boolean;
}

function normalP(u: number, { n, m, tieGroups, correct }: NormalParams, alternative: Alternative): number {
  const total = n + m;
  const tieTerm = tieGroups.reduce((a, t) => a + t ** 3 - t, 0) / (total * (total - 1));
  const sigma = Math.sqrt(((n * m) / 12) * (total + 1 - tieTerm));
  // Every value equal: no evidence either way.
  if (sigma === 0) return 1;
  const centred = u - (n * m) / 2;
  const half = correct ? 0.5 : 0;
  const correction =
    alternative === 'two-sided' ? Math.sign(centred) * half : alternative === 'greater' ? half : -half;
  const z = (centred - correction) / sigma;
  switch (alternative) {
    case 'greater':
      return upperNormal(z);
    case 'less':
      return upperNormal(-z);
    case 'two-sided':
      return Math.min(1, 2 * upperNormal(Math.abs(z)));
  }
}

/** P(Z > z) for a standard normal Z. */
export function upperNormal(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * The complementary error function by the Chebyshev fit in Press et al., Numerical Recipes (2nd ed.,
 * §6.2, "erfcc"): fractional error below 1.2e-7 everywhere, so small p-values keep their digits.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = [
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
    -0.82215223, 0.17087277,
  ].reduceRight((acc, c) => c + t * acc, 0);
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** The median of all nm differences xi − yj. */
function hodgesLehmann(x: readonly number[], y: readonly number[]): number {
  const diffs = new Float64Array(x.length * y.length);
  let k = 0;
  for (const a of x) for (const b of y) diffs[k++] = a - b;
  return median(diffs.sort());
}

/** The median of sorted values. */
export function median(sorted: ArrayLike<number>): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
