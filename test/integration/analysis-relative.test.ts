// Relative analysis end to end: the in-process controller, a real Prometheus, and real exporters for
// the primary's and the canary's pods. Two Canaries run at once with the same canary, ~5% errors,
// which passes the fixed range of both metrics (success rate >= 90, error rate <= 10):
//   - `worse`: the primary has ~3% errors. The canary is 2 points worse, more than the 1 point
//     compare.primary allows, so the run is rolled back;
//   - `same`: the primary is just as bad (~5%), so the same absolute value passes and is promoted.
// Each Canary judges both ways: the built-in request-success-rate (maxDecrease) and a MetricTemplate
// error rate (maxIncrease), so built-ins and templates are both rendered for the primary.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CanaryObject } from '../../src/canary/context.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';

let w: World;
before(async () => {
  w = await startWorld('relative');
  await w.apply({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'MetricTemplate',
    metadata: { name: 'error-rate' },
    spec: {
      provider: { type: 'prometheus' },
      // The pods of `{{ target }}`, which is `<target>-primary` when rendered for the primary.
      query: `100 * (sum(rate(http_request_duration_seconds_count{namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+", status=~"5.."}[{{ interval }}])) or vector(0))
  / sum(rate(http_request_duration_seconds_count{namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+"}[{{ interval }}]))`,
    },
  });
});
after(async () => w?.stop());

// 30 s of ~20 requests/s per pod: ~600 requests, so a 3% or 5% error rate is measured to a few
// tenths of a point, far from the 1 point allowed.
const METRICS = [
  {
    name: 'request-success-rate',
    interval: '30s',
    thresholdRange: { min: 90 },
    compare: { primary: { maxDecrease: 1 } },
  },
  {
    name: 'error-rate',
    interval: '30s',
    templateRef: { name: 'error-rate' },
    thresholdRange: { max: 10 },
    compare: { primary: { maxIncrease: 1 } },
  },
];

async function run(name: string, primaryErrorRate: number) {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  await w.exporters(name, { errorRate: 0.05 }, { errorRate: primaryErrorRate });
  await w.apply(gatewayCanary(name, { threshold: 2, stepWeight: 50, maxWeight: 100, metrics: METRICS }));
  await w.waitPhase(name, 'Initialized', 60_000);
  const phases = await w.recordPhases(name);
  await w.setImage(name, `example.com/${name}:2.0.0`);
  const done = await w.waitPhase(name, ['Failed', 'Succeeded'], 180_000);
  return { done, phases: await phases.stop(), metrics: done.status?.metrics ?? [] };
}

type StatusMetric = NonNullable<NonNullable<CanaryObject['status']>['metrics']>[number];

const byName = (metrics: StatusMetric[], name: string) => {
  const m = metrics.find((x) => x.name === name);
  assert.ok(m, `no ${name} in ${JSON.stringify(metrics)}`);
  return { ...m, message: m.message ?? '' };
};

describe('canary 5% errors', { concurrency: true }, () => {
  test('against a primary with 3% errors: 2 points worse, rolled back', async (t) => {
    const { done, phases, metrics } = await run('worse', 0.03);
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    for (const p of ['Promoting', 'Finalising', 'Succeeded'] as const)
      assert.ok(!phases.includes(p), phases.join(' -> '));
    assert.equal(
      await w.image('worse-primary'),
      'example.com/worse:1.0.0',
      'the primary keeps the old image',
    );

    const success = byName(metrics, 'request-success-rate');
    const errors = byName(metrics, 'error-rate');
    t.diagnostic(`worse: ${success.message} | ${errors.message}`);
    for (const m of [success, errors]) assert.equal(m.result, 'Failed', m.message);
    // Within the fixed range: only the comparison with the primary failed it.
    assert.ok(success.value! > 94 && success.value! < 96, success.message);
    assert.ok(success.primaryValue! > 96 && success.primaryValue! < 98, success.message);
    assert.match(
      success.message,
      /^request-success-rate 9[45](\.\d+)? vs primary 9[67](\.\d+)?: [12](\.\d+)? below, more than maxDecrease 1$/,
    );
    assert.ok(errors.value! > 4 && errors.value! < 6 && errors.primaryValue! > 2 && errors.primaryValue! < 4);
    assert.match(
      errors.message,
      /^error-rate [45](\.\d+)? vs primary [23](\.\d+)?: [12](\.\d+)? above, more than maxIncrease 1$/,
    );

    const failed = (await w.events('worse')).filter((e) => e.reason === 'FailedCheck');
    assert.ok(failed.length >= 2, JSON.stringify(failed));
    assert.match(failed[0]!.message, /vs primary/);
  });

  test('against a primary just as bad (5%): the same value passes, promoted', async (t) => {
    const { done, phases, metrics } = await run('same', 0.05);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    // Promoting can pass between two 250 ms samples: the primary's new image is the proof.
    assert.ok(!phases.includes('Failed'), phases.join(' -> '));
    assert.equal(await w.image('same-primary'), 'example.com/same:2.0.0', 'the primary runs the new image');
    assert.deepEqual(
      (await w.events('same')).filter((e) => e.reason === 'FailedCheck'),
      [],
      'no check failed',
    );

    const success = byName(metrics, 'request-success-rate');
    const errors = byName(metrics, 'error-rate');
    t.diagnostic(`same: ${success.message} | ${errors.message}`);
    for (const m of [success, errors]) assert.equal(m.result, 'Successful', m.message);
    assert.ok(success.value! > 94 && success.value! < 96, success.message);
    assert.ok(Math.abs(success.value! - success.primaryValue!) < 1, success.message);
    assert.match(
      success.message,
      /^request-success-rate 9[45](\.\d+)? >= min 90; vs primary 9[45](\.\d+)?: within maxDecrease 1$/,
    );
    assert.match(
      errors.message,
      /^error-rate [45](\.\d+)? <= max 10; vs primary [45](\.\d+)?: within maxIncrease 1$/,
    );
  });
});
