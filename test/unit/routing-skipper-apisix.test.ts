// The skipper and apisix providers' pure parts: the copies of the user's Ingress / ApisixRoute their
// routers write for each Traffic, the routes read back, their refusals (no A/B, no mirroring) and
// their built-in queries rendered (Flagger v1.44's, token for token); and the router they share with
// nginx (src/routing/clone-router.ts): writes only on change, keeps stored weights on reconcile,
// names the missing user object, deletes the copy on revertOnDeletion.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { builtinQuery, providerVariables } from '../../src/analysis/builtin.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import type { Kube, Obj } from '../../src/kube/client.ts';
import { silentLogger } from '../../src/log.ts';
import {
  createApisixRouter,
  desiredApisixRoute,
  readApisixTraffic,
} from '../../src/routing/apisix/router.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import {
  createSkipperRouter,
  desiredSkipperIngress,
  readSkipperTraffic,
} from '../../src/routing/skipper/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

const WEIGHTS = 'zalando.org/backend-weights';
const PREDICATE = 'zalando.org/skipper-predicate';

function target(provider: 'skipper' | 'apisix', analysis: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({
    analysis,
    spec: {
      provider,
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web' },
      routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'web' },
    },
  });
}

const backend = (name: string) => ({ service: { name, port: { number: 9898 } } });
const userIngress: Obj = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    name: 'web',
    namespace: 'test',
    labels: { team: 'a' },
    annotations: {
      [PREDICATE]: 'Weight(100) && Method("GET")',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    },
  },
  spec: {
    rules: [
      {
        host: 'app.example.com',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: backend('podinfo') },
            { path: '/other', pathType: 'Prefix', backend: backend('other') },
          ],
        },
      },
    ],
  },
};

const pathsOf = (o: Obj) =>
  (o.spec as { rules: Array<{ http: { paths: Array<{ path: string; backend: unknown }> } }> }).rules[0]!.http
    .paths;

test('skipper: the canary Ingress routes the apex paths to primary and canary by backend-weights', () => {
  const t = target('skipper');
  const init = desiredSkipperIngress(userIngress, t, { primary: 100, canary: 0 });
  assert.equal(init.metadata?.name, 'web-canary');
  assert.deepEqual(
    pathsOf(init).map((p) => [p.path, p.backend]),
    [
      ['/', backend('podinfo-primary')],
      ['/other', backend('other')],
      ['/', backend('podinfo-canary')],
    ],
    "the apex path goes to the primary, and a copy to the canary is appended (Flagger's order)",
  );
  const a = init.metadata!.annotations!;
  assert.equal(a[WEIGHTS], '{"podinfo-canary":0,"podinfo-primary":100}');
  assert.equal(a[PREDICATE], 'False() && Method("GET")', 'at weight 0 the copy is switched off');
  assert.equal(a['kubectl.kubernetes.io/last-applied-configuration'], undefined);
  assert.equal(init.metadata?.labels?.team, 'a');
  assert.equal(init.metadata?.labels?.['weir.dev/canary'], 'podinfo');
  assert.deepEqual(readSkipperTraffic(init, t), { primary: 100, canary: 0 });
  const step = desiredSkipperIngress(userIngress, t, { primary: 70, canary: 30 });
  assert.equal(step.metadata!.annotations![PREDICATE], 'Weight(100) && Method("GET")');
  assert.deepEqual(readSkipperTraffic(step, t), { primary: 70, canary: 30 });
  assert.deepEqual(pathsOf(userIngress)[0]!.backend, backend('podinfo'), "the user's Ingress is not touched");
  const hand = { metadata: { annotations: { [WEIGHTS]: 'not json' } } };
  assert.deepEqual(
    readSkipperTraffic(hand, t),
    { primary: 0, canary: 0 },
    'unreadable weights are no routes',
  );
  const other = { ...userIngress, spec: { rules: [{ http: { paths: [{ backend: backend('x') }] } }] } };
  assert.throws(
    () => desiredSkipperIngress(other, t, { primary: 100, canary: 0 }),
    /Ingress test\/web \(spec\.ingressRef\) has no backend for Service podinfo/,
  );
});

