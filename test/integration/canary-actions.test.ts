// User actions end to end: abort, retry, pause/resume and promote (plain and full) are merge patches
// on the Canary (requestPatch(), what `weir promote|abort|retry|pause|resume` send), honoured by a
// real controller on the local control plane with real Prometheus analysis. The other thing users do
// is change configuration: a ConfigMap change alone must start a run. Each scenario has its own
// Deployment and Canary, so they run concurrently.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestPatch } from '../../src/canary/requests.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-act');
});
after(async () => w?.stop());

/** A Deployment (with healthy exporters unless `metrics: false`) and its Canary, Initialized. */
async function setup(
  name: string,
  analysis: Record<string, unknown>,
  opts: { metrics?: boolean; template?: Record<string, unknown> } = {},
): Promise<CanaryObject> {
  await w.deploy(
    name,
    `example.com/${name}:1.0.0`,
    opts.template ? { extra: { template: opts.template } } : {},
  );
  if (opts.metrics !== false) await w.exporters(name, { errorRate: 0 });
  await w.apply(gatewayCanary(name, opts.metrics !== false ? analysis : { metrics: undefined, ...analysis }));
  return w.waitPhase(name, 'Initialized', 60_000);
}

/** Polls the Canary until `ok` accepts it. */
function waitCanary(name: string, what: string, ok: (c: CanaryObject) => boolean, timeoutMs = 60_000) {
  return waitFor(
    `Canary ${name}: ${what}`,
    async () => {
      const c = await w.canary(name);
      return ok(c) ? c : undefined;
    },
    timeoutMs,
    250,
  );
}

/** Waits for `count` further analysis ticks after `from` (status.lastAnalysisTime moving on). */
async function waitTicks(name: string, from: string | undefined, count: number): Promise<CanaryObject> {
  let last = from;
  let c: CanaryObject | undefined;
  for (let i = 0; i < count; i++) {
    const prev = last;
    c = await waitCanary(
      name,
      `analysis tick ${i + 1} after ${prev}`,
      (x) => !!x.status?.lastAnalysisTime && x.status.lastAnalysisTime !== prev,
      25_000,
    );
    last = c.status?.lastAnalysisTime;
  }
  return c!;
}

/** Recorded canary weights without the 0 before the first step and after the run (both may fall between samples). */
const ramp = (seen: number[]) => {
  const out = seen.slice(seen[0] === 0 ? 1 : 0);
  return out[out.length - 1] === 0 ? out.slice(0, -1) : out;
};

const patch = (name: string, kind: Parameters<typeof requestPatch>[0]) =>
  w.patchCanary(name, requestPatch(kind));

type Pod = {
  volumes?: Array<{ name: string; configMap?: { name: string } }>;
  containers: Array<{ envFrom?: Array<{ configMapRef?: { name: string } }> }>;
};
type ConfigMap = { data?: Record<string, string> };
const configMap = (name: string) =>
  w.kube.get<ConfigMap & Record<string, never>>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: w.ns,
    name,
  });
const setData = (name: string, data: Record<string, string | null>) =>
  w.kube.mergePatch({ apiVersion: 'v1', kind: 'ConfigMap', namespace: w.ns, name }, { data });

