// Provider kubernetes with weights (issue 14): the replica arithmetic from tables, and the router on a
// fake cache: the apex selects both Deployments' pods, pod counts follow the weight, the primary
// shrinks only with dynamicStableScale, nothing is written twice, and 0% gives the primary back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { SHARED_POD_LABEL } from '../../src/canary/workloads.ts';
import type { Kube, Obj } from '../../src/kube/client.ts';
import { cacheKeyOf, type ResourceType } from '../../src/kube/resources.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { podShare, replicaSplit, totalReplicas } from '../../src/routing/kubernetes/replicas.ts';
import { createKubernetesRouter } from '../../src/routing/kubernetes/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import type { Logger } from '../../src/log.ts';

test('replicaSplit: canary ceil(weight × total / 100); primary total - canary (min 1) only with dynamicStableScale', () => {
  // [weight, total, dynamicStableScale, canary, primary]
  const rows: Array<[number, number, boolean, number, number | undefined]> = [
    [0, 4, false, 0, undefined],
    [0, 4, true, 0, 4],
    [10, 4, false, 1, undefined],
    [10, 4, true, 1, 3],
    [25, 4, true, 1, 3],
    [26, 4, true, 2, 2],
    [50, 5, false, 3, undefined],
    [50, 5, true, 3, 2],
    [90, 10, true, 9, 1],
    [99, 10, true, 10, 1],
    [100, 10, false, 10, undefined],
    [100, 10, true, 10, 1],
    [1, 1, true, 1, 1],
    [50, 1, false, 1, undefined],
    [30, 0, false, 1, undefined], // a primary at 0 counts as 1: the weight still gets a pod
    [150, 2, false, 2, undefined],
  ];
  for (const [weight, total, dynamic, canary, primary] of rows)
    assert.deepEqual(replicaSplit(weight, total, dynamic), { canary, primary }, `${weight}% of ${total}`);
});

test('totalReplicas: the HPA current count first, then the recorded count, then the primary, at least 1', () => {
  const rows: Array<[Parameters<typeof totalReplicas>[0], number]> = [
    [{ hpaCurrent: 7, recorded: 4, primary: 2 }, 7],
    [{ hpaCurrent: 0, primary: 3 }, 3], // an HPA that has not reported yet
    [{ recorded: 4, primary: 1 }, 4], // the primary shrunk by dynamicStableScale
    [{ primary: 5 }, 5],
    [{}, 1],
    [{ primary: 0 }, 1],
  ];
  for (const [counts, total] of rows) assert.equal(totalReplicas(counts), total, JSON.stringify(counts));
});

test('podShare: the canary share of all pods, as a weight', () => {
  assert.equal(podShare(1, 3), 25);
  assert.equal(podShare(0, 0), 0);
  assert.equal(podShare(2, 1), 67);
});

