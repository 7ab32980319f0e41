// Argo's per-metric measurement limits: counts over a run, a failure or error streak beyond its
// limit fails, inconclusive results beyond theirs freeze, dryRun and limited metrics leave the tick.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MeasurementCount, MetricCheck } from '../../src/api/canary.ts';
import { measureTick } from '../../src/canary/measurement-limits.ts';
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
