// Issue 14 item 1, end to end on the local control plane: a canary without a mesh. Provider
// kubernetes with weights: the apex Service selects the pods of both Deployments (weir.dev/apex),
// the canary's replicas follow the steps (ceil(weight × total / 100)), the primary gives up pods with
// dynamicStableScale, and promotion gives the primary its count back and takes the canary to 0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { gatewayCanary, recordChanges, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-k8s-w');
});
after(async () => w?.stop());

type Svc = {
  metadata: { annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
};
const apex = async (name: string) =>
  w.kube.get<Svc & Record<string, never>>({ apiVersion: 'v1', kind: 'Service', namespace: w.ns, name });

/** A Canary on provider kubernetes for the Deployment `name` (no metric checks: weights are the subject). */
const kubernetesCanary = (name: string, analysis: Record<string, unknown>) =>
  gatewayCanary(
    name,
    { metrics: undefined, ...analysis },
    { provider: 'kubernetes', service: { port: 8080 } },
  );

/** `canary/primary` spec.replicas of the two Deployments. */
async function counts(name: string): Promise<string | undefined> {
  const [canary, primary] = [await w.deployment(name), await w.deployment(`${name}-primary`)];
  if (!canary || !primary) return undefined;
  return `${canary.spec.replicas}/${primary.spec.replicas}`;
}

/** Names of the pods behind a Service, as its EndpointSlices list them (ready or not). */
async function endpointPods(service: string): Promise<string[]> {
  const discovery = w.cluster.kc.makeApiClient(DiscoveryV1Api);
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: w.ns,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return slices.items.flatMap((s) => s.endpoints ?? []).map((e) => e.targetRef?.name ?? '');
}

/** Whether `seen` holds every value of `wanted`, in that order (others may come between). */
function inOrder(seen: string[], wanted: string[]): boolean {
  let i = 0;
  for (const s of seen) if (s === wanted[i]) i++;
  return i === wanted.length;
}

describe('provider kubernetes with weights (replica ratio)', { concurrency: true }, () => {
  test('dynamicStableScale: canary pods follow the steps, the primary shrinks, promotion restores it', async () => {
    const name = 'ratio';
    await w.deploy(name, 'example.com/ratio:1.0.0', { replicas: 4 });
    const analysis = { interval: '10s', stepWeight: 25, maxWeight: 75, dynamicStableScale: true };
    await w.apply(kubernetesCanary(name, analysis));
    await w.waitPhase(name, 'Initialized', 60_000);
    assert.deepEqual((await apex(name))?.spec.selector, { app: `${name}-primary` }, 'idle: the primary');
    const template = (await w.deployment(`${name}-primary`))?.spec.template as {
      metadata?: { labels?: Record<string, string> };
    };
    assert.equal(template.metadata?.labels?.['weir.dev/apex'], name, 'the primary pods carry the label');

    const replicas = await recordChanges(() => counts(name));
    const selectors = await recordChanges(async () => JSON.stringify((await apex(name))?.spec.selector));
    await w.setImage(name, 'example.com/ratio:2.0.0');
    await w.waitPhase(name, 'Progressing', 30_000);

    // At 50%: 2 canary pods and 2 primary pods, all behind the apex Service.
    const both = await waitFor(
      'apex Service with the pods of both Deployments at 50%',
      async () => {
        const c = await w.canary(name);
        if (c.status?.canaryWeight !== 50) return undefined;
        const pods = await endpointPods(name);
        const canaryPods = pods.filter((p) => p.startsWith(`${name}-`) && !p.startsWith(`${name}-primary-`));
        const primaryPods = pods.filter((p) => p.startsWith(`${name}-primary-`));
        return canaryPods.length === 2 && primaryPods.length === 2 ? pods : undefined;
      },
      60_000,
      250,
    );
    assert.equal(both.length, 4);
    assert.deepEqual((await apex(name))?.spec.selector, { 'weir.dev/apex': name });

    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 120_000);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    const final = await waitFor(
      'canary at 0 and primary at 4',
      async () => ((await counts(name)) === '0/4' ? '0/4' : undefined),
      30_000,
      250,
    );
    const seen = await replicas.stop();
    const apexSeen = await selectors.stop();
    // canary/primary: the run starts the canary at full size behind <svc>-canary only (weight 0; a
    // sample may miss it), then 25% = 1/3, 50% = 2/2, 75% = 3/1; promotion gives the primary its 4
    // back, the canary goes to 0.
    assert.ok(inOrder(seen, ['0/4', '1/3', '2/2', '3/1', '0/4']), seen.join(' '));
    assert.ok(!seen.some((s) => s.endsWith('/0')), `the primary never went below 1 pod: ${seen.join(' ')}`);
    assert.equal(final, '0/4');
    assert.deepEqual(
      apexSeen,
      [`{"app":"${name}-primary"}`, `{"weir.dev/apex":"${name}"}`, `{"app":"${name}-primary"}`],
      'the apex selects both only during the weighted steps',
    );
    const annotations = (await apex(name))?.metadata.annotations ?? {};
    assert.equal(annotations['weir.dev/canary-weight'], undefined);
    assert.equal(annotations['weir.dev/primary-replicas'], undefined);
    assert.equal(await w.image(`${name}-primary`), 'example.com/ratio:2.0.0');
  });

  test('without dynamicStableScale the primary keeps its pods; a rollback takes the canary to 0', async () => {
    const name = 'ratio-keep';
    await w.deploy(name, 'example.com/keep:1.0.0', { replicas: 3 });
    const steps = [{ setWeight: 34 }, { pause: {} }];
    await w.apply(kubernetesCanary(name, { interval: '10s', threshold: 1, steps }));
    await w.waitPhase(name, 'Initialized', 60_000);
    const replicas = await recordChanges(() => counts(name));
    await w.setImage(name, 'example.com/keep:2.0.0');
    // 34% of 3 pods: ceil(1.02) = 2 canary pods; the primary keeps 3; the run waits at pause {}.
    await waitFor(
      'weight 34 with 2 canary pods',
      async () =>
        ((await w.canary(name)).status?.canaryWeight === 34 && (await counts(name)) === '2/3') || undefined,
      60_000,
      250,
    );
    assert.deepEqual((await apex(name))?.spec.selector, { 'weir.dev/apex': name });
    await w.patchCanary(name, { metadata: { annotations: { 'weir.dev/abort': new Date().toISOString() } } });
    const failed = await w.waitPhase(name, 'Failed', 60_000);
    assert.match(failed.status?.message ?? '', /abort/i);
    await waitFor(
      'canary at 0',
      async () => ((await counts(name)) === '0/3' ? true : undefined),
      30_000,
      250,
    );
    const seen = await replicas.stop();
    assert.ok(inOrder(seen, ['0/3', '2/3', '0/3']), seen.join(' '));
    assert.ok(
      seen.every((s) => s.endsWith('/3')),
      `the primary kept its 3 pods: ${seen.join(' ')}`,
    );
    assert.deepEqual((await apex(name))?.spec.selector, { app: `${name}-primary` });
  });
});
