// Weir's A/B and blue/green runs on the real data plane (issue 11): the HTTPRoutes Weir writes, served
// by real Traefik to real podinfo pods. A/B: every request with the header or the cookie reaches the
// canary and no other does. Blue/green: no ordinary request reaches the new version until promotion,
// then every one does. Session affinity: users holding the run's cookie stay on the canary. A
// confirm-promotion gate holds each run until it has been measured.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { percent, share, type LoadResult } from '../cluster/load.ts';
import { HTTP_ROUTE } from '../../src/routing/gatewayapi/router.ts';
import { storedCookies } from '../../src/routing/session-affinity.ts';
import { waitFor } from '../cluster/proc.ts';
import { httpRouteRoutes } from '../cluster/route-weights.ts';
import { waitForHTTPRouteAccepted } from '../cluster/traefik.ts';
import { startGate, type Gate } from './dataplane-gate.ts';
import {
  assertAnswers,
  by,
  canaryOn,
  initialized,
  measure,
  measurePromoted,
  NEW,
  OLD,
  releasePodinfo,
  startKit,
  untilServed,
  waitServing,
  type Kit,
} from './dataplane-kit.ts';

let k: Kit;
before(async () => {
  k = await startKit('dataplane-strategies');
});
after(async () => k?.stop());

const host = (name: string) => `${name}.dataplane.test`;
const promotionGate = (gate: Gate) => [
  { name: 'measured', type: 'confirm-promotion', url: gate.url, timeout: '5s' },
];

/** Opens the promotion gate; afterwards the promoted primary answers every request. */
async function promotedEverywhere(name: string, gate: Gate, headers: Record<string, string> = {}) {
  gate.open();
  await k.w.waitPhase(name, 'Succeeded', 120_000);
  return measurePromoted(k, name, host(name), 1, headers);
}

test(
  'A/B (gatewayapi): every request with the header or the cookie reaches the canary, no other does',
  { timeout: 240_000 },
  async () => {
    const name = 'ab';
    const gate = await startGate(k.dp.traefik);
    try {
      await initialized(
        k,
        name,
        host(name),
        canaryOn(k, 'gatewayapi', name, host(name), {
          iterations: 2,
          // A browser separates cookies with `; `: the regex allows the space.
          match: [
            { headers: { 'x-canary': { exact: 'insider' } } },
            { headers: { cookie: { regex: '^(.*?;\\s*)?(canary=always)(;.*)?$' } } },
          ],
          webhooks: promotionGate(gate),
        }),
      );
      await releasePodinfo(k, name, NEW);
      await waitServing(k, name, 'canary', NEW);
      await waitFor(
        `${name}: A/B rules written`,
        async () => (await httpRouteRoutes(k.w.kube, k.w.ns, name)) === '100/0 match',
        60_000,
        250,
      );
      await waitForHTTPRouteAccepted(k.w.kube, k.w.ns, name);
      await untilServed(
        k,
        `${name}: the header rule serving`,
        host(name),
        (r) => r.responses.every(by(name, 'canary')),
        { headers: { 'x-canary': 'insider' } },
      );
      const [header, cookie, others, otherCookie] = await Promise.all([
        measure(k, host(name), 200, { headers: { 'x-canary': 'insider' } }),
        measure(k, host(name), 200, { cookies: { session: 'x', canary: 'always' } }),
        measure(k, host(name), 200, { headers: { 'x-canary': 'someone-else' } }),
        measure(k, host(name), 200, { cookies: { canary: 'never' } }),
      ]);
      assert.equal(
        await httpRouteRoutes(k.w.kube, k.w.ns, name),
        '100/0 match',
        'the A/B routes held while measured',
      );
      const canary = by(name, 'canary');
      console.log(
        `A/B: header → ${percent(header, canary)}, cookie → ${percent(cookie, canary)}, other header → ${percent(others, canary)}, other cookie → ${percent(otherCookie, canary)} requests answered by ${NEW}`,
      );
      for (const r of [header, cookie, others, otherCookie]) assertAnswers(r, name, OLD);
      assert.equal(share(header, canary), 1, 'every request with the header reached the canary');
      assert.equal(share(cookie, canary), 1, 'every request with the cookie reached the canary');
      assert.equal(share(others, canary), 0, 'no request with another header reached the canary');
      assert.equal(share(otherCookie, canary), 0, 'no request with another cookie reached the canary');

      const promoted = await promotedEverywhere(name, gate, { 'x-canary': 'insider' });
      console.log(
        `A/B after promotion: ${percent(promoted, (x) => x.tag === NEW)} requests answered by ${NEW}`,
      );
    } finally {
      await gate.stop();
    }
  },
);

