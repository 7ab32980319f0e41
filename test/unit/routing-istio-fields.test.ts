// The istio provider's spec.service fields and session affinity (Flagger v1.44's istio router):
// match, rewrite, corsPolicy and trafficPolicy where Flagger puts them, delegation, appProtocol tcp,
// the session-affinity cookie rules at each weight, and the refusals (schema and capabilities)
// naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Obj } from '../../src/kube/client.ts';
import { validateObject } from '../../src/api/validate.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { mergeMatches } from '../../src/routing/istio/match.ts';
import {
  nextCookies,
  setCookie,
  storedCookies,
  COOKIE_ANNOTATIONS,
} from '../../src/routing/session-affinity.ts';
import {
  desiredDestinationRule,
  desiredVirtualService,
  managedVirtualServiceSpec,
  readVirtualServiceTraffic,
} from '../../src/routing/istio/virtual-service.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

function target(service: Record<string, unknown> = {}, analysis: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({ service, analysis: { interval: '30s', stepWeights: [10, 50], ...analysis } });
}

type Rule = Record<string, unknown> & { route: Array<Record<string, unknown>> };
const rules = (vs: Obj) => (vs.spec as { http: Rule[] }).http;
const dest = (host: string, weight: number) => ({ destination: { host }, weight });

test('istio: match, rewrite, corsPolicy, timeout, retries and headers on every rule, as Flagger', () => {
  const t = target(
    {
      match: [{ uri: { prefix: '/api' }, method: { exact: 'GET' } }, { uri: { suffix: '.json' } }],
      rewrite: { uri: '/', authority: 'backend.example.com' },
      corsPolicy: {
        allowOrigins: [{ exact: 'https://example.com' }, { suffix: '.example.org' }],
        allowMethods: ['GET', 'POST'],
        maxAge: '24h',
        allowCredentials: true,
      },
      timeout: '10s',
      headers: { response: { set: { 'x-served-by': 'weir' } } },
    },
    { stepWeights: undefined, iterations: 3, match: [{ headers: { 'x-canary': { exact: 'yes' } } }] },
  );
  const vs = desiredVirtualService(t, { primary: 100, canary: 0, match: true });
  const http = rules(vs);
  assert.equal(http.length, 2);
  const common = {
    rewrite: { uri: '/', authority: 'backend.example.com' },
    corsPolicy: {
      allowOrigins: [{ exact: 'https://example.com' }, { regex: '.*\\.example\\.org' }],
      allowMethods: ['GET', 'POST'],
      maxAge: '24h',
      allowCredentials: true,
    },
    timeout: '10s',
    headers: { response: { set: { 'x-served-by': 'weir' } } },
  };
  // The A/B rule: each analysis match within each service match (its headers added).
  assert.deepEqual(http[0], {
    ...common,
    match: [
      { uri: { prefix: '/api' }, method: { exact: 'GET' }, headers: { 'x-canary': { exact: 'yes' } } },
      { uri: { regex: '.*\\.json' }, headers: { 'x-canary': { exact: 'yes' } } },
    ],
    route: [dest('podinfo-primary', 0), dest('podinfo-canary', 100)],
  });
  assert.deepEqual(http[1], {
    ...common,
    match: [{ uri: { prefix: '/api' }, method: { exact: 'GET' } }, { uri: { regex: '.*\\.json' } }],
    route: [dest('podinfo-primary', 100), dest('podinfo-canary', 0)],
  });
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 100, canary: 0, match: true });
  assert.deepEqual(capabilityProblems(t.spec, 'istio'), []);
});

test('istio: merged matches keep the service headers beside the A/B ones', () => {
  const merged = mergeMatches(
    [{ headers: { 'x-canary': { exact: 'yes' } }, queryParams: { v: { exact: '2' } } }],
    [{ uri: { prefix: '/' }, headers: { 'x-tenant': { exact: 'a' } } }],
  );
  assert.deepEqual(merged, [
    {
      uri: { prefix: '/' },
      headers: { 'x-tenant': { exact: 'a' }, 'x-canary': { exact: 'yes' } },
      queryParams: { v: { exact: '2' } },
    },
  ]);
});

test('istio: trafficPolicy is copied to both DestinationRules', () => {
  const trafficPolicy = {
    loadBalancer: { simple: 'LEAST_REQUEST' },
    tls: { mode: 'ISTIO_MUTUAL' },
  };
  const t = target({ trafficPolicy });
  for (const host of ['podinfo-primary', 'podinfo-canary'])
    assert.deepEqual(desiredDestinationRule(t, host).spec, { host, trafficPolicy });
});

