// The test cluster harness against real behaviour: third-party CRDs install, KWOK nodes run pods
// that the real scheduler placed, and the binaries carry the pinned version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppsV1Api, ApiextensionsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import {
  KWOK_NODE_ANNOTATION,
  applyCrds,
  createNamespace,
  projectRoot,
  sharedCluster,
} from '../cluster/cluster.ts';
import { waitFor } from '../cluster/proc.ts';

const sharedCrdDir = resolve(projectRoot, '..', 'shared', 'crds');
const fixtureCrdDir = resolve(projectRoot, 'test', 'fixtures', 'crds');

/**
 * CRD names declared in the YAML files themselves, independent of what the harness reports. Parse
 * errors are ignored on purpose: the yaml package rejects some multi-line quoted descriptions deep
 * in Flagger's schema that Go's YAML (kubectl, the API server) accepts; top-level kind and
 * metadata.name come out right either way.
 */
function crdNamesInFiles(dir: string): string[] {
  return yamlFilesIn(dir).flatMap(crdNamesInFile).sort();
}

function yamlFilesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f));
}

function crdNamesInFile(file: string): string[] {
  const names: string[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
    if (obj?.kind === 'CustomResourceDefinition' && obj.metadata?.name) names.push(obj.metadata.name);
  }
  return names;
}

test(
  'every third-party CRD in ../shared/crds installs and becomes Established',
  { timeout: 180_000 },
  async () => {
    const cluster = await sharedCluster();
    const expected = crdNamesInFiles(sharedCrdDir);
    assert.ok(expected.length > 0, `no CRDs found under ${sharedCrdDir}`);
    // The harness installs its own version of a few CRDs (test/fixtures/crds: SMI's TrafficSplit at
    // v1alpha1, which Flagger's providers write, where ../shared/crds/smi serves only v1alpha4). The
    // API server refuses to drop a stored version, so those files are not re-applied here; their
    // CRDs must still be Established (below).
    const replaced = new Set(crdNamesInFiles(fixtureCrdDir));
    const files = yamlFilesIn(sharedCrdDir).filter((f) => !crdNamesInFile(f).some((n) => replaced.has(n)));
    const applied = await applyCrds(cluster, files);
    assert.deepEqual([...applied, ...expected.filter((n) => replaced.has(n))].sort(), expected);

    const api = cluster.kc.makeApiClient(ApiextensionsV1Api);
    for (const name of expected) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === 'Established');
      assert.equal(
        established?.status,
        'True',
        `CRD ${name} is not Established: ${JSON.stringify(crd.status?.conditions)}`,
      );
    }
  },
);

test(
  'a 2-replica Deployment becomes Available with Ready pods on KWOK nodes',
  { timeout: 120_000 },
  async () => {
    const cluster = await sharedCluster();
    const namespace = await createNamespace(cluster, 'harness-deploy');
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    const core = cluster.kc.makeApiClient(CoreV1Api);
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            // The image is never pulled: KWOK's fake kubelet only reports the container as running.
            spec: {
              containers: [
                {
                  name: 'web',
                  image: 'registry.invalid/web:1.0.0',
                  resources: { requests: { cpu: '100m', memory: '64Mi' } },
                },
              ],
            },
          },
        },
      },
    });

    const deployment: V1Deployment = await waitFor(
      `Deployment ${namespace}/web to report 2 available replicas`,
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
        return d.status?.availableReplicas === 2 ? d : false;
      },
      90_000,
    );
    assert.equal(deployment.status?.availableReplicas, 2);
    assert.ok(
      deployment.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True'),
      `Deployment has no Available=True condition: ${JSON.stringify(deployment.status?.conditions)}`,
    );

    const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
    assert.equal(pods.length, 2);
    const kwokNodes = new Set(
      (await core.listNode()).items
        .filter((n) => n.metadata?.annotations?.[KWOK_NODE_ANNOTATION.key] === KWOK_NODE_ANNOTATION.value)
        .map((n) => n.metadata!.name!),
    );
    assert.ok(kwokNodes.size > 0, 'no KWOK nodes in the cluster');
    for (const pod of pods) {
      const name = pod.metadata?.name;
      assert.ok(
        pod.spec?.nodeName && kwokNodes.has(pod.spec.nodeName),
        `pod ${name} is on ${pod.spec?.nodeName}, not a KWOK node`,
      );
      assert.equal(pod.status?.phase, 'Running', `pod ${name} phase`);
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'True', `pod ${name} Ready condition`);
    }
  },
);

test('kubectl reports the pinned Kubernetes version for client and server', { timeout: 60_000 }, async () => {
  const cluster = await sharedCluster();
  const pinned = /^KUBERNETES_VERSION=(\S+)/m.exec(
    readFileSync(join(projectRoot, 'test', 'cluster', 'tools', 'versions.env'), 'utf8'),
  )?.[1];
  assert.ok(pinned, 'KUBERNETES_VERSION missing from versions.env');
  const { code, stdout, stderr } = await cluster.kubectl(['version', '-o', 'json']);
  assert.equal(code, 0, stderr);
  const version = JSON.parse(stdout) as {
    clientVersion?: { gitVersion?: string };
    serverVersion?: { gitVersion?: string };
  };
  assert.equal(version.serverVersion?.gitVersion, pinned);
  assert.equal(version.clientVersion?.gitVersion, pinned);
});
