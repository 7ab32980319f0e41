// DaemonSet targets (src/canary/workloads.ts): readiness from the DaemonSet status, parking by a
// nodeSelector no node carries (Weir's key, Flagger's honoured and removed), a revision and a primary
// that never see that key, RollingUpdate required, and no autoscalerRef in the schema.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1DaemonSet } from '@kubernetes/client-node';
import { validateObject } from '../../src/api/validate.ts';
import type { Kube } from '../../src/kube/client.ts';
import { forgetRevision, namesOf, primaryWorkload, revisionOf } from '../../src/canary/targets.ts';
import {
  FLAGGER_SCALE_TO_ZERO_KEY,
  SCALE_TO_ZERO_KEY,
  WORKLOAD_KINDS,
  userTemplate,
} from '../../src/canary/workloads.ts';

const kind = WORKLOAD_KINDS.DaemonSet;

function ds(nodeSelector?: Record<string, string>, extra: Partial<V1DaemonSet['spec']> = {}): V1DaemonSet {
  return {
    metadata: { name: 'agent', namespace: 'ops', generation: 3, labels: { app: 'agent' } },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      minReadySeconds: 5,
      revisionHistoryLimit: 4,
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: { containers: [{ name: 'a', image: 'agent:1' }], ...(nodeSelector ? { nodeSelector } : {}) },
      },
      ...extra,
    },
  };
}

const withStatus = (s: V1DaemonSet['status'], generation = 3): V1DaemonSet => ({
  ...ds(),
  status: s,
  metadata: { ...ds().metadata, generation },
});

test('readiness: updated and available out of desired, 0 before the generation is observed or with none desired', () => {
  const rows: Array<[V1DaemonSet['status'], number]> = [
    [
      {
        observedGeneration: 3,
        desiredNumberScheduled: 2,
        updatedNumberScheduled: 2,
        numberAvailable: 2,
        currentNumberScheduled: 2,
        numberMisscheduled: 0,
        numberReady: 2,
      },
      100,
    ],
    [
      {
        observedGeneration: 3,
        desiredNumberScheduled: 2,
        updatedNumberScheduled: 2,
        numberAvailable: 1,
        currentNumberScheduled: 2,
        numberMisscheduled: 0,
        numberReady: 2,
      },
      50,
    ],
    [
      {
        observedGeneration: 3,
        desiredNumberScheduled: 2,
        updatedNumberScheduled: 1,
        numberAvailable: 2,
        currentNumberScheduled: 2,
        numberMisscheduled: 0,
        numberReady: 2,
      },
      50,
    ],
    [
      {
        observedGeneration: 2,
        desiredNumberScheduled: 2,
        updatedNumberScheduled: 2,
        numberAvailable: 2,
        currentNumberScheduled: 2,
        numberMisscheduled: 0,
        numberReady: 2,
      },
      0,
    ],
    [
      {
        observedGeneration: 3,
        desiredNumberScheduled: 0,
        updatedNumberScheduled: 0,
        numberAvailable: 0,
        currentNumberScheduled: 0,
        numberMisscheduled: 0,
        numberReady: 0,
      },
      0,
    ],
  ];
  for (const [status, want] of rows)
    assert.equal(kind.readyPercent(withStatus(status)), want, JSON.stringify(status));
  assert.equal(kind.readyPercent(undefined), 0);
});

test('parking: Weir’s or Flagger’s nodeSelector key; neither is part of the template the revision hashes', () => {
  assert.equal(kind.scaledToZero(ds()), false);
  assert.equal(kind.scaledToZero(ds({ [SCALE_TO_ZERO_KEY]: 'true' })), true);
  assert.equal(kind.scaledToZero(ds({ [FLAGGER_SCALE_TO_ZERO_KEY]: 'true', zone: 'a' })), true);
  assert.deepEqual(userTemplate(ds({ [SCALE_TO_ZERO_KEY]: 'true' })), ds().spec!.template);
  assert.deepEqual(userTemplate(ds({ [FLAGGER_SCALE_TO_ZERO_KEY]: 'true', zone: 'a' }))?.spec?.nodeSelector, {
    zone: 'a',
  });
  const rev = revisionOf(ds(), {});
  assert.equal(revisionOf(ds({ [SCALE_TO_ZERO_KEY]: 'true' }), {}), rev, 'parking is no new revision');
  const changed = ds();
  changed.spec!.template.spec!.containers[0]!.image = 'agent:2';
  assert.notEqual(revisionOf(changed, {}), rev, 'an image change is');
});

