// The Mann-Whitney U test against published reference values (R's wilcox.test documentation and
// SciPy's mannwhitneyu documentation), a tied example worked by hand, and the properties any correct
// implementation has (symmetry, tails of the exact distribution summing to one).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mannWhitney, median, uDistribution, upperNormal } from '../../src/analysis/mann-whitney.ts';

const close = (actual: number, expected: number, digits: number, what: string): void => {
  assert.ok(Math.abs(actual - expected) < 0.5 * 10 ** -digits, `${what}: ${actual} vs ${expected}`);
};

// R, ?wilcox.test, "Two-sample test. Hollander & Wolfe (1973), 69f.": permeability constants of the
// human chorioamniotic membrane, x at term, y at 12 to 26 weeks gestational age.
const HW_X = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
const HW_Y = [1.15, 0.88, 0.9, 0.74, 1.21];

// SciPy, scipy.stats.mannwhitneyu documentation example (from Conover): ages of male and female
// employees.
const MALES = [19, 22, 16, 29, 24];
const FEMALES = [20, 11, 17, 12];

describe('mannWhitney: published reference values', () => {
  test('R: wilcox.test(x, y, alternative = "g") gives W = 35, p-value = 0.1272', () => {
    const r = mannWhitney(HW_X, HW_Y, 'greater');
    assert.equal(r.u, 35);
    assert.equal(r.method, 'exact');
    close(r.pValue, 0.1272, 4, 'p');
  });

  test('R: the large-sample version (exact = FALSE, correct = FALSE) gives p-value = 0.1103', () => {
    const r = mannWhitney(HW_X, HW_Y, 'greater', { exact: false, correct: false });
    assert.equal(r.method, 'normal');
    close(r.pValue, 0.1103, 4, 'p');
  });

  test('R: conf.int = TRUE estimates the difference in location as 0.305 (Hodges-Lehmann)', () => {
    close(mannWhitney(HW_X, HW_Y, 'greater').shift, 0.305, 9, 'shift');
  });

  test('SciPy: method="exact" gives statistic=17.0, pvalue=0.1111111111111111', () => {
    const r = mannWhitney(MALES, FEMALES, 'two-sided');
    assert.equal(r.u, 17);
    assert.equal(r.method, 'exact');
    close(r.pValue, 1 / 9, 12, 'p');
  });

  test('SciPy: method="asymptotic" (continuity-corrected) gives pvalue=0.11134688653314041', () => {
    const r = mannWhitney(MALES, FEMALES, 'two-sided', { exact: false });
    close(r.pValue, 0.11134688653314041, 6, 'p');
  });
});

describe('mannWhitney: ties', () => {
  // x = [1, 2, 2, 3, 5], y = [2, 3, 4, 4, 6]. Pooled and sorted: 1 2 2 2 3 3 4 4 5 6 with mid-ranks
  // 1, 3, 3, 3, 5.5, 5.5, 7.5, 7.5, 9, 10. Rank sum of x = 1 + 3 + 3 + 5.5 + 9 = 21.5, so
  // U = 21.5 − 15 = 6.5. Ties: groups of 3, 2 and 2, Σ(t³ − t) = 24 + 6 + 6 = 36.
  // σ² = (25 / 12) · (11 − 36 / 90) = 22.0833…, σ = 4.69929…
  // Two-sided, continuity-corrected: z = (6.5 − 12.5 + 0.5) / σ = −1.17039…, p = 2 · Φ(z) = 0.24184…
  const x = [1, 2, 2, 3, 5];
  const y = [2, 3, 4, 4, 6];

  test('uses the normal approximation with tie correction', () => {
    const r = mannWhitney(x, y, 'two-sided');
    assert.equal(r.u, 6.5);
    assert.equal(r.method, 'normal');
    close(r.pValue, 2 * upperNormal(5.5 / Math.sqrt((25 / 12) * (11 - 36 / 90))), 12, 'p');
    close(r.pValue, 0.24184, 4, 'p');
  });

  test('one-sided: "less" is the smaller tail here, "greater" the larger', () => {
    const less = mannWhitney(x, y, 'less').pValue;
    const greater = mannWhitney(x, y, 'greater').pValue;
    close(less, upperNormal(5.5 / Math.sqrt((25 / 12) * (11 - 36 / 90))), 12, 'less');
    assert.ok(greater > 0.8, `greater ${greater}`);
  });

  test('all values equal: no evidence either way', () => {
    assert.equal(mannWhitney([3, 3, 3], [3, 3, 3, 3], 'two-sided').pValue, 1);
    assert.equal(mannWhitney([3, 3, 3], [3, 3, 3, 3], 'greater').pValue, 1);
  });
});

describe('mannWhitney: properties', () => {
  test('swapping the samples mirrors U and keeps the two-sided p-value', () => {
    const a = mannWhitney(HW_X, HW_Y, 'two-sided');
    const b = mannWhitney(HW_Y, HW_X, 'two-sided');
    assert.equal(a.u + b.u, HW_X.length * HW_Y.length);
    close(a.pValue, b.pValue, 12, 'p');
    close(a.shift, -b.shift, 12, 'shift');
  });

  test('the exact distribution sums to 1, is symmetric, and matches counting by hand for 2 and 2', () => {
    const d = uDistribution(7, 9);
    close(
      d.reduce((s, p) => s + p, 0),
      1,
      12,
      'sum',
    );
    for (let u = 0; u <= 63; u++) close(d[u]!, d[63 - u]!, 15, `P(U=${u})`);
    // The 6 orders of two x's and two y's: U = 0, 1, 2, 2, 3, 4.
    assert.deepEqual(
      uDistribution(2, 2).map((p) => p * 6),
      [1, 1, 2, 1, 1],
    );
  });

  test('clearly separated samples: tiny p-values, one direction only', () => {
    const low = Array.from({ length: 30 }, (_, i) => 100 + i);
    const high = Array.from({ length: 30 }, (_, i) => 200 + i);
    assert.ok(mannWhitney(high, low, 'greater').pValue < 1e-10);
    assert.ok(mannWhitney(high, low, 'less').pValue > 0.999);
    assert.equal(mannWhitney(high, low, 'two-sided').shift, 100);
  });

  test('large samples use the normal approximation', () => {
    const a = Array.from({ length: 60 }, (_, i) => i);
    assert.equal(mannWhitney(a, a, 'two-sided').method, 'normal');
  });

  test('the normal tail: P(Z > 1.959964) = 0.025, P(Z > 8) = 6.221e-16', () => {
    close(upperNormal(1.959964), 0.025, 7, 'z=1.96');
    close(upperNormal(8) / 6.22096057e-16, 1, 6, 'z=8 relative');
    close(upperNormal(-1.959964), 0.975, 7, 'z=-1.96');
  });

  test('median of sorted values, odd and even', () => {
    assert.equal(median([1, 2, 9]), 2);
    assert.equal(median([1, 2, 4, 9]), 3);
  });

  test('an empty sample is refused', () => {
    assert.throws(() => mannWhitney([], [1], 'greater'), RangeError);
  });
});
