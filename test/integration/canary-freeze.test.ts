// analysis.onFailure: freeze end to end: a real controller on the local control plane, a real
// Prometheus judging exporters that stand in for the pods. A release whose canary fails its checks
// stops at its weight in phase Frozen (routes and canary pods kept, Slack told), measures nothing
// more, and then does what the person asks: `weir abort` rolls back, `weir promote` promotes. Left
// alone, the freeze deadline rolls it back. The requests go through planAction(), what the CLI sends.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { V1Deployment } from '@kubernetes/client-node';
import type { CanaryObject } from '../../src/canary/context.ts';
import { planAction, type ActionKind } from '../../src/cli/actions.ts';
import { renderCanary } from '../../src/cli/canary-view.ts';
import { PLAIN } from '../../src/cli/style.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-freeze');
});
after(async () => w?.stop());

const INTERVAL_MS = 10_000; // gatewayCanary's analysis.interval

/**
 * Deploys `name` healthy, starts a run of 2.0.0 and breaks the canary once it serves weight 20:
 * returns the Canary once Frozen, with the freezing alert and how the routes and pods stood.
 */
async function freezeRelease(name: string, freezeDeadline: string): Promise<CanaryObject> {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  const ex = await w.exporters(name, { errorRate: 0 });
  await w.apply(gatewayCanary(name, { stepWeight: 20, maxWeight: 80, onFailure: 'freeze', freezeDeadline }));
  await w.waitPhase(name, 'Initialized', 60_000);
  await w.setImage(name, `example.com/${name}:2.0.0`);
  await w.waitPhase(name, 'Progressing', 30_000);
  ex.canary.set({ errorRate: 0.5 });
  const frozen = await w.waitPhase(name, ['Frozen', 'Failed', 'Succeeded'], 120_000);
  assert.equal(frozen.status?.phase, 'Frozen', frozen.status?.message);
  assert.equal(frozen.status?.failedChecks, 2);
  assert.match(
    frozen.status?.message ?? '',
    /^Frozen: Failed checks threshold reached 2: request-success-rate/,
  );
  const weight = frozen.status?.canaryWeight ?? 0;
  assert.ok(weight > 0 && weight < 100, `frozen at weight ${weight}`);
  assert.deepEqual(await w.routeWeights(name), { primary: 100 - weight, canary: weight });
  assert.ok(((await w.deployment(name))?.spec.replicas ?? 0) > 0, 'the canary keeps its pods');
  await w.slack.waitFor(
    (m) =>
      m.text.includes(`frozen at canary weight ${weight}`) && m.text.includes('weir promote, abort or retry'),
    10_000,
    'freeze alert',
  );
  return frozen;
}

/** What `weir promote|abort|retry NAME` does: planAction() must accept, then its patch is sent. */
async function request(name: string, kind: ActionKind): Promise<void> {
  const plan = planAction(kind, await w.canary(name));
  assert.ok(plan.ok, plan.ok ? '' : plan.reason);
  await w.patchCanary(name, plan.patch);
}

describe('analysis.onFailure: freeze', { concurrency: true }, () => {
  test('a failing release freezes at its weight, measures nothing more; weir abort rolls it back', async () => {
    const name = 'freeze-abort';
    const frozen = await freezeRelease(name, '10m');
    const weight = frozen.status?.canaryWeight ?? 0;
    const weights = await w.recordWeights(name);
    const phases = await w.recordPhases(name);
    // An observation window, not a synchronisation: two analysis intervals in which a run that still
    // measured would add failed check 3 (and a rollback would move the routes).
    await delay(2 * INTERVAL_MS + 2_000);
    assert.deepEqual(await weights.stop(), [weight]);
    assert.deepEqual(await phases.stop(), ['Frozen']);
    const held = await w.canary(name);
    assert.equal(held.status?.failedChecks, 2);
    assert.equal(
      held.status?.lastAnalysisTime,
      frozen.status?.lastAnalysisTime,
      'no analysis tick while frozen',
    );
    const failedCheckEvents = (await w.events(name)).filter((e) => e.reason === 'FailedCheck');
    assert.equal(failedCheckEvents.length, 2, JSON.stringify(failedCheckEvents));

    const view = renderCanary(
      {
        canary: held,
        primary: (await w.deployment(`${name}-primary`)) as unknown as V1Deployment,
        target: (await w.deployment(name)) as unknown as V1Deployment,
      },
      { style: PLAIN, now: new Date() },
    );
    console.log(`weir get canary ${name} while frozen:\n${view}`);
    assert.match(view, /^Status: +॥ Frozen for /m);
    assert.match(
      view,
      /^Frozen until: +\S+ \(in \d+m\S*, analysis\.freezeDeadline 10m\), then it rolls back$/m,
    );
    assert.match(view, new RegExp(`^Weight: +canary ${weight}%`, 'm'));

    await request(name, 'abort');
    const failed = await w.waitPhase(name, ['Failed', 'Succeeded'], 20_000);
    assert.equal(failed.status?.phase, 'Failed', failed.status?.message);
    assert.match(
      failed.status?.message ?? '',
      /^RolledBack: aborted by user while frozen \(Failed checks threshold/,
    );
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:1.0.0`, 'primary keeps 1.0.0');
    assert.equal((await w.deployment(name))?.spec.replicas, 0);
    await w.slack.waitFor(
      (m) => m.text.includes('rolled back') && m.text.includes('aborted by user while frozen'),
      10_000,
      'rollback alert after abort',
    );
  });

  test('weir promote ends the freeze by promoting the frozen canary', async () => {
    const name = 'freeze-promote';
    await freezeRelease(name, '10m');
    await request(name, 'promote');
    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.equal(done.status?.lastPromotedSpec, done.status?.lastAppliedSpec);
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal((await w.deployment(name))?.spec.replicas, 0);
  });

  test('left alone, the freeze deadline rolls back and says so', async () => {
    const name = 'freeze-deadline';
    const frozen = await freezeRelease(name, '1m');
    const failed = await w.waitPhase(name, ['Failed', 'Succeeded'], 120_000);
    assert.equal(failed.status?.phase, 'Failed', failed.status?.message);
    assert.match(
      failed.status?.message ?? '',
      /^RolledBack: freeze deadline exceeded \(analysis\.freezeDeadline 1m\) without weir promote, abort or retry/,
    );
    const frozenFor =
      Date.parse(failed.status?.lastTransitionTime ?? '') - Date.parse(frozen.status?.frozenAt ?? '');
    assert.ok(frozenFor >= 60_000 && frozenFor < 75_000, `frozen for ${frozenFor} ms`);
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:1.0.0`);
  });
});
