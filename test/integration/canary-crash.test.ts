// Canary engine end to end, what users fear most: the controller SIGKILLed mid-analysis and restarted
// (the run resumes from status alone: no step repeated or skipped, no duplicate alert), a new revision
// mid-run (analysis restarts from zero and only the newest image is promoted), and a Canary whose
// target does not exist yet (Ready=False naming spec.targetRef, nothing created until it appears).
// The controller is a child process (`weir controller`) so that it can really be killed.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Watch } from '@kubernetes/client-node';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

type Event = {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string };
};

const get = <T>(w: World, apiVersion: string, kind: string, name: string) =>
  w.kube.get<T & Record<string, never>>({ apiVersion, kind, namespace: w.ns, name });

const canary = (name: string, target = name) =>
  gatewayCanary(name, { stepWeight: 20, maxWeight: 60 }, { targetRef: { kind: 'Deployment', name: target } });

/** Slack messages about one canary (texts carry `<name>.<namespace>`) containing `text`. */
const alerts = (w: World, name: string, text: string) =>
  w.slack.messages.filter((m) => m.text.includes(`${name}.${w.ns}`) && m.text.includes(text));

/** Deploys `name` on image 1.0.0 with healthy exporters and waits for its Canary to initialize. */
async function initialized(w: World, name: string): Promise<void> {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  await w.exporters(name, { errorRate: 0 });
  await w.apply(canary(name));
  await w.waitPhase(name, 'Initialized', 60_000);
}

/**
 * Every canary weight the HTTPRoute goes through, from a watch (each write is one event, so even a
 * weight held for a few milliseconds is seen), without repeats. stop() first waits (up to 5 s) for the
 * watch to deliver the route's current weight, since events arrive a little after the write.
 */
async function watchWeights(w: World, name: string): Promise<{ stop(): Promise<number[]> }> {
  const seen: number[] = [];
  const path = `/apis/gateway.networking.k8s.io/v1/namespaces/${w.ns}/httproutes`;
  const abort = await new Watch(w.cluster.kc).watch(
    path,
    { fieldSelector: `metadata.name=${name}` },
    (
      _type,
      route: { spec?: { rules?: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> } },
    ) => {
      const rules = route.spec?.rules ?? [];
      const weight =
        rules[rules.length - 1]?.backendRefs?.find((b) => b.name === `${name}-canary`)?.weight ?? 0;
      if (seen[seen.length - 1] !== weight) seen.push(weight);
    },
    () => undefined,
  );
  return {
    async stop() {
      const current = (await w.routeWeights(name))?.canary;
      await waitFor(
        `watch of HTTPRoute ${w.ns}/${name} at weight ${current}`,
        async () => current === undefined || seen[seen.length - 1] === current,
        5_000,
        50,
      ).catch(() => undefined); // the assertions on the sequence then say what was missed
      abort.abort();
      return seen;
    },
  };
}

/** Reasons of the Kubernetes Events recorded for a Canary, sorted (timestamps have 1 s resolution). */
async function eventReasons(w: World, name: string): Promise<string[]> {
  const list = await w.cluster.kubectl(['get', 'events', '-n', w.ns, '-o', 'json']);
  return (JSON.parse(list.stdout) as { items: Event[] }).items
    .filter((e) => e.involvedObject.kind === 'Canary' && e.involvedObject.name === name)
    .map((e) => e.reason)
    .sort();
}

/** Resolves once the HTTPRoute sends `weight` percent to the canary (polled every 100 ms). */
const routeAt = (w: World, name: string, weight: number, timeoutMs: number) =>
  waitFor(
    `HTTPRoute ${w.ns}/${name} canary weight ${weight}`,
    async () => (await w.routeWeights(name))?.canary === weight,
    timeoutMs,
    100,
  );

