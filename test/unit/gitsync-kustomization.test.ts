// The kustomization file gets the same checks as every other file of a repository: a symlink to
// /dev/zero or to a file outside the checkout is refused before a byte is read (the controller
// neither runs out of memory nor leaks the outside file's keys into a status message), and a
// kustomization over the per-file or total byte limit, or not a regular file, is refused too.
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_LIMITS, build, describeProblems, wellKnownScope } from '../../src/gitsync/build.ts';
import { cm, tempRepos } from '../fixtures/temp-repo.ts';

const repo = tempRepos('weir-kust-');

const opts = { namespace: 'team', scopeOf: wellKnownScope };

async function refused(root: string, path: string, limits = DEFAULT_LIMITS): Promise<string> {
  const r = await build(root, path, opts, limits);
  assert.equal(r.ok, false, 'the build must fail: nothing is applied');
  return r.ok ? '' : describeProblems(r.problems, 20);
}

test('kustomization.yaml -> /dev/zero is refused quickly, without reading it', async () => {
  const root = await repo({ 'app/a.yaml': cm('a') });
  await symlink('/dev/zero', join(root, 'app', 'kustomization.yaml'));
  const t0 = Date.now();
  const msg = await refused(root, 'app');
  assert.match(
    msg,
    /app\/kustomization\.yaml: kustomization points outside the repository or to nothing \(symlink\), refused/,
  );
  assert.ok(Date.now() - t0 < 10_000, 'refused at once, not read');
});

test('a kustomization linked to a file outside the repository is refused and its keys never shown', async () => {
  const outside = await repo({
    'secret.yaml': 'apiVersion: v1\nkind: Kustomization\nstolenKey: x\nresources: [a.yaml]\n',
  });
  const root = await repo({ 'app/a.yaml': cm('a') });
  await symlink(join(outside, 'secret.yaml'), join(root, 'app', 'kustomization.yaml'));
  const msg = await refused(root, 'app');
  assert.match(msg, /app\/kustomization\.yaml: kustomization points outside the repository/);
  assert.doesNotMatch(msg, /stolenKey/, 'nothing of the outside file reaches the message (status)');
});

test('a kustomization inside the repository that is too large, over the total or not a regular file is refused', async () => {
  const root = await repo({
    'big/kustomization.yaml': `resources: [a.yaml]\n# ${'x'.repeat(5000)}\n`,
    'big/a.yaml': cm('a'),
  });
  const limits = { ...DEFAULT_LIMITS, maxFileBytes: 4096 };
  assert.match(
    await refused(root, 'big', limits),
    /big\/kustomization\.yaml: kustomization is \d+ bytes, over the limit of 4096 bytes/,
  );
  // The total counts kustomization files as well.
  const total = await repo({
    'k/kustomization.yaml': `resources: [a.yaml]\n# ${'x'.repeat(3000)}\n`,
    'k/a.yaml': cm('a'),
  });
  assert.match(
    await refused(total, 'k', { ...DEFAULT_LIMITS, maxTotalBytes: 3000 }),
    /manifests exceed 3000 bytes in total/,
  );
  // A kustomization that is a directory is not a regular file.
  const dir = await repo({ 'd/kustomization.yaml/x': 'x', 'd/a.yaml': cm('a') });
  assert.match(await refused(dir, 'd'), /d\/kustomization\.yaml: kustomization is not a regular file/);
});

test('an ordinary kustomization still works (resources inside the repository)', async () => {
  const root = await repo({
    'app/kustomization.yaml': 'resources: [a.yaml, ../shared]\n',
    'app/a.yaml': cm('a'),
    'shared/b.yaml': cm('b'),
  });
  const r = await build(root, 'app', opts);
  assert.ok(r.ok, r.ok ? '' : describeProblems(r.problems));
  assert.deepEqual(
    r.objects.map((d) => (d.obj.metadata as { name: string }).name),
    ['a', 'b'],
  );
});
