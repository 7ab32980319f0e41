// Canary engine end to end for runs that wait: a confirm-promotion webhook gate (a real HTTP server)
// that holds the run in WaitingPromotion until it answers 200, and a progress deadline that fails a
// run whose canary pods never become ready. Both run concurrently in one world.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import { readJson } from '../cluster/json-body.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-gates');
});
after(async () => w?.stop());

const slackFor = (name: string) => w.slack.messages.filter((m) => m.text.startsWith(`${name}.${w.ns}:`));

interface GateCall {
  at: number;
  body: Record<string, unknown>;
  status: number;
}

/** A confirm-promotion gate on 127.0.0.1: 403 until open(), then 200; records every call. */
async function startGate(): Promise<{ url: string; calls: GateCall[]; open(): void; stop(): Promise<void> }> {
  const calls: GateCall[] = [];
  let isOpen = false;
  const server = createServer((req, res) => {
    void readJson(req).then((body) => {
      const status = req.method === 'POST' && req.url === '/gate' ? (isOpen ? 200 : 403) : 404;
      calls.push({ at: Date.now(), body, status });
      res
        .writeHead(status, { 'content-type': 'text/plain' })
        .end(status === 200 ? 'approved' : 'not yet approved');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/gate`,
    calls,
    open() {
      isOpen = true;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('runs that wait', { concurrency: true }, () => {
  test('confirm-promotion holds WaitingPromotion until the gate answers 200, alerting once', async (t) => {
    const name = 'gated';
    const gate = await startGate();
    t.after(() => gate.stop());
    const metadata = { team: 'payments', ticket: 'REL-42' };
    await w.deploy(name, 'example.com/gated:1.0.0');
    await w.exporters(name, { errorRate: 0 });
    await w.apply(
      gatewayCanary(name, {
        threshold: 2,
        stepWeight: 50,
        maxWeight: 50,
        webhooks: [
          { name: 'release-approval', type: 'confirm-promotion', url: gate.url, timeout: '5s', metadata },
        ],
      }),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    assert.equal(gate.calls.length, 0, 'the gate is only asked at the end of the analysis');

    await w.setImage(name, 'example.com/gated:2.0.0');
    const waiting = await w.waitPhase(name, 'WaitingPromotion', 60_000);
    assert.match(
      waiting.status?.message ?? '',
      /confirm-promotion gate is closed: .*HTTP 403: not yet approved/,
    );
    const interval = 10_000;
    const since = Date.now();
    const phases = await w.recordPhases(name);
    const weights = await w.recordWeights(name);
    // The gate is asked again every interval: held through two more calls (ticks are 10 s apart plus
    // the time a tick takes, so this waits for the calls rather than for a fixed time).
    await waitFor(
      'two gate calls while held',
      () => gate.calls.filter((c) => c.at >= since).length >= 2,
      4 * interval,
      250,
    );
    const held = { phases: await phases.stop(), weights: await weights.stop() };
    assert.deepEqual(held.phases, ['WaitingPromotion'], 'the run held without moving on or rolling back');
    assert.deepEqual(held.weights, [50], 'the canary keeps its traffic while waiting');
    assert.ok(gate.calls.every((c) => c.status === 403));
    const waitingAlerts = slackFor(name).filter((m) => /waiting for approval/i.test(m.text));
    assert.equal(
      waitingAlerts.length,
      1,
      `one "waiting for approval" alert per wait: ${JSON.stringify(slackFor(name).map((m) => m.text))}`,
    );

    // Flagger's payload, so Flagger-compatible gates work unchanged.
    const revision = waiting.status?.lastAppliedSpec;
    for (const c of gate.calls) {
      assert.deepEqual(Object.keys(c.body).sort(), ['checksum', 'metadata', 'name', 'namespace', 'phase']);
      assert.deepEqual(
        { ...c.body, phase: undefined },
        { name, namespace: w.ns, checksum: revision, metadata, phase: undefined },
      );
    }
    assert.equal(gate.calls.at(-1)?.body.phase, 'WaitingPromotion');

    gate.open();
    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.equal(gate.calls.at(-1)?.status, 200, 'promoted after the gate said yes');
    assert.equal(done.status?.lastPromotedSpec, revision);
    assert.equal(await w.image(`${name}-primary`), 'example.com/gated:2.0.0');
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    await w.slack.waitFor(
      (m) => m.text.startsWith(`${name}.${w.ns}:`) && m.text.includes('promotion finished'),
      5_000,
      'promotion alert',
    );
    assert.equal(slackFor(name).filter((m) => /waiting for approval/i.test(m.text)).length, 1);
  });

  test('progress deadline: canary pods that never become ready fail the run, traffic stays on primary', async () => {
    const name = 'stuck';
    const deadlineSeconds = 30;
    await w.deploy(name, 'example.com/stuck:1.0.0');
    // Threshold 5: a failed check could not end the run in time, only the deadline can.
    await w.apply(
      gatewayCanary(
        name,
        { threshold: 5, stepWeight: 20, maxWeight: 60 },
        { progressDeadlineSeconds: deadlineSeconds },
      ),
    );
    await w.waitPhase(name, 'Initialized', 60_000);

    const weights = await w.recordWeights(name);
    // The new revision can be scheduled nowhere: no KWOK node carries this label.
    await w.kube.mergePatch(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name },
      {
        spec: {
          template: {
            spec: {
              nodeSelector: { 'weir.dev/test-pool': 'nowhere' },
              containers: [{ name: 'app', image: 'example.com/stuck:2.0.0' }],
            },
          },
        },
      },
    );
    const progressing = await w.waitPhase(name, 'Progressing', 30_000);
    const core = w.cluster.kc.makeApiClient(CoreV1Api);
    const pending = await waitFor(
      'canary pods pending',
      async () => {
        const list = await core.listNamespacedPod({ namespace: w.ns, labelSelector: `app=${name}` });
        const pods = list.items.filter((p) => !p.metadata?.deletionTimestamp);
        return pods.length > 0 && pods.every((p) => p.status?.phase === 'Pending') ? pods : undefined;
      },
      20_000,
      250,
    );
    assert.ok(
      pending.every((p) => !p.spec?.nodeName),
      'the canary pods are unschedulable',
    );

    const done = await w.waitPhase(name, ['Failed', 'Succeeded'], (deadlineSeconds + 40) * 1000);
    const seen = await weights.stop();
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    assert.match(done.status?.message ?? '', /Progress deadline exceeded \(30s\)/);
    assert.match(done.status?.message ?? '', /waiting for canary pods \(0% ready\)/);
    const took =
      Date.parse(done.status!.lastTransitionTime!) - Date.parse(progressing.status!.lastTransitionTime!);
    assert.ok(took >= deadlineSeconds * 1000, `failed only after the deadline (${took} ms)`);
    assert.equal(done.status?.failedChecks ?? 0, 0, 'the deadline, not analysis, ended the run');

    assert.deepEqual(seen, [0], 'no traffic ever went to the unready canary');
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal((await w.deployment(name))?.spec.replicas, 0, 'canary scaled to 0');
    assert.equal(await w.image(`${name}-primary`), 'example.com/stuck:1.0.0');
    const alert = await w.slack.waitFor(
      (m) => m.text.startsWith(`${name}.${w.ns}:`) && m.text.includes('rolled back'),
      5_000,
      'rollback alert',
    );
    assert.match(alert.text, /Progress deadline exceeded/);
  });
});
