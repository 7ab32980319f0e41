// Readiness checks used while a test cluster starts: the apiserver's /readyz, the fake KWOK nodes
// (created here) turning Ready, leader leases and ServiceAccounts appearing.
import { request } from 'node:https';
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { KWOK_NODE_ANNOTATION } from './components.ts';

/** GET /readyz with the admin token; the serving cert is not known yet, so it is not verified here. */
export function readyz(server: string, token: string): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      `${server}/readyz`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        res.resume();
        resolvePromise(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy(new Error('/readyz request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function createKwokNodes(kc: KubeConfig, count: number): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names = Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
  // Ample room so tests never hit scheduling limits; kwok keeps status it finds on the node.
  const resources = { cpu: '64', memory: '256Gi', pods: '500' };
  await Promise.all(
    names.map((name) =>
      core.createNode({
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            annotations: {
              [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value,
              'node.alpha.kubernetes.io/ttl': '0',
            },
            labels: {
              type: 'kwok',
              'kubernetes.io/hostname': name,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'amd64',
              'node-role.kubernetes.io/agent': '',
            },
          },
          status: { allocatable: resources, capacity: resources },
        },
      }),
    ),
  );
  return names;
}

/** Ready=True (KWOK's fake kubelet) and no not-ready taint left (the node lifecycle controller removed it). */
export async function nodesReady(kc: KubeConfig, names: string[]): Promise<boolean> {
  const { items } = await kc.makeApiClient(CoreV1Api).listNode();
  return names.every((name) => {
    const node = items.find((n) => n.metadata?.name === name);
    return (
      node !== undefined &&
      isReady(node) &&
      !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'))
    );
  });
}

function isReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export async function holdsLease(kc: KubeConfig, name: string): Promise<boolean> {
  const lease = await kc
    .makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ name, namespace: 'kube-system' });
  return Boolean(lease.spec?.holderIdentity);
}

export async function serviceAccountExists(kc: KubeConfig, namespace: string): Promise<boolean> {
  await kc.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: 'default', namespace });
  return true;
}
