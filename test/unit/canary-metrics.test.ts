// Series of a deleted Canary leave /metrics: status, weights, metric values, counters and durations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/server/metrics.ts';

test('forgetCanary removes every series of that Canary and keeps the others', async () => {
  const m = new Metrics('test', false);
  for (const name of ['gone', 'kept']) {
    m.recordCanary('shop', name, {
      status: 2,
      weights: { [name]: 0, [`${name}-primary`]: 100 },
      analysis: { 'request-success-rate': 42 },
    });
    m.failures.inc({ name, namespace: 'shop' });
    m.canaryDuration.observe({ name, namespace: 'shop' }, 30);
  }
  m.canaryTotal.set({ namespace: 'shop' }, 2);
  const before = await m.registry.metrics();
  for (const series of [
    'weir_canary_status{name="gone",namespace="shop"} 2',
    'weir_canary_weight{workload="gone-primary",namespace="shop"} 100',
    'weir_canary_metric_analysis{name="gone",namespace="shop",metric="request-success-rate"} 42',
    'weir_canary_failures_total{name="gone",namespace="shop"} 1',
  ])
    assert.ok(before.includes(series), `recorded: ${series}`);

  m.forgetCanary('shop', 'gone', 1);
  const after = await m.registry.metrics();
  const left = after.split('\n').filter((l) => /name="gone"|workload="gone(-primary)?"/.test(l));
  assert.deepEqual(left, [], 'no series of the deleted Canary');
  assert.ok(after.includes('weir_canary_status{name="kept",namespace="shop"} 2'));
  assert.ok(after.includes('weir_canary_weight{workload="kept-primary",namespace="shop"} 100'));
  assert.ok(after.includes('weir_canary_total{namespace="shop"} 1'));

  m.forgetCanary('shop', 'kept', 0);
  assert.ok(!(await m.registry.metrics()).includes('weir_canary_total{namespace="shop"}'));
});
