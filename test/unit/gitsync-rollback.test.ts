// Which rollbacks a GitSync sees (a Failed Canary it applies whose target still carries the failed Git
// revision), the Pinned / WrittenBack records and their texts (also as `weir get gitsync` shows them),
// the commit message, and the reconcile rules: pinned without writeBack, a WrittenBack record never
// attempted again, a source write-back cannot edit stays pinned with the reason and is not retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import type { GitSyncSpec } from '../../src/api/gitsync.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import { renderRollbacks, type GitSyncObject } from '../../src/cli/gitsync.ts';
import { PLAIN } from '../../src/cli/style.ts';
import { GIT_REVISION_ANNOTATION, type InventoryEntry } from '../../src/gitsync/apply.ts';
import {
  commitMessage,
  findRollbacks,
  mergeRecords,
  pinnedRecord,
  writtenRecord,
  type RollbackLookup,
} from '../../src/gitsync/rollback.ts';
import { reconcileRollbacks } from '../../src/gitsync/rollback-sync.ts';
import { validateObject } from '../../src/api/validate.ts';
import { silentLogger } from '../../src/log.ts';

const X = 'b'.repeat(40);
const Y = 'a'.repeat(40);
const inventory: InventoryEntry[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'podinfo' },
  { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: 'team-a', name: 'podinfo' },
];
const canary = (status: Record<string, unknown>): CanaryObject =>
  ({
    metadata: { name: 'podinfo', namespace: 'team-a' },
    spec: { targetRef: { kind: 'Deployment', name: 'podinfo' } },
    status: {
      phase: 'Failed',
      lastAppliedSpec: 'h2',
      lastPromotedSpec: 'h1',
      lastAppliedGitRevision: X,
      lastPromotedGitRevision: Y,
      message: 'RolledBack: request-success-rate 50 < 95',
      ...status,
    },
  }) as unknown as CanaryObject;
const deployment = (image: string, gitRevision?: string): V1Deployment => ({
  metadata: { annotations: gitRevision ? { [GIT_REVISION_ANNOTATION]: gitRevision } : {} },
  spec: { selector: {}, template: { spec: { containers: [{ name: 'app', image }] } } },
});
const lookup = (c: CanaryObject, targetRevision = X): RollbackLookup => ({
  canary: () => c,
  deployment: (_ns, name) =>
    name === 'podinfo' ? deployment('podinfo:2', targetRevision) : deployment('podinfo:1'),
});

test('a Failed Canary whose target still has the failed Git revision is a rollback Git does not know of', () => {
  const [r, ...rest] = findRollbacks(inventory, lookup(canary({})));
  assert.deepEqual(rest, []);
  assert.equal(r?.failedRevision, X);
  assert.equal(r?.keptRevision, Y);
  assert.equal(r?.reason, 'request-success-rate 50 < 95');
  assert.deepEqual(r?.keptImages, ['podinfo:1']);
  const withUrl = canary({ message: 'RolledBack: rollback webhook http://u:pw@gate/x requested it' });
  assert.equal(
    findRollbacks(inventory, lookup(withUrl))[0]?.reason,
    'rollback webhook http://u:***@gate/x requested it',
  );
});

test('not a rollback: Succeeded, failed on the promoted revision, Git moved on, or a target this GitSync did not apply', () => {
  assert.deepEqual(findRollbacks(inventory, lookup(canary({ phase: 'Succeeded' }))), []);
  assert.deepEqual(findRollbacks(inventory, lookup(canary({ lastAppliedSpec: 'h1' }))), []);
  assert.deepEqual(findRollbacks(inventory, lookup(canary({}), 'c'.repeat(40))), []);
  assert.deepEqual(findRollbacks(inventory.slice(1), lookup(canary({}))), []);
});

