// The canary controller under the misuse issue 9 found, end to end on the real local control plane:
// - gate webhooks that never answer in time (four Canaries, four workers) must not delay a fifth
//   Canary's rollback: gates and metric queries are gathered off the reconcile workers;
// - a Canary whose target is gone, whose spec is invalid, or whose target never becomes ready
//   must still finish deleting (no finalizer kept forever), and a normal revert hands traffic back;
// - the series of a deleted Canary leave /metrics;
// - a ConfigMap edited while a slow confirm-promotion gate answers is never copied to the primary
//   before that new revision was analysed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import type { Obj } from '../../src/kube/client.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import { readJson } from '../cluster/json-body.ts';

let w: World;
before(async () => {
  // The controller's default: four workers, so four hanging gates would take every one of them.
  w = await startWorld('canary-hardening', { env: { WEIR_WORKERS: '4' } });
});
after(async () => w?.stop());

interface GateCall {
  at: number;
  checksum: string;
  answeredAt?: number;
}

/**
 * A webhook server on 127.0.0.1 that answers the first `answered` POSTs with `status` after
 * `answerAfterMs` (Infinity: never) and never answers the later ones; records every call and how
 * many are open.
 */
async function startGate(answerAfterMs: number, status = 200, answered = Infinity) {
  const calls: GateCall[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    void readJson(req).then((body) => {
      const call: GateCall = { at: Date.now(), checksum: String(body.checksum ?? '') };
      calls.push(call);
      open.add(res);
      res.on('close', () => open.delete(res));
      if (Number.isFinite(answerAfterMs) && calls.length <= answered)
        setTimeout(() => {
          call.answeredAt = Date.now();
          res.writeHead(status, { 'content-type': 'text/plain' }).end('answered');
        }, answerAfterMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/gate`,
    calls,
    open: () => open.size,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const canaryRef = (name: string) => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'Canary',
  namespace: w.ns,
  name,
});

async function waitGone(name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `Canary ${w.ns}/${name} deleted`,
    async () => (await w.kube.get(canaryRef(name))) === undefined,
    timeoutMs,
    250,
  );
}

/** Waits until the Canary carries Weir's finalizer (revertOnDeletion). */
async function waitFinalizer(name: string): Promise<void> {
  await waitFor(
    `finalizer on ${name}`,
    async () => (await w.canary(name)).metadata.finalizers?.includes('weir.dev/finalizer'),
    30_000,
    250,
  );
}

/** The in-process controller's /metrics text (its port is in its "started" log line). */
async function scrapeMetrics(): Promise<string> {
  const line = readFileSync(w.logFile, 'utf8')
    .split('\n')
    .find((l) => l.includes('weir controller started'));
  const port = (JSON.parse(line ?? '{}') as { port?: number }).port;
  assert.ok(port, `controller port in ${w.logFile}`);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

describe('controller hardening', { concurrency: true }, () => {
  test('four Canaries on hanging gates: a fifth with failing metrics still rolls back on time', async (t) => {
    const gateTimeoutS = 180;
    const hang = await startGate(Infinity);
    t.after(() => hang.stop());
    const hangers = [
      { name: 'hang-confirm-a', type: 'confirm-rollout' },
      { name: 'hang-confirm-b', type: 'confirm-rollout' },
      { name: 'hang-rollout-a', type: 'rollout' },
      { name: 'hang-rollout-b', type: 'rollout' },
    ];
    const bad = 'bad-release';
    await Promise.all([
      ...hangers.map(async ({ name, type }) => {
        await w.deploy(name, `example.com/${name}:1.0.0`);
        await w.apply(
          gatewayCanary(name, {
            interval: '10s',
            threshold: 5,
            stepWeight: 50,
            maxWeight: 50,
            metrics: undefined,
            webhooks: [{ name: 'hang', type, url: hang.url, timeout: `${gateTimeoutS}s` }],
          }),
        );
      }),
      (async () => {
        await w.deploy(bad, 'example.com/bad:1.0.0');
        await w.exporters(bad, { errorRate: 0.5 });
        await w.apply(
          gatewayCanary(bad, {
            interval: '10s',
            threshold: 2,
            stepWeight: 20,
            maxWeight: 60,
            metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 95 } }],
          }),
        );
      })(),
    ]);
    for (const name of [...hangers.map((h) => h.name), bad]) await w.waitPhase(name, 'Initialized', 90_000);

    for (const { name } of hangers) await w.setImage(name, `example.com/${name}:2.0.0`);
    await waitFor('a hanging call from each of the four', () => hang.open() >= 4, 60_000, 250);

    const started = Date.now();
    await w.setImage(bad, 'example.com/bad:2.0.0');
    const done = await w.waitPhase(bad, ['Failed', 'Succeeded'], 120_000);
    const took = Date.now() - started;
    t.diagnostic(`fifth Canary: new revision to Failed in ${took} ms with 4 gates hanging (4 workers)`);
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    assert.match(done.status?.message ?? '', /Failed checks threshold reached 2/);
    // Normal time: three 10 s ticks plus reconciles; the hanging gates time out only after 180 s.
    assert.ok(took < 80_000, `rolled back in ${took} ms, well before the gates' ${gateTimeoutS}s timeout`);
    assert.deepEqual(await w.routeWeights(bad), { primary: 100, canary: 0 });
    assert.ok(hang.open() >= 4, `the gates were still hanging meanwhile (${hang.open()} open)`);
    for (const { name } of hangers) {
      const phase = (await w.canary(name)).status?.phase;
      assert.ok(phase === 'Initialized' || phase === 'Progressing', `${name} still waits (${phase})`);
    }
    assert.ok(hang.calls.length <= 8, `one job per Canary, not a call per reconcile (${hang.calls.length})`);
  });

  test('a Waiting Canary whose confirm-rollout gate then hangs fails at its deadline, not the gate timeout', async (t) => {
    const name = 'held';
    const deadlineS = 20;
    const gate = await startGate(0, 403, 1); // one "closed" answer, then no answer at all
    t.after(() => gate.stop());
    await w.deploy(name, 'example.com/held:1.0.0');
    await w.apply(
      gatewayCanary(
        name,
        {
          metrics: undefined,
          stepWeight: 50,
          maxWeight: 50,
          webhooks: [{ name: 'approve', type: 'confirm-rollout', url: gate.url, timeout: '5m' }],
        },
        { progressDeadlineSeconds: deadlineS },
      ),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    await w.setImage(name, 'example.com/held:2.0.0');
    const waiting = await w.waitPhase(name, 'Waiting', 30_000);
    await waitFor('the gate hangs', () => gate.open() >= 1, 30_000, 100);
    const done = await w.waitPhase(name, ['Failed', 'Progressing', 'Succeeded'], 90_000);
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    assert.match(done.status?.message ?? '', /Progress deadline exceeded while waiting for confirm-rollout/);
    const took =
      Date.parse(done.status!.lastTransitionTime!) - Date.parse(waiting.status!.lastTransitionTime!);
    t.diagnostic(`Waiting to Failed in ${took} ms (deadline ${deadlineS}s, gate timeout 5m)`);
    assert.ok(took >= deadlineS * 1000, `after the deadline (${took} ms)`);
    assert.ok(took < (deadlineS + 30) * 1000, `and long before the gate's 5m timeout (${took} ms)`);
    assert.ok(gate.open() >= 1, 'the gate call was still hanging');
  });

  test('revertOnDeletion whose target was deleted: the Canary still goes away', async () => {
    const name = 'orphan';
    await w.deploy(name, 'example.com/orphan:1.0.0');
    await w.apply(
      gatewayCanary(name, { metrics: undefined, stepWeight: 50, maxWeight: 50 }, { revertOnDeletion: true }),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    await waitFinalizer(name);
    await w.kube.remove({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name });
    await w.kube.remove(canaryRef(name));
    await waitGone(name, 30_000);
    const events = await w.events(name);
    assert.ok(
      events.some((e) => e.type === 'Warning' && e.reason === 'RevertSkipped' && /not found/.test(e.message)),
      JSON.stringify(events),
    );
  });

  test('an invalid spec with the finalizer: the Canary still goes away', async () => {
    const name = 'invalid';
    await w.deploy(name, 'example.com/invalid:1.0.0');
    // The API server takes it; Weir refuses it (traefik cannot mirror: a capability refusal, which
    // stays invalid whichever providers get registered later).
    const c = gatewayCanary(
      name,
      { metrics: undefined, stepWeight: 50, maxWeight: 50, mirror: true },
      { provider: 'traefik', revertOnDeletion: true },
    );
    await w.apply({ ...c, metadata: { name, finalizers: ['weir.dev/finalizer'] } });
    await waitFor(
      'InvalidSpec reported',
      async () =>
        (await w.canary(name)).status?.conditions?.find(
          (x) => x.type === 'Ready' && x.reason === 'InvalidSpec',
        ),
      30_000,
      250,
    );
    await w.kube.remove(canaryRef(name));
    await waitGone(name, 30_000);
  });

  test('revertOnDeletion: traffic back to the target, then gone; its series leave /metrics', async () => {
    const name = 'reverted';
    await w.deploy(name, 'example.com/reverted:1.0.0');
    await w.apply(
      gatewayCanary(name, { metrics: undefined, stepWeight: 50, maxWeight: 50 }, { revertOnDeletion: true }),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    await waitFinalizer(name);
    const series = `weir_canary_status{name="${name}",namespace="${w.ns}"}`;
    await waitFor(
      'its series on /metrics',
      async () => (await scrapeMetrics()).includes(series),
      30_000,
      250,
    );
    assert.ok(
      (await scrapeMetrics()).includes(`weir_canary_weight{workload="${name}-primary",namespace="${w.ns}"}`),
    );

    await w.kube.remove(canaryRef(name));
    await waitGone(name, 60_000);
    assert.equal((await w.deployment(name))?.spec.replicas, 2, 'the target got its replicas back');
    const apex = await w.kube.get<V1Service & Obj>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace: w.ns,
      name,
    });
    assert.deepEqual(apex?.spec?.selector, { app: name }, 'the apex Service selects the target');
    assert.equal(apex?.metadata?.ownerReferences, undefined, 'and outlives the Canary');
    await waitFor(
      'its series gone from /metrics',
      async () => {
        const text = await scrapeMetrics();
        return !text.includes(`name="${name}"`) && !text.includes(`workload="${name}-primary"`);
      },
      30_000,
      250,
    );
  });

  test('revertOnDeletion with a target that never becomes ready: bounded wait, a Warning, gone', async (t) => {
    const name = 'never-ready';
    const deadlineS = 15;
    await w.deploy(name, 'example.com/never-ready:1.0.0');
    await w.apply(
      gatewayCanary(
        name,
        { metrics: undefined, stepWeight: 50, maxWeight: 50 },
        { revertOnDeletion: true, progressDeadlineSeconds: deadlineS },
      ),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    await waitFinalizer(name);
    // A new revision whose pods can be scheduled nowhere: the target never becomes ready.
    await w.kube.mergePatch(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name },
      { spec: { template: { spec: { nodeSelector: { 'weir.dev/test-pool': 'nowhere' } } } } },
    );
    await w.waitPhase(name, 'Progressing', 30_000);
    const deleted = Date.now();
    await w.kube.remove(canaryRef(name));
    await waitGone(name, (deadlineS + 45) * 1000);
    const took = Date.now() - deleted;
    t.diagnostic(`deleted after ${took} ms (revert wait bounded at ${deadlineS}s)`);
    assert.ok(took >= (deadlineS - 2) * 1000, `waited for the target first (${took} ms)`);
    const events = await w.events(name);
    assert.ok(
      events.some(
        (e) => e.type === 'Warning' && e.reason === 'RevertTimedOut' && /gave up after 15s/.test(e.message),
      ),
      JSON.stringify(events),
    );
  });

  test('a ConfigMap edited during a slow confirm-promotion gate is analysed before it reaches the primary', async (t) => {
    const name = 'cfg';
    const container = {
      name: 'app',
      image: 'example.com/cfg:1.0.0',
      envFrom: [{ configMapRef: { name: 'cfg-settings' } }],
    };
    const gate = await startGate(15_000); // the ConfigMap edit lands while it answers, even on a loaded machine
    t.after(() => gate.stop());
    await w.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg-settings' },
      data: { mode: 'v1' },
    });
    await w.deploy(name, 'example.com/cfg:1.0.0', {
      extra: {
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [container],
          },
        },
      },
    });
    await w.apply(
      gatewayCanary(name, {
        interval: '10s',
        stepWeight: 50,
        maxWeight: 50,
        metrics: undefined,
        webhooks: [{ name: 'approve', type: 'confirm-promotion', url: gate.url, timeout: '30s' }],
      }),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    const copy = async () =>
      (
        await w.kube.get<{ data?: Record<string, string> } & Obj>({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          namespace: w.ns,
          name: 'cfg-settings-primary',
        })
      )?.data?.mode;
    assert.equal(await copy(), 'v1');

    // Sample the primary's copy with times, one GET after another.
    const samples: Array<{ at: number; mode?: string }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ at: Date.now(), mode: await copy().catch(() => undefined) });
        await delay(200);
      }
    })();
    t.after(async () => {
      sampling = false;
      await sampler;
    });

    // A merge patch replaces the container list: keep envFrom (the ConfigMap stays tracked).
    await w.kube.mergePatch(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name },
      { spec: { template: { spec: { containers: [{ ...container, image: 'example.com/cfg:2.0.0' }] } } } },
    );
    await waitFor('the confirm-promotion gate asked', () => gate.calls.length >= 1, 90_000, 100);
    const analysed = gate.calls[0]!.checksum;
    await w.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg-settings' },
      data: { mode: 'v2' },
    });

    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 150_000);
    sampling = false;
    await sampler;
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.notEqual(done.status?.lastPromotedSpec, analysed, 'the edited revision was the one promoted');
    assert.equal(await copy(), 'v2');
    const firstV2 = samples.find((s) => s.mode === 'v2')?.at ?? Infinity;
    const askedForNew = gate.calls.find((c) => c.checksum !== analysed);
    assert.ok(
      askedForNew,
      `confirm-promotion was asked for the edited revision: ${JSON.stringify(gate.calls)}`,
    );
    assert.ok(
      firstV2 >= askedForNew.at,
      `v2 reached the primary's copy only after its own analysis and gate (${firstV2} >= ${askedForNew.at})`,
    );
    await w.slack.waitFor(
      (m) => m.text.startsWith(`${name}.${w.ns}:`) && /restarting/.test(m.text),
      5_000,
      'the restart alert',
    );
  });
});
