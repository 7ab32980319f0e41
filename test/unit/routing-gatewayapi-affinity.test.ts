// Provider gatewayapi's session affinity (Flagger v1.44's gatewayapi router): while the canary has
// weight, sticky rules named weir-sticky-* match the run's cookies and the weighted rule's backends
// hand them out through ResponseHeaderModifier filters; at weight 0 a rule expires the run's cookie;
// the weights and the A/B flag read back ignore those rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Obj } from '../../src/kube/client.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { desiredRoute, readTraffic } from '../../src/routing/gatewayapi/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { nextCookies, storedCookies } from '../../src/routing/session-affinity.ts';
import { podinfoTarget } from './route-target-kit.ts';

function target(analysis: Record<string, unknown> = {}, service: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({
    service: { gatewayRefs: [{ name: 'gw' }], ...service },
    analysis: { interval: '30s', stepWeights: [10, 50], ...analysis },
  });
}

type Backend = { name: string; weight: number; filters?: unknown[] };
type Rule = { name?: string; matches?: unknown[]; filters?: unknown[]; backendRefs: Backend[] };
const rulesOf = (route: Obj) => (route.spec as { rules: Rule[] }).rules;
const weights = (r: Rule) => r.backendRefs.map((b) => `${b.name}=${b.weight}`).join(' ');
const setCookieFilter = (value: string) => ({
  type: 'ResponseHeaderModifier',
  responseHeaderModifier: { add: [{ name: 'Set-Cookie', value }] },
});
const cookieHeader = (value: string) => ({
  headers: [{ type: 'RegularExpression', name: 'Cookie', value }],
});

const SA = { cookieName: 'canary-session', primaryCookieName: 'primary-session', maxAge: 3600 };

test('gatewayapi: session affinity, weight > 0: sticky rules first, Set-Cookie on each backend', () => {
  const t = target({ sessionAffinity: SA }, { timeout: '5s', headers: { request: { set: { a: 'b' } } } });
  let n = 0;
  const cookies = nextCookies(SA, {}, { primary: 90, canary: 10 }, () => (n++ ? 'PrimaryVal' : 'CanaryValu'));
  const route = desiredRoute(t, { primary: 90, canary: 10 }, cookies);
  const rules = rulesOf(route);
  assert.deepEqual(
    rules.map((r) => r.name),
    ['weir-sticky-canary', 'weir-sticky-primary', undefined],
  );
  assert.deepEqual(rules[0]!.matches, [cookieHeader('.*canary-session.*CanaryValu.*')]);
  assert.equal(weights(rules[0]!), 'podinfo-primary=0 podinfo-canary=100');
  assert.deepEqual(rules[1]!.matches, [cookieHeader('.*primary-session.*PrimaryVal.*')]);
  assert.equal(weights(rules[1]!), 'podinfo-primary=100 podinfo-canary=0');
  for (const r of rules) {
    assert.deepEqual(r.filters?.length, 1, 'every rule keeps the request header filter');
    assert.deepEqual((r as { timeouts?: unknown }).timeouts, { request: '5s' });
  }
  const [primary, canary] = rules[2]!.backendRefs;
  assert.deepEqual(canary!.filters, [setCookieFilter('canary-session=CanaryValu; Max-Age=3600')]);
  assert.deepEqual(primary!.filters, [setCookieFilter('primary-session=PrimaryVal; Max-Age=30')]);
  assert.deepEqual(
    rules.slice(0, 2).map((r) => r.backendRefs.some((b) => b.filters)),
    [false, false],
    'sticky rules set no cookie: the browser already has it',
  );

  // The cookies live on the route and are read back; the routes read back are the weighted split.
  assert.deepEqual(storedCookies(route), cookies);
  assert.deepEqual(
    nextCookies(SA, storedCookies(route), { primary: 50, canary: 50 }, () => 'x'),
    cookies,
  );
  assert.deepEqual(readTraffic(route, t), { primary: 90, canary: 10 });
  assert.deepEqual(capabilityProblems(t.spec, 'gatewayapi'), []);
});

test('gatewayapi: session affinity at weight 0 expires the run cookie, and the route reads 100/0', () => {
  const t = target({ sessionAffinity: { cookieName: 'canary-session' } });
  const done = nextCookies(
    t.spec.analysis.sessionAffinity!,
    { canary: 'canary-session=OldOldOldx' },
    {
      primary: 100,
      canary: 0,
    },
  );
  const route = desiredRoute(t, { primary: 100, canary: 0 }, done);
  const rules = rulesOf(route);
  assert.deepEqual(
    rules.map((r) => r.name),
    ['weir-expire-cookie', undefined],
  );
  assert.deepEqual(rules[0]!.matches, [cookieHeader('.*canary-session.*OldOldOldx.*')]);
  assert.deepEqual(rules[0]!.filters, [setCookieFilter('canary-session=OldOldOldx; Max-Age=-1')]);
  assert.equal(weights(rules[0]!), 'podinfo-primary=100 podinfo-canary=0');
  assert.equal(
    rules[1]!.backendRefs.some((b) => b.filters),
    false,
    'no cookie handed out at weight 0',
  );
  assert.deepEqual(readTraffic(route, t), { primary: 100, canary: 0 });
  assert.deepEqual(storedCookies(route), { previous: 'canary-session=OldOldOldx' });
});

test('gatewayapi: an A/B rule still reads as match; no session affinity writes no cookie rules', () => {
  const ab = target({ iterations: 2, stepWeights: undefined, match: [{ headers: { x: { exact: 'y' } } }] });
  const route = desiredRoute(ab, { primary: 100, canary: 0, match: true });
  assert.deepEqual(readTraffic(route, ab), { primary: 100, canary: 0, match: true });
  const plain = desiredRoute(target(), { primary: 80, canary: 20 });
  assert.equal(rulesOf(plain).length, 1);
  assert.equal(JSON.stringify(plain).includes('Set-Cookie'), false);
});
