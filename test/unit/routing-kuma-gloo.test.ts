// The kuma and gloo providers' pure parts: the objects their routers write for each Traffic, the
// routes read back from stored objects, their capability refusals, gloo's upstreamRef (copied
// settings, cross-namespace refusal) and their built-in queries rendered (Flagger v1.44's, token
// for token).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { builtinQuery } from '../../src/analysis/builtin.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import { refusedReferences } from '../../src/canary/references.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import {
  desiredRouteTable,
  desiredUpstream,
  readRouteTableTraffic,
  upstreamNames,
} from '../../src/routing/gloo/router.ts';
import { desiredMeshHttpRoute, readMeshHttpRouteTraffic } from '../../src/routing/kuma/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

function target(
  spec: Record<string, unknown> = {},
  analysis: Record<string, unknown> = {},
  annotations?: Record<string, string>,
): RouteTarget {
  return podinfoTarget({ spec, analysis, ...(annotations ? { annotations } : {}) });
}

test('kuma: a MeshHTTPRoute splitting the apex MeshService, in the mesh of kuma.io/mesh', () => {
  const t = target({}, {}, { 'kuma.io/mesh': 'payments' });
  const route = desiredMeshHttpRoute(t, { primary: 80, canary: 20 });
  assert.equal(route.apiVersion, 'kuma.io/v1alpha1');
  assert.equal(route.kind, 'MeshHTTPRoute');
  assert.equal(route.metadata?.namespace, 'test');
  assert.equal(route.metadata?.labels?.['kuma.io/mesh'], 'payments');
  assert.deepEqual(route.metadata?.ownerReferences?.[0]?.name, 'podinfo');
  const ms = (name: string) => ({ 'kuma.io/display-name': name, 'k8s.kuma.io/namespace': 'test' });
  assert.deepEqual(route.spec, {
    targetRef: { kind: 'Mesh' },
    to: [
      {
        targetRef: { kind: 'MeshService', labels: ms('podinfo') },
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            default: {
              backendRefs: [
                { kind: 'MeshService', labels: ms('podinfo-primary'), port: 9898, weight: 80 },
                { kind: 'MeshService', labels: ms('podinfo-canary'), port: 9898, weight: 20 },
              ],
            },
          },
        ],
      },
    ],
  });
  assert.deepEqual(readMeshHttpRouteTraffic(route, t), { primary: 80, canary: 20 });
  assert.equal(
    desiredMeshHttpRoute(target(), { primary: 100, canary: 0 }).metadata?.labels?.['kuma.io/mesh'],
    'default',
    "Flagger's default mesh",
  );
  // A backend without a weight has Kuma's default of 1; one that is missing has none.
  const stored = {
    spec: {
      to: [
        { rules: [{ default: { backendRefs: [{ kind: 'MeshService', labels: ms('podinfo-primary') }] } }] },
      ],
    },
  };
  assert.deepEqual(readMeshHttpRouteTraffic(stored, t), { primary: 1, canary: 0 });
});

test('gloo: Upstreams per Service with their selectors, copying the settings of spec.upstreamRef', () => {
  const t = target({ upstreamRef: { name: 'base', namespace: 'gloo-system' } });
  assert.deepEqual(upstreamNames(t), {
    primary: 'test-podinfo-primaryupstream-9898',
    canary: 'test-podinfo-canaryupstream-9898',
  });
  const base = {
    metadata: { name: 'base', namespace: 'gloo-system', labels: { team: 'a' } },
    spec: {
      kube: { serviceName: 'other', serviceNamespace: 'x', servicePort: 1 },
      connectionConfig: { maxRequestsPerConnection: 10 },
      loadBalancerConfig: { roundRobin: {} },
      useHttp2: true,
      healthChecks: [{ timeout: '1s' }],
    },
  };
  const primary = desiredUpstream(t, 'primary', base);
  assert.equal(primary.metadata?.name, 'test-podinfo-primaryupstream-9898');
  assert.equal(primary.metadata?.labels?.team, 'a', "the base Upstream's labels, as Flagger copies them");
  assert.deepEqual(primary.spec, {
    connectionConfig: { maxRequestsPerConnection: 10 },
    loadBalancerConfig: { roundRobin: {} },
    useHttp2: true,
    kube: {
      serviceName: 'podinfo-primary',
      serviceNamespace: 'test',
      servicePort: 9898,
      selector: { app: 'podinfo-primary' },
    },
  });
  const canary = desiredUpstream(t, 'canary', undefined);
  assert.deepEqual(canary.spec, {
    kube: {
      serviceName: 'podinfo-canary',
      serviceNamespace: 'test',
      servicePort: 9898,
      selector: { app: 'podinfo' },
    },
  });
  const spec = t.spec;
  assert.deepEqual(refusedReferences(spec, 'test', { crossNamespaceRefs: true }), []);
  assert.deepEqual(
    refusedReferences(spec, 'test', { crossNamespaceRefs: false }).map((r) => r.field),
    ['spec.upstreamRef.namespace'],
  );
  assert.deepEqual(
    refusedReferences(target({ upstreamRef: { name: 'base' } }).spec, 'test', { crossNamespaceRefs: false }),
    [],
    'same namespace',
  );
});

