// Promotion copies to the primary exactly the revision the analysis ran on: a tracked ConfigMap or
// Secret edited after the reconcile read the caches (e.g. while a slow gate answered) is a new
// revision, which is not copied; the controller restarts the analysis instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { applyAction, REVISION_MOVED } from '../../src/canary/apply.ts';
import type { Caches, CanaryContext } from '../../src/canary/context.ts';
import { namesOf, revisionFor } from '../../src/canary/targets.ts';
import { WORKLOAD_KINDS } from '../../src/canary/workloads.ts';
import type { CanarySpec } from '../../src/api/canary.ts';
import type { Kube } from '../../src/kube/client.ts';

const ns = 'shop';

/** An in-memory stand-in for an informer cache (get/list; content() as a cache that keeps data). */
function cache(objects: Array<{ metadata?: { name?: string } }>) {
  const byName = new Map(objects.map((o) => [o.metadata!.name!, o]));
  return {
    get: (_ns: string, name: string) => byName.get(name),
    content: (_ns: string, name: string) => byName.get(name),
    list: () => [...byName.values()],
    set: (o: { metadata?: { name?: string } }) => byName.set(o.metadata!.name!, o),
  };
}

const target: V1Deployment = {
  metadata: { name: 'app', namespace: ns, labels: { app: 'app' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'app' } },
    template: {
      metadata: { labels: { app: 'app' } },
      spec: {
        containers: [{ name: 'app', image: 'app:2', envFrom: [{ configMapRef: { name: 'settings' } }] }],
      },
    },
  },
};
const settings = (mode: string): V1ConfigMap => ({
  metadata: { name: 'settings', namespace: ns },
  data: { mode },
});

function world() {
  const configMaps = cache([settings('analysed')]);
  const deployments = cache([target]);
  const caches = { configMap: configMaps, deployment: deployments, secret: cache([]) } as unknown as Caches;
  const applied: Array<{ kind?: string; metadata?: { name?: string }; data?: unknown }> = [];
  const kube = {
    apply: async (o: never) => {
      applied.push(o);
      return o;
    },
  } as unknown as Kube;
  const spec = {
    targetRef: { kind: 'Deployment', name: 'app' },
    service: { port: 80 },
    analysis: {},
  } as CanarySpec;
  const { tracked, checksums, revision } = revisionFor(
    target,
    (n) => configMaps.get(ns, n) as V1ConfigMap | undefined,
    () => undefined,
  );
  const ctx = {
    obj: { metadata: { name: 'app', namespace: ns } },
    view: { name: 'app', namespace: ns, generation: 1, spec, status: {}, annotations: {} },
    names: namesOf(spec),
    provider: 'gatewayapi',
    workload: WORKLOAD_KINDS.Deployment,
    target,
    selector: { key: 'app', value: 'app' },
    tracked,
    revision,
    checksums,
    owner: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', name: 'app', uid: 'u1' },
    key: `${ns}/app`,
  } as unknown as CanaryContext;
  return { ctx, caches, kube, applied, configMaps, revision };
}

test('the analysed revision is promoted: the config copy holds the analysed data', async () => {
  const { ctx, caches, kube, applied, revision } = world();
  const out = await applyAction(ctx, { type: 'promotePrimary' }, { kube, caches }, revision);
  assert.equal(out, undefined);
  const copy = applied.find((o) => o.kind === 'ConfigMap');
  assert.equal(copy?.metadata?.name, 'settings-primary');
  assert.deepEqual(copy?.data, { mode: 'analysed' });
  assert.ok(applied.some((o) => o.kind === 'Deployment' && o.metadata?.name === 'app-primary'));
});

test('a ConfigMap edited after the reconcile read it: nothing is copied, the revision moved', async () => {
  const { ctx, caches, kube, applied, configMaps, revision } = world();
  configMaps.set(settings('edited during the gate'));
  const out = await applyAction(ctx, { type: 'promotePrimary' }, { kube, caches }, revision);
  assert.equal(out, REVISION_MOVED);
  assert.deepEqual(applied, [], 'neither the config copy nor the primary was written');
});
