// GitSync's fetch with the real git CLI against local repositories (file://): branch, tag, full and
// abbreviated commit, missing refs, refspec injection, and where credentials go (environment only,
// scoped to the repository URL; ssh keys as 0600 files that are removed afterwards).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  FetchError,
  credentialsFromSecret,
  fetchRevision,
  gitEnvironment,
  redactUrl,
} from '../../src/gitsync/fetch.ts';
import { git } from '../cluster/git-server.ts';

let base = '';
let url = '';
const shas: Record<string, string> = {};

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'weir-fetch-'));
  const bare = join(base, 'origin.git');
  const work = join(base, 'work');
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  await git(['init', '--quiet', '--initial-branch=main', work]);
  const commit = async (file: string, msg: string) => {
    await import('node:fs/promises').then((fs) => fs.writeFile(join(work, file), `${msg}\n`));
    await git(['add', '--all'], { cwd: work });
    await git(['commit', '--quiet', '-m', msg], { cwd: work });
    return git(['rev-parse', 'HEAD'], { cwd: work });
  };
  shas.one = await commit('a.yaml', 'one');
  await git(['tag', '-a', 'v1', '-m', 'v1'], { cwd: work });
  shas.two = await commit('a.yaml', 'two');
  await git(['checkout', '--quiet', '-b', 'feature'], { cwd: work });
  shas.feature = await commit('b.yaml', 'feature');
  await git(['push', '--quiet', '--tags', bare, 'main', 'feature'], { cwd: work });
  url = `file://${bare}`;
});
after(async () => rm(base, { recursive: true, force: true }));

const dir = (name: string) => join(base, 'cache', name);