const spec = (analysis: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({
    targetRef: { kind: 'Deployment', name: 'app' },
    service: { port: 80 },
    analysis: { interval: '1m', threshold: 1, ...analysis },
    ...extra,
  }) as unknown as CanarySpec;

test('capabilities: kubernetes takes weights and dynamicStableScale, refuses what pods cannot do', () => {
  const paths = (s: CanarySpec, p = 'kubernetes') => capabilityProblems(s, p).map((x) => x.path);
  assert.deepEqual(paths(spec({ stepWeight: 10, maxWeight: 50 })), []);
  assert.deepEqual(paths(spec({ steps: [{ setWeight: 20 }, { pause: {} }], dynamicStableScale: true })), []);
  assert.deepEqual(paths(spec({ stepWeights: [10, 50], mirror: true })), ['spec.analysis.mirror']);
  assert.deepEqual(paths(spec({ stepWeight: 10, sessionAffinity: { cookieName: 'c' } })), [
    'spec.analysis.sessionAffinity',
  ]);
  assert.deepEqual(
    paths(spec({ stepWeight: 10, dynamicStableScale: true }, { autoscalerRef: { name: 'h' } })),
    ['spec.analysis.dynamicStableScale'],
  );
  assert.deepEqual(paths(spec({ stepWeight: 10 }, { targetRef: { kind: 'DaemonSet', name: 'a' } })), [
    'spec.targetRef.kind',
  ]);
  assert.deepEqual(paths(spec({ stepWeight: 10, dynamicStableScale: true }), 'istio'), [
    'spec.analysis.dynamicStableScale',
  ]);
});

/** A cache of Services, Deployments and HPAs whose writes the fake kube applies and counts. */
function fakeCluster(primaryReplicas: number, hpaCurrent?: number) {
  const store = new Map<string, Obj>();
  const key = (kind: string, name: string) => `${kind}/${name}`;
  const labels = { [SHARED_POD_LABEL]: 'app' };
  const deployment = (name: string, replicas: number): Obj =>
    ({
      kind: 'Deployment',
      metadata: { name, generation: 1 },
      spec: { replicas, template: { metadata: { labels } } },
      status: { observedGeneration: 1, replicas, updatedReplicas: replicas },
    }) as Obj;
  store.set(key('Service', 'app'), {
    kind: 'Service',
    metadata: { name: 'app' },
    spec: { selector: { app: 'app-primary' } },
  } as Obj);
  store.set(key('Deployment', 'app-primary'), deployment('app-primary', primaryReplicas));
  store.set(key('Deployment', 'app'), deployment('app', primaryReplicas));
  if (hpaCurrent !== undefined)
    store.set(key('HorizontalPodAutoscaler', 'hpa-primary'), {
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'hpa-primary' },
      status: { currentReplicas: hpaCurrent },
    } as Obj);
  const writes: string[] = [];
  const merge = (into: Record<string, unknown>, patch: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete into[k];
      else if (v && typeof v === 'object' && !Array.isArray(v))
        merge((into[k] ??= {}) as Record<string, unknown>, v as Record<string, unknown>);
      else into[k] = v;
    }
  };
  const kube = {
    async apply(obj: Obj) {
      writes.push(`apply ${obj.metadata!.name} ${JSON.stringify(obj.spec)}`);
      merge(store.get(key(obj.kind!, obj.metadata!.name!)) as never, { spec: obj.spec } as never);
      return obj;
    },
    async mergePatch(ref: { kind: string; name: string }, patch: Record<string, unknown>) {
      writes.push(`patch ${ref.name} ${JSON.stringify(patch)}`);
      merge(store.get(key(ref.kind, ref.name)) as never, patch);
      return store.get(key(ref.kind, ref.name));
    },
  } as unknown as Kube;
  const cached = (type: ResourceType, _ns: string, name: string) => {
    void cacheKeyOf;
    return store.get(key(type.kind, name));
  };
  const router = createKubernetesRouter({ kube, cached, log: {} as Logger });
  const replicas = (name: string) =>
    (store.get(key('Deployment', name))!.spec as { replicas: number }).replicas;
  const apex = () => store.get(key('Service', 'app')) as Obj & { spec: { selector: Record<string, string> } };
  const scaleByHand = (name: string, n: number) => {
    (store.get(key('Deployment', name))!.spec as { replicas: number }).replicas = n;
  };
  const unlabel = (name: string) => {
    const d = store.get(key('Deployment', name))!;
    (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels = {};
  };
  return { router, writes, replicas, apex, scaleByHand, unlabel };
}

const routeTarget = (s: CanarySpec): RouteTarget => ({
  name: 'app',
  namespace: 'ns',
  spec: s,
  apex: 'app',
  primary: 'app-primary',
  canary: 'app-canary',
  selector: { key: 'app', value: 'app' },
  owner: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', name: 'app', uid: 'u' },
});

