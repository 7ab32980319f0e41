// Relative analysis: the canary's value judged against the primary's, which the same query measures
// for the primary's pods. Differences are in the metric's own unit (percentage points for a rate);
// ratios are canary / primary. Every bound given must hold, and each bound is inclusive. Which way is
// worse depends on the metric, so the user says it: maxIncrease/maxRatio for error rate and latency,
// maxDecrease/minRatio for success rate and throughput.
import type { PrimaryComparison } from '../api/canary.ts';
import { fmt } from './format.ts';

export interface Comparison {
  passed: boolean;
  /** What was found, e.g. `2.1 above, more than maxIncrease 1` or `within maxDecrease 1`. */
  detail: string;
}

type Bound = keyof PrimaryComparison;

const ORDER: Bound[] = ['maxIncrease', 'maxDecrease', 'maxRatio', 'minRatio'];

/** Compares the canary with the primary under `bounds`; the first bound broken is the one reported. */
export function comparePrimary(
  canary: number,
  primary: number,
  bounds: PrimaryComparison,
  unit = '',
): Comparison {
  const given = ORDER.filter((b) => bounds[b] !== undefined);
  for (const bound of given) {
    const broken = breach(bound, bounds[bound]!, canary, primary, unit);
    if (broken) return { passed: false, detail: broken };
  }
  return { passed: true, detail: `within ${given.map((b) => `${b} ${fmt(bounds[b]!)}`).join(' and ')}` };
}

/** Why `bound` is broken, or undefined when it holds. */
function breach(
  bound: Bound,
  limit: number,
  canary: number,
  primary: number,
  unit: string,
): string | undefined {
  switch (bound) {
    case 'maxIncrease':
      return exceeds(canary - primary, limit)
        ? `${fmt(canary - primary)}${unit} above, more than maxIncrease ${fmt(limit)}`
        : undefined;
    case 'maxDecrease':
      return exceeds(primary - canary, limit)
        ? `${fmt(primary - canary)}${unit} below, more than maxDecrease ${fmt(limit)}`
        : undefined;
    case 'maxRatio':
      return exceeds(canary, primary * limit)
        ? `${ratioText(canary, primary)}, more than maxRatio ${fmt(limit)}`
        : undefined;
    case 'minRatio':
      return exceeds(primary * limit, canary)
        ? `${ratioText(canary, primary)}, less than minRatio ${fmt(limit)}`
        : undefined;
  }
}

/**
 * a > b beyond floating-point noise, so that a bound met exactly holds (99.1 - 98.1 is
 * 1.0000000000000142, which must not break maxDecrease 1).
 */
function exceeds(a: number, b: number): boolean {
  return a - b > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

function ratioText(canary: number, primary: number): string {
  // Over a primary of 0 any increase is an infinite ratio: say what was measured instead.
  if (primary === 0) return 'above a primary of 0';
  return `${fmt(canary / primary)}× the primary`;
}
