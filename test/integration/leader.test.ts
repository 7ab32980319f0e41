// Leader election: two controller processes share a Lease; only the holder acts, and when it dies
// (SIGKILL, no clean release) the other takes over once the lease expires.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { createKube } from '../../src/kube/client.ts';
import { createNamespace, projectRoot, sharedCluster } from '../cluster/cluster.ts';
import { startProcess, waitFor, type Managed } from '../cluster/proc.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const procs: Managed[] = [];
after(async () => Promise.all(procs.map((p) => p.stop())));

test('only the lease holder acts; a killed leader is replaced', { timeout: 120_000 }, async () => {
  const cluster = await sharedCluster();
  const ns = await createNamespace(cluster, 'leader');
  const leases = cluster.kc.makeApiClient(CoordinationV1Api);
  const logDir = mkdtempSync(join(tmpdir(), 'weir-leader-'));
  const start = (id: string) => {
    const p = startProcess(
      `controller-${id}`,
      process.execPath,
      [
        join(projectRoot, 'bin', 'weir.js'),
        'controller',
        '--kubeconfig',
        cluster.kubeconfigPath,
        '--leader-elect',
        '--lease-namespace',
        ns,
      ],
      {
        logDir,
        env: {
          ...process.env,
          POD_NAME: id,
          WEIR_NAMESPACE: ns,
          WEIR_LISTEN: '127.0.0.1:0',
          WEIR_LOG_LEVEL: 'info',
        },
      },
    );
    procs.push(p);
    return p;
  };
  const holder = async () => {
    try {
      return (await leases.readNamespacedLease({ name: 'weir-controller', namespace: ns })).spec
        ?.holderIdentity;
    } catch {
      return undefined;
    }
  };
  const a = start('replica-a');
  const first = await waitFor('a lease holder', holder, 30_000);
  assert.equal(first, 'replica-a');
  const b = start('replica-b');
  await waitFor('replica-b to start', () => b.tail(50).includes('weir controller started'), 30_000);
  // b runs but must not act: the holder stays a while both renew.
  await new Promise((r) => setTimeout(r, 5_000));
  assert.equal(await holder(), 'replica-a');
  assert.ok(!b.tail(200).includes('became leader'), 'replica-b must not lead while replica-a renews');

  a.child.kill('SIGKILL');
  await a.exited;
  const t0 = Date.now();
  await waitFor('replica-b to take the lease', async () => (await holder()) === 'replica-b', 40_000, 500);
  const took = Date.now() - t0;
  // The log line follows the Lease write (and goes through a pipe): wait for it briefly.
  await waitFor('replica-b logs "became leader"', () => b.tail(200).includes('became leader'), 5_000, 100);
  // The new leader acts: a Canary is initialized by it.
  const kube = createKube(cluster.kc);
  await kube.apply(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'app', namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'app' } },
        template: {
          metadata: { labels: { app: 'app' } },
          spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] },
        },
      },
    } as never,
    'test',
  );
  await kube.apply(
    {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'app', namespace: ns },
      spec: {
        provider: 'kubernetes',
        targetRef: { kind: 'Deployment', name: 'app' },
        service: { port: 80 },
        analysis: { interval: '10s', iterations: 2 },
      },
    } as never,
    'test',
  );
  await waitFor(
    'Canary initialized by the new leader',
    async () => {
      const c = await kube.get<{ status?: { phase?: string } } & Record<string, never>>({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'Canary',
        namespace: ns,
        name: 'app',
      });
      return c?.status?.phase === 'Initialized';
    },
    30_000,
    500,
  );
  console.log(`# leader failover after SIGKILL took ${took} ms (lease 15 s)`);
});
