// The least-privilege proof: `weir controller` authenticated as the Helm chart's ServiceAccount (a
// token minted by the API server, the identity a pod of the chart presents) with exactly the chart's
// RBAC takes Canaries through whole runs (ClusterRole, and Role with rbac.namespaced) and GitSync
// through a sync (refused without gitsync.rules, then applied, promoted and pruned with them); with
// one permission removed it fails clearly, the controller's log naming the refused resource.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { GitSyncStatus } from '../../src/api/gitsync.ts';
import { SYNC_REQUEST_ANNOTATION } from '../../src/gitsync/controller.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { commitFiles, startGitServer } from '../cluster/git-server.ts';
import { createNamespace } from '../cluster/cluster.ts';
import {
  chartTestKit,
  findManifest,
  kubectlApply,
  renderChart,
  serviceAccountKubeconfig,
} from '../cluster/helm.ts';
import { waitFor } from '../cluster/proc.ts';

const chart = chartTestKit();
const { release, installRbac } = chart;

describe('weir controller as the Helm chart ServiceAccount', { concurrency: true }, () => {
  test('with the ClusterRole, a Canary goes through a whole run, HPA copy and revertOnDeletion included', async () => {
    const rel = release('proof');
    const releaseNs = await createNamespace(chart.cluster, 'helm-proof-release');
    const sa = await installRbac(rel, releaseNs, {});
    const identity = `${rel}-7f9c-abcde`;
    const w = await startWorld('helm-proof', {
      controller: 'child',
      kubeconfig: sa.kubeconfig,
      env: { WEIR_LEADER_ELECT: 'true', POD_NAME: identity, POD_NAMESPACE: releaseNs },
    });
    try {
      await promotes(w, 'app', { all: true });
      const lease = await chart.cluster.kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: 'weir-controller', namespace: releaseNs });
      assert.equal(
        lease.spec?.holderIdentity,
        identity,
        'leader election ran with the Role in the release namespace',
      );
      assert.doesNotMatch(readFileSync(w.logFile, 'utf8'), /forbidden/i, 'no request was refused');
    } finally {
      await w.stop();
    }
  });

  test('with rbac.namespaced the Role in the watched namespace is enough for a whole run', async () => {
    const rel = release('proof-ns');
    const releaseNs = await createNamespace(chart.cluster, 'helm-proof-ns-release');
    // The ServiceAccount first (its token is the controller's identity), the namespaced Roles once
    // the world's namespace exists.
    const { docs } = await renderChart(rel, releaseNs);
    const applied = await kubectlApply(chart.cluster, [findManifest(docs, 'ServiceAccount')]);
    assert.equal(applied.code, 0, applied.stderr);
    const kubeconfig = await serviceAccountKubeconfig(chart.cluster, releaseNs, rel);
    const w = await startWorld('helm-proof-ns', {
      controller: 'child',
      kubeconfig,
      deferController: true,
      env: { WEIR_LEADER_ELECT: 'true', POD_NAME: `${rel}-0`, POD_NAMESPACE: releaseNs },
    });
    try {
      const sa = await installRbac(rel, releaseNs, { 'rbac.namespaced': true, watchNamespace: w.ns });
      assert.deepEqual(sa.kinds, [
        'Role/' + rel,
        'Role/' + `${rel}-gitsync-impersonate`,
        'Role/' + `${rel}-leader-election`,
        'RoleBinding/' + rel,
        'RoleBinding/' + `${rel}-gitsync-impersonate`,
        'RoleBinding/' + `${rel}-leader-election`,
        'ServiceAccount/' + rel,
      ]);
      await w.startController();
      await promotes(w, 'app');
      assert.doesNotMatch(readFileSync(w.logFile, 'utf8'), /forbidden/i, 'no request was refused');
    } finally {
      await w.stop();
    }
  });

  test('GitSync is refused by default, and syncs, runs a canary and prunes with gitsync.rules', async () => {
    const rel = release('gitsync');
    const releaseNs = await createNamespace(chart.cluster, 'helm-gitsync-release');
    const sa = await installRbac(rel, releaseNs, {});
    const git = await startGitServer();
    const w = await startWorld('helm-gitsync', {
      controller: 'child',
      kubeconfig: sa.kubeconfig,
      env: { WEIR_LEADER_ELECT: 'true', POD_NAME: `${rel}-0`, POD_NAMESPACE: releaseNs },
    });
    try {
      const repo = await git.createRepo('apps');
      await commitFiles(
        repo.url,
        {
          'app/deployment.yaml': gitDeployment('example.com/podinfo:1.0.0'),
          'app/canary.yaml': yamlOf(canary('podinfo')),
          'app/settings.yaml': yamlOf({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'settings' },
            data: { a: '1' },
          }),
        },
        'v1',
      );
      await w.apply({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'GitSync',
        metadata: { name: 'apps' },
        spec: { url: repo.url, path: 'app', prune: true, interval: '1h' },
      });
      const ref = { apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', namespace: w.ns, name: 'apps' };
      const status = async () =>
        ((await w.kube.get(ref)) as { status?: GitSyncStatus } | undefined)?.status ?? {};
      const ready = async () => (await status()).conditions?.find((c) => c.type === 'Ready');

      // 1. The default chart grants GitSync nothing beyond its own objects: the apply is refused, and
      // the GitSync says so (its status write is the controller's own permission).
      const refused = await waitFor(
        'GitSync Ready=False naming the refused write',
        async () => {
          const c = await ready();
          return c?.status === 'False' && /forbidden/i.test(c.message ?? '') ? c : undefined;
        },
        60_000,
        500,
      );
      assert.ok(refused.message?.includes(`system:serviceaccount:${releaseNs}:${rel}`), refused.message);

      // 2. gitsync.rules for exactly the kinds the repository holds: everything is applied.
      await installRbac(rel, releaseNs, { 'gitsync.rules': GITSYNC_RULES });
      const syncNow = async () => {
        const value = `${Date.now()}-${Math.random()}`;
        await w.kube.mergePatch(ref, { metadata: { annotations: { [SYNC_REQUEST_ANNOTATION]: value } } });
        return waitFor(
          'sync handled',
          async () => {
            const s = await status();
            return s.lastHandledSyncRequest === value ? s : undefined;
          },
          30_000,
          200,
        );
      };
      const first = await syncNow();
      assert.equal(first.conditions?.find((c) => c.type === 'Ready')?.status, 'True', JSON.stringify(first));
      await w.exporters('podinfo', { errorRate: 0 });
      await w.waitPhase('podinfo', 'Initialized', 60_000);

      // 3. A commit with a new image: a canary run, promoted.
      await commitFiles(
        repo.url,
        { 'app/deployment.yaml': gitDeployment('example.com/podinfo:2.0.0') },
        'v2',
      );
      await syncNow();
      const done = await w.waitPhase('podinfo', ['Succeeded', 'Failed'], 150_000);
      assert.equal(done.status?.phase, 'Succeeded', done.status?.message);

      // 4. A file removed from Git: its object is pruned (delete).
      await commitFiles(repo.url, { 'app/settings.yaml': null }, 'drop settings');
      const pruned = await syncNow();
      assert.equal(
        pruned.conditions?.find((c) => c.type === 'Ready')?.status,
        'True',
        JSON.stringify(pruned),
      );
      assert.equal(
        await w.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: w.ns, name: 'settings' }),
        undefined,
      );
    } finally {
      await w.stop();
      await git.stop();
    }
  });

  test('without patch on canaries/status the controller logs a 403 naming it and writes no status', async () => {
    const rel = release('missing');
    const releaseNs = await createNamespace(chart.cluster, 'helm-missing-release');
    const sa = await installRbac(rel, releaseNs, {}, (docs) => {
      const role = findManifest(docs, 'ClusterRole', rel);
      role.rules = role.rules.filter(
        (r: { resources: string[] }) => !r.resources.includes('canaries/status'),
      );
    });
    const w = await startWorld('helm-missing', {
      controller: 'child',
      kubeconfig: sa.kubeconfig,
      env: { WEIR_LEADER_ELECT: 'true', POD_NAME: `${rel}-0`, POD_NAMESPACE: releaseNs },
    });
    try {
      await w.apply(deployment('app', 'example.com/app:1.0.0'));
      await w.apply(canary('app'));
      const user = `system:serviceaccount:${releaseNs}:${rel}`;
      const line = await waitFor(
        'a reconcile error naming canaries/status in the controller log',
        () =>
          readFileSync(w.logFile, 'utf8')
            .split('\n')
            .find((l) => l.includes('cannot patch resource') && l.includes('canaries/status')),
        60_000,
        500,
      );
      assert.match(line, /forbidden/);
      assert.ok(line.includes(user), `the log names the ServiceAccount: ${line}`);
      assert.match(line, /reconcile failed/);
      assert.equal((await w.canary('app')).status?.phase, undefined, 'no status was written');
    } finally {
      await w.stop();
    }
  });
});