test('records: pinned and written-back texts, history bounded, commit message with placeholders', () => {
  const r = findRollbacks(inventory, lookup(canary({})))[0]!;
  const pinned = pinnedRecord(r);
  assert.equal(
    pinned.message,
    `Git asks for bbbbbbbbbbbb, cluster kept aaaaaaaaaaaa because Canary team-a/podinfo rolled it back: request-success-rate 50 < 95`,
  );
  assert.match(pinnedRecord(r, 'no branch').message, /\(write-back: no branch\)$/);
  const noKept = pinnedRecord({ ...r, keptRevision: undefined });
  assert.match(noKept.message, /cluster kept podinfo:1 because/);
  const written = writtenRecord(r, 'c'.repeat(40), 'main', true);
  assert.equal(written.state, 'WrittenBack');
  assert.match(written.message, /pushed cccccccccccc to main, restoring aaaaaaaaaaaa in Git$/);

  const old = Array.from({ length: 12 }, (_, i) => ({ ...written, failedRevision: String(i) }));
  const merged = mergeRecords([pinned], [...old, { ...pinned, failedRevision: 'gone' }]);
  assert.equal(merged.length, 10);
  assert.equal(merged[0], pinned);
  assert.ok(!merged.some((m) => m.failedRevision === 'gone'), 'a pin that no longer holds is dropped');

  const msg = commitMessage({ message: 'revert {{ revision }} of {{ canary }} {{ unknown }}' }, r, [
    'a: 2 -> 1',
  ]);
  assert.equal(
    msg,
    `revert bbbbbbbbbbbb of team-a/podinfo {{ unknown }}\n\nCanary team-a/podinfo rolled back Git revision ${X}: request-success-rate 50 < 95\nThe cluster kept aaaaaaaaaaaa; this commit sets the target Deployment back to what its primary runs:\n  a: 2 -> 1\n\nSigned-off-by: Weir <weir@weir.dev>\n`,
  );
  assert.match(
    commitMessage({}, r, []),
    /^Roll back team-a\/podinfo to aaaaaaaaaaaa: Canary team-a\/podinfo rejected bbbbbbbbbbbb\n/,
  );

  const g = {
    metadata: { name: 'apps', namespace: 'team-a' },
    spec: {},
    status: { rollbacks: [written, pinned] },
  };
  const lines = renderRollbacks([g as unknown as GitSyncObject], PLAIN).split('\n');
  assert.match(lines[0]!, /^GITSYNC +CANARY +ROLLBACK +MESSAGE/);
  assert.match(
    lines[1]!,
    /^apps +team-a\/podinfo +Pinned +Git asks for bbbbbbbbbbbb, cluster kept aaaaaaaaaaaa/,
  );
  assert.match(lines[2]!, /WrittenBack/);
  assert.equal(renderRollbacks([{ ...g, status: {} } as unknown as GitSyncObject], PLAIN), '');
});

const spec = (extra: Partial<GitSyncSpec> = {}): GitSyncSpec =>
  ({ url: 'http://127.0.0.1:1/x.git', ref: { branch: 'main' }, path: '.', ...extra }) as GitSyncSpec;
const input = (s: GitSyncSpec, c: CanaryObject, previous = [] as ReturnType<typeof pinnedRecord>[]) => ({
  owner: { namespace: 'team-a', name: 'apps' },
  spec: s,
  inventory,
  previous,
  lookup: lookup(c),
  readSecret: () => Promise.resolve(undefined),
  scratchDir: '/nonexistent/never-used',
  timeoutMs: 1000,
  allowFile: false,
  retries: new Map<string, { at: number; failures: number }>(),
  log: silentLogger(),
});

test('reconcile: pinned without writeBack; a written-back rollback is kept and not attempted again', async () => {
  const pinned = await reconcileRollbacks(input(spec(), canary({})));
  assert.deepEqual(
    pinned.records.map((r) => r.state),
    ['Pinned'],
  );
  assert.equal(pinned.pushedToSyncedBranch, false);
  assert.deepEqual(pinned.changed, pinned.records, 'a new pin is news (an Event)');
  const same = await reconcileRollbacks(input(spec(), canary({}), pinned.records));
  assert.deepEqual(same.changed, [], 'the same pin again is not');
  const r = findRollbacks(inventory, lookup(canary({})))[0]!;
  const done = writtenRecord(r, 'c'.repeat(40), 'main', true);
  // scratchDir is unusable: an attempt would fail, so a WrittenBack result proves none was made.
  const again = await reconcileRollbacks(input(spec({ rollback: { writeBack: {} } }), canary({}), [done]));
  assert.deepEqual(again.records, [done]);
  assert.deepEqual(again.changed, []);
});

test('reconcile: a structural change cannot be written back; pinned with the reason, not retried', async () => {
  const c = canary({});
  const i = input(spec({ rollback: { writeBack: {} } }), c);
  i.lookup = {
    canary: () => c,
    deployment: (_ns, name) => {
      const d = deployment(
        name === 'podinfo' ? 'podinfo:2' : 'podinfo:1',
        name === 'podinfo' ? X : undefined,
      );
      if (name === 'podinfo') d.spec!.template.spec!.containers.push({ name: 'debug', image: 'busybox' });
      return d;
    },
  };
  const first = await reconcileRollbacks(i);
  assert.equal(first.records[0]?.state, 'Pinned');
  assert.match(
    first.records[0]?.message ?? '',
    /write-back: the rolled-back revision changes the structure of the pod template \(containers\)/,
  );
  assert.equal(first.retryAfterMs, undefined);
  assert.equal(i.retries.get(`team-a/podinfo/${X}`)?.at, Infinity);
  const second = await reconcileRollbacks({ ...i, previous: first.records });
  assert.deepEqual(second.records, first.records);
});

test('schema: writeBack defaults to the synced branch, and needs its own when ref is a tag or commit', () => {
  const gitSync = (s: Record<string, unknown>) =>
    validateObject({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: 'apps', namespace: 'team-a' },
      spec: { url: 'https://example.com/r.git', ...s },
    }).problems.map((p) => p.message);
  assert.deepEqual(gitSync({ rollback: { writeBack: {} } }), []);
  assert.deepEqual(gitSync({ ref: { tag: 'v1' }, rollback: { writeBack: { branch: 'main' } } }), []);
  assert.deepEqual(gitSync({ ref: { tag: 'v1' }, rollback: { writeBack: {} } }), [
    'rollback.writeBack needs a branch when ref is a tag or a commit',
  ]);
});
