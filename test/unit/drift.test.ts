// Drift repair's pure parts: the routes a status stands for, and the write log that keeps a lagging
// cache from being taken for drift.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanarySpec, CanaryStatus } from '../../src/api/canary.ts';
import { expectedTraffic, WriteLog } from '../../src/canary/drift.ts';
import type { Kube } from '../../src/kube/client.ts';

const spec = (analysis: Record<string, unknown>) =>
  ({ targetRef: { name: 'a' }, service: { port: 80 }, analysis }) as unknown as CanarySpec;

test('expected routes per phase and strategy', () => {
  const weighted = spec({ stepWeight: 10, maxWeight: 50 });
  const ab = spec({ iterations: 3, match: [{ headers: { x: { exact: '1' } } }] });
  const mirrored = spec({ iterations: 3, mirror: true });
  const steps = spec({ steps: [{ setHeaderRoute: { name: 'beta' } }] });
  const beta = { name: 'beta', headers: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] };
  const rows: Array<[CanarySpec, CanaryStatus, unknown]> = [
    [weighted, { phase: 'Initialized' }, { primary: 100, canary: 0 }],
    [weighted, { phase: 'Succeeded', canaryWeight: 0 }, { primary: 100, canary: 0 }],
    // A Frozen run holds the weights of its failing step: a hand edit of them is drift.
    [weighted, { phase: 'Frozen', canaryWeight: 30 }, { primary: 70, canary: 30 }],
    [weighted, { phase: 'Failed', canaryWeight: 0 }, { primary: 100, canary: 0 }],
    [weighted, { phase: 'Progressing', canaryWeight: 30 }, { primary: 70, canary: 30 }],
    [weighted, { phase: 'WaitingPromotion', canaryWeight: 50 }, { primary: 50, canary: 50 }],
    [ab, { phase: 'Progressing', iterations: 0 }, { primary: 100, canary: 0 }],
    [ab, { phase: 'Progressing', iterations: 1 }, { primary: 100, canary: 0, match: true }],
    [mirrored, { phase: 'Progressing', iterations: 2 }, { primary: 100, canary: 0, mirror: true }],
    // The step routes in force are expected too (a deleted header rule is drift); none after the run.
    [
      steps,
      { phase: 'Progressing', canaryWeight: 10, stepRoutes: [beta] },
      { primary: 90, canary: 10, routes: [beta] },
    ],
    [
      steps,
      { phase: 'Frozen', canaryWeight: 10, stepRoutes: [beta] },
      { primary: 90, canary: 10, routes: [beta] },
    ],
    [steps, { phase: 'Failed', canaryWeight: 0 }, { primary: 100, canary: 0 }],
    [weighted, { phase: 'Promoting', canaryWeight: 50 }, undefined],
    [weighted, { phase: 'Initializing' }, undefined],
    [weighted, {}, undefined],
  ];
  for (const [s, status, want] of rows)
    assert.deepEqual(expectedTraffic(s, status), want, JSON.stringify(status));
});

test('the write log: a cache older than our write is lagging until it catches up or the grace ends', async () => {
  let clock = 1_000;
  const log = new WriteLog(50, () => clock);
  const fake = {
    apply: async (o: unknown) => ({
      ...(o as object),
      metadata: { ...(o as { metadata: object }).metadata, resourceVersion: '12' },
    }),
    mergePatch: async () => ({
      kind: 'Service',
      metadata: { name: 's', namespace: 'n', resourceVersion: '20' },
    }),
  } as unknown as Kube;
  const kube = log.wrap(fake);
  await kube.apply({ apiVersion: 'v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'n' } });
  const at = (rv?: string) => (rv ? { metadata: { resourceVersion: rv } } : undefined);
  assert.equal(log.seen('HTTPRoute', 'n', 'other', undefined), true, 'never written: cache believed');
  assert.equal(log.seen('HTTPRoute', 'n', 'r', at('11')), false);
  assert.equal(log.seen('HTTPRoute', 'n', 'r', undefined), false, 'just created, not yet in the cache');
  assert.equal(log.seen('HTTPRoute', 'n', 'r', at('13')), true);
  assert.equal(log.seen('HTTPRoute', 'n', 'r', at('11')), true, 'caught up once: forgotten');
  await kube.mergePatch({ apiVersion: 'v1', kind: 'Service', name: 's', namespace: 'n' }, {});
  assert.equal(log.seen('Service', 'n', 's', undefined), false);
  clock += 51;
  assert.equal(log.seen('Service', 'n', 's', undefined), true, 'deleted since: believed after the grace');

  // When the pending write was made (repairDrift looks again soon only for an earlier reconcile's).
  await kube.mergePatch({ apiVersion: 'v1', kind: 'Service', name: 's', namespace: 'n' }, {});
  assert.equal(log.pendingSince('Service', 'n', 's'), clock);
  assert.equal(log.pendingSince('Service', 'n', 'other'), undefined);
  // The late deletion of the copy our write re-created (an older resourceVersion) changes nothing.
  log.deleted('Service', { metadata: { name: 's', namespace: 'n', resourceVersion: '19' } });
  assert.equal(log.pendingSince('Service', 'n', 's'), clock, 'an older deletion');
  // A deletion event after our write: the write is forgotten, so the missing object is drift at once.
  log.deleted('Service', { metadata: { name: 's', namespace: 'n', resourceVersion: '21' } });
  assert.equal(log.pendingSince('Service', 'n', 's'), undefined);
  assert.equal(log.seen('Service', 'n', 's', undefined), true, 'deleted: believed without waiting');
});