test('router: weights become pod counts, the apex selects both, 0% restores the primary; no repeated writes', async () => {
  for (const dynamic of [false, true]) {
    const c = fakeCluster(4);
    const t = routeTarget(spec({ stepWeight: 25, maxWeight: 50, dynamicStableScale: dynamic }));
    // [weight, canary pods, primary pods]
    const steps: Array<[number, number, number]> = [
      [25, 1, dynamic ? 3 : 4],
      [50, 2, dynamic ? 2 : 4],
      [75, 3, dynamic ? 1 : 4],
      [100, 4, dynamic ? 1 : 4],
    ];
    for (const [weight, canary, primary] of steps) {
      await c.router.setRoutes(t, { primary: 100 - weight, canary: weight });
      assert.equal(c.replicas('app'), canary, `canary at ${weight}% (dynamic ${dynamic})`);
      assert.equal(c.replicas('app-primary'), primary, `primary at ${weight}% (dynamic ${dynamic})`);
      assert.deepEqual(c.router.getRoutes(t), { primary: 100 - weight, canary: weight });
      const selector = weight === 100 ? { app: 'app' } : { [SHARED_POD_LABEL]: 'app' };
      assert.deepEqual(c.apex().spec.selector, selector);
      assert.deepEqual(c.router.apexSelector!(t), selector);
      const before = c.writes.length;
      await c.router.setRoutes(t, { primary: 100 - weight, canary: weight });
      assert.equal(c.writes.length, before, `no write when the cache already says ${weight}%`);
    }
    await c.router.setRoutes(t, { primary: 100, canary: 0 });
    assert.equal(c.replicas('app-primary'), 4, 'the primary has its pods back');
    assert.deepEqual(c.apex().spec.selector, { app: 'app-primary' });
    assert.deepEqual(c.router.getRoutes(t), { primary: 100, canary: 0 });
    assert.equal(c.apex().metadata?.annotations?.['weir.dev/primary-replicas'], undefined);
  }
});

test('router: the canary follows the HPA current count; a hand-scaled canary reads as its pod share', async () => {
  const c = fakeCluster(2, 10);
  const t = routeTarget(spec({ stepWeight: 20, maxWeight: 60 }, { autoscalerRef: { name: 'hpa' } }));
  await c.router.setRoutes(t, { primary: 80, canary: 20 });
  assert.equal(c.replicas('app'), 2, 'ceil(20% of 10)');
  assert.deepEqual(c.router.getRoutes(t), { primary: 80, canary: 20 });
  await c.router.setRoutes(t, { primary: 70, canary: 30 });
  assert.equal(c.replicas('app'), 3);
  // Someone scales the canary by hand: the routes read back are its pod share, not the status's
  // 30%, so drift repair calls setRoutes, which scales it back.
  c.scaleByHand('app', 6);
  assert.deepEqual(c.router.getRoutes(t), { primary: 25, canary: 75 });
  await c.router.setRoutes(t, { primary: 70, canary: 30 });
  assert.equal(c.replicas('app'), 3);
  assert.deepEqual(c.router.getRoutes(t), { primary: 70, canary: 30 });
});

test('router: no weight before the pods of both Deployments carry the shared label; reconcile labels them', async () => {
  const c = fakeCluster(2);
  const t = routeTarget(spec({ stepWeight: 50, maxWeight: 50 }));
  c.unlabel('app-primary');
  await assert.rejects(
    c.router.setRoutes(t, { primary: 50, canary: 50 }),
    /waiting for the pods of app-primary and app to carry weir.dev\/apex=app/,
  );
  assert.deepEqual(c.apex().spec.selector, { app: 'app-primary' }, 'the apex still selects the primary');
  c.unlabel('app-primary');
  assert.equal(await c.router.reconcile(t), true);
  assert.equal(await c.router.reconcile(t), false, 'labelled once');
});

test('router: blue/green specs keep moving the apex between primary and canary only', async () => {
  const c = fakeCluster(3);
  const t = routeTarget(spec({ iterations: 3 }));
  await assert.rejects(c.router.setRoutes(t, { primary: 50, canary: 50 }), /cannot split traffic 50\/50/);
  await c.router.setRoutes(t, { primary: 0, canary: 100 });
  assert.deepEqual(c.apex().spec.selector, { app: 'app' });
  assert.equal(c.replicas('app'), 3, 'blue/green leaves the counts alone');
  await c.router.setRoutes(t, { primary: 100, canary: 0 });
  assert.deepEqual(c.apex().spec.selector, { app: 'app-primary' });
  assert.deepEqual(c.router.objects(t), []);
});