test('gloo: one weighted route; A/B puts a route with one matcher per match entry before it', () => {
  const t = target(
    {},
    {
      iterations: 2,
      match: [
        { headers: { 'x-canary': { exact: 'insider' }, 'x-tier': { prefix: 'gold.' } } },
        {
          headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
          queryParams: { v: { suffix: '2' } },
        },
      ],
    },
  );
  const up = (role: string, weight: number) => ({
    destination: { upstream: { name: `test-podinfo-${role}upstream-9898`, namespace: 'test' } },
    weight,
  });
  const plain = desiredRouteTable(t, { primary: 90, canary: 10 });
  assert.equal(plain.apiVersion, 'gateway.solo.io/v1');
  assert.deepEqual(plain.spec, {
    routes: [
      {
        inheritablePathMatchers: true,
        routeAction: { multi: { destinations: [up('primary', 90), up('canary', 10)] } },
      },
    ],
  });
  assert.deepEqual(readRouteTableTraffic(plain, t), { primary: 90, canary: 10 });
  const ab = desiredRouteTable(t, { primary: 100, canary: 0, match: true });
  assert.deepEqual(ab.spec, {
    routes: [
      {
        inheritablePathMatchers: true,
        matchers: [
          {
            headers: [
              { name: 'x-canary', value: 'insider' },
              { name: 'x-tier', value: 'gold\\..*', regex: true },
            ],
          },
          {
            headers: [{ name: 'cookie', value: '^(.*?;)?(canary=always)(;.*)?$', regex: true }],
            queryParameters: [{ name: 'v', value: '.*2', regex: true }],
          },
        ],
        routeAction: { multi: { destinations: [up('primary', 0), up('canary', 100)] } },
      },
      // Weir's fallback: requests matching no entry stay on the primary.
      {
        inheritablePathMatchers: true,
        routeAction: { multi: { destinations: [up('primary', 100), up('canary', 0)] } },
      },
    ],
  });
  assert.deepEqual(readRouteTableTraffic(ab, t), { primary: 100, canary: 0, match: true });
});

test('capabilities: kuma refuses A/B and mirroring; gloo takes headers, cookies and queries, refuses mirroring', () => {
  const spec = (analysis: Record<string, unknown>) =>
    ({ targetRef: { name: 'a' }, service: { port: 80 }, analysis }) as unknown as CanarySpec;
  const ab = spec({
    iterations: 2,
    match: [
      {
        headers: { 'x-canary': { exact: 'insider' }, cookie: { exact: 'c' } },
        queryParams: { v: { exact: '2' } },
      },
    ],
  });
  assert.deepEqual(
    capabilityProblems(ab, 'kuma').map((p) => `${p.path}: ${p.message}`),
    [
      'spec.analysis.match[0].headers.x-canary: provider kuma does not support header matching (A/B)',
      'spec.analysis.match[0].headers.cookie: provider kuma does not support cookie matching (A/B)',
      'spec.analysis.match[0].queryParams: provider kuma does not support query matching (A/B)',
    ],
  );
  assert.deepEqual(capabilityProblems(ab, 'gloo'), []);
  for (const p of ['kuma', 'gloo'])
    assert.deepEqual(
      capabilityProblems(spec({ stepWeight: 10, maxWeight: 50, mirror: true }), p).map((x) => x.path),
      ['spec.analysis.mirror'],
    );
  assert.deepEqual(
    capabilityProblems(spec({ iterations: 2, match: [{ sourceLabels: { app: 'x' } }] }), 'gloo').map(
      (x) => x.path,
    ),
    ['spec.analysis.match[0].sourceLabels'],
  );
  for (const p of ['kuma', 'gloo'])
    assert.deepEqual(capabilityProblems(spec({ iterations: 2 }), p), [], 'blue/green');
});

test("built-in queries are Flagger's, rendered", () => {
  const ctx = {
    name: 'podinfo',
    namespace: 'test',
    target: 'podinfo',
    primary: 'podinfo-primary',
    service: 'podinfo',
    interval: '1m',
    variables: {},
    provider: {},
  };
  const render = (p: string, m: string) => renderQuery(builtinQuery(p, m), ctx);
  assert.equal(
    render('kuma', 'request-success-rate'),
    'sum(rate(envoy_cluster_upstream_rq{service=~"podinfo-canary_test_svc_[0-9a-zA-Z-]+",envoy_response_code!~"5.*"}[1m])) / sum(rate(envoy_cluster_upstream_rq{service=~"podinfo-canary_test_svc_[0-9a-zA-Z-]+",}[1m])) * 100',
  );
  assert.equal(
    render('kuma', 'request-duration'),
    'histogram_quantile(0.99,sum(rate(envoy_cluster_upstream_rq_time_bucket{service=~"podinfo-canary_test_svc_[0-9a-zA-Z-]+",}[1m])) by (le))',
  );
  assert.equal(
    render('gloo', 'request-success-rate'),
    'sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"test-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",envoy_response_code!~"5.*"}[1m])) / sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"test-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",}[1m])) * 100',
  );
  assert.equal(
    render('gloo', 'request-duration'),
    'histogram_quantile(0.99,sum(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"test-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",}[1m])) by (le))',
  );
});
