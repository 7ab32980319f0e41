// Real git clients against the loopback git server: pushes clone back with the same SHA, and
// auth-required repos accept credentials (pre-sent header or the 401 challenge) and refuse anonymous.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import {
  commitFiles,
  git,
  gitAuthEnv,
  runGit,
  startGitServer,
  type GitServer,
} from '../cluster/git-server.ts';

let server: GitServer | undefined;
let scratch = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weir-git-test-'));
  server = await startGitServer({ daemon: true });
});

after(async () => {
  await server?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The SHA a remote branch points at, per `git ls-remote`. */
async function remoteSha(url: string, env: NodeJS.ProcessEnv = {}, branch = 'main'): Promise<string> {
  const out = await git(['ls-remote', url, `refs/heads/${branch}`], { env });
  return out.split(/\s+/)[0] ?? '';
}

test('a pushed commit clones back with the same SHA', async () => {
  const repo = await server!.createRepo('apps');
  const first = await commitFiles(
    repo.url,
    { 'podinfo/canary.yaml': 'kind: Canary\n', 'README.md': 'hi\n' },
    'add podinfo',
  );
  assert.match(first, /^[0-9a-f]{40}$/);
  assert.equal(await remoteSha(repo.url), first);

  const second = await commitFiles(
    repo.url,
    { 'README.md': null, 'podinfo/canary.yaml': 'kind: Canary\nspec: {}\n' },
    'update',
  );
  assert.equal(
    await git(['rev-parse', `${second}^`], { cwd: repo.dir }),
    first,
    'second commit builds on the first',
  );

  const clone = join(scratch, 'apps-clone');
  await git(['clone', '--quiet', repo.url, clone]);
  assert.equal(await git(['rev-parse', 'HEAD'], { cwd: clone }), second);
  assert.equal(await readFile(join(clone, 'podinfo/canary.yaml'), 'utf8'), 'kind: Canary\nspec: {}\n');
  assert.equal(await git(['ls-files'], { cwd: clone }), 'podinfo/canary.yaml', 'deleted file is gone');

  assert.ok(repo.gitDaemonUrl, 'daemon URL for a public repo');
  assert.equal(await remoteSha(repo.gitDaemonUrl), second, 'git:// serves the same history');
});

test('an auth-required repo: credentials work, anonymous clones get 401', async () => {
  const auth = { username: 'weir', password: 's3cret-pa55' };
  const repo = await server!.createRepo('private/config', { auth });
  assert.equal(repo.gitDaemonUrl, undefined, 'no anonymous git:// for auth repos');
  const sha = await commitFiles(repo.url, { 'app.yaml': 'a: 1\n' }, 'private commit', { auth });

  // Pre-sent Authorization header (what commitFiles uses).
  const withHeader = join(scratch, 'private-header');
  await git(['clone', '--quiet', repo.url, withHeader], { env: gitAuthEnv(auth) });
  assert.equal(await git(['rev-parse', 'HEAD'], { cwd: withHeader }), sha);

  // The 401 challenge flow: git asks GIT_ASKPASS, which reads the secret from the environment.
  const askpass = join(scratch, 'askpass.sh');
  await writeFile(askpass, '#!/bin/sh\ncase "$1" in Username*) echo "$T_USER";; *) echo "$T_PASS";; esac\n');
  await chmod(askpass, 0o700);
  const viaChallenge = join(scratch, 'private-askpass');
  await git(['clone', '--quiet', repo.url, viaChallenge], {
    env: { GIT_ASKPASS: askpass, T_USER: auth.username, T_PASS: auth.password },
  });
  assert.equal(await git(['rev-parse', 'HEAD'], { cwd: viaChallenge }), sha);

  // Anonymous: the server answers 401 and git, unable to prompt, gives up.
  const anonymous = await runGit(['clone', repo.url, join(scratch, 'private-anon')], {
    env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' },
  });
  assert.notEqual(anonymous.code, 0);
  assert.match(anonymous.stderr, /Recv header: HTTP\/1\.1 401 Unauthorized/);
  assert.match(anonymous.stderr, /fatal: could not read Username/);

  // A wrong password is tried once, then git reports the authentication failure.
  const wrong = await runGit(['ls-remote', repo.url], {
    env: { GIT_ASKPASS: askpass, T_USER: auth.username, T_PASS: 'wrong' },
  });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /fatal: Authentication failed for/);

  const raw = await fetch(`${repo.url}/info/refs?service=git-upload-pack`);
  assert.equal(raw.status, 401);
  assert.equal(raw.headers.get('www-authenticate'), 'Basic realm="weir"');
  await raw.body?.cancel();
});

test('unknown repositories are 404', async () => {
  const res = await fetch(`${server!.url}/nope.git/info/refs?service=git-upload-pack`);
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

test('a gzip-encoded protocol v2 request is inflated by http-backend', async () => {
  const repo = await server!.createRepo('gz');
  const sha = await commitFiles(repo.url, { 'x.yaml': 'x: 1\n' }, 'x');
  const pkt = (line: string): string => (line.length + 4).toString(16).padStart(4, '0') + line;
  const body = gzipSync(`${pkt('command=ls-refs\n')}0001${pkt('peel\n')}0000`);
  const res = await fetch(`${repo.url}/git-upload-pack`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-git-upload-pack-request',
      'content-encoding': 'gzip',
      'git-protocol': 'version=2',
    },
    body,
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), new RegExp(`${sha} refs/heads/main`));
});
