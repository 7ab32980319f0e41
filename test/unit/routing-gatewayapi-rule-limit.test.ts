// Gateway API's 16-rule cap on an HTTPRoute: the lint counts the rules the router would write (A/B
// match entries or step routes in force, cookie rules, the default) and refuses a spec above the cap,
// naming the field where it first goes over. The counts are checked against desiredRoute() itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Obj } from '../../src/kube/client.ts';
import type { StepRoute } from '../../src/vocab/traffic.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { desiredRoute } from '../../src/routing/gatewayapi/router.ts';
import { MAX_HTTPROUTE_RULES } from '../../src/routing/gatewayapi/rule-limit.ts';
import { podinfoTarget } from './route-target-kit.ts';

const target = (analysis: Record<string, unknown>) =>
  podinfoTarget({ service: { gatewayRefs: [{ name: 'gw' }] }, analysis: { interval: '30s', ...analysis } });
const limitProblems = (analysis: Record<string, unknown>) =>
  capabilityProblems(target(analysis).spec, 'gatewayapi').filter((p) => /rules/.test(p.message));
const rulesOf = (route: Obj) => (route.spec as { rules: unknown[] }).rules.length;
const matches = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ headers: { 'x-user': { exact: `u${i}` } } }));
const headerStep = (name: string, on = true) => ({
  setHeaderRoute: {
    name,
    ...(on ? { match: [{ headerName: 'x-beta', headerValue: { exact: name } }] } : {}),
  },
});

test('A/B: 15 match entries fit (16 rules with the default), 16 do not', () => {
  const fits = target({ iterations: 5, match: matches(15) });
  assert.equal(rulesOf(desiredRoute(fits, { primary: 100, canary: 0, match: true })), MAX_HTTPROUTE_RULES);
  assert.deepEqual(limitProblems({ iterations: 5, match: matches(15) }), []);
  const problems = limitProblems({ iterations: 5, match: matches(16) });
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.path, 'spec.analysis.match');
  assert.match(problems[0]!.message, /would need 17 rules .*more than the 16/);
});

test('steps: the routes in force count, not every route ever named; the step that goes over is named', () => {
  const names = Array.from({ length: 16 }, (_, i) => `r${i}`);
  const routes: StepRoute[] = names.slice(0, 15).map((name) => ({
    name,
    headers: [{ headerName: 'x-beta', headerValue: { exact: name } }],
  }));
  const at15 = desiredRoute(target({ steps: [{ setWeight: 10 }] }), { primary: 90, canary: 10, routes });
  assert.equal(rulesOf(at15), MAX_HTTPROUTE_RULES, '15 step routes and the default');

  const sixteen = names.map((n) => headerStep(n));
  const problems = limitProblems({ steps: [{ setWeight: 10 }, ...sixteen] });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['spec.analysis.steps[16]'],
  );
  // Added and removed one after another: never more than one in force.
  const oneAtATime = names.flatMap((n) => [headerStep(n), headerStep(n, false)]);
  assert.deepEqual(limitProblems({ steps: [{ setWeight: 10 }, ...oneAtATime] }), []);
});

test('session affinity takes two rules of the sixteen', () => {
  const sa = { cookieName: 'canary-session', maxAge: 3600 };
  const thirteen = Array.from({ length: 13 }, (_, i) => headerStep(`r${i}`));
  assert.deepEqual(limitProblems({ sessionAffinity: sa, steps: [{ setWeight: 10 }, ...thirteen] }), []);
  const fourteen = [...thirteen, headerStep('r13')];
  const problems = limitProblems({ sessionAffinity: sa, steps: [{ setWeight: 10 }, ...fourteen] });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /17 rules .*2 session-affinity rules/);
});
