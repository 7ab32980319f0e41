// The pod runner on the shared cluster, inside the run's network namespace: KWOK pods whose image is
// podinfo answer on their own IP with the real podinfo binary, each naming its pod and image tag; a
// pod scaled away stops answering; a pod template's --random-error gives real 5xx, which podinfo's own
// metrics count on the metrics port. Two pods share that metrics port, so each pod has its own
// network namespace (podinfo's metrics server binds every interface).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { createNamespace, projectRoot, sharedCluster, type Cluster } from '../cluster/cluster.ts';
import { assertRunNetns } from '../cluster/netns.ts';
import { startPodRunner, type PodRunner } from '../cluster/pod-runner.ts';
import { waitFor } from '../cluster/proc.ts';

const IMAGE = 'ghcr.io/stefanprodan/podinfo:6.0.1';
const FLAGS = ['--port=9898', '--port-metrics=9797', '--level=info'];

let cluster: Cluster;
let ns: string;
let runner: PodRunner;
let core: CoreV1Api;
let apps: AppsV1Api;

before(async () => {
  assertRunNetns();
  cluster = await sharedCluster();
  ns = await createNamespace(cluster, 'dataplane-pods');
  core = cluster.kc.makeApiClient(CoreV1Api);
  apps = cluster.kc.makeApiClient(AppsV1Api);
  const logDir = join(process.env.WEIR_TEST_LOG_DIR ?? join(projectRoot, '.weir', 'test-logs'), ns);
  runner = await startPodRunner({ kubeconfigPath: cluster.kubeconfigPath, namespaces: [ns], logDir });
});

after(async () => {
  await runner?.stop();
  await core?.deleteNamespace({ name: ns }).catch(() => undefined);
});

interface Info {
  hostname: string;
  message: string;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** True once nothing accepts connections at `url` (refused or unreachable). */
async function refuses(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return false;
  } catch {
    return true;
  }
}

async function runningPods(selector: string, count: number): Promise<V1Pod[]> {
  return waitFor(`${count} Running pods ${selector} with IPs in ${ns}`, async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    const live = list.items.filter((p) => !p.metadata?.deletionTimestamp);
    const ok = live.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
    return live.length === count && ok.length === count ? ok : undefined;
  });
}

test('podinfo pods answer on their IPs, naming pod and tag, and stop when scaled away', async () => {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'podinfo' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'podinfo' } },
        template: {
          metadata: { labels: { app: 'podinfo' } },
          spec: {
            containers: [
              {
                name: 'podinfod',
                image: IMAGE,
                command: ['./podinfo', ...FLAGS],
                ports: [{ name: 'http', containerPort: 9898 }],
              },
            ],
          },
        },
      },
    },
  });
  const pods = await runningPods('app=podinfo', 2);
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    const p = await runner.waitForPod(ns, name);
    assert.equal(p.podIP, pod.status!.podIP);
    const info = JSON.parse((await get(`http://${p.podIP}:9898/`)).body) as Info;
    assert.equal(info.hostname, name, 'podinfo names its pod');
    assert.equal(info.message, '6.0.1', 'podinfo names its image tag');
    // Both pods serve metrics on 9797: only possible because each has its own network namespace.
    const metrics = await get(`http://${p.podIP}:9797/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^http_requests_total\{status="200"\} \d+/m);
  }

  const scaled = await cluster.kubectl(['-n', ns, 'scale', 'deployment/podinfo', '--replicas=1']);
  assert.equal(scaled.code, 0, scaled.stderr);
  const [kept] = await runningPods('app=podinfo', 1);
  const gone = pods.find((p) => p.metadata!.name !== kept!.metadata!.name)!;
  await waitFor(
    `pod ${gone.metadata!.name}'s podinfo to stop answering`,
    () => refuses(`http://${gone.status!.podIP}:9898/`),
    30_000,
  );
  assert.equal(runner.pod(gone.metadata!.name!, ns), undefined);
  const still = JSON.parse((await get(`http://${kept!.status!.podIP}:9898/`)).body) as Info;
  assert.equal(still.hostname, kept!.metadata!.name);
});

test("a pod template's --random-error gives real 5xx, counted by podinfo's own metrics", async () => {
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'faulty', labels: { app: 'faulty' } },
      spec: {
        containers: [
          {
            name: 'podinfod',
            image: 'ghcr.io/stefanprodan/podinfo:6.0.2',
            // args alone (the image's ./podinfo entrypoint), a $(VAR) reference, and the pod's own message.
            args: ['--port=$(HTTP_PORT)', '--port-metrics=9797', '--random-error'],
            env: [
              { name: 'HTTP_PORT', value: '9899' },
              { name: 'PODINFO_UI_MESSAGE', value: 'bad release' },
            ],
          },
        ],
      },
    },
  });
  const [pod] = await runningPods('app=faulty', 1);
  const p = await runner.waitForPod(ns, 'faulty');
  assert.equal(p.httpPort, 9899);
  assert.equal(p.tag, '6.0.2');
  // podinfo picks an error for one request in three, a 500 for one in nine: 150 requests all but
  // certainly see both a 5xx and a 200 (the chance of no 5xx is (8/9)^150 ≈ 2e-8).
  // The readiness probes of waitForPod went through --random-error too: count from here.
  const served500 = async () => {
    const metrics = (await get(`http://${pod!.status!.podIP}:9797/metrics`)).body;
    return Number(/^http_requests_total\{status="500"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  };
  const before = await served500();
  const codes = new Map<number, number>();
  let sample: Info | undefined;
  for (let i = 0; i < 150; i++) {
    const { status, body } = await get(`http://${pod!.status!.podIP}:9899/`);
    codes.set(status, (codes.get(status) ?? 0) + 1);
    if (status === 200) sample ??= JSON.parse(body) as Info;
  }
  const fiveXX = [...codes].filter(([c]) => c >= 500).reduce((n, [, k]) => n + k, 0);
  assert.ok(fiveXX > 0, `some 5xx expected, got ${JSON.stringify([...codes])}`);
  assert.ok(sample, 'some 200 expected');
  assert.equal(sample.hostname, 'faulty');
  assert.equal(sample.message, 'bad release', "the pod's own PODINFO_UI_MESSAGE is kept");
  const counted = (await served500()) - before;
  assert.equal(counted, codes.get(500) ?? 0, "podinfo's metrics count the 500s it answered");
});
