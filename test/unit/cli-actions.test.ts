// What `weir promote|abort|retry|pause|resume` request in each phase (or why they refuse), and the
// verdict `weir status` exits with, from fixed Canaries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Phase } from '../../src/api/canary.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import { planAction, type ActionKind } from '../../src/cli/actions.ts';
import { pendingReason, statusLine, verdictOf } from '../../src/cli/status.ts';

function canary(
  phase: Phase | undefined,
  o: { annotations?: Record<string, string>; message?: string; analysis?: Record<string, unknown> } = {},
): CanaryObject {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'app', namespace: 'ns', generation: 1, annotations: o.annotations ?? {} },
    spec: {
      targetRef: { kind: 'Deployment', name: 'app' },
      service: { port: 80 },
      analysis: o.analysis ?? {
        interval: '1m',
        threshold: 2,
        stepWeight: 10,
        maxWeight: 30,
        webhooks: [{ name: 'gate', type: 'confirm-traffic-increase', url: 'http://gate.test/' }],
      },
    },
    status: {
      ...(phase ? { phase } : {}),
      observedGeneration: 1,
      lastAppliedSpec: 'rev2',
      lastPromotedSpec: phase === 'Succeeded' || phase === 'Initialized' ? 'rev2' : 'rev1',
      message: o.message ?? '',
      canaryWeight: 10,
      stepIndex: 1,
      failedChecks: 1,
    },
  } as CanaryObject;
}

const ID = '2025-01-01T00:00:00.000Z';

test('actions are accepted only in phases where the controller acts on them', () => {
  const table: Array<[ActionKind, Phase | undefined, boolean]> = [
    ['promote', 'Progressing', true],
    ['promote', 'Waiting', true],
    ['promote', 'WaitingPromotion', true],
    ['promote', 'Succeeded', false],
    ['promote', 'Initialized', false],
    ['promote', 'Failed', false],
    ['promote', 'Promoting', false],
    ['promote', undefined, false],
    ['promote-full', 'Progressing', true],
    ['abort', 'Progressing', true],
    ['abort', 'WaitingPromotion', true],
    ['abort', 'Promoting', false],
    ['abort', 'Succeeded', false],
    ['retry', 'Failed', true],
    ['retry', 'Progressing', false],
    ['retry', 'Succeeded', false],
    ['pause', 'Progressing', true],
    ['pause', 'Initialized', false],
    ['resume', 'Progressing', false],
    // A Frozen run (analysis.onFailure: freeze) waits for exactly these three.
    ['promote', 'Frozen', true],
    ['promote-full', 'Frozen', true],
    ['abort', 'Frozen', true],
    ['retry', 'Frozen', true],
    ['pause', 'Frozen', false],
  ];
  for (const [kind, phase, ok] of table) {
    const plan = planAction(kind, canary(phase), ID);
    assert.equal(plan.ok, ok, `${kind} in ${phase}: ${plan.ok ? plan.effect : plan.reason}`);
  }
});

const steps = (stepIndex: number) => {
  const c = canary('Progressing', {
    analysis: {
      interval: '1m',
      threshold: 1,
      steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: { duration: '5m' } }],
    },
  });
  c.status!.stepIndex = stepIndex;
  return c;
};

test('promote while Progressing: accepted where something holds the run, refused where it would do nothing', () => {
  const manual = planAction('promote', steps(1), ID);
  assert.ok(manual.ok && manual.effect === 'ends the pause at step 2: the run goes on with the next step');
  const timed = planAction('promote', steps(3), ID);
  assert.ok(
    timed.ok &&
      timed.effect === 'ends the pause at step 4 (before its 5m): the run goes on with the next step',
  );
  const free = planAction('promote', steps(2), ID);
  assert.ok(!free.ok);
  assert.match(free.reason, /no pause step or confirm-traffic-increase\/confirm-promotion gate holds it/);
  assert.ok(planAction('promote-full', steps(2), ID).ok, '--full always skips the remaining steps');
  const gated = planAction('promote', canary('Progressing'), ID);
  assert.ok(gated.ok && /past the closed confirm-\* gate/.test(gated.effect));
  const paused = steps(1);
  paused.metadata.annotations = { 'weir.dev/paused': 'true' };
  const later = planAction('promote', paused, ID);
  assert.ok(later.ok && later.effect.endsWith('(once resumed with `weir resume`)'));
});

