// Leader election: two controller processes share a Lease; only the holder acts, and when it dies
// (SIGKILL, no clean release) the other takes over once the lease expires. A leader cut off from
// the API server (a TCP proxy in front of it freezes: requests hang, nothing errors) steps down and
// exits by its renew deadline, on its own clock.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createKube } from '../../src/kube/client.ts';
import { createNamespace, sharedCluster } from '../cluster/cluster.ts';
import { leaseReader, startReplica } from '../cluster/leader-replica.ts';
import { waitFor, type Managed } from '../cluster/proc.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse, stringify } from 'yaml';
import { startTcpProxy, type TcpProxy } from '../cluster/tcp-proxy.ts';

const procs: Managed[] = [];
const proxies: TcpProxy[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(proxies.map((p) => p.stop()));
});

function startController(kubeconfig: string, ns: string, id: string, logDir: string): Managed {
  const p = startReplica({ id, kubeconfig, ns, logDir });
  procs.push(p);
  return p;
}

test('only the lease holder acts; a killed leader is replaced', { timeout: 120_000 }, async () => {
  const cluster = await sharedCluster();
  const ns = await createNamespace(cluster, 'leader');
  const logDir = mkdtempSync(join(tmpdir(), 'weir-leader-'));
  const start = (id: string) => startController(cluster.kubeconfigPath, ns, id, logDir);
  const lease = leaseReader(cluster.kc, ns);
  const holder = async () => (await lease())?.holderIdentity;
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

test('a leader whose API requests hang steps down by its renew deadline', { timeout: 150_000 }, async () => {
  const cluster = await sharedCluster();
  const ns = await createNamespace(cluster, 'partition');
  const logDir = mkdtempSync(join(tmpdir(), 'weir-partition-'));
  const api = new URL(cluster.server);
  const proxy = await startTcpProxy({ host: api.hostname, port: Number(api.port) });
  proxies.push(proxy);
  // The leader reaches the API server only through the proxy.
  const config = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of config.clusters) c.cluster.server = `https://${proxy.address}`;
  const proxied = join(logDir, 'kubeconfig-proxied');
  writeFileSync(proxied, stringify(config), { mode: 0o600 });
  const lease = leaseReader(cluster.kc, ns);

  const a = startController(proxied, ns, 'partitioned', logDir);
  await waitFor(
    'the proxied replica to lead',
    async () => (await lease())?.holderIdentity === 'partitioned',
    60_000,
    250,
  );
  await waitFor('"became leader"', () => a.tail(200).includes('became leader'), 10_000, 100);
  // Wait for a renewal through the proxy, so lastRenew is recent and known to be before the cut.
  const before = (await lease())?.renewTime;
  await waitFor('a renewal', async () => String((await lease())?.renewTime) !== String(before), 15_000, 200);
  proxy.freeze();
  const cut = Date.now();
  const code = await Promise.race([
    a.exited,
    new Promise<'alive'>((r) => setTimeout(() => r('alive'), 30_000).unref()),
  ]);
  const took = Date.now() - cut;
  assert.notEqual(code, 'alive', `the cut-off leader still runs 30 s after the cut:\n${a.tail(30)}`);
  assert.equal(code, 1, 'it exits with an error so that it is restarted as a follower');
  assert.match(a.tail(200), /could not renew the lease in time, stepping down/);
  // renewDeadline is 10 s from the last renewal, which happened before the cut; the margin is for a
  // loaded machine (process exit, log pipe).
  assert.ok(took <= 14_000, `stepped down ${took} ms after the cut (renew deadline 10 s)`);

  // A replica that can reach the API server takes over once the lease, as it observes it, expires.
  const b = startController(cluster.kubeconfigPath, ns, 'healthy', logDir);
  const t0 = Date.now();
  await waitFor(
    'the healthy replica to take the lease',
    async () => (await lease())?.holderIdentity === 'healthy',
    60_000,
    250,
  );
  console.log(`# cut-off leader stepped down ${took} ms after the cut; takeover took ${Date.now() - t0} ms`);
  await b.stop();
});