const userRoute: Obj = {
  apiVersion: 'apisix.apache.org/v2',
  kind: 'ApisixRoute',
  metadata: { name: 'web', namespace: 'test', labels: { team: 'a' }, annotations: { note: 'x' } },
  spec: {
    ingressClassName: 'apisix',
    http: [
      { name: 'other', match: { paths: ['/other'] }, backends: [{ serviceName: 'other', servicePort: 80 }] },
      {
        name: 'main',
        match: { hosts: ['app.example.com'], paths: ['/*'] },
        priority: 1,
        backends: [{ serviceName: 'podinfo', servicePort: 9898, resolveGranularity: 'service', weight: 5 }],
      },
    ],
  },
};

test('apisix: the canary ApisixRoute is the apex http entry at priority 10000 with weighted backends', () => {
  const t = target('apisix');
  const route = desiredApisixRoute(userRoute, t, { primary: 80, canary: 20 });
  assert.equal(route.metadata?.name, 'web-podinfo-canary');
  assert.equal(route.metadata?.labels?.team, 'a');
  assert.equal(route.metadata?.annotations?.note, 'x');
  assert.deepEqual(route.spec, {
    ingressClassName: 'apisix',
    http: [
      {
        name: 'main',
        match: { hosts: ['app.example.com'], paths: ['/*'] },
        priority: 10000,
        backends: [
          { servicePort: 9898, resolveGranularity: 'service', serviceName: 'podinfo-primary', weight: 80 },
          { servicePort: 9898, resolveGranularity: 'service', serviceName: 'podinfo-canary', weight: 20 },
        ],
      },
    ],
  });
  assert.deepEqual(readApisixTraffic(route, t), { primary: 80, canary: 20 });
  const http = (userRoute.spec as { http: Array<{ backends: unknown[] }> }).http;
  assert.equal(http.length, 2, "the user's route is not touched");
  const two = {
    ...userRoute,
    spec: { http: [{ name: 'main', backends: [{ serviceName: 'podinfo' }, { serviceName: 'x' }] }] },
  };
  assert.throws(
    () => desiredApisixRoute(two, t, { primary: 100, canary: 0 }),
    /ApisixRoute test\/web \(spec\.routeRef\): http main has 2 backends; only one \(Service podinfo\) is supported/,
  );
  const none = { ...userRoute, spec: { http: [{ name: 'main', backends: [{ serviceName: 'x' }] }] } };
  assert.throws(
    () => desiredApisixRoute(none, t, { primary: 100, canary: 0 }),
    /ApisixRoute test\/web \(spec\.routeRef\) has no http backend for Service podinfo/,
  );
});

test('skipper and apisix refuse A/B and mirroring, naming the field; weights and blue/green pass', () => {
  for (const p of ['skipper', 'apisix'] as const) {
    const spec = (analysis: Record<string, unknown>) => target(p, analysis).spec;
    const paths = (analysis: Record<string, unknown>) =>
      capabilityProblems(spec(analysis), p).map((x) => x.path);
    assert.deepEqual(paths({ iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }), [
      'spec.analysis.match[0].headers.x-canary',
    ]);
    assert.deepEqual(paths({ iterations: 2, match: [{ headers: { cookie: { exact: 'canary' } } }] }), [
      'spec.analysis.match[0].headers.cookie',
    ]);
    assert.deepEqual(paths({ iterations: 2, mirror: true }), ['spec.analysis.mirror']);
    const [problem] = capabilityProblems(spec({ iterations: 2, mirror: true }), p);
    assert.match(problem!.message, new RegExp(`provider ${p} does not support traffic mirroring`));
    assert.deepEqual(paths({ stepWeight: 10, maxWeight: 50 }), []);
    assert.deepEqual(paths({ iterations: 2 }), [], 'blue/green');
  }
});

