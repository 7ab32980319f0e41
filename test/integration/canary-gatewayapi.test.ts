// Canary engine end to end on Gateway API: initialization, a healthy release promoted step by step,
// and a failing release rolled back, with real Prometheus analysis and Slack alerts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-gw');
});
after(async () => w?.stop());

const canary = (name: string) => gatewayCanary(name, { stepWeight: 20, maxWeight: 60 });

test('a new Canary creates primary, Services and HTTPRoute and scales the target to 0', async () => {
  await w.deploy('good', 'example.com/good:1.0.0');
  await w.apply(canary('good'));
  const init = await w.waitPhase('good', 'Initialized', 60_000);
  assert.equal(init.status?.lastAppliedSpec, init.status?.lastPromotedSpec);
  assert.equal((await w.deployment('good-primary'))?.spec.replicas, 2);
  assert.equal(
    (await w.deployment('good'))?.spec.replicas,
    0,
    'the target is scaled to 0 once the primary serves',
  );
  for (const svc of ['good', 'good-primary', 'good-canary']) {
    assert.ok(
      await w.kube.get({ apiVersion: 'v1', kind: 'Service', namespace: w.ns, name: svc }),
      `Service ${svc}`,
    );
  }
  assert.deepEqual(await w.routeWeights('good'), { primary: 100, canary: 0 });
  await w.slack.waitFor((m) => m.text.includes('Initialization done'), 5_000, 'initialized alert');
});

test('a healthy release goes step by step to maxWeight, is promoted and alerts Slack', async () => {
  await w.exporters('good', { errorRate: 0 });
  await w.setImage('good', 'example.com/good:2.0.0');
  await w.waitPhase('good', 'Progressing', 30_000);
  const weights = await w.recordWeights('good');
  const done = await w.waitPhase('good', ['Succeeded', 'Failed'], 180_000);
  const seen = (await weights.stop()).filter((x, i) => i > 0 || x !== 0); // recording may start before the first step
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
  assert.deepEqual(seen, [20, 40, 60, 0], 'weights read back from the HTTPRoute at every step');
  assert.equal(await w.image('good-primary'), 'example.com/good:2.0.0');
  assert.equal((await w.deployment('good'))?.spec.replicas, 0);
  assert.equal(done.status?.lastPromotedSpec, done.status?.lastAppliedSpec);
  await w.slack.waitFor((m) => m.text.includes('New revision detected'), 5_000, 'new revision alert');
  await w.slack.waitFor((m) => m.text.includes('promotion finished'), 5_000, 'promotion alert');
});

test('a failing release is rolled back after threshold failed checks, and Slack says why', async () => {
  await w.deploy('bad', 'example.com/bad:1.0.0');
  const ex = await w.exporters('bad', { errorRate: 0 });
  await w.apply(canary('bad'));
  await w.waitPhase('bad', 'Initialized', 60_000);
  ex.canary.set({ errorRate: 0.5 });
  await w.setImage('bad', 'example.com/bad:2.0.0');
  const done = await w.waitPhase('bad', ['Succeeded', 'Failed'], 180_000);
  assert.equal(done.status?.phase, 'Failed', done.status?.message);
  assert.equal(done.status?.failedChecks, 2);
  assert.match(done.status?.message ?? '', /request-success-rate [\d.]+ < min 95/);
  assert.deepEqual(await w.routeWeights('bad'), { primary: 100, canary: 0 });
  assert.equal(await w.image('bad-primary'), 'example.com/bad:1.0.0', 'primary keeps the old version');
  assert.equal((await w.deployment('bad'))?.spec.replicas, 0);
  const alert = await w.slack.waitFor(
    (m) => JSON.stringify(m.payload).includes('rolled back'),
    5_000,
    'rollback alert',
  );
  assert.match(
    alert.text,
    /request-success-rate [\d.]+ &lt; min 95/,
    'Slack text is escaped per Slack rules',
  );
});
