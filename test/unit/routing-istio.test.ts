// The istio provider's pure parts: the VirtualService and DestinationRules its router writes for each
// Traffic (Flagger v1.44's shape: routing by host, no subsets), the routes read back, istiod's status
// as weight verification, its capabilities and its built-in queries rendered token for token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinQuery } from '../../src/analysis/builtin.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import {
  desiredDestinationRule,
  desiredVirtualService,
  readVirtualServiceTraffic,
  virtualServiceNotTaken,
} from '../../src/routing/istio/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

function target(service: Record<string, unknown> = {}, analysis: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({ service, analysis });
}

const dest = (host: string, weight: number) => ({ destination: { host }, weight });

test('istio: hosts, gateways and the service fields as Flagger maps them; weights read back', () => {
  const t = target({
    hosts: ['app.example.com'],
    gateways: ['public-gateway.istio-system.svc.cluster.local'],
    timeout: '30s',
    retries: { attempts: 3, perTryTimeout: '1s', retryOn: 'gateway-error' },
    headers: { request: { add: { 'x-a': '1' } }, response: { remove: ['x-b'] } },
    apex: { labels: { team: 'a' }, annotations: { note: 'n' } },
  });
  const vs = desiredVirtualService(t, { primary: 80, canary: 20 });
  assert.deepEqual(vs.spec, {
    hosts: ['app.example.com', 'podinfo'],
    gateways: ['public-gateway.istio-system.svc.cluster.local'],
    http: [
      {
        headers: { request: { add: { 'x-a': '1' } }, response: { remove: ['x-b'] } },
        timeout: '30s',
        retries: { attempts: 3, perTryTimeout: '1s', retryOn: 'gateway-error' },
        route: [dest('podinfo-primary', 80), dest('podinfo-canary', 20)],
      },
    ],
  });
  assert.equal(vs.apiVersion, 'networking.istio.io/v1beta1');
  assert.equal(vs.metadata?.labels?.team, 'a');
  assert.equal(vs.metadata?.labels?.['weir.dev/canary'], 'podinfo');
  assert.equal(vs.metadata?.annotations?.note, 'n');
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 80, canary: 20 });
  // No gateways: the mesh; `*` among the hosts: the apex is not added.
  const mesh = desiredVirtualService(target({ hosts: ['*'] }), { primary: 100, canary: 0 });
  assert.deepEqual((mesh.spec as { gateways: string[] }).gateways, ['mesh']);
  assert.deepEqual((mesh.spec as { hosts: string[] }).hosts, ['*']);
});

test('istio: DestinationRules name their own host, without subsets', () => {
  const dr = desiredDestinationRule(target(), 'podinfo-canary');
  assert.equal(dr.kind, 'DestinationRule');
  assert.equal(dr.metadata?.name, 'podinfo-canary');
  assert.deepEqual(dr.spec, { host: 'podinfo-canary' });
});

test('istio: A/B puts a match rule to the canary before the weighted rule; suffix becomes a regex', () => {
  const t = target(
    {},
    {
      iterations: 5,
      match: [
        { headers: { 'x-canary': { exact: 'insider' }, 'user-agent': { suffix: 'Firefox.x' } } },
        {
          headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
          queryParams: { v: { prefix: '2' } },
        },
        { sourceLabels: { app: 'frontend' } },
      ],
    },
  );
  const vs = desiredVirtualService(t, { primary: 100, canary: 0, match: true });
  const http = (vs.spec as { http: Array<Record<string, unknown>> }).http;
  assert.equal(http.length, 2);
  assert.deepEqual(http[0]!.match, [
    { headers: { 'x-canary': { exact: 'insider' }, 'user-agent': { regex: '.*Firefox\\.x' } } },
    { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } }, queryParams: { v: { prefix: '2' } } },
    { sourceLabels: { app: 'frontend' } },
  ]);
  assert.deepEqual(http[0]!.route, [dest('podinfo-primary', 0), dest('podinfo-canary', 100)]);
  assert.deepEqual(http[1]!.route, [dest('podinfo-primary', 100), dest('podinfo-canary', 0)]);
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 100, canary: 0, match: true });
  assert.deepEqual(capabilityProblems(t.spec, 'istio'), []);
});

test('istio: mirroring sets mirror and mirrorPercentage on the weighted rule', () => {
  const t = target({}, { iterations: 3, mirror: true, mirrorWeight: 25 });
  const vs = desiredVirtualService(t, { primary: 100, canary: 0, mirror: true });
  const http = (vs.spec as { http: Array<Record<string, unknown>> }).http;
  assert.deepEqual(http[0]!.mirror, { host: 'podinfo-canary' });
  assert.deepEqual(http[0]!.mirrorPercentage, { value: 25 });
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 100, canary: 0, mirror: true });
  const off = desiredVirtualService(t, { primary: 100, canary: 0 });
  assert.equal((off.spec as { http: Array<Record<string, unknown>> }).http[0]!.mirror, undefined);
  assert.deepEqual(capabilityProblems(t.spec, 'istio'), []);
});

test("istio: istiod's Reconciled status holds the step; no status holds nothing", () => {
  const vs = (generation: number, status?: unknown) => ({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name: 'podinfo', namespace: 'test', generation },
    ...(status ? { status } : {}),
  });
  assert.equal(virtualServiceNotTaken(vs(2)), undefined);
  assert.equal(
    virtualServiceNotTaken(
      vs(2, { observedGeneration: '2', conditions: [{ type: 'Reconciled', status: 'True' }] }),
    ),
    undefined,
  );
  assert.match(
    virtualServiceNotTaken(
      vs(3, { observedGeneration: '2', conditions: [{ type: 'Reconciled', status: 'True' }] }),
    )!,
    /seen generation 2, not the current 3/,
  );
  assert.match(
    virtualServiceNotTaken(
      vs(2, {
        observedGeneration: 2,
        conditions: [{ type: 'Reconciled', status: 'False', message: '1/2 proxies' }],
      }),
    )!,
    /not reconciled by istiod \(1\/2 proxies\)/,
  );
});

test("istio: built-in queries are Flagger's, rendered for the canary workload", () => {
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
  const render = (m: string) => renderQuery(builtinQuery('istio', m), ctx);
  const sel = 'reporter="destination",destination_workload_namespace="test",destination_workload=~"podinfo"';
  assert.equal(
    render('request-success-rate'),
    `sum(rate(istio_requests_total{${sel},response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{${sel}}[1m])) * 100`,
  );
  assert.equal(
    render('request-duration'),
    `histogram_quantile(0.99,sum(rate(istio_request_duration_milliseconds_bucket{${sel}}[1m])) by (le))`,
  );
});
