// Informers against a real API server, reached through a TCP proxy the test breaks:
// - during an outage the restart backoff grows (it used to reset on every connect, so each watch
//   retried twice a second for as long as the API server was down), and the informer recovers;
// - Secrets/ConfigMaps are stored without their data; content() reads a referenced one once,
//   throws LOADING meanwhile, emits an update when it lands, and follows later edits by watch.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { createKube, loadKubeConfig, type Obj } from '../../src/kube/client.ts';
import { Informer, RESOURCES } from '../../src/kube/informers.ts';
import { isWeirError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { createNamespace, sharedCluster, type Cluster } from '../cluster/cluster.ts';
import { waitFor } from '../cluster/proc.ts';
import { startTcpProxy, type TcpProxy } from '../cluster/tcp-proxy.ts';

const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

async function proxiedKube(
  cluster: Cluster,
): Promise<{ proxy: TcpProxy; kube: ReturnType<typeof createKube> }> {
  const api = new URL(cluster.server);
  const proxy = await startTcpProxy({ host: api.hostname, port: Number(api.port) });
  cleanup.push(() => proxy.stop());
  const config = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of config.clusters) c.cluster.server = `https://${proxy.address}`;
  const path = join(mkdtempSync(join(tmpdir(), 'weir-informers-')), 'kubeconfig');
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return { proxy, kube: createKube(loadKubeConfig(path)) };
}

const configMap = (ns: string, name: string, data: Record<string, string>) =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data }) as Obj;

test(
  'the restart backoff grows while the API server is unreachable, and the informer recovers',
  { timeout: 120_000 },
  async () => {
    const cluster = await sharedCluster();
    const ns = await createNamespace(cluster, 'informer-outage');
    const { proxy, kube } = await proxiedKube(cluster);
    const informer = new Informer<Obj>(kube, RESOURCES.configMap, ns, createLogger('silent'), {
      backoff: { baseMs: 500, maxMs: 8_000 },
    });
    cleanup.push(() => informer.stop());
    await informer.start();

    proxy.break();
    const cut = Date.now();
    const base = proxy.accepted();
    // Sample the attempts as they come (each restart opens a new connection, which the proxy resets).
    const attempts: number[] = [];
    await waitFor(
      'six restart attempts',
      () => {
        while (proxy.accepted() - base > attempts.length) attempts.push(Date.now() - cut);
        return attempts.length >= 6;
      },
      90_000,
      20,
    );
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    console.log(`# restart attempts after the cut at ${attempts.join(', ')} ms (gaps ${gaps.join(', ')})`);
    // With a base of 500 ms doubling per failure: 500, 1000, 2000, 4000, 8000 ms between attempts
    // (plus up to 20% jitter). A backoff reset on each connect would retry every ~500 ms.
    assert.ok(
      attempts[5]! - attempts[0]! >= 0.9 * (1000 + 2000 + 4000 + 8000),
      `six attempts within ${attempts[5]! - attempts[0]!} ms`,
    );
    assert.ok(gaps[4]! > 3 * gaps[0]!, `the delay grows: gaps ${gaps.join(', ')}`);

    proxy.heal();
    await cluster.kc
      .makeApiClient((await import('@kubernetes/client-node')).CoreV1Api)
      .createNamespacedConfigMap({
        namespace: ns,
        body: configMap(ns, 'after-outage', { a: 'b' }) as never,
      });
    await waitFor(
      'the informer to see an object created after the outage',
      () => informer.get(ns, 'after-outage'),
      40_000,
    );
  },
);

test(
  'ConfigMaps are cached without data; content() reads a referenced one once and follows edits',
  { timeout: 60_000 },
  async () => {
    const cluster = await sharedCluster();
    const ns = await createNamespace(cluster, 'informer-content');
    const kube = createKube(cluster.kc);
    const informer = new Informer<Obj>(kube, RESOURCES.configMap, ns, createLogger('silent'), {
      stripContent: true,
      pageSize: 2, // several pages: the initial list is paged
    });
    cleanup.push(() => informer.stop());
    const big = 'x'.repeat(200_000);
    for (const n of ['a', 'b', 'c', 'd', 'e']) await kube.apply(configMap(ns, n, { big }), 'test');
    const updates: string[] = [];
    informer.on((o, kind) => updates.push(`${kind}:${o.metadata?.name}`));
    await informer.start();

    assert.equal(
      informer.list(ns).filter((o) => ['a', 'b', 'c', 'd', 'e'].includes(o.metadata?.name ?? '')).length,
      5,
    );
    for (const o of informer.list(ns))
      assert.equal(o.data, undefined, `${o.metadata?.name} is stored without data`);
    assert.equal(informer.content(ns, 'absent'), undefined);
    assert.throws(
      () => informer.content(ns, 'a'),
      (e) => isWeirError(e, 'LOADING'),
    );
    await waitFor('the content of a to be read', () => {
      try {
        return informer.content(ns, 'a');
      } catch {
        return undefined;
      }
    });
    assert.equal((informer.content(ns, 'a')?.data as { big?: string })?.big, big);
    assert.ok(updates.includes('update:a'), 'loading the content requeues its readers (an update event)');
    assert.equal(informer.heldContent, 1, 'only the referenced object is held');

    await kube.mergePatch(
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'a' },
      { data: { big: 'edited' } },
    );
    await waitFor(
      'the held content to follow the edit',
      () => (informer.content(ns, 'a')?.data as { big?: string })?.big === 'edited',
    );
    assert.equal(informer.get(ns, 'a')?.data, undefined, 'the informer still stores no data');
  },
);