test("skipper built-in queries are Flagger's, with namespace, ingress and service encoded as Skipper ids", () => {
  // Flagger's observer test: namespace skipper, ingress skipper-ingress, service backend.
  const spec = {
    ...target('skipper').spec,
    ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'skipper-ingress' },
    service: { name: 'backend', port: 80 },
  } as CanarySpec;
  const ctx = {
    name: 'podinfo',
    namespace: 'skipper',
    target: 'podinfo',
    primary: 'podinfo-primary',
    service: 'backend',
    interval: '1m',
    variables: {},
    provider: providerVariables('skipper', spec, 'skipper'),
  };
  const route = 'route=~"kube(ew)?_skipper__skipper_ingress_canary__.*__backend_canary(_[0-9]+)?"';
  assert.equal(
    renderQuery(builtinQuery('skipper', 'request-duration'), ctx),
    `sum(rate(skipper_serve_route_duration_seconds_sum{${route}}[1m])) / sum(rate(skipper_serve_route_duration_seconds_count{${route}}[1m])) * 1000`,
  );
  assert.equal(
    renderQuery(builtinQuery('skipper', 'request-success-rate'), ctx),
    `sum(rate(skipper_response_duration_seconds_bucket{${route},code!~"5..",le="+Inf"}[1m])) / sum(rate(skipper_response_duration_seconds_bucket{${route},le="+Inf"}[1m])) * 100`,
  );
  // A namespace with a dash is written as Skipper writes it in route ids.
  assert.equal(providerVariables('skipper', spec, 'team-a.x').skipperNamespace, 'team_a_x');
  assert.equal(providerVariables('skipper', spec).ingress, 'skipper-ingress');
});

test("apisix built-in queries are Flagger's, with {{ route }} = spec.routeRef.name", () => {
  const spec = target('apisix').spec;
  const ctx = {
    name: 'podinfo',
    namespace: 'test',
    target: 'podinfo',
    primary: 'podinfo-primary',
    service: 'podinfo',
    interval: '1m',
    variables: {},
    provider: providerVariables('apisix', spec, 'test'),
  };
  const route = 'route=~"test_web-podinfo-canary_.+"';
  assert.equal(
    renderQuery(builtinQuery('apisix', 'request-success-rate'), ctx),
    `sum(rate(apisix_http_status{${route},code!~"5.."}[1m])) / sum(rate(apisix_http_status{${route}}[1m])) * 100`,
  );
  assert.equal(
    renderQuery(builtinQuery('apisix', 'request-duration'), ctx),
    `histogram_quantile(0.99,sum(rate(apisix_http_latency_bucket{type=~"request",${route}}[1m])) by (le))`,
  );
});

/** An in-memory store standing in for the informer caches and the API server's writes. */
function fakeCluster(objects: Obj[]) {
  const key = (o: { apiVersion?: string; kind?: string }, name: string) =>
    `${o.apiVersion}/${o.kind}/${name}`;
  const store = new Map(objects.map((o) => [key(o, o.metadata!.name!), o]));
  const writes: string[] = [];
  const kube = {
    apply: async (o: Obj) => {
      writes.push(`apply ${o.metadata!.name}`);
      store.set(key(o, o.metadata!.name!), structuredClone(o));
      return o;
    },
    remove: async (ref: { apiVersion: string; kind: string; name: string }) => {
      writes.push(`remove ${ref.name}`);
      store.delete(key(ref, ref.name));
    },
  } as unknown as Kube;
  const cached = (type: { apiVersion: string; kind: string }, _ns: string, name: string) =>
    store.get(key(type, name));
  return { deps: { kube, cached, log: silentLogger() }, writes };
}

test('the shared copy router writes on change only, keeps stored weights and deletes the copy on revert', async () => {
  const t = target('apisix');
  const { deps, writes } = fakeCluster([userRoute]);
  const router = createApisixRouter(deps);
  assert.equal(router.getRoutes(t), undefined, 'no copy yet');
  assert.equal(await router.reconcile(t), true);
  assert.deepEqual(router.getRoutes(t), { primary: 100, canary: 0 });
  assert.equal(await router.reconcile(t), false, 'steady state writes nothing');
  await router.setRoutes(t, { primary: 60, canary: 40, mirror: true });
  assert.deepEqual(router.getRoutes(t), { primary: 60, canary: 40 });
  assert.equal(await router.reconcile(t), false, 'reconcile keeps the stored weights');
  await assert.rejects(router.setRoutes(t, { primary: 0, canary: 0 }), /refusing to route 0\/0/);
  await router.finalize(t);
  assert.equal(router.getRoutes(t), undefined);
  assert.deepEqual(writes, [
    'apply web-podinfo-canary',
    'apply web-podinfo-canary',
    'remove web-podinfo-canary',
  ]);
  assert.deepEqual(router.objects(t), [
    {
      type: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', plural: 'apisixroutes' },
      name: 'web-podinfo-canary',
    },
  ]);
  const missing = createSkipperRouter(fakeCluster([]).deps);
  await assert.rejects(
    missing.reconcile(target('skipper')),
    /Ingress test\/web \(spec\.ingressRef\) not found/,
  );
});
