// "Declare it in Git" end to end: a GitSync applies a Deployment and its Canary from a real git server;
// a commit changing the image starts a canary run that is promoted; a commit with a failing version
// is rolled back, and syncing that same Git revision again does not restart the run nor take the
// target's spec.replicas back from Weir (every write to the target is watched and attributed); a new
// commit starts a new run. Real Prometheus analysis, real API server, the whole Weir controller.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Watch } from '@kubernetes/client-node';
import { commitFiles } from '../cluster/git-server.ts';
import {
  gitCanaryWorld,
  gitSyncStatus as readGitSyncStatus,
  podinfoCanary,
  podinfoDeployment,
  requestSync,
} from '../cluster/gitsync-canary-kit.ts';
import { waitFor } from '../cluster/proc.ts';

const env = gitCanaryWorld('gitsync-canary');

const deployment = podinfoDeployment;
const canary = podinfoCanary({ interval: '10s', threshold: 2 });

type Raw = {
  metadata: {
    resourceVersion: string;
    generation: number;
    managedFields?: Array<{
      manager: string;
      operation: string;
      time?: string;
      fieldsV1?: Record<string, unknown>;
    }>;
  };
  spec: { replicas?: number; template: { spec: { containers: Array<{ image: string }> } } };
};

const apps = () => ({ namespace: env.w.ns, name: 'apps' });
const gitSyncStatus = () => readGitSyncStatus(env.w.kube, apps());
const syncNow = () => requestSync(env.w.kube, apps());
const target = async () => (await env.w.deployment('podinfo')) as unknown as Raw;
const replicaOwners = (d: Raw) =>
  (d.metadata.managedFields ?? [])
    .filter((m) => (m.fieldsV1?.['f:spec'] as Record<string, unknown> | undefined)?.['f:replicas'])
    .map((m) => m.manager)
    .sort();

test('Git drives canary runs: promoted, rolled back and not restarted by re-syncs, replicas left to Weir', async () => {
  const repo = await env.git.createRepo('apps');
  const ex = await env.w.exporters('podinfo', { errorRate: 0 });
  await commitFiles(
    repo.url,
    { 'app/deployment.yaml': deployment('example.com/podinfo:1.0.0'), 'app/canary.yaml': canary },
    'v1',
  );
  await env.w.apply({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'GitSync',
    metadata: { name: 'apps' },
    spec: { url: repo.url, path: 'app', prune: true, interval: '1h' },
  });
  await env.w.waitPhase('podinfo', 'Initialized', 60_000);

  // Every write to the target from here on, as the API server sees it (raw watch events).
  const writes: Raw[] = [];
  const watch = await new Watch(env.w.cluster.kc).watch(
    `/apis/apps/v1/namespaces/${env.w.ns}/deployments`,
    { fieldSelector: 'metadata.name=podinfo' },
    (type, obj: Raw) => {
      if (type === 'MODIFIED' || type === 'ADDED') writes.push(obj);
    },
    () => undefined,
  );
  try {
    // 1. A new image in Git: a canary run that is promoted.
    const v2 = await commitFiles(
      repo.url,
      { 'app/deployment.yaml': deployment('example.com/podinfo:2.0.0') },
      'v2',
    );
    await syncNow();
    await env.w.waitPhase('podinfo', 'Progressing', 30_000);
    const promoted = await env.w.waitPhase('podinfo', ['Succeeded', 'Failed'], 150_000);
    assert.equal(promoted.status?.phase, 'Succeeded', promoted.status?.message);
    const primary = (await env.w.kube.get({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: env.w.ns,
      name: 'podinfo-primary',
    })) as unknown as Raw;
    assert.equal(primary.spec.template.spec.containers[0]?.image, 'example.com/podinfo:2.0.0');
    // The Canary's own status names the Git revision it promoted.
    assert.equal(promoted.status?.lastPromotedGitRevision, v2);
    await waitFor(
      'GitSync reports the promotion',
      async () => {
        const c = (await gitSyncStatus()).canaries?.[0];
        return c?.phase === 'Succeeded' && c.gitRevision === v2;
      },
      15_000,
    );

    // 2. A failing version: rolled back.
    ex.canary.set({ errorRate: 0.5 });
    const v3 = await commitFiles(
      repo.url,
      { 'app/deployment.yaml': deployment('example.com/podinfo:3.0.0') },
      'v3 (bad)',
    );
    await syncNow();
    const failed = await env.w.waitPhase('podinfo', 'Failed', 120_000);
    assert.match(failed.status?.message ?? '', /request-success-rate/);
    assert.equal(failed.status?.lastAppliedGitRevision, v3, 'the Canary names the rolled-back Git revision');
    assert.equal(failed.status?.lastPromotedGitRevision, v2, 'and the one still promoted');
    await waitFor(
      'GitSync reports the rollback',
      async () => {
        const c = (await gitSyncStatus()).canaries?.[0];
        return c?.phase === 'Failed' && c.gitRevision === v3;
      },
      15_000,
    );

    // 3. Syncing the same revision again, across more than one analysis interval: no new run, no write.
    const before = await target();
    const writesBefore = writes.length;
    const phases = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const s = await syncNow();
      assert.equal(s.lastAppliedRevision, v3);
      phases.add((await env.w.canary('podinfo')).status?.phase ?? '');
      await new Promise((r) => setTimeout(r, 4000));
      phases.add((await env.w.canary('podinfo')).status?.phase ?? '');
    }
    assert.deepEqual([...phases], ['Failed'], 'the rolled-back revision is not started again');
    const afterSyncs = await target();
    assert.equal(afterSyncs.metadata.generation, before.metadata.generation, 'no spec write on the target');
    assert.equal(afterSyncs.spec.replicas, 0);
    const specWrites = writes
      .slice(writesBefore)
      .filter((d) => d.metadata.generation !== before.metadata.generation);
    assert.deepEqual(specWrites, [], 're-syncs wrote nothing to the target spec');

    // 4. A new commit with a fixed version starts a new run.
    ex.canary.set({ errorRate: 0 });
    await commitFiles(repo.url, { 'app/deployment.yaml': deployment('example.com/podinfo:3.0.1') }, 'v3.0.1');
    await syncNow();
    await env.w.waitPhase('podinfo', 'Progressing', 30_000);

    // spec.replicas of the target changed only by Weir's scaler, never by GitSync.
    const changes = writes.filter((d, i) => i > 0 && d.spec.replicas !== writes[i - 1]!.spec.replicas);
    assert.ok(changes.length >= 4, `the runs scaled the target up and down (${changes.length} changes)`);
    for (const d of changes)
      assert.deepEqual(replicaOwners(d), ['weir-scale'], `replicas ${d.spec.replicas} owned by`);
  } finally {
    watch.abort();
  }
});
