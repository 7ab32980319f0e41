// Alerts survive a controller crash (docs/alerts.md, "Delivery"): a controller SIGKILLed right after
// the status write that records a transition (failpoint after-status-write), before it could post
// the transition's alert, leaves the alert in status.pendingAlerts; the restarted controller posts
// it exactly once and clears it. Before the outbox, such an alert was lost for good.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PendingAlert } from '../../src/api/canary.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('alert-outbox', { controller: 'child', deferController: true });
});
after(async () => w?.stop());

const NAME = 'outbox';
/** Slack messages about the Canary containing `text`. */
const alerts = (text: string) =>
  w.slack.messages.filter((m) => m.text.includes(`${NAME}.${w.ns}`) && m.text.includes(text));
const pendingAlerts = async (): Promise<PendingAlert[]> => (await w.canary(NAME)).status?.pendingAlerts ?? [];

/** Starts a controller with the failpoint and waits for it to kill itself after a status write. */
async function failpointKill(what: string): Promise<void> {
  const proc = w.controllerProcess()!;
  const code = await Promise.race([
    proc.exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 90_000).unref()),
  ]);
  assert.notEqual(code, 'timeout', `the controller did not reach the failpoint (${what})`);
  assert.equal(proc.child.signalCode, 'SIGKILL', `killed by the failpoint (${what})`);
}

/** The restarted controller posts the lost alert, then removes it from status. */
async function delivered(text: string): Promise<void> {
  await w.slack.waitFor((m) => m.text.includes(`${NAME}.${w.ns}`) && m.text.includes(text), 60_000, text);
  await waitFor(
    `status.pendingAlerts of ${NAME} empty`,
    async () => (await pendingAlerts()).length === 0,
    30_000,
  );
}

test('an alert lost to a crash right after its status write is sent once by the restarted controller', async () => {
  await w.startController({ WEIR_FAILPOINT: 'after-status-write' });
  await w.deploy(NAME, `example.com/${NAME}:1.0.0`);
  await w.exporters(NAME, { errorRate: 0 });
  await w.apply(gatewayCanary(NAME, { stepWeight: 50, maxWeight: 50 }));

  // 1. Killed right after the write that made the Canary Initialized: nothing posted, the alert kept.
  await failpointKill('Initialized');
  assert.equal((await w.canary(NAME)).status?.phase, 'Initialized');
  assert.deepEqual(
    (await pendingAlerts()).map((p) => [p.kind, p.message]),
    [['initialized', 'Initialization done!']],
    'the transition was recorded with its alert',
  );
  assert.equal(alerts('Initialization done').length, 0, 'the dead controller posted nothing');

  // 2. The next controller (failpoint still set) posts it, clears it, and dies at the next transition.
  await w.startController({ WEIR_FAILPOINT: 'after-status-write' });
  await delivered('Initialization done');
  await w.setImage(NAME, `example.com/${NAME}:2.0.0`);
  await failpointKill('Progressing');
  assert.equal((await w.canary(NAME)).status?.phase, 'Progressing');
  assert.deepEqual(
    (await pendingAlerts()).map((p) => p.kind),
    ['new-revision'],
  );
  assert.equal(alerts('New revision detected').length, 0);

  // 3. A controller without the failpoint posts it and runs the release to the end.
  await w.startController();
  await delivered('New revision detected');
  const done = await w.waitPhase(NAME, ['Succeeded', 'Failed'], 180_000);
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
  await delivered('promotion finished');

  // Every transition's alert exactly once: the restarts resent nothing already delivered.
  for (const text of ['Initialization done', 'New revision detected', 'promotion finished'])
    assert.equal(alerts(text).length, 1, `exactly one "${text}"`);
  const all = w.slack.messages.filter((m) => m.text.includes(`${NAME}.${w.ns}`)).map((m) => m.text);
  assert.equal(all.length, 3, `only these three alerts: ${all.join(' | ')}`);
});