test('the revision is remembered per uid and generation; a new generation or config checksum is hashed', () => {
  const at = (generation: number, image: string) => {
    const o = ds();
    o.metadata = { ...o.metadata, uid: 'uid-agent', generation };
    o.spec!.template.spec!.containers[0]!.image = image;
    return o;
  };
  const first = revisionOf(at(1, 'agent:1'), {});
  assert.equal(revisionOf(at(1, 'agent:1'), {}), first, 'a status update: same uid and generation');
  const next = revisionOf(at(2, 'agent:2'), {});
  assert.notEqual(next, first, 'a spec change bumps the generation');
  assert.notEqual(revisionOf(at(2, 'agent:2'), { 'configmap/cfg': 'abc' }), next, 'a config change');
  assert.equal(revisionOf(at(1, 'agent:1'), {}), first, 'back to the first template: the first hash');
  // Same uid and generation: the remembered hash answers, until the workload's deletion forgets it.
  assert.equal(revisionOf(at(1, 'agent:other'), {}), first);
  forgetRevision('uid-agent');
  assert.notEqual(revisionOf(at(1, 'agent:other'), {}), first, 'forgotten: hashed again');
});

test('the primary DaemonSet: -primary selector, the target’s update settings, no replicas, never parked', () => {
  const spec = { targetRef: { kind: 'DaemonSet' as const, name: 'agent' }, service: { port: 80 } } as never;
  const p = primaryWorkload({
    kind,
    target: ds({ [SCALE_TO_ZERO_KEY]: 'true', zone: 'a' }),
    names: namesOf(spec),
    revision: 'r1',
    tracked: { configMaps: [], secrets: [] },
    owner: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', name: 'agent', uid: 'u' },
  }) as V1DaemonSet & { kind: string };
  assert.equal(p.kind, 'DaemonSet');
  assert.equal(p.metadata?.name, 'agent-primary');
  assert.deepEqual(p.spec?.selector, { matchLabels: { app: 'agent-primary' } });
  assert.equal(p.spec?.template.metadata?.labels?.app, 'agent-primary');
  assert.deepEqual(p.spec?.template.spec?.nodeSelector, { zone: 'a' });
  assert.deepEqual(p.spec?.updateStrategy, ds().spec!.updateStrategy);
  assert.equal(p.spec?.minReadySeconds, 5);
  assert.equal(p.spec?.revisionHistoryLimit, 4);
  assert.equal('replicas' in (p.spec ?? {}), false);
});

test('scale: one merge patch of the nodeSelector when the state differs (Flagger’s key always removed)', async () => {
  const patches: unknown[] = [];
  const kube = {
    mergePatch: async (_ref: unknown, patch: unknown) => {
      patches.push(patch);
      return {};
    },
  } as unknown as Kube;
  const selector = (p: unknown) =>
    (p as { spec: { template: { spec: { nodeSelector: Record<string, string | null> } } } }).spec.template
      .spec.nodeSelector;
  await kind.scale(kube, ds(), 'ops', 0);
  assert.deepEqual(selector(patches.pop()), {
    [SCALE_TO_ZERO_KEY]: 'true',
    [FLAGGER_SCALE_TO_ZERO_KEY]: null,
  });
  await kind.scale(kube, ds({ [SCALE_TO_ZERO_KEY]: 'true' }), 'ops', 0);
  await kind.scale(kube, ds(), 'ops', 2);
  assert.equal(patches.length, 0, 'already so: nothing written');
  await kind.scale(kube, ds({ [FLAGGER_SCALE_TO_ZERO_KEY]: 'true' }), 'ops', 0);
  assert.deepEqual(selector(patches.pop()), {
    [SCALE_TO_ZERO_KEY]: 'true',
    [FLAGGER_SCALE_TO_ZERO_KEY]: null,
  });
  await kind.scale(kube, ds({ [SCALE_TO_ZERO_KEY]: 'true' }), 'ops', 2);
  assert.deepEqual(selector(patches.pop()), { [SCALE_TO_ZERO_KEY]: null, [FLAGGER_SCALE_TO_ZERO_KEY]: null });
});

test('RollingUpdate (or unset) required; OnDelete is refused naming the field', () => {
  assert.equal(kind.problem(ds()), undefined);
  assert.equal(kind.problem(ds(undefined, { updateStrategy: undefined })), undefined);
  assert.match(
    kind.problem(ds(undefined, { updateStrategy: { type: 'OnDelete' } })) ?? '',
    /spec\.updateStrategy\.type OnDelete; Weir needs RollingUpdate/,
  );
});

test('schema: DaemonSet targets are valid, with an autoscalerRef they are refused naming it', () => {
  const canary = (spec: Record<string, unknown>) => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'agent', namespace: 'ops' },
    spec: {
      targetRef: { kind: 'DaemonSet', name: 'agent' },
      service: { port: 80 },
      analysis: { interval: '1m', threshold: 1, iterations: 2 },
      ...spec,
    },
  });
  assert.deepEqual(validateObject(canary({})).problems, []);
  const problems = validateObject(
    canary({ autoscalerRef: { kind: 'HorizontalPodAutoscaler', name: 'agent' } }),
  ).problems;
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, 'spec.autoscalerRef');
  assert.match(problems[0]?.message ?? '', /DaemonSet target has no replicas/);
});
