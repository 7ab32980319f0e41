// Canary engine end to end when analysis itself breaks: Prometheus stops in the middle of a run.
// The metric check must turn into Error results that count as failed checks and roll the run back;
// a run whose analysis cannot be measured is never promoted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-fail');
});
after(async () => w?.stop());

test('Prometheus stopped mid-run: Error results count as failed checks, rollback, never a promotion', async () => {
  const name = 'promdown';
  await w.deploy(name, 'example.com/promdown:1.0.0');
  await w.exporters(name, { errorRate: 0 });
  // Five steps to 100: far more ticks than the two failed checks (threshold 2) that must end the run.
  await w.apply(gatewayCanary(name, { threshold: 2, stepWeight: 20, maxWeight: 100 }));
  await w.waitPhase(name, 'Initialized', 60_000);

  const phases = await w.recordPhases(name);
  const weights = await w.recordWeights(name);
  await w.setImage(name, 'example.com/promdown:2.0.0');
  await w.waitPhase(name, 'Progressing', 30_000);
  // Stop Prometheus only after one real metric check passed: analysis worked, then lost its source.
  const measured = await waitFor(
    'a successful request-success-rate check',
    async () => {
      const c = await w.canary(name);
      return (
        c.status?.metrics?.some((m) => m.name === 'request-success-rate' && m.result === 'Successful') && c
      );
    },
    60_000,
    250,
  );
  await w.stopPrometheus();
  const weightAtStop = measured.status?.canaryWeight ?? 0;
  assert.ok(weightAtStop > 0 && weightAtStop < 100, `weight when Prometheus stopped: ${weightAtStop}`);

  const done = await w.waitPhase(name, ['Failed', 'Succeeded'], 90_000);
  await delay(3_000); // keep watching a little: nothing may promote after the rollback either
  const seenPhases = await phases.stop();
  const seenWeights = await weights.stop();

  assert.equal(done.status?.phase, 'Failed', done.status?.message);
  for (const p of ['WaitingPromotion', 'Promoting', 'Finalising', 'Succeeded'] as const)
    assert.ok(!seenPhases.includes(p), `phase ${p} was reached: ${seenPhases.join(' -> ')}`);
  assert.equal((await w.canary(name)).status?.phase, 'Failed');
  assert.equal(done.status?.failedChecks, 2);
  assert.match(done.status?.message ?? '', /Failed checks threshold reached 2/);
  assert.match(done.status?.message ?? '', /cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+/);

  const entry = done.status?.metrics?.find((m) => m.name === 'request-success-rate');
  assert.equal(entry?.result, 'Error', JSON.stringify(entry));
  assert.equal(entry?.value, undefined, 'no value was measured');
  assert.match(entry?.message ?? '', /Prometheus unreachable/);
  assert.match(entry?.message ?? '', /cannot reach Prometheus at .*ECONNREFUSED/);

  const maxSeen = Math.max(...seenWeights);
  assert.ok(
    maxSeen <= weightAtStop + 20,
    `weights ${seenWeights.join(',')}: at most one step past ${weightAtStop}`,
  );
  assert.ok(!seenWeights.includes(100), `the canary never took all traffic: ${seenWeights.join(',')}`);
  assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
  assert.equal(
    await w.image(`${name}-primary`),
    'example.com/promdown:1.0.0',
    'the primary keeps the old image',
  );
  assert.equal((await w.deployment(name))?.spec.replicas, 0, 'the canary is scaled down');
  const failedChecks = (await w.events(name)).filter((e) => e.reason === 'FailedCheck');
  assert.equal(failedChecks.length, 2, JSON.stringify(failedChecks));
  for (const e of failedChecks) {
    assert.equal(e.type, 'Warning');
    assert.match(e.message, /cannot reach Prometheus/);
  }
  const alert = await w.slack.waitFor(
    (m) => JSON.stringify(m.payload).includes('rolled back'),
    5_000,
    'rollback alert',
  );
  assert.match(alert.text, /cannot reach Prometheus/);
});
