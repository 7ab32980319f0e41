// Weir's CRDs in the real API server: valid objects of every kind are accepted (with the schema's
// defaults applied by the server), and every invalid fixture is rejected with a message naming the
// same field `weir lint` names.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { validateObject } from '../../src/api/validate.ts';
import { apiMessage } from '../../src/kube/client.ts';
import { createNamespace, sharedCluster, type Cluster } from '../cluster/cluster.ts';
import { invalidFixtures, validFixtures } from '../fixtures/load.ts';

let cluster: Cluster;
let ns: string;
let api: KubernetesObjectApi;

before(async () => {
  cluster = await sharedCluster();
  ns = await createNamespace(cluster, 'crds');
  api = KubernetesObjectApi.makeApiClient(cluster.kc);
});

function inNamespace(obj: Record<string, unknown>, suffix = ''): KubernetesObject {
  const meta = obj.metadata as { name: string };
  return { ...obj, metadata: { ...meta, name: `${meta.name}${suffix}`, namespace: ns } } as KubernetesObject;
}

test('every valid fixture is accepted and defaulted by the API server', async () => {
  for (const fx of validFixtures()) {
    const created = (await api.create(inNamespace(fx.object))) as KubernetesObject & {
      spec: Record<string, unknown>;
    };
    const { object } = validateObject(fx.object);
    // The server applies the same defaults as the TypeScript validator.
    assert.deepEqual(created.spec, object.spec, `${fx.file}: server defaults differ from weir lint's`);
  }
});

test('every invalid fixture is rejected with a message naming its field', async () => {
  const fixtures = invalidFixtures();
  assert.ok(fixtures.length >= 15);
  await Promise.all(
    fixtures.map(async (fx, i) => {
      let message = '';
      try {
        await api.create(inNamespace(fx.object, `-${i}`));
      } catch (err) {
        message = apiMessage(err);
      }
      assert.ok(message, `${fx.file} was accepted`);
      assert.ok(
        message.includes(`${fx.expectField}:`),
        `${fx.file}: "${message}" does not name ${fx.expectField}`,
      );
      if (fx.expectMessage)
        assert.ok(message.includes(fx.expectMessage), `${fx.file}: "${message}" lacks "${fx.expectMessage}"`);
    }),
  );
});

test('printer columns show STATUS, WEIGHT, FAILED, STEP and LAST TRANSITION', async () => {
  // Named with its group: the cluster test installs Flagger's `canaries` into the same cluster.
  const r = await cluster.kubectl(['get', 'canaries.weir.dev', '-n', ns]);
  assert.equal(r.code, 0, r.stderr);
  const header = r.stdout.split('\n')[0] ?? '';
  for (const col of ['STATUS', 'WEIGHT', 'FAILED', 'STEP', 'LAST TRANSITION'])
    assert.ok(header.includes(col), header);
});
