// A rollback cut short by a crash (chaos seed 403502959, docs/reliability.md): the controller took
// traffic off the canary and scaled it to 0, then died before the status write that records the
// rollback. The Canary still said Progressing; every restarted controller waited for canary pods that
// nothing would bring back, silently, until the progress deadline (10 minutes by default). Here the
// controller is killed after a failed check and the rollback's two cluster writes are made by hand
// while it is down; the restarted controller must scale the canary up again and roll the bad release
// back at its next failed check, within a minute.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

type Route = {
  spec?: { rules?: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> };
};

const routeRef = (w: World, name: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  namespace: w.ns,
  name,
});

/** What rollback() writes before its status: all traffic to the primary, the canary at 0 pods. */
async function interruptedRollback(w: World, name: string): Promise<void> {
  const route = await w.kube.get<Route & Record<string, never>>(routeRef(w, name));
  const rules = (route?.spec?.rules ?? []).map((r) => ({
    ...r,
    backendRefs: r.backendRefs?.map((b) => ({ ...b, weight: b.name === `${name}-canary` ? 0 : 100 })),
  }));
  await w.kube.mergePatch(routeRef(w, name), { spec: { rules } });
  await w.kube.mergePatch(
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name },
    { spec: { replicas: 0 } },
  );
}

describe('a rollback interrupted by a crash', { concurrency: true }, () => {
  let w: World;
  before(async () => {
    w = await startWorld('canary-cut', { controller: 'child' });
  });
  after(async () => w?.stop());

  test('the restarted controller scales the canary up again and rolls the bad release back', async () => {
    await w.deploy('cut', 'example.com/cut:1.0.0', { replicas: 1 });
    await w.exporters('cut', { errorRate: 0.5 });
    await w.apply(gatewayCanary('cut', { stepWeight: 25, maxWeight: 50 }));
    await w.waitPhase('cut', 'Initialized', 60_000);
    await w.setImage('cut', 'example.com/cut:2.0.0');
    const halted = await waitFor(
      'cut at 25% with one failed check',
      async () => {
        const s = (await w.canary('cut')).status;
        return s?.phase === 'Progressing' && s.failedChecks === 1 && s.canaryWeight === 25 ? s : undefined;
      },
      90_000,
      100,
    );
    await w.killController();
    await interruptedRollback(w, 'cut');
    assert.deepEqual(await w.routeWeights('cut'), { primary: 100, canary: 0 });
    await w.startController();

    // Without the fix: "waiting for canary pods (0% ready)" until progressDeadlineSeconds (600 s).
    const done = await w.waitPhase('cut', ['Succeeded', 'Failed'], 60_000);
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    assert.match(done.status?.message ?? '', /Failed checks threshold reached 2/);
    assert.equal(done.status?.lastAppliedSpec, halted.lastAppliedSpec, 'the same run, not a new one');
    assert.equal(await w.image('cut-primary'), 'example.com/cut:1.0.0', 'the bad image never promoted');
    assert.equal((await w.deployment('cut'))?.spec.replicas, 0, 'canary scaled to 0 by the rollback');
    assert.deepEqual(await w.routeWeights('cut'), { primary: 100, canary: 0 });
    const reasons = (await w.events('cut')).map((e) => e.reason);
    assert.ok(reasons.includes('CanaryRescaled'), `a Warning says why (events: ${reasons.join(', ')})`);
  });

  test('a run that waits without change says so at info once a minute', async () => {
    // A confirm-rollout gate nothing answers (connection refused): Waiting, and no status write.
    await w.deploy('held', 'example.com/held:1.0.0', { replicas: 1 });
    const gate = { name: 'nobody', type: 'confirm-rollout', url: 'http://127.0.0.1:9/' };
    await w.apply(gatewayCanary('held', { stepWeight: 25, maxWeight: 50, webhooks: [gate] }));
    await w.waitPhase('held', 'Initialized', 60_000);
    await w.setImage('held', 'example.com/held:2.0.0');
    await w.waitPhase('held', 'Waiting', 30_000);
    const line = await waitFor(
      'an info line about the unchanged run of held',
      async () =>
        readFileSync(w.logFile, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"level":30') && l.includes(`"canary":"${w.ns}/held"`))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => String(l.msg).includes('unchanged for over a minute')),
      100_000,
      1_000,
    );
    assert.equal(line.phase, 'Waiting');
    assert.ok(Number(line.unchangedForS) >= 60, `unchanged for ${String(line.unchangedForS)} s`);
    assert.match(String(line.status), /confirm-rollout gate is closed/);
  });
});
