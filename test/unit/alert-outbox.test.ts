// The alert outbox's pure parts: recording a decision's alerts in status.pendingAlerts (bounded,
// oldest dropped), and which pending alerts a reconcile sends or removes (src/canary/outbox.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PendingAlert } from '../../src/api/canary.ts';
import type { Action } from '../../src/canary/model.ts';
import { AlertOutbox, enqueueAlerts, samePending, toNotification } from '../../src/canary/outbox.ts';

const fields = {
  phase: 'Progressing',
  revision: 'example.com/app:2',
  weight: 20,
  failedChecks: 0,
  threshold: 2,
};
const ids = () => {
  let n = 0;
  return () => `id${++n}`;
};
const pending = (id: string, message = id): PendingAlert => ({
  id,
  kind: 'new-revision',
  severity: 'info',
  message,
  fields,
  time: '2026-12-01T07:00:00.000Z',
});
const alert = (message: string): Action => ({ type: 'alert', kind: 'promoted', severity: 'info', message });

test('enqueueAlerts records one pending alert per alert action, with the state at the transition', () => {
  const actions: Action[] = [
    { type: 'event', eventType: 'Normal', reason: 'Succeeded', message: 'done' },
    alert('promotion finished'),
    { type: 'runHooks', hookType: 'post-rollout' },
  ];
  const q = enqueueAlerts([pending('old')], actions, {
    fields,
    time: '2026-12-01T07:01:00.000Z',
    newId: ids(),
  });
  assert.deepEqual(q.added, [
    {
      id: 'id1',
      kind: 'promoted',
      severity: 'info',
      message: 'promotion finished',
      fields,
      time: '2026-12-01T07:01:00.000Z',
    },
  ]);
  assert.deepEqual(
    q.pending.map((p) => p.id),
    ['old', 'id1'],
  );
  assert.deepEqual(q.dropped, []);
});

test('enqueueAlerts with no alert action leaves pending as it is', () => {
  const q = enqueueAlerts([pending('a')], [{ type: 'setTraffic', traffic: { primary: 80, canary: 20 } }], {
    fields,
    time: 't',
    newId: ids(),
  });
  assert.deepEqual(
    q.pending.map((p) => p.id),
    ['a'],
  );
  assert.deepEqual(q.added, []);
});

test('enqueueAlerts keeps at most max entries, dropping the oldest', () => {
  const q = enqueueAlerts(
    [pending('a'), pending('b')],
    [alert('x'), alert('y')],
    { fields, time: 't', newId: ids() },
    3,
  );
  assert.deepEqual(
    q.pending.map((p) => p.id),
    ['b', 'id1', 'id2'],
  );
  assert.deepEqual(
    q.dropped.map((p) => p.id),
    ['a'],
  );
});

test('toNotification carries the recorded text and fields', () => {
  assert.deepEqual(toNotification('ns', 'app', pending('a', 'hello')), {
    canary: 'app',
    namespace: 'ns',
    severity: 'info',
    kind: 'new-revision',
    message: 'hello',
    fields,
  });
});

test('a process sends each pending alert once, and removes it from status once sent', () => {
  const o = new AlertOutbox();
  const st = [pending('a'), pending('b')];
  assert.deepEqual(
    o.settle('ns/app', st).map((p) => p.id),
    ['a', 'b'],
    'nothing delivered yet',
  );
  assert.deepEqual(
    o.claim('ns/app', st).map((p) => p.id),
    ['a', 'b'],
    'found in status: sent',
  );
  assert.deepEqual(o.claim('ns/app', st), [], 'in flight: a second reconcile does not send them again');
  o.finished('ns/app', 'a');
  assert.deepEqual(o.claim('ns/app', st), [], 'delivered: not sent again while status still lists it');
  const left = o.settle('ns/app', st);
  assert.deepEqual(
    left.map((p) => p.id),
    ['b'],
    'the next write removes the delivered one',
  );
  assert.equal(samePending(st, left), false, 'so a write is due');
  // The cache shows the removal: the id is forgotten, and b (still in flight) stays.
  assert.deepEqual(
    o.settle('ns/app', left).map((p) => p.id),
    ['b'],
  );
  assert.equal(samePending(left, o.settle('ns/app', left)), true, 'no write due');
  o.finished('ns/app', 'b');
  assert.deepEqual(o.settle('ns/app', left), []);
  assert.deepEqual(o.settle('ns/app', []), []);
});

test('a restarted process (a new outbox) sends what status still lists', () => {
  const before = new AlertOutbox();
  const st = [pending('lost')];
  before.claim('ns/app', st); // the process died here, before delivery
  const after = new AlertOutbox();
  assert.deepEqual(
    after.claim('ns/app', after.settle('ns/app', st)).map((p) => p.id),
    ['lost'],
  );
});

test('outboxes of different Canaries are separate, and forget() clears one', () => {
  const o = new AlertOutbox();
  o.claim('ns/a', [pending('x')]);
  assert.deepEqual(
    o.claim('ns/b', [pending('x')]).map((p) => p.id),
    ['x'],
  );
  o.forget('ns/a');
  assert.deepEqual(
    o.claim('ns/a', [pending('x')]).map((p) => p.id),
    ['x'],
  );
});

test('afterRemovals leaves out the delivered alerts whose removal patch is on its way, until it ends', () => {
  const box = new AlertOutbox();
  const list = [pending('a'), pending('b')];
  assert.deepEqual(box.afterRemovals('ns/c', list), list, 'no removal on its way');
  box.removal('ns/c', 'a', true);
  assert.deepEqual(
    box.afterRemovals('ns/c', list)?.map((p) => p.id),
    ['b'],
    'the status a reconcile compares with is the one after the removal',
  );
  assert.deepEqual(box.afterRemovals('ns/other', list), list, 'per Canary');
  assert.equal(box.afterRemovals('ns/c', undefined), undefined);
  box.removal('ns/c', 'a', false);
  assert.deepEqual(box.afterRemovals('ns/c', list), list, 'a failed removal is the next write’s again');
});