test('istio: delegation writes no hosts and no gateways; the schema refuses them together', () => {
  const vs = desiredVirtualService(target({ delegation: true }), { primary: 90, canary: 10 });
  const spec = vs.spec as Record<string, unknown>;
  assert.equal(spec.hosts, undefined);
  assert.equal(spec.gateways, undefined);
  assert.deepEqual(readVirtualServiceTraffic(vs, target({ delegation: true })), { primary: 90, canary: 10 });
  const { problems } = validateObject(
    canary({ service: { port: 80, delegation: true, hosts: ['a.example.com'] } }),
  );
  assert.ok(
    problems.some((p) => p.path === 'spec.service.delegation' && /no hosts or gateways/.test(p.message)),
    JSON.stringify(problems),
  );
});

test('istio: appProtocol tcp is one tcp route on the ports of service.match; HTTP fields refused', () => {
  const t = target({ appProtocol: 'TCP', match: [{ port: 5432 }] });
  const vs = desiredVirtualService(t, { primary: 70, canary: 30 });
  assert.deepEqual(vs.spec, {
    hosts: ['podinfo'],
    gateways: ['mesh'],
    tcp: [{ match: [{ port: 5432 }], route: [dest('podinfo-primary', 70), dest('podinfo-canary', 30)] }],
  });
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 70, canary: 30 });
  assert.deepEqual(capabilityProblems(t.spec, 'istio'), []);
  const bad = target(
    { appProtocol: 'tcp', timeout: '5s', match: [{ port: 5432, uri: { prefix: '/' } }] },
    { sessionAffinity: { cookieName: 'c' } },
  );
  assert.deepEqual(
    capabilityProblems(bad.spec, 'istio').map((p) => p.path),
    ['spec.service.timeout', 'spec.analysis.sessionAffinity', 'spec.service.match[0].uri'],
  );
});

test('istio: session affinity, weight > 0: sticky canary and primary rules, Set-Cookie on the weighted routes', () => {
  const sa = {
    cookieName: 'canary-session',
    primaryCookieName: 'primary-session',
    maxAge: 3600,
    domain: 'example.com',
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'Lax',
  };
  const t = target({ match: [{ uri: { prefix: '/' } }] }, { sessionAffinity: sa });
  let n = 0;
  const cookies = nextCookies(t.spec.analysis.sessionAffinity!, {}, { primary: 90, canary: 10 }, () =>
    n++ ? 'PrimaryVal' : 'CanaryValu',
  );
  assert.deepEqual(cookies, { canary: 'canary-session=CanaryValu', primary: 'primary-session=PrimaryVal' });
  const vs = desiredVirtualService(t, { primary: 90, canary: 10 }, cookies);
  const http = rules(vs);
  assert.deepEqual(
    http.map((r) => r.name),
    ['weir-sticky-canary', 'weir-sticky-primary', undefined],
  );
  assert.deepEqual(http[0]!.match, [
    { uri: { prefix: '/' }, headers: { cookie: { regex: '.*canary-session.*CanaryValu.*' } } },
  ]);
  assert.deepEqual(http[0]!.route, [dest('podinfo-primary', 0), dest('podinfo-canary', 100)]);
  assert.deepEqual(http[1]!.route, [dest('podinfo-primary', 100), dest('podinfo-canary', 0)]);
  assert.deepEqual(http[2]!.route, [
    {
      ...dest('podinfo-primary', 90),
      headers: {
        response: {
          add: {
            'Set-Cookie':
              'primary-session=PrimaryVal; Max-Age=30; Domain=example.com; HttpOnly; Path=/; SameSite=Lax; Secure',
          },
        },
      },
    },
    {
      ...dest('podinfo-canary', 10),
      headers: {
        response: {
          add: {
            'Set-Cookie':
              'canary-session=CanaryValu; Max-Age=3600; Domain=example.com; HttpOnly; Path=/; SameSite=Lax; Secure',
          },
        },
      },
    },
  ]);
  // The routes read back are the weighted rule's; the cookie rules are not an A/B match.
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 90, canary: 10 });
  // The cookies live on the VirtualService and are kept at the next step.
  assert.deepEqual(storedCookies(vs), cookies);
  assert.deepEqual(
    nextCookies(t.spec.analysis.sessionAffinity!, storedCookies(vs), { primary: 50, canary: 50 }, () => 'x'),
    cookies,
  );
  assert.deepEqual(capabilityProblems(t.spec, 'istio'), []);
});

