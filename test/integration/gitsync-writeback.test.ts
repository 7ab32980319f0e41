// Git-consistent rollback end to end (issue 14 item 2): a GitSync applies a Deployment and its Canary
// from a real git server with basic auth; a bad image is rolled back by real analysis. Without
// rollback.writeBack the GitSync pins it (status and `weir get gitsync` say Git asks for the failed
// revision and the cluster kept the promoted one) and re-syncs write nothing. Turning writeBack on
// pushes, with the GitSync's secretRef, one commit as Weir that sets the image line back (comments
// kept); the GitSync applies it, the Canary settles on the promoted revision without a run, and the
// next sync writes nothing to the Deployment and pushes nothing more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderGitSyncs, type GitSyncObject } from '../../src/cli/gitsync.ts';
import { PLAIN } from '../../src/cli/style.ts';
import { commitFiles, git } from '../cluster/git-server.ts';
import {
  gitCanaryWorld,
  gitSyncStatus,
  podinfoCanary,
  podinfoDeployment,
  requestSync,
} from '../cluster/gitsync-canary-kit.ts';
import { waitFor } from '../cluster/proc.ts';

const env = gitCanaryWorld('gitsync-writeback');

const auth = { username: 'deployer', password: 'pw-writeback-1' };
const deployment = podinfoDeployment;
const canary = podinfoCanary({ interval: '10s', threshold: 1 });

type Target = {
  metadata: {
    generation: number;
    annotations?: Record<string, string>;
    managedFields?: Array<{ manager: string; time?: string }>;
  };
  spec: { template: { spec: { containers: Array<{ image: string }> } } };
};
const gitSyncRef = { apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', name: 'apps' };
const gitSync = async () =>
  (await env.w.kube.get({ ...gitSyncRef, namespace: env.w.ns })) as unknown as GitSyncObject;
const status = () => gitSyncStatus(env.w.kube, { namespace: env.w.ns, name: 'apps' });
const target = async () => (await env.w.deployment('podinfo')) as unknown as Target;
/** What GitSync last wrote to the target: its annotations and the time of its field manager's entry. */
const gitSyncWrite = (d: Target) => ({
  generation: d.metadata.generation,
  annotations: d.metadata.annotations,
  applied: d.metadata.managedFields?.find((m) => m.manager === 'weir-gitsync')?.time,
});
const syncNow = () => requestSync(env.w.kube, { namespace: env.w.ns, name: 'apps' });
const branchHead = (dir: string) => git(['--git-dir', dir, 'rev-parse', 'refs/heads/main']);

test('a rolled-back revision is pinned in status, then written back to Git as Weir; the next sync is a no-op', async () => {
  const repo = await env.git.createRepo('apps', { auth });
  const ex = await env.w.exporters('podinfo', { errorRate: 0 });
  const v1 = await commitFiles(
    repo.url,
    { 'app/deployment.yaml': deployment('example.com/podinfo:1.0.0'), 'app/canary.yaml': canary },
    'v1',
    { auth },
  );
  await env.w.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'git-creds' },
    stringData: { username: auth.username, password: auth.password },
  });
  await env.w.apply({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'GitSync',
    metadata: { name: 'apps' },
    spec: { url: repo.url, path: 'app', interval: '1h', secretRef: { name: 'git-creds' } },
  });
  await env.w.waitPhase('podinfo', 'Initialized', 60_000);

  // 1. A bad image, rolled back; no writeBack: pinned.
  ex.canary.set({ errorRate: 0.5 });
  const v2 = await commitFiles(
    repo.url,
    { 'app/deployment.yaml': deployment('example.com/podinfo:2.0.0') },
    'v2 (bad)',
    { auth },
  );
  await syncNow();
  const failed = await env.w.waitPhase('podinfo', 'Failed', 120_000);
  assert.match(failed.status?.message ?? '', /RolledBack: .*request-success-rate/);
  const pinned = await waitFor(
    'the rollback pinned in status',
    async () => {
      const r = (await status()).rollbacks?.[0];
      return r?.state === 'Pinned' ? r : undefined;
    },
    15_000,
  );
  assert.equal(pinned.failedRevision, v2);
  assert.equal(pinned.keptRevision, v1);
  const text = `Git asks for ${v2.slice(0, 12)}, cluster kept ${v1.slice(0, 12)} because Canary ${env.w.ns}/podinfo rolled it back`;
  assert.ok(pinned.message.startsWith(text), pinned.message);
  assert.match(renderGitSyncs([await gitSync()], PLAIN), new RegExp(`Pinned +${text}`));
  const pinnedWrite = gitSyncWrite(await target());
  await syncNow();
  assert.deepEqual(
    gitSyncWrite(await target()),
    pinnedWrite,
    'a re-sync of the pinned revision writes nothing',
  );
  assert.equal((await env.w.canary('podinfo')).status?.phase, 'Failed');

  // 2. writeBack on: one commit as Weir on main, with the failed revision and the reason.
  ex.canary.set({ errorRate: 0 });
  await env.w.kube.mergePatch(
    { ...gitSyncRef, namespace: env.w.ns },
    { spec: { rollback: { writeBack: {} } } },
  );
  const written = await waitFor(
    'the rollback written back',
    async () => {
      const r = (await status()).rollbacks?.[0];
      return r?.state === 'WrittenBack' ? r : undefined;
    },
    60_000,
  );
  const head = await branchHead(repo.dir);
  assert.equal(written.commit, head);
  assert.equal(
    await git(['--git-dir', repo.dir, 'rev-parse', `${head}^`]),
    v2,
    'one commit on top of the bad one',
  );
  const log = await git(['--git-dir', repo.dir, 'log', '-1', '--format=%an <%ae>|%cn|%B', head]);
  assert.match(log, /^Weir <weir@weir\.dev>\|Weir\|/);
  assert.ok(log.includes(`rolled back Git revision ${v2}`), log);
  assert.match(log, /request-success-rate/);
  assert.match(log, /Signed-off-by: Weir <weir@weir\.dev>\s*$/);
  const file = await git(['--git-dir', repo.dir, 'show', `${head}:app/deployment.yaml`]);
  assert.equal(
    `${file}\n`,
    deployment('example.com/podinfo:1.0.0'),
    'only the image line changed, comments kept',
  );

  // 3. The GitSync applies it; the Canary is back on the promoted revision without a run.
  await waitFor(
    'GitSync applied the write-back',
    async () => (await status()).lastAppliedRevision === head,
    30_000,
  );
  const settled = await env.w.waitPhase('podinfo', 'Succeeded', 30_000);
  assert.match(settled.status?.message ?? '', /Reverted/);
  const restored = await target();
  assert.equal(restored.spec.template.spec.containers[0]?.image, 'example.com/podinfo:1.0.0');

  // 4. The next sync: no write to the Deployment, nothing pushed again, the record stays.
  const before = gitSyncWrite(await target());
  const s = await syncNow();
  assert.equal(s.lastAppliedRevision, head);
  assert.deepEqual(gitSyncWrite(await target()), before, 'the next sync wrote nothing to the Deployment');
  assert.equal(await branchHead(repo.dir), head, 'nothing pushed twice');
  assert.deepEqual(
    s.rollbacks?.map((r) => [r.state, r.failedRevision]),
    [['WrittenBack', v2]],
  );
  assert.equal((await env.w.canary('podinfo')).status?.phase, 'Succeeded');
});
