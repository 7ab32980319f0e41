// Rollback write-back against a local bare repository (file://) with the real git CLI: the commit is
// Weir's and carries the message it was given, only the edited line changes, a second run finds the
// branch restored and pushes nothing, a branch that moved on between fetch and push is fetched again
// and the push retried, and a Deployment that is not a plain YAML document is refused, not retried.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeBack, type WriteBackRequest } from '../../src/gitsync/writeback.ts';
import { commitFiles, git, gitEnv } from '../cluster/git-server.ts';

let base = '';
let bare = '';
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'weir-writeback-'));
  bare = join(base, 'origin.git');
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
});
after(() => rm(base, { recursive: true, force: true }));

const manifest = (image: string) => `# deployed by GitSync
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo}
spec:
  template:
    spec:
      containers:
        - name: app
          image: ${image} # bumped by CI
`;

const request = (overrides: Partial<WriteBackRequest> = {}): WriteBackRequest => ({
  dir: join(base, 'scratch'),
  url: `file://${bare}`,
  branch: 'main',
  allowFile: true,
  timeoutMs: 30_000,
  path: 'app',
  target: { name: 'podinfo', namespace: 'team-a', defaultNamespace: 'team-a' },
  edits: [{ path: ['containers', 0, 'image'], value: 'podinfo:1' }],
  message: (changed) => `Roll back podinfo\n\n${changed.join('\n')}\n\nSigned-off-by: Weir <weir@weir.dev>\n`,
  ...overrides,
});

const head = () => git(['--git-dir', bare, 'rev-parse', 'refs/heads/main']);

test('pushes one commit as Weir; a second run finds it there and pushes nothing', async () => {
  const bad = await commitFiles(
    bare,
    { 'app/deploy.yaml': manifest('podinfo:2'), 'README.md': 'x\n' },
    'bad',
  );
  const first = await writeBack(request());
  assert.ok(first.ok, !first.ok ? first.reason : '');
  assert.equal(first.pushed, true);
  assert.equal(first.commit, await head());
  assert.equal(first.file, 'app/deploy.yaml');
  assert.equal(await git(['--git-dir', bare, 'rev-parse', `${first.commit}^`]), bad);
  const meta = await git(['--git-dir', bare, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%B', first.commit]);
  assert.equal(
    meta,
    'Weir <weir@weir.dev>|Weir <weir@weir.dev>|Roll back podinfo\n\nspec.template.spec.containers[0].image: podinfo:2 -> podinfo:1\n\nSigned-off-by: Weir <weir@weir.dev>',
  );
  const diff = await git(['--git-dir', bare, 'diff', '--unified=0', bad, first.commit]);
  assert.deepEqual(
    diff.split('\n').filter((l) => /^[-+] /.test(l)),
    ['-          image: podinfo:2 # bumped by CI', '+          image: podinfo:1 # bumped by CI'],
  );

  const again = await writeBack(request());
  assert.deepEqual(again, {
    ok: true,
    commit: first.commit,
    pushed: false,
    file: 'app/deploy.yaml',
    changed: [],
  });
  assert.equal(await head(), first.commit, 'nothing pushed twice');
});

test('a branch that moved on between fetch and push is fetched again and the push retried', async () => {
  await commitFiles(bare, { 'app/deploy.yaml': manifest('podinfo:3') }, 'bad again');
  // A colleague's commit, ready to push from a clone of their own.
  const racer = join(base, 'racer');
  await git(['clone', '--quiet', bare, racer]);
  await writeFile(join(racer, 'README.md'), 'a colleague was faster\n');
  await git(['commit', '--quiet', '-am', 'colleague'], { cwd: racer });
  const theirs = await git(['rev-parse', 'HEAD'], { cwd: racer });
  let calls = 0;
  const result = await writeBack(
    request({
      dir: join(base, 'scratch-race'),
      // Asked for after the fetch and before the push: the first time, the colleague pushes right then.
      message: (changed) => {
        if (calls++ === 0)
          spawnSync('git', ['push', '--quiet', 'origin', 'HEAD:main'], { cwd: racer, env: gitEnv() });
        return `Roll back\n\n${changed.join('\n')}\n`;
      },
    }),
  );
  assert.ok(result.ok, !result.ok ? result.reason : '');
  assert.equal(calls, 2, 'edited again on the new head');
  assert.equal(result.pushed, true);
  assert.equal(await head(), result.commit);
  assert.equal(
    await git(['--git-dir', bare, 'rev-parse', `${result.commit}^`]),
    theirs,
    "on top of the colleague's commit",
  );
  assert.equal(
    await git(['--git-dir', bare, 'show', `${result.commit}:README.md`]),
    'a colleague was faster',
  );
});

test('a Deployment that is not a plain YAML document under path is refused, not retried', async () => {
  const result = await writeBack(
    request({ target: { name: 'other', namespace: 'team-a', defaultNamespace: 'team-a' } }),
  );
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.retryable, false);
  assert.match(
    !result.ok ? result.reason : '',
    /Deployment team-a\/other is not a plain YAML document under app of branch main/,
  );
});

test('an unreachable remote is a retryable failure without credentials in the reason', async () => {
  const result = await writeBack(
    request({
      url: 'http://user:s3cret@127.0.0.1:1/none.git',
      allowFile: false,
      credentials: { password: 's3cret' },
    }),
  );
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.retryable, true);
  assert.doesNotMatch(!result.ok ? result.reason : '', /s3cret/);
});
