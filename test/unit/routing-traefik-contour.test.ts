// The traefik and contour providers' pure parts: the objects their routers write for each Traffic,
// the routes read back from stored objects, Contour's status as weight verification, their
// capability refusals and their built-in queries rendered (Flagger v1.44's, token for token).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { builtinQuery } from '../../src/analysis/builtin.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { desiredProxy, proxyNotTaken, readProxyTraffic } from '../../src/routing/contour/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { desiredTraefikService, readTraefikTraffic } from '../../src/routing/traefik/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

function target(spec: Record<string, unknown> = {}, analysis: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({ service: spec, analysis });
}

test('traefik: init has only the primary entry, a step both, and the weights read back', () => {
  const t = target({ apex: { labels: { team: 'a' } } });
  const init = desiredTraefikService(t, { primary: 100, canary: 0 });
  assert.deepEqual(init.spec, {
    weighted: { services: [{ name: 'podinfo-primary', namespace: 'test', port: 9898, weight: 100 }] },
  });
  assert.equal(init.metadata?.labels?.team, 'a', "spec.service.apex's labels, as Flagger copies them");
  assert.equal(init.metadata?.labels?.['app.kubernetes.io/managed-by'], 'weir');
  assert.deepEqual(readTraefikTraffic(init, t), { primary: 100, canary: 0 });
  const step = desiredTraefikService(t, { primary: 80, canary: 20 });
  assert.deepEqual(
    (step.spec as { weighted: { services: Array<{ name: string; weight: number }> } }).weighted.services.map(
      (s) => [s.name, s.weight],
    ),
    [
      ['podinfo-primary', 80],
      ['podinfo-canary', 20],
    ],
  );
  assert.deepEqual(readTraefikTraffic(step, t), { primary: 80, canary: 20 });
  assert.deepEqual(readTraefikTraffic({ spec: { weighted: { services: [] } } }, t), {
    primary: 0,
    canary: 0,
  });
});

test('contour: one prefix route with Flagger timeout/retry policy and l5d-dst-override headers', () => {
  const t = target({ timeout: '15s', retries: { attempts: 3, perTryTimeout: '5s', retryOn: '5xx, reset' } });
  const proxy = desiredProxy(t, { primary: 90, canary: 10 });
  assert.equal(proxy.apiVersion, 'projectcontour.io/v1');
  assert.equal((proxy.spec as Record<string, unknown>).virtualhost, undefined, 'included by a root proxy');
  assert.deepEqual(proxy.spec, {
    routes: [
      {
        conditions: [{ prefix: '/' }],
        timeoutPolicy: { response: '15s', idle: '5m' },
        retryPolicy: { count: 3, perTryTimeout: '5s', retryOn: ['5xx', 'reset'] },
        services: [
          {
            name: 'podinfo-primary',
            port: 9898,
            weight: 90,
            requestHeadersPolicy: {
              set: [{ name: 'l5d-dst-override', value: 'podinfo-primary.test.svc.cluster.local:9898' }],
            },
          },
          {
            name: 'podinfo-canary',
            port: 9898,
            weight: 10,
            requestHeadersPolicy: {
              set: [{ name: 'l5d-dst-override', value: 'podinfo-canary.test.svc.cluster.local:9898' }],
            },
          },
        ],
      },
    ],
  });
  assert.deepEqual(readProxyTraffic(proxy, t), { primary: 90, canary: 10 });
});

test('contour A/B: one route per match entry (its headers ANDed) to the canary, then the default route', () => {
  const t = target(
    {},
    {
      iterations: 3,
      match: [
        { headers: { 'x-canary': { exact: 'insider' }, 'user-agent': { regex: '.*Firefox.*' } } },
        { headers: { cookie: { suffix: 'canary=always' }, 'x-tier': { prefix: 'beta.' } } },
      ],
    },
  );
  const proxy = desiredProxy(t, { primary: 100, canary: 0, match: true });
  type R = { conditions: unknown[]; services: Array<{ name: string; weight: number }> };
  const routes = (proxy.spec as { routes: R[] }).routes;
  assert.equal(routes.length, 3);
  assert.deepEqual(routes[0]!.conditions, [
    { prefix: '/' },
    { header: { name: 'x-canary', exact: 'insider' } },
    { header: { name: 'user-agent', regex: '.*Firefox.*' } },
  ]);
  assert.deepEqual(routes[1]!.conditions, [
    { prefix: '/' },
    { header: { name: 'cookie', regex: '.*canary=always' } },
    { header: { name: 'x-tier', regex: 'beta\\..*' } },
  ]);
  for (const r of routes.slice(0, 2))
    assert.deepEqual(
      r.services.map((s) => s.weight),
      [0, 100],
    );
  assert.deepEqual(routes[2]!.conditions, [{ prefix: '/' }]);
  assert.deepEqual(readProxyTraffic(proxy, t), { primary: 100, canary: 0, match: true });
  // After the run: the A/B routes are gone.
  assert.equal((desiredProxy(t, { primary: 100, canary: 0 }).spec as { routes: R[] }).routes.length, 1);
});

