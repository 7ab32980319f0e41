// Deleting a Canary never hangs: nothing to revert (target gone, invalid spec) removes the finalizer
// at once; a revert that cannot finish gives up at the deadline, even when handing traffic back fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { FINALIZER } from '../../src/canary/apply.ts';
import type { CanaryContext, CanaryObject } from '../../src/canary/context.ts';
import { finalizeCanary } from '../../src/canary/finalize.ts';
import { namesOf } from '../../src/canary/targets.ts';
import { WORKLOAD_KINDS } from '../../src/canary/workloads.ts';
import type { CanarySpec } from '../../src/api/canary.ts';
import { WeirError } from '../../src/errors.ts';
import type { Kube } from '../../src/kube/client.ts';
import type { EventRecorder } from '../../src/kube/events.ts';
import { createLogger } from '../../src/log.ts';

const deletedAt = new Date('2026-01-01T00:00:00Z');
const spec = {
  targetRef: { kind: 'Deployment', name: 'app' },
  service: { port: 80 },
  analysis: {},
  progressDeadlineSeconds: 60,
  revertOnDeletion: true,
} as CanarySpec;

function canary(): CanaryObject {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: {
      name: 'app',
      namespace: 'shop',
      uid: 'u1',
      resourceVersion: '42',
      deletionTimestamp: deletedAt.toISOString() as unknown as Date,
      finalizers: ['example.com/other', FINALIZER],
    },
    spec,
  };
}

function fakes(secondsAfterDeletion: number) {
  const patches: unknown[] = [];
  const applied: unknown[] = [];
  const events: Array<{ type: string; reason: string; message: string }> = [];
  const kube = {
    mergePatch: async (_ref: unknown, patch: unknown) => (patches.push(patch), {}),
    apply: async (o: unknown) => (applied.push(o), o),
  } as unknown as Kube;
  const recorder: EventRecorder = {
    record: async (_t, type, reason, message) => void events.push({ type, reason, message }),
  };
  const deps = {
    kube,
    caches: {},
    recorder,
    log: createLogger('silent'),
    now: () => new Date(deletedAt.getTime() + secondsAfterDeletion * 1000),
  };
  return { deps, patches, applied, events };
}

const onlyOurs = { metadata: { finalizers: ['example.com/other'], resourceVersion: '42' } };

for (const [why, err] of [
  ['the target is gone', new WeirError('NOT_FOUND', 'spec.targetRef: Deployment shop/app not found')],
  ['the spec is invalid', new WeirError('INVALID_SPEC', 'spec.provider: contour is not supported yet')],
] as const) {
  test(`${why}: nothing to revert, Weir's finalizer goes at once (others stay), with a Warning`, async () => {
    const { deps, patches, events } = fakes(1);
    const wait = await finalizeCanary(
      canary(),
      () => {
        throw err;
      },
      deps,
    );
    assert.equal(wait, undefined);
    assert.deepEqual(patches, [onlyOurs]);
    assert.equal(events[0]?.reason, 'RevertSkipped');
    assert.match(events[0]?.message ?? '', new RegExp(err.message.slice(0, 20)));
  });
}

/** A context whose target never becomes ready and whose router cannot hand traffic back. */
function stuckContext(): CanaryContext {
  const target: V1Deployment = {
    metadata: { name: 'app', namespace: 'shop', labels: { app: 'app' }, generation: 2 },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'app' } },
      template: { metadata: { labels: { app: 'app' } } },
    },
    status: { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 0 },
  };
  return {
    obj: canary(),
    view: { name: 'app', namespace: 'shop', generation: 1, spec, status: {}, annotations: {} },
    names: namesOf(spec),
    workload: WORKLOAD_KINDS.Deployment,
    target,
    primary: { spec: { replicas: 2 } } as V1Deployment,
    selector: { key: 'app', value: 'app' },
    owner: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', name: 'app', uid: 'u1' },
    router: {
      finalize: async () => {
        throw new Error('route API unavailable');
      },
    },
  } as unknown as CanaryContext;
}

test('before the deadline: waits for the target (finalizer kept)', async () => {
  const { deps, patches } = fakes(30);
  const wait = await finalizeCanary(canary(), stuckContext, deps);
  assert.ok(wait !== undefined && wait > 0 && wait <= 2000, `looks again soon (${wait})`);
  assert.deepEqual(patches, []);
});

test('past the deadline: gives up with a Warning and removes the finalizer, even if handing back fails', async () => {
  const { deps, patches, events } = fakes(61);
  const wait = await finalizeCanary(canary(), stuckContext, deps);
  assert.equal(wait, undefined);
  assert.deepEqual(patches, [onlyOurs]);
  assert.equal(events[0]?.reason, 'RevertTimedOut');
  assert.match(events[0]?.message ?? '', /gave up after 60s waiting for app to be ready \(0% ready\)/);
});

test('a ready target whose traffic cannot be handed back: retried until the deadline, then gone', async () => {
  const ready = () => {
    const ctx = stuckContext();
    ctx.target.status = { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 };
    return ctx;
  };
  const before = fakes(30);
  await assert.rejects(finalizeCanary(canary(), ready, before.deps), /route API unavailable/);
  assert.deepEqual(before.patches, [], 'retried (with backoff) while there is time');
  const after = fakes(61);
  assert.equal(await finalizeCanary(canary(), ready, after.deps), undefined);
  assert.deepEqual(after.patches, [onlyOurs]);
  assert.equal(after.events[0]?.reason, 'RevertTimedOut');
});

test('a context that cannot be built yet (content loading): retried, and given up at the deadline', async () => {
  const loading = () => {
    throw new WeirError('LOADING', 'Secret shop/app-secrets is being read');
  };
  await assert.rejects(finalizeCanary(canary(), loading, fakes(30).deps), /being read/);
  const after = fakes(61);
  assert.equal(await finalizeCanary(canary(), loading, after.deps), undefined);
  assert.deepEqual(after.patches, [onlyOurs]);
  assert.equal(after.events[0]?.reason, 'RevertTimedOut');
});

test('a primary the cache does not show yet is read from the API: the target gets its replicas, not 1', async () => {
  const { deps, applied } = fakes(5);
  const gets: unknown[] = [];
  (deps.kube as unknown as { get: (ref: unknown) => Promise<unknown> }).get = async (ref) => {
    gets.push(ref);
    return { spec: { replicas: 3 } };
  };
  const ctx = { ...stuckContext(), primary: undefined };
  const wait = await finalizeCanary(canary(), () => ctx, deps);
  assert.ok(wait !== undefined, 'still waiting for the target');
  assert.deepEqual(gets, [
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'app-primary' },
  ]);
  const scaled = applied.find((o) => (o as { kind?: string }).kind === 'Deployment') as {
    spec: { replicas: number };
  };
  assert.equal(scaled?.spec.replicas, 3);
});
