// Start-up cost of the test cluster with cached binaries: time to a ready API server, to a fully
// usable cluster (nodes Ready, controllers and scheduler up), and to a first Deployment Available.
// Prints figures only; it asserts nothing about time.
//
//   npx tsx test/bench/cluster-start.ts [runs]
import { AppsV1Api } from '@kubernetes/client-node';
import { startCluster } from '../cluster/cluster.ts';
import { waitFor } from '../cluster/proc.ts';

interface Run {
  apiReady: number;
  clusterReady: number;
  deploymentAvailable: number;
  stop: number;
}

async function measureOnce(): Promise<Run> {
  const t0 = Date.now();
  const cluster = await startCluster({ nodes: 2 });
  try {
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    const labels = { app: 'bench' };
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'bench' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'bench', image: 'registry.invalid/bench:1' }] },
          },
        },
      },
    });
    await waitFor(
      'Deployment default/bench to become Available',
      async () =>
        (await apps.readNamespacedDeployment({ name: 'bench', namespace: 'default' })).status
          ?.availableReplicas === 1,
      60_000,
      50,
    );
    const deploymentAvailable = Date.now() - t0;
    const t1 = Date.now();
    await cluster.stop();
    return {
      apiReady: cluster.timings!.apiReadyMs,
      clusterReady: cluster.timings!.clusterReadyMs,
      deploymentAvailable,
      stop: Date.now() - t1,
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const results: Run[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await measureOnce();
    results.push(r);
    console.log(
      `run ${i}: api ready ${r.apiReady} ms, cluster ready ${r.clusterReady} ms, deployment available ${r.deploymentAvailable} ms, stop ${r.stop} ms`,
    );
  }
  const rows: [string, keyof Run][] = [
    ['API ready (/readyz ok)', 'apiReady'],
    ['cluster ready (startCluster resolved)', 'clusterReady'],
    ['first 1-replica Deployment Available', 'deploymentAvailable'],
    ['stop()', 'stop'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\n${'ms since start'.padEnd(width)}  ${'min'.padStart(7)}  ${'median'.padStart(7)}`);
  for (const [label, key] of rows) {
    const xs = results.map((r) => r[key]);
    console.log(
      `${label.padEnd(width)}  ${String(Math.min(...xs)).padStart(7)}  ${String(median(xs)).padStart(7)}`,
    );
  }
}

await main();