test('contour weight verification: Valid for an older generation or not True holds the step', () => {
  const proxy = (generation: number, status?: Record<string, unknown>) => ({
    metadata: { name: 'podinfo', namespace: 'test', generation },
    ...(status ? { status } : {}),
  });
  assert.equal(proxyNotTaken(proxy(2)), undefined, 'no Contour running: nothing holds');
  assert.equal(
    proxyNotTaken(
      proxy(2, {
        currentStatus: 'valid',
        conditions: [{ type: 'Valid', status: 'True', observedGeneration: 2 }],
      }),
    ),
    undefined,
  );
  assert.match(
    proxyNotTaken(
      proxy(3, {
        currentStatus: 'valid',
        conditions: [{ type: 'Valid', status: 'True', observedGeneration: 2 }],
      }),
    ) ?? '',
    /HTTPProxy test\/podinfo: Contour has seen generation 2, not the current 3/,
  );
  assert.match(
    proxyNotTaken(
      proxy(3, {
        currentStatus: 'orphaned',
        description: 'this HTTPProxy is not part of a delegation chain from a root HTTPProxy',
        conditions: [{ type: 'Valid', status: 'False', reason: 'Orphaned', observedGeneration: 3 }],
      }),
    ) ?? '',
    /HTTPProxy test\/podinfo is orphaned \(this HTTPProxy is not part of a delegation chain/,
  );
});

test('capabilities: traefik refuses A/B and mirroring, contour refuses query matching and mirroring', () => {
  const spec = (analysis: Record<string, unknown>) =>
    ({ targetRef: { name: 'a' }, service: { port: 80 }, analysis }) as unknown as CanarySpec;
  const ab = spec({ iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] });
  assert.deepEqual(
    capabilityProblems(ab, 'traefik').map((p) => `${p.path}: ${p.message}`),
    ['spec.analysis.match[0].headers.x-canary: provider traefik does not support header matching (A/B)'],
  );
  assert.deepEqual(capabilityProblems(ab, 'contour'), []);
  for (const p of ['traefik', 'contour'])
    assert.deepEqual(
      capabilityProblems(spec({ stepWeight: 10, maxWeight: 50, mirror: true }), p).map((x) => x.path),
      ['spec.analysis.mirror'],
    );
  assert.deepEqual(
    capabilityProblems(
      spec({ iterations: 2, match: [{ queryParams: { v: { exact: '2' } } }] }),
      'contour',
    ).map((x) => x.path),
    ['spec.analysis.match[0].queryParams'],
  );
  assert.deepEqual(capabilityProblems(spec({ iterations: 2 }), 'traefik'), [], 'blue/green');
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
  const ts = 'service=~"test-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd"';
  assert.equal(
    render('traefik', 'request-success-rate'),
    `sum(rate(traefik_service_request_duration_seconds_bucket{${ts},code!~"5..",le="+Inf"}[1m])) / sum(rate(traefik_service_request_duration_seconds_bucket{${ts},le="+Inf"}[1m])) * 100`,
  );
  assert.equal(
    render('traefik', 'request-duration'),
    `histogram_quantile(0.99,sum(rate(traefik_service_request_duration_seconds_bucket{${ts}}[1m])) by (le)) * 1000`,
  );
  const ec = 'envoy_cluster_name=~"test_podinfo-canary_[0-9a-zA-Z-]+"';
  assert.equal(
    render('contour', 'request-success-rate'),
    `sum(rate(envoy_cluster_upstream_rq{${ec},envoy_response_code!~"5.*"}[1m])) / sum(rate(envoy_cluster_upstream_rq{${ec},}[1m])) * 100`,
  );
  assert.equal(
    render('contour', 'request-duration'),
    `histogram_quantile(0.99,sum(rate(envoy_cluster_upstream_rq_time_bucket{${ec},}[1m])) by (le))`,
  );
});
