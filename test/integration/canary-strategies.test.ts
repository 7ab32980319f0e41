// Canary engine end to end for the two strategies that move no weights: blue/green with the
// `kubernetes` provider (Services only) and A/B by header on Gateway API. Both run in one world,
// concurrently, each with its own Canary, and pass real Prometheus analysis (request-success-rate).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import {
  gatewayCanary,
  recordChanges,
  startWorld,
  successRate,
  type World,
} from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-strat');
});
after(async () => w?.stop());

const serviceSelector = async (name: string) =>
  (
    await w.kube.get<{ spec: { selector?: Record<string, string> } } & Record<string, never>>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace: w.ns,
      name,
    })
  )?.spec.selector;

/** Names of the running pods carrying `app=<app>`, with their images. */
async function pods(app: string): Promise<Array<{ name: string; image: string }>> {
  const core = w.cluster.kc.makeApiClient(CoreV1Api);
  const list = await core.listNamespacedPod({ namespace: w.ns, labelSelector: `app=${app}` });
  return list.items
    .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running')
    .map((p) => ({ name: p.metadata!.name!, image: p.spec?.containers[0]?.image ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Pods behind a Service as Kubernetes itself sees them: ready endpoints of its EndpointSlices. */
async function endpointPods(service: string): Promise<string[]> {
  const discovery = w.cluster.kc.makeApiClient(DiscoveryV1Api);
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: w.ns,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false && e.targetRef?.kind === 'Pod')
    .map((e) => e.targetRef!.name!)
    .sort();
}

/**
 * Waits until `service` routes to exactly the running pods labelled `app=<app>`: `count` of them
 * (a Deployment scaling up passes through fewer), or at least one.
 */
async function waitServiceRoutesTo(service: string, app: string, count?: number): Promise<string[]> {
  let last = { endpoints: [] as string[], pods: [] as string[] };
  try {
    return await waitFor(
      `Service ${service} -> pods app=${app}`,
      async () => {
        last = { endpoints: await endpointPods(service), pods: (await pods(app)).map((p) => p.name) };
        const enough = count === undefined ? last.pods.length > 0 : last.pods.length === count;
        return enough && last.endpoints.join() === last.pods.join() ? last.endpoints : undefined;
      },
      20_000,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(last)}`);
  }
}

/** Samples status.iterations and the apex Service selector every 250 ms until stopped. */
async function recordRun(name: string) {
  const iterations = await recordChanges(async () => (await w.canary(name)).status?.iterations ?? 0);
  const apexSelectors = await recordChanges(async () => {
    const selector = await serviceSelector(name);
    return selector ? JSON.stringify(selector) : undefined;
  });
  return {
    async stop() {
      const selectors = new Set(await apexSelectors.stop());
      return { iterations: await iterations.stop(), apexSelectors: [...selectors] };
    },
  };
}

describe('strategies without weights', { concurrency: true }, () => {
  test('blue/green (kubernetes): apex stays on primary, testers reach the canary, then promotion', async () => {
    const name = 'bg';
    await w.deploy(name, 'example.com/bg:1.0.0');
    await w.exporters(name, { errorRate: 0 });
    await w.apply({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name },
      spec: {
        provider: 'kubernetes',
        targetRef: { kind: 'Deployment', name },
        service: { port: 8080 },
        analysis: { interval: '10s', threshold: 2, iterations: 3, metrics: successRate },
      },
    });
    await w.waitPhase(name, 'Initialized', 60_000);
    assert.deepEqual(await serviceSelector(name), { app: 'bg-primary' });
    assert.deepEqual(await serviceSelector('bg-canary'), { app: 'bg' });

    const run = await recordRun(name);
    await w.setImage(name, 'example.com/bg:2.0.0');
    await w.waitPhase(name, 'Progressing', 30_000);

    // During the run, as Kubernetes routes it: apex -> primary pods (old image), -canary -> canary pods.
    const canaryPods = await waitServiceRoutesTo('bg-canary', 'bg', 2);
    const primaryPods = await waitServiceRoutesTo(name, 'bg-primary');
    assert.equal(canaryPods.length, 2, 'the canary runs the primary replica count');
    assert.ok((await pods('bg')).every((p) => p.image === 'example.com/bg:2.0.0'));
    assert.ok((await pods('bg-primary')).every((p) => p.image === 'example.com/bg:1.0.0'));
    assert.ok(!primaryPods.some((p) => canaryPods.includes(p)));
    const mid = await w.canary(name);
    assert.equal(mid.status?.phase, 'Progressing', 'the Service checks ran during the run');
    assert.equal(mid.status?.canaryWeight ?? 0, 0, 'blue/green moves no weight');

    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    const seen = await run.stop();
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.deepEqual(
      seen.iterations.filter((x) => x > 0),
      [1, 2, 3],
      'iterations count up one per analysis tick',
    );
    assert.deepEqual(seen.apexSelectors, ['{"app":"bg-primary"}'], 'the apex Service never left the primary');
    const passed = done.status?.metrics?.find((m) => m.name === 'request-success-rate');
    assert.equal(passed?.result, 'Successful', JSON.stringify(passed));

    assert.equal(await w.image('bg-primary'), 'example.com/bg:2.0.0');
    assert.equal((await w.deployment(name))?.spec.replicas, 0, 'canary scaled to 0');
    // The primary's pods roll to the new image and the apex Service routes to them.
    await waitFor(
      'primary pods on bg:2.0.0',
      async () => {
        const p = await pods('bg-primary');
        return p.length === 2 && p.every((x) => x.image === 'example.com/bg:2.0.0');
      },
      30_000,
      250,
    );
    await waitServiceRoutesTo(name, 'bg-primary');
    await w.slack.waitFor(
      (m) => m.text.startsWith(`bg.${w.ns}:`) && m.text.includes('promotion finished'),
      5_000,
      'promotion alert',
    );
  });

  test('A/B by header (gatewayapi): a header-match rule goes to the canary, then it is removed', async () => {
    const name = 'ab';
    await w.deploy(name, 'example.com/ab:1.0.0');
    await w.exporters(name, { errorRate: 0 });
    await w.apply(
      gatewayCanary(name, { iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    assert.equal((await route(name))?.spec.rules.length, 1, 'no match rule while idle');

    const defaultWeights = await w.recordWeights(name);
    await w.setImage(name, 'example.com/ab:2.0.0');
    await w.waitPhase(name, 'Progressing', 30_000);
    const during = await waitFor(
      'HTTPRoute with the A/B rule',
      async () => {
        const r = await route(name);
        return r && r.spec.rules.length === 2 ? r : undefined;
      },
      30_000,
      250,
    );
    const [abRule, defaultRule] = during.spec.rules as [Rule, Rule];
    // As stored by the API server (CRD defaults included): header match -> 100% canary.
    assert.equal(abRule.matches?.length, 1);
    assert.deepEqual(abRule.matches?.[0]?.headers, [{ type: 'Exact', name: 'x-canary', value: 'insider' }]);
    assert.deepEqual(weights(abRule), { 'ab-canary': 100, 'ab-primary': 0 });
    assert.ok(!defaultRule.matches?.some((m) => m.headers?.length), 'default rule has no header match');
    assert.deepEqual(weights(defaultRule), { 'ab-canary': 0, 'ab-primary': 100 });
    assert.deepEqual(
      during.spec.parentRefs?.map((p) => p.name),
      ['public'],
    );
    // The route is written before the status patch that counts the iteration.
    const mid = await waitFor(
      'status.iterations >= 1',
      async () => {
        const c = await w.canary(name);
        return (c.status?.iterations ?? 0) >= 1 ? c : undefined;
      },
      30_000,
      250,
    );
    assert.equal(mid.status?.phase, 'Progressing', 'the route checks ran during the run');

    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.equal(done.status?.iterations, 2);
    assert.deepEqual(await defaultWeights.stop(), [0], 'users without the header never reached the canary');
    const finalRoute = await route(name);
    assert.equal(finalRoute?.spec.rules.length, 1, 'the match rule is gone');
    assert.ok(!JSON.stringify(finalRoute?.spec.rules).includes('x-canary'));
    assert.deepEqual(weights(finalRoute!.spec.rules[0]!), { 'ab-canary': 0, 'ab-primary': 100 });
    assert.equal(await w.image('ab-primary'), 'example.com/ab:2.0.0');
    assert.equal((await w.deployment(name))?.spec.replicas, 0);
  });
});

type Rule = {
  matches?: Array<{ headers?: Array<{ type?: string; name: string; value: string }>; path?: unknown }>;
  backendRefs?: Array<{ name: string; weight?: number }>;
};
type Route = { spec: { rules: Rule[]; parentRefs?: Array<{ name: string }> } };

const route = (name: string) =>
  w.kube.get<Route & Record<string, never>>({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    namespace: w.ns,
    name,
  });

const weights = (r: Rule) => Object.fromEntries((r.backendRefs ?? []).map((b) => [b.name, b.weight ?? 1]));
