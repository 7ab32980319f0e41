// Argo Rollouts' setHeaderRoute and setMirrorRoute steps end to end: the in-process controller on the
// local control plane with the Gateway API and Istio CRDs. Two Canaries run at once, each held at a
// manual pause after its route steps:
//   - `hdr` (gatewayapi): the HTTPRoute gains a header rule to the canary and a mirror rule at the
//     steps, the weighted rule keeps the split for everyone else, a hand-deleted step rule is put
//     back (drift), and promotion leaves the weighted rule alone;
//   - `mir` (istio): the VirtualService gains a mirror route (mirrorPercentage) and a header route
//     before the weighted one; promotion removes them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestPatch } from '../../src/canary/requests.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import { httpRouteRoutes } from '../cluster/route-weights.ts';

let w: World;
before(async () => {
  w = await startWorld('step-routes');
});
after(async () => w?.stop());

type Rule = {
  name?: string;
  matches?: unknown[];
  match?: unknown[];
  filters?: Array<{ type: string; requestMirror?: { percent?: number } }>;
  backendRefs?: Array<{ name: string; weight: number }>;
  route?: Array<{ destination: { host: string }; weight: number }>;
  mirror?: { host: string };
  mirrorPercentage?: { value: number };
};
type Routed = { metadata: { annotations?: Record<string, string> }; spec: { rules?: Rule[]; http?: Rule[] } };

const HTTP_ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' };
const VS = { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService' };

const stored = async (kind: typeof VS, name: string) =>
  (await w.kube.get({ ...kind, namespace: w.ns, name })) as unknown as Routed | undefined;

/** The rules of the routing object once `ok` holds for them. */
const waitRules = (kind: typeof VS, name: string, what: string, ok: (rules: Rule[]) => boolean) =>
  waitFor(
    `${name}: ${what}`,
    async () => {
      const o = await stored(kind, name);
      const rules = o?.spec.rules ?? o?.spec.http;
      return rules && ok(rules) ? rules : undefined;
    },
    60_000,
  );

const names = (rules: Rule[]) => rules.map((r) => r.name ?? '(weighted)');

const waitPaused = (name: string): Promise<CanaryObject> =>
  waitFor(
    `${name} paused after its route steps`,
    async () => {
      const c = await w.canary(name);
      return /waiting for `weir promote`/.test(c.status?.message ?? '') ? c : undefined;
    },
    180_000,
  );

const beta = { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] };

async function promote(name: string): Promise<void> {
  await w.patchCanary(name, requestPatch('promote'));
  const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 180_000);
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
  assert.equal(done.status?.stepRoutes, undefined);
}