// The two worlds (own namespace, Prometheus, Slack capture and controller) run side by side.
describe('canary crash safety', { concurrency: true }, () => {
  describe('controller killed with SIGKILL mid-analysis', () => {
    let w: World;
    before(async () => {
      w = await startWorld('canary-crash', { controller: 'child' });
    });
    after(async () => w?.stop());

    test('resumes from status: same steps, one alert per transition, new image promoted', async (t) => {
      await initialized(w, 'crash');
      await w.setImage('crash', 'example.com/crash:2.0.0');
      await w.waitPhase('crash', 'Progressing', 30_000);
      const weights = await w.recordWeights('crash');
      const exact = await watchWeights(w, 'crash');
      t.after(() => Promise.all([weights.stop(), exact.stop()])); // open timers or watches would keep the process alive

      await routeAt(w, 'crash', 40, 60_000); // the middle step: one analysed tick passed, more to come
      const before = (await w.canary('crash')).status;
      await w.killController();
      await delay(3_000);
      assert.deepEqual(
        await w.routeWeights('crash'),
        { primary: 60, canary: 40 },
        'a dead controller leaves traffic where it was',
      );
      assert.equal((await w.canary('crash')).status?.phase, 'Progressing');
      await w.startController();

      const done = await w.waitPhase('crash', ['Succeeded', 'Failed'], 120_000);
      const seen = (await weights.stop()).filter((x, i) => i > 0 || x !== 0); // recording may start before the first step
      const every = (await exact.stop()).filter((x, i) => i > 0 || x !== 0);
      assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
      assert.deepEqual(seen, [20, 40, 60, 0], 'weights never go backwards or skip a step across the crash');
      assert.deepEqual(every, [20, 40, 60, 0], 'not even for a moment (every HTTPRoute write)');
      assert.equal(done.status?.failedChecks, 0);
      assert.equal(
        done.status?.lastAppliedSpec,
        before?.lastAppliedSpec,
        'the restarted controller analysed the same revision',
      );
      assert.equal(done.status?.lastPromotedSpec, done.status?.lastAppliedSpec);
      assert.equal(await w.image('crash-primary'), 'example.com/crash:2.0.0');
      assert.equal((await w.deployment('crash'))?.spec.replicas, 0, 'canary scaled to 0');
      assert.deepEqual(await w.routeWeights('crash'), { primary: 100, canary: 0 });

      await w.slack.waitFor((m) => m.text.includes('promotion finished'), 5_000, 'promotion alert');
      await delay(2_000); // a duplicate would be sent right after the status write; give it time to show
      assert.equal(
        alerts(w, 'crash', 'New revision detected').length,
        1,
        'exactly one "New revision detected"',
      );
      assert.equal(alerts(w, 'crash', 'promotion finished').length, 1, 'exactly one "promotion finished"');
      const reasons = (await eventReasons(w, 'crash')).filter(
        (r) => r !== 'Initializing' && r !== 'Initialized',
      );
      assert.deepEqual(
        reasons,
        ['Finalising', 'Progressing', 'Promoting', 'Succeeded'],
        'one Event per phase change, none repeated by the restart',
      );
    });
  });

  describe('revision changes and invalid references', { concurrency: true }, () => {
    let w: World;
    before(async () => {
      w = await startWorld('canary-rev', { controller: 'child' });
    });
    after(async () => w?.stop());

    test('a new revision mid-run restarts the analysis and only the newest image is promoted', async (t) => {
      await initialized(w, 'rev');
      await w.setImage('rev', 'example.com/rev:2.0.0');
      await w.waitPhase('rev', 'Progressing', 30_000);
      const primaryImages = new Set<string>();
      const watchPrimary = setInterval(
        () => void w.image('rev-primary').then((i) => i && primaryImages.add(i)),
        250,
      );
      try {
        await routeAt(w, 'rev', 20, 60_000);
        // The route is written before the status patch: wait for the status to say so too.
        const middle = await waitFor(
          'status of the run for 2.0.0 at weight 20',
          async () => {
            const st = (await w.canary('rev')).status;
            return (st?.canaryWeight ?? 0) > 0 ? st : undefined;
          },
          10_000,
          100,
        );
        const weights = await watchWeights(w, 'rev');
        t.after(() => weights.stop());

        await w.setImage('rev', 'example.com/rev:3.0.0');
        const restarted = await waitFor(
          'analysis restarted for 3.0.0',
          async () => {
            const s = (await w.canary('rev')).status;
            return s?.lastAppliedSpec !== middle?.lastAppliedSpec ? s : undefined;
          },
          10_000,
          100,
        );
        assert.equal(restarted.phase, 'Progressing');
        assert.equal(restarted.failedChecks, 0, 'failed checks start from zero');
        assert.equal(restarted.canaryWeight, 0, 'the weight starts from zero');

        const done = await w.waitPhase('rev', ['Succeeded', 'Failed'], 120_000);
        const seen = await weights.stop();
        assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
        assert.deepEqual(
          seen,
          [20, 0, 20, 40, 60, 0],
          'traffic back to primary, then step by step again (every HTTPRoute write)',
        );
        assert.equal(done.status?.lastAppliedSpec, restarted.lastAppliedSpec);
        assert.equal(done.status?.lastPromotedSpec, restarted.lastAppliedSpec);
        assert.equal(await w.image('rev-primary'), 'example.com/rev:3.0.0');
        primaryImages.add((await w.image('rev-primary')) ?? '');
        assert.deepEqual(
          [...primaryImages].sort(),
          ['example.com/rev:1.0.0', 'example.com/rev:3.0.0'],
          'the primary never ran the middle image',
        );
        assert.equal((await w.deployment('rev'))?.spec.replicas, 0);
        await w.slack.waitFor(
          (m) => m.text.includes(`rev.${w.ns}`) && m.text.includes('promotion finished'),
          5_000,
        );
        await delay(1_000);
        assert.equal(alerts(w, 'rev', 'restarting').length, 1, 'one alert says the analysis restarted');
        assert.equal(
          alerts(w, 'rev', 'New revision detected').length,
          2,
          'one alert per revision: 2.0.0 started, 3.0.0 restarted it',
        );
        assert.equal(alerts(w, 'rev', 'promotion finished').length, 1);
      } finally {
        clearInterval(watchPrimary);
      }
    });

    test('a Canary whose target does not exist is Ready=False and creates nothing until it appears', async () => {
      await w.apply(canary('ghost', 'ghost-app'));
      const c = await waitFor(
        'Ready=False on Canary ghost',
        async () => {
          const obj = await w.canary('ghost');
          return obj.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'False')
            ? obj
            : undefined;
        },
        30_000,
        250,
      );
      const ready = c.status?.conditions?.find((x) => x.type === 'Ready');
      assert.match(ready?.message ?? '', /spec\.targetRef/);
      assert.match(ready?.message ?? '', /Deployment \S*ghost-app not found/);
      assert.equal(c.status?.phase, undefined, 'no phase while the reference is broken');

      const events = await waitFor(
        'Warning event for Canary ghost',
        async () => {
          const list = await w.cluster.kubectl(['get', 'events', '-n', w.ns, '-o', 'json']);
          const items = (JSON.parse(list.stdout) as { items: Event[] }).items.filter(
            (e) => e.involvedObject.kind === 'Canary' && e.involvedObject.name === 'ghost',
          );
          return items.some((e) => e.type === 'Warning') ? items : undefined;
        },
        10_000,
        250,
      );
      assert.match(events.find((e) => e.type === 'Warning')!.message, /spec\.targetRef.*ghost-app/);

      await delay(2_000); // a controller that went on regardless would have created things by now
      for (const [apiVersion, kind, name] of [
        ['apps/v1', 'Deployment', 'ghost-app-primary'],
        ['v1', 'Service', 'ghost-app'],
        ['v1', 'Service', 'ghost-app-primary'],
        ['v1', 'Service', 'ghost-app-canary'],
        ['gateway.networking.k8s.io/v1', 'HTTPRoute', 'ghost-app'],
      ] as const) {
        assert.equal(await get(w, apiVersion, kind, name), undefined, `${kind} ${name} must not exist`);
      }

      await w.deploy('ghost-app', 'example.com/ghost:1.0.0');
      const init = await w.waitPhase('ghost', 'Initialized', 30_000);
      assert.equal(init.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
      assert.equal(await w.image('ghost-app-primary'), 'example.com/ghost:1.0.0');
      assert.deepEqual(await w.routeWeights('ghost-app'), { primary: 100, canary: 0 });
    });
  });
});
