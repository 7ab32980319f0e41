// Argo Rollouts' setCanaryScale and analysis steps end to end: the in-process controller on the local
// control plane, Gateway API routes and a real Prometheus. The step metric is a MetricTemplate whose
// query the test switches between `vector(0)` (fails min 1) and `vector(1)` (passes), so the test
// decides when the analysis step may pass. Two Canaries run at once:
//   - `scaled`: the canary Deployment's replicas follow setCanaryScale (1 of the primary's 3 while
//     at 20% traffic, its usual 3 again after matchTrafficWeight); the analysis step holds the run
//     at 20% while its metric fails within its failureLimit, and passes once the metric does;
//   - `gated`: the analysis step's metric keeps failing past failureLimit 1: rolled back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayCanary, recordChanges, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('argo-steps');
});
after(async () => w?.stop());

/** A MetricTemplate answering `value` (a failing 0 or a passing 1 against min 1). */
const gateTemplate = (name: string, value: 0 | 1) => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'MetricTemplate',
  metadata: { name },
  spec: { provider: { type: 'prometheus' }, query: `vector(${value})` },
});

const gateMetric = (template: string, failureLimit: number) => ({
  name: 'gate',
  templateRef: { name: template },
  thresholdRange: { min: 1 },
  stepOnly: true,
  failureLimit,
});

async function start(name: string, steps: unknown[], failureLimit: number) {
  await w.apply(gateTemplate(`${name}-gate`, 0));
  await w.deploy(name, `example.com/${name}:1.0.0`, { replicas: 3 });
  await w.apply(gatewayCanary(name, { steps, metrics: [gateMetric(`${name}-gate`, failureLimit)] }));
  await w.waitPhase(name, 'Initialized', 60_000);
}

const replicas = async (name: string) => (await w.deployment(name))?.spec.replicas;

describe('Argo steps', { concurrency: true }, () => {
  test('setCanaryScale sizes the canary; an analysis step holds until its metric passes', async (t) => {
    const name = 'scaled';
    await start(
      name,
      [
        { setCanaryScale: { replicas: 1 } },
        { setWeight: 20 },
        { analysis: { metrics: ['gate'] } },
        { setCanaryScale: { matchTrafficWeight: true } },
        { setWeight: 50 },
      ],
      1000,
    );
    const sizes = await recordChanges(() => replicas(name));
    await w.setImage(name, `example.com/${name}:2.0.0`);

    // Held at the analysis step: two failed measurements of `gate` and still at step 3.
    const held = await waitFor(
      'the analysis step holding on two failed measurements',
      async () => {
        const c = await w.canary(name);
        const gate = c.status?.measurements?.find((m) => m.name === 'gate');
        return (gate?.failed ?? 0) >= 2 ? c : undefined;
      },
      180_000,
    );
    t.diagnostic(held.status?.message ?? '');
    assert.equal(held.status?.phase, 'Progressing', held.status?.message);
    assert.equal(held.status?.stepIndex, 2, held.status?.message);
    assert.match(held.status?.message ?? '', /analysis step 3 holds: gate Failed/);
    assert.equal(await replicas(name), 1, 'setCanaryScale replicas 1, apart from the weight');
    assert.equal(await replicas(`${name}-primary`), 3);
    assert.equal((await w.routeWeights(name))?.canary, 20, 'the traffic stays at the last setWeight');

    await w.apply(gateTemplate(`${name}-gate`, 1));
    const done = await w.waitPhase(name, ['Failed', 'Succeeded'], 180_000);
    const seen = await sizes.stop();
    t.diagnostic(`canary replicas ${JSON.stringify(seen)}`);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
    const from = seen.indexOf(1);
    assert.ok(from >= 0, `scaled to 1: ${JSON.stringify(seen)}`);
    assert.deepEqual(
      seen.slice(from),
      [1, 3, 0],
      'matchTrafficWeight gives back the usual size, the end of the run scales to 0',
    );
  });

  test('an analysis step whose metric fails past its failureLimit rolls back', async (t) => {
    const name = 'gated';
    await start(name, [{ setWeight: 20 }, { analysis: { metrics: ['gate'] } }, { setWeight: 50 }], 1);
    const weights = await w.recordWeights(name);
    await w.setImage(name, `example.com/${name}:2.0.0`);
    const done = await w.waitPhase(name, ['Failed', 'Succeeded'], 180_000);
    const seen = await weights.stop();
    t.diagnostic(`${done.status?.message} (weights ${JSON.stringify(seen)})`);
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    assert.match(
      done.status?.message ?? '',
      /RolledBack: Measurement limit exceeded: gate: 2 failed measurements > failureLimit 1/,
    );
    assert.ok(!seen.includes(50), `never past the analysis step: ${JSON.stringify(seen)}`);
    assert.ok(seen.includes(20), `reached the analysis step at 20%: ${JSON.stringify(seen)}`);
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:1.0.0`);
    assert.equal(await replicas(name), 0);
  });
});