describe('user actions: patches on the Canary, a ConfigMap change', { concurrency: true }, () => {
  test('abort during Progressing rolls back; retry re-runs the same revision to Succeeded', async () => {
    const name = 'act-abort';
    await setup(name, { stepWeight: 20, maxWeight: 40 });
    await w.setImage(name, `example.com/${name}:2.0.0`);
    await waitCanary(
      name,
      'Progressing at weight 20',
      (c) => c.status?.phase === 'Progressing' && c.status.canaryWeight === 20,
    );
    assert.deepEqual(await w.routeWeights(name), { primary: 80, canary: 20 });

    await patch(name, 'abort');
    const failed = await w.waitPhase(name, ['Failed', 'Succeeded'], 20_000);
    assert.equal(failed.status?.phase, 'Failed', failed.status?.message);
    assert.match(failed.status?.message ?? '', /aborted by user/);
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal(
      await w.image(`${name}-primary`),
      `example.com/${name}:1.0.0`,
      'primary keeps the old image',
    );
    assert.equal((await w.deployment(name))?.spec.replicas, 0);
    await w.slack.waitFor(
      (m) => m.text.includes('rolled back') && m.text.includes('aborted by user'),
      5_000,
      'abort alert',
    );
    const revision = failed.status?.lastAppliedSpec;
    assert.notEqual(revision, failed.status?.lastPromotedSpec, 'the aborted revision was not promoted');

    // The target template stays as it is: retry alone starts the run again.
    await patch(name, 'retry');
    await w.waitPhase(name, ['Progressing', 'Succeeded'], 20_000);
    await waitFor(
      'a Progressing event saying the run is a retry',
      async () =>
        (await w.events(name)).some((e) => e.reason === 'Progressing' && /retry requested/.test(e.message)),
      10_000,
    );
    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.equal(done.status?.lastAppliedSpec, revision, 'the same revision was re-run');
    assert.equal(done.status?.lastPromotedSpec, revision);
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
  });

  test('pause holds the weight across analysis intervals; resume continues to Succeeded', async () => {
    const name = 'act-pause';
    await setup(name, { stepWeight: 20, maxWeight: 60 });
    await w.setImage(name, `example.com/${name}:2.0.0`);
    await waitCanary(
      name,
      'Progressing at weight 20',
      (c) => c.status?.phase === 'Progressing' && c.status.canaryWeight === 20,
    );

    await patch(name, 'pause');
    const paused = await waitCanary(
      name,
      'paused by user',
      (c) => /^Paused: by user/.test(c.status?.message ?? ''),
      25_000,
    );
    const held = paused.status!.canaryWeight!;
    const weights = await w.recordWeights(name);
    // Analysis keeps running while paused: two more ticks, and the weight does not move.
    const later = await waitTicks(name, paused.status?.lastAnalysisTime, 2);
    const during = await weights.stop();
    assert.equal(later.status?.phase, 'Progressing');
    assert.equal(later.status?.canaryWeight, held);
    assert.match(later.status?.message ?? '', /^Paused: by user/);
    assert.deepEqual(during, [held], `weights while paused: ${during.join(',')}`);
    assert.deepEqual(await w.routeWeights(name), { primary: 100 - held, canary: held });

    const resumed = await w.recordWeights(name);
    await patch(name, 'resume');
    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    const afterResume = await resumed.stop();
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    const expected = [held, 40, 60].filter((x, i) => i === 0 || x > held);
    assert.deepEqual(
      ramp(afterResume),
      expected,
      'weights after resume continue from where the pause held them',
    );
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
  });

  test('a manual pause step waits for promote; promote-full skips the remaining steps', async () => {
    const name = 'act-steps';
    await setup(name, {
      steps: [
        { setWeight: 20 },
        { pause: {} },
        { setWeight: 40 },
        { pause: {} },
        { setWeight: 60 },
        { pause: { duration: '5m' } }, // only promote-full gets past this within the test's time
        { setWeight: 80 },
      ],
    });
    const weights = await w.recordWeights(name);
    const phases = await w.recordPhases(name);
    await w.setImage(name, `example.com/${name}:2.0.0`);
    const waiting = await waitCanary(name, 'waiting at the first manual pause', (c) =>
      /waiting for `weir promote`/.test(c.status?.message ?? ''),
    );
    assert.equal(waiting.status?.canaryWeight, 20);
    assert.match(waiting.status?.message ?? '', /^Paused: step 2, waiting for `weir promote`/);
    // One more tick: still waiting, nothing moved.
    const still = await waitTicks(name, waiting.status?.lastAnalysisTime, 1);
    assert.match(still.status?.message ?? '', /^Paused: step 2, waiting for `weir promote`/);
    assert.equal(still.status?.canaryWeight, 20);
    assert.equal(still.status?.stepIndex, 1);

    await patch(name, 'promote');
    await waitCanary(name, 'weight 40 after promote', (c) => c.status?.canaryWeight === 40, 40_000);
    const second = await waitCanary(
      name,
      'waiting at the second manual pause',
      (c) => /^Paused: step 4, waiting for `weir promote`/.test(c.status?.message ?? ''),
      30_000,
    );
    assert.equal(second.status?.canaryWeight, 40);

    await patch(name, 'promote-full');
    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 40_000);
    const seen = ramp(await weights.stop());
    const seenPhases = await phases.stop();
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.deepEqual(seen, [20, 40], 'promote-full skipped setWeight 60, the timed pause and setWeight 80');
    // Promoting can pass faster than the phase poll; the Kubernetes Events record every transition.
    const reasons = (await w.events(name)).map((e) => e.reason);
    assert.ok(
      reasons.includes('Promoting'),
      `events: ${reasons.join(', ')}; phases polled: ${seenPhases.join(' -> ')}`,
    );
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
  });

  test('a ConfigMap change alone starts a run; the primary ends on the -primary copy with the new data', async () => {
    const name = 'act-config';
    const [tracked, untracked] = [`${name}-env`, `${name}-flags`];
    await w.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: tracked },
      data: { GREETING: 'hello', COLOR: 'blue' },
    });
    await w.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: untracked, annotations: { 'weir.dev/config-tracking': 'disabled' } },
      data: { flag: 'a' },
    });
    const init = await setup(
      name,
      { stepWeight: 50, maxWeight: 50 },
      {
        metrics: false,
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              {
                name: 'app',
                image: `example.com/${name}:1.0.0`,
                envFrom: [{ configMapRef: { name: tracked } }],
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/app' },
                  { name: 'flags', mountPath: '/etc/flags' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: tracked } },
              { name: 'flags', configMap: { name: untracked } },
            ],
          },
        },
      },
    );

    // Initialization copied the tracked ConfigMap and pointed the primary at the copy, both ways it is used.
    assert.deepEqual((await configMap(`${tracked}-primary`))?.data, { GREETING: 'hello', COLOR: 'blue' });
    assert.equal(await configMap(`${untracked}-primary`), undefined, 'an opted-out ConfigMap is not copied');
    const podOf = async () =>
      ((await w.deployment(`${name}-primary`)) as unknown as { spec: { template: { spec: Pod } } }).spec
        .template.spec;
    const pod = await podOf();
    assert.deepEqual(
      pod.volumes?.map((v) => [v.name, v.configMap?.name]),
      [
        ['config', `${tracked}-primary`],
        ['flags', untracked],
      ],
    );
    assert.equal(pod.containers[0]?.envFrom?.[0]?.configMapRef?.name, `${tracked}-primary`);

    // A change to the opted-out ConfigMap is no new revision (changes are seen from a watch, at once).
    await setData(untracked, { flag: 'b' });
    await new Promise((r) => setTimeout(r, 6_000));
    const idle = await w.canary(name);
    assert.equal(idle.status?.phase, 'Initialized', idle.status?.message);
    assert.equal(idle.status?.lastAppliedSpec, init.status?.lastAppliedSpec);

    const rolloutOf = async () =>
      (await w.deployment(`${name}-primary`))?.metadata.annotations?.['deployment.kubernetes.io/revision'];
    /** Changes only the tracked ConfigMap's data; the run must end with the copy equal to `expected`. */
    const configRun = async (change: Record<string, string | null>, expected: Record<string, string>) => {
      const before = await w.canary(name);
      const oldCopy = (await configMap(`${tracked}-primary`))?.data;
      const rolloutBefore = await rolloutOf();
      const weights = await w.recordWeights(name);
      await setData(tracked, change);
      const started = await w.waitPhase(name, 'Progressing', 20_000);
      assert.notEqual(started.status?.lastAppliedSpec, before.status?.lastAppliedSpec, 'a new revision');
      assert.deepEqual(
        (await configMap(`${tracked}-primary`))?.data,
        oldCopy,
        'the primary keeps the old data while the new one is analysed',
      );
      const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 60_000);
      assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
      assert.deepEqual(ramp(await weights.stop()), [50], 'the run went through analysis at weight 50');
      assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
      assert.equal(done.status?.lastPromotedSpec, started.status?.lastAppliedSpec);
      assert.deepEqual(
        (await configMap(`${tracked}-primary`))?.data,
        expected,
        'the copy holds exactly the new data',
      );
      assert.equal(await configMap(`${untracked}-primary`), undefined);
      const promoted = await podOf();
      assert.equal(promoted.volumes?.[0]?.configMap?.name, `${tracked}-primary`);
      assert.equal(promoted.containers[0]?.envFrom?.[0]?.configMapRef?.name, `${tracked}-primary`);
      // envFrom is read when a container starts: the primary's pods must have been replaced (a new
      // ReplicaSet: the Deployment controller's rollout counter moved on, and the rollout completed).
      const primary = (await w.deployment(`${name}-primary`))!;
      assert.equal(Number(await rolloutOf()), Number(rolloutBefore) + 1, 'the primary rolled out new pods');
      assert.equal(primary.status?.observedGeneration, primary.metadata.generation);
      assert.equal(primary.status?.updatedReplicas, primary.spec.replicas);
    };
    await configRun({ GREETING: 'hej' }, { GREETING: 'hej', COLOR: 'blue' });
    // A removed key is a change too, and must leave the copy (merge patch null).
    await configRun({ COLOR: null }, { GREETING: 'hej' });
    assert.equal(await w.image(name), `example.com/${name}:1.0.0`, 'the template itself never changed');
  });
});
