// Argo's per-metric measurement limits: counts over a run, a failure or error streak beyond its
// limit fails, inconclusive results beyond theirs freeze, dryRun and limited metrics leave the tick.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MeasurementCount, MetricCheck } from '../../src/api/canary.ts';
import { measureTick, metricsDue } from '../../src/canary/measurement-limits.ts';
import type { MetricResult } from '../../src/vocab/metric-result.ts';

type R = MetricResult['result'];
const result = (name: string, r: R): MetricResult => ({ name, result: r, message: `${name} ${r}` });
const metric = (extra: Partial<MetricCheck>): MetricCheck => ({
  name: 'm',
  thresholdRange: { min: 1 },
  templateRef: { name: 't' },
  ...extra,
});

/** Feeds `rs` one tick at a time, the counts carried over as status.measurements would. */
function run(m: MetricCheck, rs: R[]) {
  let counts: MeasurementCount[] = [];
  let last;
  for (const r of rs) {
    last = measureTick([m], [result('m', r)], counts);
    counts = last.counts;
  }
  return last!;
}

describe('measureTick: limits over a run', () => {
  const cases: Array<[string, Partial<MetricCheck>, R[], 'fail' | 'inconclusive' | undefined]> = [
    ['failureLimit 0: the first failure fails', { failureLimit: 0 }, ['Failed'], 'fail'],
    [
      'failureLimit 2: two failures are within it',
      { failureLimit: 2 },
      ['Failed', 'Successful', 'Failed'],
      undefined,
    ],
    [
      'failureLimit 2: the third failure fails',
      { failureLimit: 2 },
      ['Failed', 'Failed', 'Successful', 'Failed'],
      'fail',
    ],
    [
      'failures count over the run, not in a row',
      { failureLimit: 1 },
      ['Failed', 'Successful', 'Successful', 'Failed'],
      'fail',
    ],
    [
      'inconclusiveLimit 1: the second freezes',
      { inconclusiveLimit: 1 },
      ['Inconclusive', 'Inconclusive'],
      'inconclusive',
    ],
    [
      'inconclusiveLimit 1: one is within it',
      { inconclusiveLimit: 1 },
      ['Inconclusive', 'Successful'],
      undefined,
    ],
    [
      'inconclusiveLimit defaults to 0 once any limit is set',
      { failureLimit: 3 },
      ['Inconclusive'],
      'inconclusive',
    ],
    [
      'consecutiveErrorLimit defaults to 4: four errors are within it',
      { failureLimit: 0 },
      ['Error', 'NoData', 'Error', 'Error'],
      undefined,
    ],
    [
      'consecutiveErrorLimit defaults to 4: the fifth fails',
      { failureLimit: 0 },
      ['Error', 'NoData', 'Error', 'Error', 'Error'],
      'fail',
    ],
    [
      'a success resets the error streak',
      { consecutiveErrorLimit: 1 },
      ['Error', 'Successful', 'Error', 'Successful', 'NoData'],
      undefined,
    ],
    [
      'consecutiveErrorLimit 1: two in a row fail',
      { consecutiveErrorLimit: 1 },
      ['Successful', 'Error', 'NoData'],
      'fail',
    ],
    [
      'an error is not a failed measurement',
      { consecutiveErrorLimit: 10, failureLimit: 0 },
      ['Error', 'NoData'],
      undefined,
    ],
    [
      'a failure wins over inconclusive in the same tick',
      { failureLimit: 0, inconclusiveLimit: 0 },
      ['Inconclusive', 'Failed'],
      'fail',
    ],
  ];
  for (const [what, limits, rs, breach] of cases) {
    test(what, () => {
      const out = run(metric(limits), rs);
      assert.equal(out.breach?.kind, breach, JSON.stringify(out));
      assert.deepEqual(out.forTick, [], 'a limited metric is left out of the tick verdict');
    });
  }

  test('the counts say what happened, and the breach names metric, count and limit', () => {
    const out = run(metric({ failureLimit: 1 }), ['Failed', 'Error', 'Inconclusive', 'Successful', 'Failed']);
    assert.deepEqual(out.counts, [{ name: 'm', count: 5, failed: 2, inconclusive: 1, consecutiveErrors: 0 }]);
    assert.equal(out.breach?.kind, 'fail');
    assert.match(out.breach.reasons[0] ?? '', /^m: 2 failed measurements > failureLimit 1: m Failed$/);
  });

  test('a metric without limits stays with the tick verdict and is not counted', () => {
    const out = measureTick([metric({})], [result('m', 'Failed')], []);
    assert.deepEqual(out.forTick, [result('m', 'Failed')]);
    assert.deepEqual(out.counts, []);
    assert.equal(out.breach, undefined);
  });

  test('a dryRun metric counts toward nothing, even with limits', () => {
    const out = measureTick([metric({ dryRun: true, failureLimit: 0 })], [result('m', 'Failed')], []);
    assert.deepEqual(out, { forTick: [], counts: [] });
  });

  test('a limited metric not measured this tick keeps its counts', () => {
    const prior = [{ name: 'm', count: 3, failed: 1, inconclusive: 0, consecutiveErrors: 2 }];
    const out = measureTick([metric({ failureLimit: 1 })], [], prior);
    assert.deepEqual(out.counts, prior);
    assert.equal(out.breach, undefined);
  });
});