/** What GitSync needs on each kind it manages: read (get, list), apply (create, patch), prune (delete). */
const GITSYNC_VERBS = ['get', 'list', 'create', 'patch', 'delete'];
const GITSYNC_RULES = [
  { apiGroups: [''], resources: ['configmaps'], verbs: GITSYNC_VERBS },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: GITSYNC_VERBS },
  { apiGroups: ['weir.dev'], resources: ['canaries'], verbs: GITSYNC_VERBS },
];

const yamlOf = (o: Record<string, unknown>) => stringify(o);
const gitDeployment = (image: string) => {
  const d = deployment('podinfo', image) as { spec: { template: { spec: Record<string, unknown> } } };
  d.spec.template.spec = { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] };
  return yamlOf(d as unknown as Record<string, unknown>);
};

/** A target with a tracked ConfigMap and Secret, so the run also creates their -primary copies. */
function deployment(name: string, image: string): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'app',
              image,
              ports: [{ containerPort: 8080 }],
              envFrom: [{ secretRef: { name: `${name}-env` } }],
              volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
            },
          ],
          volumes: [{ name: 'config', configMap: { name: `${name}-config` } }],
        },
      },
    },
  };
}

const canary = (name: string, extra: Record<string, unknown> = {}) =>
  gatewayCanary(name, { stepWeight: 50, maxWeight: 50 }, extra);