test('istio: session affinity at weight 0 expires the run cookie; a new run gets a new one', () => {
  const sa = { cookieName: 'canary-session' };
  const t = target({ headers: { response: { set: { a: 'b' } } } }, { sessionAffinity: sa });
  const run = { canary: 'canary-session=OldOldOldx' };
  const done = nextCookies(sa, run, { primary: 100, canary: 0 });
  assert.deepEqual(done, { previous: 'canary-session=OldOldOldx' });
  const vs = desiredVirtualService(t, { primary: 100, canary: 0 }, done);
  const http = rules(vs);
  assert.equal(http.length, 2);
  assert.equal(http[0]!.name, 'weir-expire-cookie');
  assert.deepEqual(http[0]!.headers, {
    response: { set: { a: 'b' }, add: { 'Set-Cookie': 'canary-session=OldOldOldx; Max-Age=-1' } },
  });
  assert.deepEqual(http[0]!.route, [dest('podinfo-primary', 100), dest('podinfo-canary', 0)]);
  assert.deepEqual(http[1]!.route, [dest('podinfo-primary', 100), dest('podinfo-canary', 0)]);
  assert.deepEqual(readVirtualServiceTraffic(vs, t), { primary: 100, canary: 0 });
  assert.equal(vs.metadata?.annotations?.[COOKIE_ANNOTATIONS.previous], 'canary-session=OldOldOldx');
  const next = nextCookies(sa, storedCookies(vs), { primary: 90, canary: 10 }, () => 'NewNewNewx');
  assert.deepEqual(next, { canary: 'canary-session=NewNewNewx', previous: 'canary-session=OldOldOldx' });
  assert.equal(rules(desiredVirtualService(t, { primary: 90, canary: 10 }, next)).length, 2);
  assert.equal(setCookie(sa, 'c=v', 86400), 'c=v; Max-Age=86400');
});

test('istio: a field Weir no longer writes counts as a difference, one written by others does not', () => {
  const stored = {
    hosts: ['podinfo'],
    exportTo: ['.'],
    http: [{ corsPolicy: { allowMethods: ['GET'] }, route: [{ ...dest('podinfo-primary', 100), extra: 1 }] }],
  };
  assert.deepEqual(managedVirtualServiceSpec(stored), {
    hosts: ['podinfo'],
    http: [{ corsPolicy: { allowMethods: ['GET'] }, route: [dest('podinfo-primary', 100)] }],
  });
});

function canary(spec: Record<string, unknown>) {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 80 },
      analysis: { interval: '1m', stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  };
}

test('istio: the schema refuses session affinity without weighted steps and a shared cookie name', () => {
  const bg = validateObject(
    canary({ analysis: { interval: '1m', iterations: 3, sessionAffinity: { cookieName: 'c' } } }),
  );
  assert.ok(
    bg.problems.some((p) => p.path === 'spec.analysis.sessionAffinity' && /weighted steps/.test(p.message)),
    JSON.stringify(bg.problems),
  );
  const same = validateObject(
    canary({
      analysis: {
        interval: '1m',
        stepWeight: 10,
        maxWeight: 50,
        sessionAffinity: { cookieName: 'c', primaryCookieName: 'c' },
      },
    }),
  );
  assert.ok(
    same.problems.some((p) => p.path === 'spec.analysis.sessionAffinity.primaryCookieName'),
    JSON.stringify(same.problems),
  );
  const badName = validateObject(
    canary({
      analysis: { interval: '1m', stepWeight: 10, maxWeight: 50, sessionAffinity: { cookieName: 'a;b' } },
    }),
  );
  assert.ok(badName.problems.some((p) => p.path.startsWith('spec.analysis.sessionAffinity.cookieName')));
});

test('istio: other providers refuse the istio-only fields and session affinity, naming them', () => {
  const spec = target(
    {
      trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
      corsPolicy: { allowMethods: ['GET'] },
      delegation: false,
    },
    { sessionAffinity: { cookieName: 'c' } },
  ).spec;
  const problems = capabilityProblems(spec, 'traefik');
  assert.deepEqual(
    problems.map((p) => p.path),
    ['spec.analysis.sessionAffinity', 'spec.service.corsPolicy', 'spec.service.trafficPolicy'],
  );
  assert.match(
    problems[1]!.message,
    /provider traefik does not support spec\.service\.corsPolicy \(only istio\)/,
  );
  assert.deepEqual(capabilityProblems(spec, 'istio'), []);
});