describe("Argo's count and initialDelay", () => {
  test('a metric with count is counted, yet judged by the tick verdict; failures break no limit', () => {
    const out = run(metric({ count: 5 }), ['Failed', 'Failed']);
    assert.deepEqual(out.forTick, [result('m', 'Failed')]);
    assert.deepEqual(out.counts, [{ name: 'm', count: 2, failed: 2, inconclusive: 0, consecutiveErrors: 0 }]);
    assert.equal(out.breach, undefined);
  });

  test('a dryRun metric with count is counted (to stop it), and judged by nothing', () => {
    const out = measureTick(
      [metric({ dryRun: true, count: 2, failureLimit: 0 })],
      [result('m', 'Failed')],
      [],
    );
    assert.deepEqual(out.forTick, []);
    assert.equal(out.counts[0]?.count, 1);
    assert.equal(out.breach, undefined);
  });

  const START = '2026-11-20T10:00:00.000Z';
  const T = Date.parse(START);
  const taken = (count: number): MeasurementCount[] => [
    { name: 'm', count, failed: 0, inconclusive: 0, consecutiveErrors: 0 },
  ];
  const cases: Array<
    [string, Partial<MetricCheck>, MeasurementCount[], string | undefined, number, boolean]
  > = [
    // [case, metric, status.measurements, analysisStartTime, now, due]
    ['neither: every tick', {}, taken(99), START, T + 60_000, true],
    ['count 3 after 2 measurements', { count: 3 }, taken(2), START, T, true],
    ['count 3 after 3 measurements: done', { count: 3 }, taken(3), START, T, false],
    ['count 1, never measured', { count: 1 }, [], START, T, true],
    ['initialDelay 2m, 1m after the start', { initialDelay: '2m' }, [], START, T + 60_000, false],
    ['initialDelay 2m, exactly 2m after the start', { initialDelay: '2m' }, [], START, T + 120_000, true],
    ['initialDelay 2m on the first tick (no start yet)', { initialDelay: '2m' }, [], undefined, T, false],
    ['initialDelay 0s on the first tick', { initialDelay: '0s' }, [], undefined, T, true],
    ['both: delay over, count left', { initialDelay: '1m', count: 2 }, taken(1), START, T + 90_000, true],
    ['both: delay over, count used', { initialDelay: '1m', count: 2 }, taken(2), START, T + 90_000, false],
  ];
  for (const [name, extra, prior, start, now, due] of cases) {
    test(`metricsDue: ${name}`, () => {
      assert.equal(metricsDue([metric(extra)], prior, start, now).length, due ? 1 : 0);
    });
  }
});