/**
 * Initialization, then a new image analysed and promoted; asserts what each permission was for.
 * `all` adds an HPA (its -primary copy) and revertOnDeletion (the finalizer), and deletes the Canary.
 */
async function promotes(w: World, name: string, opts: { all?: boolean } = {}): Promise<void> {
  await w.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${name}-config` },
    data: { a: '1' },
  });
  await w.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${name}-env` },
    data: { TOKEN: Buffer.from('s3cret').toString('base64') },
  });
  await w.apply(deployment(name, 'example.com/app:1.0.0'));
  if (opts.all) await w.apply(hpa(name));
  await w.exporters(name, { errorRate: 0 });
  const extra = opts.all
    ? { autoscalerRef: { kind: 'HorizontalPodAutoscaler', name }, revertOnDeletion: true }
    : {};
  await w.apply(canary(name, extra));
  const init = await w.waitPhase(name, 'Initialized', 60_000);
  const get = (apiVersion: string, kind: string, n: string) =>
    w.kube.get({ apiVersion, kind, namespace: w.ns, name: n });
  if (opts.all) {
    assert.ok(await get('autoscaling/v2', 'HorizontalPodAutoscaler', `${name}-primary`), 'HPA copy');
    assert.deepEqual(init.metadata.finalizers, ['weir.dev/finalizer'], 'finalizer added');
  }
  assert.ok(await get('v1', 'ConfigMap', `${name}-config-primary`), 'ConfigMap copy');
  assert.ok(await get('v1', 'Secret', `${name}-env-primary`), 'Secret copy');
  assert.ok(await get('v1', 'Service', `${name}-canary`), 'Services');
  assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 }, 'HTTPRoute');

  await w.setImage(name, 'example.com/app:2.0.0');
  const weights = await w.recordWeights(name);
  const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 150_000);
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
  assert.ok((await weights.stop()).includes(50), 'the HTTPRoute was patched to 50/50 during analysis');
  const primary = (await get('apps/v1', 'Deployment', `${name}-primary`)) as {
    spec?: { template?: { spec?: { containers?: Array<{ image?: string }> } } };
  };
  assert.equal(primary.spec?.template?.spec?.containers?.[0]?.image, 'example.com/app:2.0.0');
  const events = await w.events(name);
  assert.ok(events.length > 0, 'Events were recorded');
  if (!opts.all) return;

  // revertOnDeletion: the controller scales the target back, hands traffic to it, drops the finalizer.
  await w.kube.remove({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: w.ns, name });
  await waitFor(
    `Canary ${w.ns}/${name} gone (finalizer removed by the controller)`,
    async () => !(await get('weir.dev/v1alpha1', 'Canary', name)),
    60_000,
    500,
  );
  const target = (await get('apps/v1', 'Deployment', name)) as { spec?: { replicas?: number } };
  assert.ok((target.spec?.replicas ?? 0) >= 1, 'the target Deployment serves again');
  const apex = (await get('v1', 'Service', name)) as { spec?: { selector?: Record<string, string> } };
  assert.deepEqual(apex.spec?.selector, { app: name }, 'the apex Service selects the target');
}

function hpa(name: string): Record<string, unknown> {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: 2,
      maxReplicas: 4,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ],
    },
  };
}
