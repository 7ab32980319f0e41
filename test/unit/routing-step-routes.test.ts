// setHeaderRoute/setMirrorRoute steps in the routers: gatewayapi adds named HTTPRoute rules and
// istio named http routes before the weighted one; the routes read back are those asked (the A/B
// flag stays off); a deleted rule reads as missing (drift); other providers refuse the steps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Obj } from '../../src/kube/client.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { desiredRoute, readTraffic } from '../../src/routing/gatewayapi/router.ts';
import { desiredVirtualService, readVirtualServiceTraffic } from '../../src/routing/istio/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { sameTraffic, type StepRoute, type Traffic } from '../../src/vocab/traffic.ts';
import { podinfoTarget } from './route-target-kit.ts';

const beta: StepRoute = {
  name: 'beta',
  headers: [
    { headerName: 'x-beta', headerValue: { exact: '1' } },
    { headerName: 'x-tier', headerValue: { prefix: 'gold.' } },
  ],
};
const shadow: StepRoute = {
  name: 'shadow',
  mirror: {
    percentage: 20,
    match: [{ method: { exact: 'GET' }, path: { prefix: '/api' } }, { headers: { 'x-m': { regex: 'a+' } } }],
  },
};
const traffic: Traffic = { primary: 70, canary: 30, routes: [beta, shadow] };

function target(service: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({
    service: { gatewayRefs: [{ name: 'gw' }], ...service },
    analysis: {
      interval: '30s',
      steps: [
        { setHeaderRoute: { name: 'beta' } },
        { setMirrorRoute: { name: 'shadow' } },
        { setWeight: 30 },
      ],
    },
  });
}

type Rule = Record<string, unknown> & {
  name?: string;
  backendRefs?: Array<{ name: string; weight: number }>;
};
const weights = (r: Rule | undefined) => r?.backendRefs?.map((b) => `${b.name}=${b.weight}`).join(' ');
const withoutRule = (obj: Obj, key: 'rules' | 'http', name: string): Obj => {
  const spec = obj.spec as Record<string, Rule[]>;
  return { ...obj, spec: { ...spec, [key]: spec[key]!.filter((r) => r.name !== name) } };
};

test('gatewayapi: a header rule to the canary and a mirror rule with the split, before the weighted rule', () => {
  const t = target({ timeout: '5s' });
  const route = desiredRoute(t, traffic);
  const rules = (route.spec as { rules: Rule[] }).rules;
  assert.deepEqual(
    rules.map((r) => r.name),
    ['weir-step-beta', 'weir-step-shadow', undefined],
  );
  assert.deepEqual(rules[0]!.matches, [
    {
      headers: [
        { type: 'Exact', name: 'x-beta', value: '1' },
        { type: 'RegularExpression', name: 'x-tier', value: '^gold\\..*' },
      ],
    },
  ]);
  assert.equal(weights(rules[0]), 'podinfo-primary=0 podinfo-canary=100');
  assert.deepEqual(rules[1]!.matches, [
    { path: { type: 'PathPrefix', value: '/api' }, method: 'GET' },
    { headers: [{ type: 'RegularExpression', name: 'x-m', value: 'a+' }] },
  ]);
  assert.deepEqual(rules[1]!.filters, [
    {
      type: 'RequestMirror',
      requestMirror: {
        backendRef: { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898 },
        percent: 20,
      },
    },
  ]);
  assert.equal(weights(rules[1]), 'podinfo-primary=70 podinfo-canary=30', 'mirrored requests keep the split');
  assert.equal(weights(rules[2]), 'podinfo-primary=70 podinfo-canary=30');
  for (const r of rules) assert.deepEqual(r.timeouts, { request: '5s' });

  assert.deepEqual(readTraffic(route, t), traffic, 'read back as asked, not as A/B match');
  const ruleDeleted = readTraffic(withoutRule(route, 'rules', 'weir-step-beta'), t);
  assert.deepEqual(ruleDeleted, { primary: 70, canary: 30, routes: [shadow] });
  assert.ok(!sameTraffic(ruleDeleted, traffic), 'a deleted step rule is drift');
  const ended = desiredRoute(t, { primary: 100, canary: 0 });
  assert.equal((ended.spec as { rules: Rule[] }).rules.length, 1, 'no routes: the weighted rule alone');
  assert.deepEqual(readTraffic(ended, t), { primary: 100, canary: 0 });
  assert.deepEqual(capabilityProblems(t.spec, 'gatewayapi'), []);
});