test('refusals say why and what to do instead', () => {
  const idle = planAction('promote', canary('Succeeded'), ID);
  assert.ok(!idle.ok);
  assert.match(idle.reason, /Canary ns\/app is Succeeded: nothing to promote \(idle\)/);
  const failed = planAction('promote', canary('Failed'), ID);
  assert.ok(!failed.ok && /`weir retry app`/.test(failed.reason));
  const retry = planAction('retry', canary('Progressing'), ID);
  assert.ok(!retry.ok && /retry re-runs a Failed canary or resumes a Frozen one only/.test(retry.reason));
  const paused = canary('Progressing', { annotations: { 'weir.dev/paused': 'true' } });
  const again = planAction('pause', paused, ID);
  assert.ok(!again.ok && /already paused/.test(again.reason));
  assert.ok(planAction('resume', paused, ID).ok);
});

test('accepted actions carry requestPatch() and describe their effect in the phase', () => {
  const promote = planAction('promote', steps(1), ID);
  assert.deepEqual(promote, {
    ok: true,
    patch: { metadata: { annotations: { 'weir.dev/promote': ID, 'weir.dev/promote-full': null } } },
    effect: 'ends the pause at step 2: the run goes on with the next step',
  });
  const full = planAction('promote-full', canary('Progressing'), ID);
  assert.ok(full.ok);
  assert.deepEqual(full.patch.metadata.annotations, { 'weir.dev/promote': ID, 'weir.dev/promote-full': ID });
  const resume = planAction(
    'resume',
    canary('Progressing', { annotations: { 'weir.dev/paused': 'true' } }),
    ID,
  );
  assert.ok(resume.ok);
  assert.deepEqual(resume.patch.metadata.annotations, { 'weir.dev/paused': null });
  const abort = planAction('abort', canary('Waiting'), ID);
  assert.ok(abort.ok && /rolls back/.test(abort.effect));
});

test('status: succeeded only when the current revision is promoted, failed when it failed', () => {
  assert.equal(verdictOf(canary('Succeeded'), 'rev2'), 'succeeded');
  assert.equal(verdictOf(canary('Initialized'), undefined), 'succeeded');
  assert.equal(verdictOf(canary('Failed'), 'rev2'), 'failed');
  assert.equal(verdictOf(canary('Progressing'), 'rev2'), 'pending');
  // Right after `kubectl apply`: the previous run's Succeeded is not this revision's verdict.
  assert.equal(verdictOf(canary('Succeeded'), 'rev3'), 'pending');
  assert.equal(verdictOf(canary('Failed'), 'rev3'), 'pending');
  assert.equal(
    pendingReason(canary('Succeeded'), 'rev3'),
    "has not picked up the target's revision rev3 yet (status.lastAppliedSpec rev2): is the controller running?",
  );
  assert.equal(pendingReason(canary('Progressing'), 'rev2'), 'is Progressing');
  // A Canary spec change the controller has not observed yet.
  const stale = canary('Succeeded');
  stale.metadata.generation = 2;
  assert.equal(verdictOf(stale, 'rev2'), 'pending');
  // `weir retry` requested but not handled yet: the Failed phase is about to change.
  const retrying = canary('Failed', { annotations: { 'weir.dev/retry': ID } });
  assert.equal(verdictOf(retrying, 'rev2'), 'pending');
  retrying.status!.handledRequests = { retry: ID };
  assert.equal(verdictOf(retrying, 'rev2'), 'failed');
});

test('status prints phase, weight, step, failed checks and message on one line', () => {
  assert.equal(
    statusLine(canary('Progressing', { message: 'Progressing: advanced canary weight to 10' })),
    'Progressing  weight 10%  step 1/3  failed 1/2  Progressing: advanced canary weight to 10',
  );
  assert.equal(statusLine({ ...canary(undefined), status: undefined }), 'Pending');
});

test('promote --now: only a run queued outside its release window; plain promote points to it', () => {
  // ID is Wed 2025-01-01 00:00Z: 01:00 in Berlin, before the 09:00 opening.
  const schedule = {
    timeZone: 'Europe/Berlin',
    windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu'], start: '09:00', end: '16:00' }],
  };
  const held = canary('Queued', { message: 'Queued: outside the release window (…)' });
  held.spec.schedule = schedule as CanaryObject['spec']['schedule'];
  const now = planAction('promote-now', held, ID, 'alice (context prod)');
  assert.ok(now.ok, now.ok ? '' : now.reason);
  assert.deepEqual(now.patch.metadata.annotations, {
    'weir.dev/promote-now': ID,
    'weir.dev/promote-now-by': 'alice (context prod)',
  });
  const plain = planAction('promote', held, ID);
  assert.ok(!plain.ok && /`weir promote app --now` starts it now/.test(plain.reason));
  const inWindow = planAction('promote-now', held, '2025-01-01T09:00:00.000Z');
  assert.ok(!inWindow.ok, 'the window is open: nothing to override');
  assert.ok(!planAction('promote-now', canary('Queued'), ID).ok, 'queued by a concurrency limit only');
  assert.ok(!planAction('promote-now', canary('Progressing'), ID).ok);
});
