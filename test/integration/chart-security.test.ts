// The chart's security defaults, rendered by the real Helm and run by the real `weir controller`:
// the GitSync receivers on a port and Service of their own, and cross-namespace references refused.
// The controller is started with the exact arguments the chart renders (only the bind addresses are
// moved to free loopback ports), so the flags are checked through the CLI, not just the config.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createKube } from '../../src/kube/client.ts';
import { createNamespace, projectRoot, sharedCluster } from '../cluster/cluster.ts';
import { githubSignature } from '../cluster/gitsync-kit.ts';
import { findManifest, helm, CHART_DIR, renderChart, type Manifest } from '../cluster/helm.ts';
import { freePort } from '../cluster/ports.ts';
import { startProcess, waitFor, type Managed } from '../cluster/proc.ts';

const controllerArgs = (docs: Manifest[]): string[] =>
  findManifest(docs, 'Deployment').spec.template.spec.containers[0].args as string[];

describe('chart: receiver listener and cross-namespace references', () => {
  test('defaults: a receiver port and Service apart from /metrics, and --no-cross-namespace-refs', async () => {
    const { docs } = await renderChart('weir', 'weir-system');
    const args = controllerArgs(docs);
    assert.ok(args.includes('--listen=0.0.0.0:8080'), args.join(' '));
    assert.ok(args.includes('--receiver-listen=0.0.0.0:9292'), args.join(' '));
    assert.ok(args.includes('--no-cross-namespace-refs'), args.join(' '));
    const ports = findManifest(docs, 'Deployment').spec.template.spec.containers[0].ports;
    assert.deepEqual(ports, [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'receiver', containerPort: 9292, protocol: 'TCP' },
    ]);
    const main = findManifest(docs, 'Service', 'weir');
    assert.deepEqual(
      main.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]),
      [['http', 8080]],
    );
    const receiver = findManifest(docs, 'Service', 'weir-receiver');
    assert.equal(receiver.spec.type, 'ClusterIP');
    assert.deepEqual(receiver.spec.ports, [
      { name: 'receiver', port: 9292, targetPort: 'receiver', protocol: 'TCP' },
    ]);
    assert.deepEqual(receiver.spec.selector, main.spec.selector);
  });

  test('receiver.enabled=false and crossNamespaceRefs=true go back to one port and allowed references', async () => {
    const { docs } = await renderChart('weir', 'weir-system', {
      'receiver.enabled': false,
      crossNamespaceRefs: true,
    });
    const args = controllerArgs(docs);
    assert.ok(!args.some((a) => a.startsWith('--receiver-listen')), args.join(' '));
    assert.ok(!args.includes('--no-cross-namespace-refs'), args.join(' '));
    assert.ok(!docs.some((d) => d.kind === 'Service' && d.metadata.name === 'weir-receiver'));
  });

  test('receiver values: the Service type and annotations; the same port as service.port is refused', async () => {
    const { docs } = await renderChart('weir', 'weir-system', {
      'receiver.port': 9443,
      'receiver.service.type': 'LoadBalancer',
      'receiver.service.annotations': { 'example.com/public': 'yes' },
    });
    const receiver = findManifest(docs, 'Service', 'weir-receiver');
    assert.equal(receiver.spec.type, 'LoadBalancer');
    const meta = receiver.metadata as { annotations?: Record<string, string> };
    assert.equal(meta.annotations?.['example.com/public'], 'yes');
    assert.equal(receiver.spec.ports[0].port, 9443);
    assert.equal(findManifest(docs, 'Service', 'weir').spec.type, 'ClusterIP', 'the main one stays internal');

    const same = await helm(['template', 'weir', CHART_DIR, '--set', 'receiver.port=8080']);
    assert.notEqual(same.code, 0);
    assert.match(same.stderr, /receiver\.port must differ from service\.port/);
    const bad = await helm(['template', 'weir', CHART_DIR, '--set', 'receiver.service.type=Public']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /receiver\/service\/type.*one of/);
  });

  let controller: Managed | undefined;
  after(async () => controller?.stop());

  test("the controller run with the chart's arguments: receiver apart, foreign references refused", async () => {
    const cluster = await sharedCluster();
    const ns = await createNamespace(cluster, 'chart-security');
    const { docs } = await renderChart('weir', 'weir-system', { watchNamespace: ns });
    const [mainPort, receiverPort] = [await freePort(), await freePort()];
    const args = controllerArgs(docs)
      .filter((a) => a !== '--leader-elect') // one process; the Lease is tested elsewhere
      .map((a) =>
        a
          .replace(/^--listen=0\.0\.0\.0:\d+$/, `--listen=127.0.0.1:${mainPort}`)
          .replace(/^--receiver-listen=0\.0\.0\.0:\d+$/, `--receiver-listen=127.0.0.1:${receiverPort}`),
      );
    assert.equal(args[0], 'controller');
    const logDir = join(process.env.WEIR_TEST_LOG_DIR ?? join(projectRoot, '.weir', 'test-logs'), ns);
    mkdirSync(logDir, { recursive: true });
    controller = startProcess(
      'controller',
      process.execPath,
      [join(projectRoot, 'bin', 'weir.js'), ...args, '--kubeconfig', cluster.kubeconfigPath],
      { logDir, env: { ...process.env, WEIR_GIT_CACHE_DIR: join(logDir, 'git') } },
    );
    const main = `http://127.0.0.1:${mainPort}`;
    const receiver = `http://127.0.0.1:${receiverPort}`;
    await waitFor(
      'the controller ready on the main port',
      async () => (await fetch(`${main}/readyz`)).status === 200,
      60_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${controller?.tail()}`);
    });

    const body = '{}';
    const hook = (base: string) =>
      fetch(`${base}/hooks/gitsync/${ns}/none`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(body, 't') },
        body,
      });
    assert.equal((await hook(receiver)).status, 401, 'the receiver answers on its port');
    assert.equal((await hook(main)).status, 404, 'and not on the metrics port');
    assert.equal((await fetch(`${receiver}/metrics`)).status, 404, '/metrics is not on the receiver port');
    assert.equal((await fetch(`${main}/metrics`)).status, 200);

    const kube = createKube(cluster.kc);
    await kube.apply(
      {
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'Canary',
        metadata: { name: 'xref', namespace: ns },
        spec: {
          targetRef: { kind: 'Deployment', name: 'xref' },
          service: { port: 8080 },
          analysis: {
            interval: '10s',
            threshold: 1,
            maxWeight: 50,
            stepWeight: 25,
            metrics: [
              { name: 'm', templateRef: { name: 't', namespace: 'monitoring' }, thresholdRange: { min: 1 } },
            ],
          },
        },
      } as never,
      'weir-test',
    );
    const ready = await waitFor(
      'Ready=False naming the refused field',
      async () => {
        const c = await kube.get<{ status?: { conditions?: Array<Record<string, string>> } }>({
          apiVersion: 'weir.dev/v1alpha1',
          kind: 'Canary',
          namespace: ns,
          name: 'xref',
        });
        return c?.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'False');
      },
      60_000,
      250,
    );
    assert.equal(ready.reason, 'InvalidSpec');
    assert.match(
      ready.message ?? '',
      /spec\.analysis\.metrics\[0\]\.templateRef\.namespace: cross-namespace references are disabled \(--no-cross-namespace-refs\)/,
    );
  });
});