test('istio: named http routes first, within spec.service.match; mirror with mirrorPercentage', () => {
  const t = target({ match: [{ uri: { prefix: '/shop' } }], timeout: '5s' });
  const vs = desiredVirtualService(t, traffic);
  const http = (vs.spec as { http: Rule[] }).http;
  assert.deepEqual(
    http.map((r) => r.name),
    ['weir-step-beta', 'weir-step-shadow', undefined],
  );
  assert.deepEqual(http[0]!.match, [
    { uri: { prefix: '/shop' }, headers: { 'x-beta': { exact: '1' }, 'x-tier': { prefix: 'gold.' } } },
  ]);
  assert.deepEqual(http[0]!.route, [
    { destination: { host: 'podinfo-primary' }, weight: 0 },
    { destination: { host: 'podinfo-canary' }, weight: 100 },
  ]);
  assert.deepEqual(http[1]!.match, [
    { uri: { prefix: '/api' }, method: { exact: 'GET' } },
    { uri: { prefix: '/shop' }, headers: { 'x-m': { regex: 'a+' } } },
  ]);
  assert.deepEqual(http[1]!.mirror, { host: 'podinfo-canary' });
  assert.deepEqual(http[1]!.mirrorPercentage, { value: 20 });
  assert.deepEqual(
    (http[1]!.route as Array<{ weight: number }>).map((d) => d.weight),
    [70, 30],
  );
  for (const r of http) assert.equal(r.timeout, '5s');
  assert.deepEqual(readVirtualServiceTraffic(vs, t), traffic, 'read back as asked, not as A/B match');
  const ruleDeleted = readVirtualServiceTraffic(withoutRule(vs, 'http', 'weir-step-shadow'), t);
  assert.deepEqual(ruleDeleted, { primary: 70, canary: 30, routes: [beta] });
  assert.deepEqual(capabilityProblems(t.spec, 'istio'), []);
  assert.deepEqual(
    capabilityProblems(target({ appProtocol: 'tcp' }).spec, 'istio').map((p) => p.path),
    ['spec.analysis.steps[0].setHeaderRoute', 'spec.analysis.steps[1].setMirrorRoute'],
  );
});

test('providers without step routes refuse the steps, naming them; gatewayapi refuses a method it cannot match', () => {
  const t = target();
  for (const provider of ['nginx', 'traefik', 'kubernetes'])
    assert.deepEqual(
      capabilityProblems(t.spec, provider)
        .filter((p) => p.path.startsWith('spec.analysis.steps['))
        .map((p) => `${p.path}: ${p.message}`),
      [
        `spec.analysis.steps[0].setHeaderRoute: provider ${provider} does not support setHeaderRoute steps (only gatewayapi, istio)`,
        `spec.analysis.steps[1].setMirrorRoute: provider ${provider} does not support setMirrorRoute steps (only gatewayapi, istio)`,
      ],
    );
  const regexMethod = podinfoTarget({
    analysis: {
      interval: '30s',
      steps: [
        { setMirrorRoute: { name: 'm', match: [{ path: { exact: '/' } }, { method: { prefix: 'G' } }] } },
      ],
    },
  });
  assert.deepEqual(capabilityProblems(regexMethod.spec, 'gatewayapi'), [
    {
      path: 'spec.analysis.steps[0].setMirrorRoute.match[1].method',
      message:
        'provider gatewayapi matches a method exactly, one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH',
    },
  ]);
});

test('sameTraffic: step routes compare by content and order, not key order', () => {
  const reordered: StepRoute = { mirror: shadow.mirror, name: 'shadow' } as StepRoute;
  assert.ok(sameTraffic(traffic, { primary: 70, canary: 30, routes: [beta, reordered] }));
  assert.ok(
    !sameTraffic(traffic, { primary: 70, canary: 30, routes: [shadow, beta] }),
    'order is precedence',
  );
  assert.ok(sameTraffic({ primary: 1, canary: 99, routes: [] }, { primary: 1, canary: 99 }));
});