test(
  'blue/green (gatewayapi): no ordinary request reaches the canary until promotion, then all reach 6.0.1',
  { timeout: 240_000 },
  async () => {
    const name = 'bluegreen';
    const gate = await startGate(k.dp.traefik);
    try {
      await initialized(
        k,
        name,
        host(name),
        canaryOn(k, 'gatewayapi', name, host(name), {
          iterations: 2,
          webhooks: promotionGate(gate),
        }),
      );
      const weights = await k.w.recordWeights(name);
      await releasePodinfo(k, name, NEW);
      const [canaryPod] = await waitServing(k, name, 'canary', NEW);
      // The new version is up and answers when asked directly: 0% below is routing, not absence.
      const direct = (await (await fetch(canaryPod!.url)).json()) as { message?: string };
      assert.equal(direct.message, NEW, 'the canary pod answers 6.0.1 on its own IP');

      // Users' requests from the start of the run until the analysis is done and waits for promotion.
      const batches: LoadResult[] = [];
      const deadline = Date.now() + 120_000;
      for (let waiting = false; !waiting && Date.now() < deadline && batches.length < 120;) {
        waiting = (await k.w.canary(name)).status?.phase === 'WaitingPromotion';
        batches.push(await measure(k, host(name), 100));
      }
      const status = (await k.w.canary(name)).status;
      assert.equal(status?.phase, 'WaitingPromotion', 'the analysis ran its iterations and waits');
      const sent = batches.reduce((n, b) => n + b.sent, 0);
      const reached = batches.reduce((n, b) => n + b.responses.filter(by(name, 'canary')).length, 0);
      console.log(
        `blue/green: ${reached} of ${sent} requests (${batches.length} batches, ${status?.iterations} iterations) answered by ${NEW} before promotion`,
      );
      for (const b of batches) assertAnswers(b, name, OLD);
      assert.equal(reached, 0, 'no ordinary request reached the canary before promotion');
      assert.ok(sent >= 400, `at least 400 requests measured (${sent})`);

      const promoted = await promotedEverywhere(name, gate);
      assert.deepEqual(await weights.stop(), [0], 'the HTTPRoute never gave the canary weight');
      console.log(
        `blue/green after promotion: ${percent(promoted, (x) => x.tag === NEW)} requests answered by ${NEW}`,
      );
    } finally {
      await gate.stop();
    }
  },
);

test(
  'session affinity (gatewayapi): cookie holders stay on the canary, others split; promotion expires the cookie',
  { timeout: 240_000 },
  async () => {
    const name = 'sticky';
    const gate = await startGate(k.dp.traefik);
    try {
      await initialized(
        k,
        name,
        host(name),
        canaryOn(k, 'gatewayapi', name, host(name), {
          stepWeights: [20],
          sessionAffinity: { cookieName: 'weir-canary', maxAge: 600 },
          webhooks: promotionGate(gate),
        }),
      );
      await releasePodinfo(k, name, NEW);
      await waitServing(k, name, 'canary', NEW);
      await waitFor(
        `${name}: 80/20 and the cookie rule written`,
        async () => (await httpRouteRoutes(k.w.kube, k.w.ns, name)) === '80/20',
        60_000,
        250,
      );
      await waitForHTTPRouteAccepted(k.w.kube, k.w.ns, name);
      const route = await k.w.kube.get({ ...HTTP_ROUTE, namespace: k.w.ns, name });
      const cookie = storedCookies(route).canary!;
      assert.match(cookie, /^weir-canary=[A-Za-z]{10}$/, 'the run has its cookie');
      const canary = by(name, 'canary');

      // Users holding the run's cookie (beside another one, as a browser sends them) all reach the
      // canary; the others are split by weight.
      const [cookieName, value] = cookie.split('=') as [string, string];
      await untilServed(k, `${name}: the sticky rule serving`, host(name), (r) => r.responses.every(canary), {
        cookies: { session: 'x', [cookieName]: value },
      });
      const [holders, others] = await Promise.all([
        measure(k, host(name), 200, { cookies: { session: 'x', [cookieName]: value } }),
        measure(k, host(name), 400, { cookies: { [cookieName]: 'SomeOtherV' } }),
      ]);
      for (const r of [holders, others]) assertAnswers(r, name, OLD);
      const handedOut = others.responses.filter(
        (x) => canary(x) && x.setCookies?.some((c) => c.startsWith(cookie)),
      );
      console.log(
        `session affinity: holders → ${percent(holders, canary)}, others → ${percent(others, canary)} answered by ${NEW}; ${handedOut.length} canary answers handed out the cookie (Traefik v3.6 ignores per-backend filters: 0 there)`,
      );
      assert.equal(share(holders, canary), 1, 'every request with the cookie reached the canary');
      const split = share(others, canary);
      assert.ok(split > 0 && split < 1, `other users reach both versions (${split})`);
      assert.equal(await httpRouteRoutes(k.w.kube, k.w.ns, name), '80/20', 'the step held while measured');

      // After promotion the holders reach the promoted primary, which tells the browser to drop it.
      const promoted = await promotedEverywhere(name, gate, { cookie });
      assert.ok(
        promoted.responses.every((x) => x.setCookies?.includes(`${cookie}; Max-Age=-1`)),
        `every answer to a holder expires the run's cookie (${JSON.stringify(promoted.responses[0]?.setCookies)})`,
      );
    } finally {
      await gate.stop();
    }
  },
);