test('the file transport is refused unless allowed (--allow-file-urls), and checkouts are 0700', async () => {
  await assert.rejects(
    fetchRevision({ dir: dir('nofile'), url, ref: { branch: 'main' }, timeoutMs: 20_000 }),
    (err: unknown) => err instanceof FetchError && /transport 'file' not allowed/.test(err.message),
  );
  await fetchRevision({
    dir: dir('private'),
    url,
    ref: { branch: 'main' },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(statSync(dir('private')).mode & 0o777, 0o700);
});

test('fetches a branch shallowly and follows it to a new commit', async () => {
  const r = await fetchRevision({
    dir: dir('branch'),
    url,
    ref: { branch: 'main' },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(r.revision, shas.two);
  assert.equal(r.refName, 'main');
  assert.equal(await readFile(join(dir('branch'), 'a.yaml'), 'utf8'), 'two\n');
  assert.ok(existsSync(join(dir('branch'), '.git', 'shallow')), 'depth 1');
  const f = await fetchRevision({
    dir: dir('branch'),
    url,
    ref: { branch: 'feature' },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(f.revision, shas.feature);
  assert.ok(existsSync(join(dir('branch'), 'b.yaml')));
  const back = await fetchRevision({
    dir: dir('branch'),
    url,
    ref: { branch: 'main' },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(back.revision, shas.two);
  assert.ok(!existsSync(join(dir('branch'), 'b.yaml')), 'files of the previous revision are gone');
});

test('fetches an annotated tag, a full commit and an abbreviated commit', async () => {
  const tag = await fetchRevision({
    dir: dir('tag'),
    url,
    ref: { tag: 'v1' },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(tag.revision, shas.one, 'the tagged commit, not the tag object');
  const full = await fetchRevision({
    dir: dir('full'),
    url,
    ref: { commit: shas.one },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(full.revision, shas.one);
  const short = await fetchRevision({
    dir: dir('short'),
    url,
    ref: { commit: shas.one!.slice(0, 9) },
    timeoutMs: 20_000,
    allowFile: true,
  });
  assert.equal(short.revision, shas.one);
});

test('a missing ref is RefNotFound and leaves no cache behind; refspec injection is refused', async () => {
  await assert.rejects(
    fetchRevision({ dir: dir('missing'), url, ref: { branch: 'nope' }, timeoutMs: 20_000, allowFile: true }),
    (e: unknown) => e instanceof FetchError && e.reason === 'RefNotFound',
  );
  assert.ok(!existsSync(dir('missing')));
  await assert.rejects(
    fetchRevision({
      dir: dir('missing-sha'),
      url,
      ref: { commit: 'a'.repeat(40) },
      timeoutMs: 20_000,
      allowFile: true,
    }),
    (e: unknown) => e instanceof FetchError && e.reason === 'RefNotFound',
    'an unknown full SHA, after looking in every branch',
  );
  for (const branch of ['main:refs/heads/x', '-upload-pack=evil', 'a..b', '*']) {
    await assert.rejects(
      fetchRevision({ dir: dir('inject'), url, ref: { branch }, timeoutMs: 20_000, allowFile: true }),
      (e: unknown) => e instanceof FetchError && e.reason === 'InvalidRef',
      branch,
    );
  }
  await assert.rejects(
    fetchRevision({
      dir: dir('inject'),
      url: '-oProxyCommand=x@h:p',
      ref: {},
      timeoutMs: 20_000,
      allowFile: true,
    }),
    (e: unknown) => e instanceof FetchError && e.reason === 'InvalidRef',
  );
});

test('https credentials go into a URL-scoped extraHeader in the environment, never into arguments', async () => {
  const creds = credentialsFromSecret({
    username: Buffer.from('bot').toString('base64'),
    password: Buffer.from('pa55').toString('base64'),
  });
  const g = await gitEnvironment('/tmp', 'https://git.example.com/org/repo.git', creds);
  const n = Number(g.env.GIT_CONFIG_COUNT);
  const entries = Array.from({ length: n }, (_, i) => [
    g.env[`GIT_CONFIG_KEY_${i}`],
    g.env[`GIT_CONFIG_VALUE_${i}`],
  ]);
  const header = entries.find(([k]) => k?.endsWith('.extraHeader'));
  assert.deepEqual(header, [
    'http.https://git.example.com/org/repo.git.extraHeader',
    `Authorization: Basic ${Buffer.from('bot:pa55').toString('base64')}`,
  ]);
  assert.equal(g.env.GIT_TERMINAL_PROMPT, '0');
  assert.equal(g.env.GIT_CONFIG_NOSYSTEM, '1');
  assert.ok(g.secrets.includes('pa55'), 'scrubbed from git output');
  const token = await gitEnvironment('/tmp', 'https://h/r.git', { token: 'tok' });
  assert.ok(
    Object.values(token.env).includes(
      `Authorization: Basic ${Buffer.from('x-access-token:tok').toString('base64')}`,
    ),
  );
  const bearer = await gitEnvironment('/tmp', 'https://h/r.git', { bearerToken: 'b' });
  assert.ok(Object.values(bearer.env).includes('Authorization: Bearer b'));
});

test('ssh identity and known_hosts are 0600 files in a private dir named by GIT_SSH_COMMAND, removed after', async () => {
  const g = await gitEnvironment('/tmp', 'git@github.com:org/repo.git', {
    identity: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----',
    knownHosts: 'github.com ssh-ed25519 AAAA',
  });
  const cmd = g.env.GIT_SSH_COMMAND ?? '';
  const identity = /-i '([^']+)'/.exec(cmd)?.[1] ?? '';
  const known = /UserKnownHostsFile='([^']+)'/.exec(cmd)?.[1] ?? '';
  assert.match(cmd, /StrictHostKeyChecking=yes/);
  assert.match(cmd, /BatchMode=yes/);
  assert.equal(statSync(identity).mode & 0o777, 0o600);
  assert.equal(statSync(known).mode & 0o777, 0o600);
  assert.equal(statSync(join(identity, '..')).mode & 0o777, 0o700);
  assert.ok(!cmd.includes('OPENSSH PRIVATE KEY'));
  await g.cleanup();
  assert.ok(!existsSync(identity));
  await assert.rejects(
    gitEnvironment('/tmp', 'ssh://git@h/r.git', { identity: 'k' }),
    /ssh needs known_hosts/,
  );
});

test('redactUrl drops userinfo', () => {
  assert.equal(redactUrl('https://user:pw@host/x.git'), 'https://host/x.git');
  assert.equal(redactUrl('git@github.com:org/repo.git'), 'git@github.com:org/repo.git');
});
