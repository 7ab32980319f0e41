// bench:peer reads Weir's reconcile and work-queue histograms before and after a rollout
// (test/bench/peer/weir-metrics.ts): series summed over the labels matched, differences taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogram, rolloutMetrics } from '../bench/peer/weir-metrics.ts';

const page = (ok: number, loading: number, waits: number[]) =>
  [
    '# HELP weir_reconcile_duration_seconds Duration of one reconcile',
    `weir_reconcile_duration_seconds_bucket{le="0.01",kind="Canary",result="ok"} ${ok}`,
    `weir_reconcile_duration_seconds_bucket{le="+Inf",kind="Canary",result="ok"} ${ok}`,
    `weir_reconcile_duration_seconds_sum{kind="Canary",result="ok"} ${ok * 0.004}`,
    `weir_reconcile_duration_seconds_count{kind="Canary",result="ok"} ${ok}`,
    `weir_reconcile_duration_seconds_count{kind="Canary",result="loading"} ${loading}`,
    `weir_reconcile_duration_seconds_sum{kind="Canary",result="loading"} 0`,
    `weir_reconcile_duration_seconds_count{kind="GitSync",result="ok"} 99`,
    `weir_workqueue_wait_seconds_bucket{le="0.01",kind="Canary"} ${waits[0]}`,
    `weir_workqueue_wait_seconds_bucket{le="1",kind="Canary"} ${waits[1]}`,
    `weir_workqueue_wait_seconds_bucket{le="+Inf",kind="Canary"} ${waits[2]}`,
    `weir_workqueue_wait_seconds_sum{kind="Canary"} ${waits[2]! * 0.05}`,
    `weir_workqueue_wait_seconds_count{kind="Canary"} ${waits[2]}`,
    'weir_workqueue_wait_seconds_count_total 5',
  ].join('\n');

test('histogram sums the matching series and leaves other kinds out', () => {
  const h = histogram(page(10, 2, [5, 8, 9]), 'weir_reconcile_duration_seconds', { kind: 'Canary' });
  assert.equal(h.count, 12);
  assert.equal(h.buckets.get(Infinity), 10);
});

test('rolloutMetrics counts what happened between the two scrapes', () => {
  const m = rolloutMetrics(page(10, 0, [5, 8, 9]), page(110, 0, [85, 108, 109]));
  assert.equal(m.reconciles, 100);
  assert.equal(m.reconcileMeanMs, 4);
  assert.equal(m.queueWaitMeanMs, 50);
  // 80 of 100 waits under 10 ms, all 100 under 1 s: the 99th percentile is at most 1 s.
  assert.equal(m.queueWaitP99AtMostS, 1);
});

test('no reconcile in between gives no means', () => {
  const m = rolloutMetrics(page(10, 0, [5, 8, 9]), page(10, 0, [5, 8, 9]));
  assert.deepEqual(m, {
    reconciles: 0,
    reconcileMeanMs: null,
    queueWaitMeanMs: null,
    queueWaitP99AtMostS: null,
  });
});