describe('Argo route steps', { concurrency: true }, () => {
  test('gatewayapi: header and mirror rules at their steps, repaired when deleted, gone at promotion', async (t) => {
    const name = 'hdr';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    const shadow = { name: 'shadow', percentage: 50, match: [{ path: { prefix: '/api' } }] };
    const steps = [{ setWeight: 20 }, { setHeaderRoute: beta }, { setMirrorRoute: shadow }, { pause: {} }];
    await w.apply(gatewayCanary(name, { steps, metrics: undefined }));
    await w.waitPhase(name, 'Initialized', 60_000);
    await w.setImage(name, `example.com/${name}:2.0.0`);

    const paused = await waitPaused(name);
    t.diagnostic(paused.status?.message ?? '');
    assert.deepEqual(
      paused.status?.stepRoutes?.map((r) => r.name),
      ['beta', 'shadow'],
    );
    const rules = await waitRules(HTTP_ROUTE, name, 'step rules', (r) => r.length === 3);
    assert.deepEqual(names(rules), ['weir-step-beta', 'weir-step-shadow', '(weighted)']);
    const [header, mirror, weighted] = rules as [Rule, Rule, Rule];
    assert.deepEqual(header.matches, [
      // The API server defaults a match's path to PathPrefix /.
      { headers: [{ type: 'Exact', name: 'x-beta', value: '1' }], path: { type: 'PathPrefix', value: '/' } },
    ]);
    assert.deepEqual(
      header.backendRefs?.map((b) => `${b.name}=${b.weight}`),
      [`${name}-primary=0`, `${name}-canary=100`],
      'matching requests all go to the canary',
    );
    assert.deepEqual(mirror.matches, [{ path: { type: 'PathPrefix', value: '/api' } }]);
    assert.equal(mirror.filters?.find((f) => f.type === 'RequestMirror')?.requestMirror?.percent, 50);
    assert.deepEqual(
      weighted.backendRefs?.map((b) => `${b.name}=${b.weight}`),
      [`${name}-primary=80`, `${name}-canary=20`],
      'everyone else keeps the weighted split',
    );
    assert.equal(await httpRouteRoutes(w.kube, w.ns, name), '80/20', 'step rules are not A/B match');

    // A step rule deleted by hand is drift: put back, with an event.
    await w.kube.mergePatch({ ...HTTP_ROUTE, namespace: w.ns, name }, { spec: { rules: [weighted] } });
    await waitFor(
      `${name}: DriftRepaired`,
      async () =>
        (await w.events(name)).find((e) => e.reason === 'DriftRepaired' && /step routes/.test(e.message)),
      60_000,
    );
    await waitRules(HTTP_ROUTE, name, 'step rules restored', (r) => names(r).join() === names(rules).join());
    assert.equal((await w.canary(name)).status?.phase, 'Progressing');

    await promote(name);
    const after = await waitRules(HTTP_ROUTE, name, 'the weighted rule alone', (r) => r.length === 1);
    assert.equal(await httpRouteRoutes(w.kube, w.ns, name), '100/0');
    assert.equal(after.length, 1);
    assert.equal((await stored(HTTP_ROUTE, name))?.metadata.annotations?.['weir.dev/step-routes'], undefined);
  });

  test('istio: a mirror route with mirrorPercentage and a header route before the weighted one', async (t) => {
    const name = 'mir';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    const shadow = { name: 'shadow', percentage: 20, match: [{ method: { exact: 'GET' } }] };
    const steps = [{ setWeight: 30 }, { setMirrorRoute: shadow }, { setHeaderRoute: beta }, { pause: {} }];
    // gatewayCanary's Canary on istio: no Gateway refs, the mesh.
    const spec = { provider: 'istio', service: { port: 8080 } };
    await w.apply(gatewayCanary(name, { steps, metrics: undefined }, spec));
    await w.waitPhase(name, 'Initialized', 90_000);
    await w.setImage(name, `example.com/${name}:2.0.0`);

    t.diagnostic((await waitPaused(name)).status?.message ?? '');
    const http = await waitRules(VS, name, 'step routes', (r) => r.length === 3);
    assert.deepEqual(names(http), ['weir-step-shadow', 'weir-step-beta', '(weighted)']);
    const [mirror, header, weighted] = http as [Rule, Rule, Rule];
    const weights = (r: Rule) => r.route?.map((d) => `${d.destination.host}=${d.weight}`);
    assert.deepEqual(mirror.match, [{ method: { exact: 'GET' } }]);
    assert.deepEqual(mirror.mirror, { host: `${name}-canary` });
    assert.deepEqual(mirror.mirrorPercentage, { value: 20 });
    assert.deepEqual(weights(mirror), [`${name}-primary=70`, `${name}-canary=30`]);
    assert.deepEqual(header.match, [{ headers: { 'x-beta': { exact: '1' } } }]);
    assert.deepEqual(weights(header), [`${name}-primary=0`, `${name}-canary=100`]);
    assert.deepEqual(weights(weighted), [`${name}-primary=70`, `${name}-canary=30`]);
    assert.equal(weighted.mirror, undefined, 'the weighted route mirrors nothing');

    await promote(name);
    const after = await waitRules(VS, name, 'the weighted route alone', (r) => r.length === 1);
    assert.deepEqual(weights(after[0]!), [`${name}-primary=100`, `${name}-canary=0`]);
    const drift = (await w.events(name)).filter((e) => e.reason === 'DriftRepaired');
    assert.deepEqual(drift, [], 'the step routes read back as expected: no drift repaired');
  });
});
