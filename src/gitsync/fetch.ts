// Fetches one revision of a repository with the real `git` CLI into a per-GitSync cache directory:
// shallow (depth 1) for a branch, a tag or a full commit SHA, deeper only for an abbreviated SHA.
// Credentials never reach a command line, a log line or a message: https auth travels as an
// `http.<url>.extraHeader` set through GIT_CONFIG_* environment variables (scoped to the repository
// URL, so a redirect to another host does not get it), ssh keys as 0600 files in a private temp dir
// named by GIT_SSH_COMMAND, and anything git prints is scrubbed of the secret values before use.
// The timeout kills git's whole process group; a failed or abandoned fetch removes the cache dir so
// the next attempt starts clean.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WeirError } from '../errors.ts';

export interface GitRef {
  branch?: string | undefined;
  tag?: string | undefined;
  commit?: string | undefined;
}

export interface GitCredentials {
  username?: string | undefined;
  password?: string | undefined;
  /** A personal access / deploy token, sent as the basic-auth password. */
  token?: string | undefined;
  /** Sent as `Authorization: Bearer`. */
  bearerToken?: string | undefined;
  /** ssh private key (PEM/OpenSSH), without passphrase. */
  identity?: string | undefined;
  knownHosts?: string | undefined;
}

export interface FetchRequest {
  /** The cache directory of this GitSync (created when missing). */
  dir: string;
  url: string;
  ref: GitRef;
  timeoutMs: number;
  credentials?: GitCredentials | undefined;
  /** Whether git may use the file transport (the controller flag --allow-file-urls). */
  allowFile?: boolean | undefined;
}

export interface FetchResult {
  /** Full commit SHA checked out in `dir`. */
  revision: string;
  /** What was asked for, e.g. `main`, `tag v1.2.0`, `commit 1a2b3c4`. */
  refName: string;
}

export type FetchReason = 'AuthenticationFailed' | 'Timeout' | 'RefNotFound' | 'InvalidRef' | 'FetchFailed';

export class FetchError extends WeirError {
  constructor(
    readonly reason: FetchReason,
    message: string,
  ) {
    super('GIT', message);
  }
}

export const REF_NAME = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[A-Za-z0-9._/+-]+(?<![./])$/;

/** Credentials from a Secret's data (base64 values), by the keys GitSync documents. */
export function credentialsFromSecret(data: Record<string, string> | undefined): GitCredentials {
  const get = (k: string) =>
    data?.[k] !== undefined ? Buffer.from(data[k]!, 'base64').toString('utf8') : undefined;
  return {
    username: get('username'),
    password: get('password'),
    token: get('token'),
    bearerToken: get('bearerToken'),
    identity: get('identity'),
    knownHosts: get('known_hosts') ?? get('knownHosts'),
  };
}

/** Removes userinfo from a URL for messages (`https://user:pw@host/x` -> `https://host/x`). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

function isSsh(url: string): boolean {
  return url.startsWith('ssh://') || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.test(url);
}

interface GitEnv {
  env: NodeJS.ProcessEnv;
  secrets: string[];
  cleanup(): Promise<void>;
}

/** The environment every git process runs with: no user/system config, no prompts, our settings. */
export async function gitEnvironment(
  home: string,
  url: string,
  creds?: GitCredentials,
  allowFile = false,
): Promise<GitEnv> {
  const config: Array<[string, string]> = [
    ['protocol.version', '2'],
    ['gc.auto', '0'], // no background gc outliving a killed fetch
    ['maintenance.auto', 'false'],
    ['fetch.recurseSubmodules', 'false'],
    ['advice.detachedHead', 'false'],
    ['core.symlinks', 'true'], // keep symlinks as symlinks so the build can refuse those that escape
  ];
  const secrets: string[] = [];
  let sshDir: string | undefined;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    // file only behind --allow-file-urls: a local path reads the controller's own filesystem.
    GIT_ALLOW_PROTOCOL: allowFile ? 'http:https:ssh:git:file' : 'http:https:ssh:git',
  };
  if (creds && !isSsh(url)) {
    let header: string | undefined;
    const password = creds.password ?? creds.token;
    if (creds.bearerToken) header = `Authorization: Bearer ${creds.bearerToken}`;
    else if (password !== undefined) {
      const basic = Buffer.from(`${creds.username ?? 'x-access-token'}:${password}`).toString('base64');
      header = `Authorization: Basic ${basic}`;
      secrets.push(basic);
    }
    for (const s of [creds.password, creds.token, creds.bearerToken]) if (s) secrets.push(s);
    if (header) config.push([`http.${url}.extraHeader`, header]);
  }
  if (creds?.identity && isSsh(url)) {
    if (!creds.knownHosts)
      throw new FetchError(
        'AuthenticationFailed',
        'ssh needs known_hosts in the Secret (host keys are always verified)',
      );
    sshDir = await mkdtemp(join(tmpdir(), 'weir-ssh-'));
    await chmod(sshDir, 0o700);
    const identity = join(sshDir, 'identity');
    const knownHosts = join(sshDir, 'known_hosts');
    const body = creds.identity.endsWith('\n') ? creds.identity : `${creds.identity}\n`;
    await writeFile(identity, body, { mode: 0o600 });
    await writeFile(knownHosts, creds.knownHosts, { mode: 0o600 });
    env.GIT_SSH_COMMAND = [
      'ssh -F /dev/null',
      `-i '${identity}'`,
      '-o IdentitiesOnly=yes',
      `-o UserKnownHostsFile='${knownHosts}'`,
      '-o StrictHostKeyChecking=yes',
      '-o BatchMode=yes',
      '-o ConnectTimeout=15',
    ].join(' ');
    env.GIT_SSH_VARIANT = 'ssh';
  } else if (isSsh(url)) {
    env.GIT_SSH_COMMAND =
      'ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=15';
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return {
    env,
    secrets,
    cleanup: async () => {
      if (sshDir) await rm(sshDir, { recursive: true, force: true });
    },
  };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs git in its own process group; on the deadline the whole group is killed. */
export function runGit(
  args: string[],
  env: NodeJS.ProcessEnv,
  deadline: number,
  secrets: string[],
): Promise<RunResult> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new FetchError('Timeout', 'timed out'));
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, remaining);
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 1_000_000) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new FetchError('FetchFailed', `cannot run git: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new FetchError('Timeout', 'timed out'));
      resolve({ code, stdout, stderr: scrub(stderr, secrets) });
    });
  });
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}

export function classify(stderr: string, url: string): FetchError {
  const line =
    stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('hint:'))
      .pop() ?? 'git failed';
  const where = redactUrl(url);
  if (
    /Authentication failed|could not read (Username|Password)|terminal prompts disabled|HTTP 40[13]|Permission denied \(publickey|Host key verification failed/i.test(
      stderr,
    )
  ) {
    return new FetchError(
      'AuthenticationFailed',
      `authentication to ${where} failed (check spec.secretRef): ${line}`,
    );
  }
  if (/couldn't find remote ref|not our ref|unadvertised object|no such ref/i.test(stderr))
    return new FetchError('RefNotFound', `${where}: ${line}`);
  return new FetchError('FetchFailed', `fetch from ${where} failed: ${line}`);
}

function plan(ref: GitRef): { refName: string; refspec: string; deep: boolean } {
  if (ref.commit) {
    if (!/^[0-9a-f]{7,40}$/.test(ref.commit))
      throw new FetchError('InvalidRef', `ref.commit ${ref.commit} is not a SHA`);
    // A full SHA can be fetched on its own (protocol v2); an abbreviated one needs the branches.
    return ref.commit.length === 40
      ? {
          refName: `commit ${ref.commit.slice(0, 12)}`,
          refspec: `${ref.commit}:refs/weir/target`,
          deep: false,
        }
      : { refName: `commit ${ref.commit}`, refspec: '+refs/heads/*:refs/weir/heads/*', deep: true };
  }
  if (ref.tag) {
    if (!REF_NAME.test(ref.tag))
      throw new FetchError('InvalidRef', `ref.tag ${ref.tag} is not a valid tag name`);
    return { refName: `tag ${ref.tag}`, refspec: `+refs/tags/${ref.tag}:refs/weir/target`, deep: false };
  }
  const branch = ref.branch ?? 'main';
  if (!REF_NAME.test(branch))
    throw new FetchError('InvalidRef', `ref.branch ${branch} is not a valid branch name`);
  return { refName: branch, refspec: `+refs/heads/${branch}:refs/weir/target`, deep: false };
}

/** Fetches `ref` of `url` into `dir` and checks it out; returns the commit SHA. */
export async function fetchRevision(req: FetchRequest): Promise<FetchResult> {
  if (req.url.startsWith('-')) throw new FetchError('InvalidRef', 'spec.url must not start with -');
  const { refName, refspec, deep } = plan(req.ref);
  const deadline = Date.now() + req.timeoutMs;
  const home = join(dirname(req.dir), '.home');
  // Checkouts are private to the controller's user (0700 on every level it creates).
  await mkdir(home, { recursive: true, mode: 0o700 });
  const g = await gitEnvironment(home, req.url, req.credentials, req.allowFile);
  const git = async (args: string[]) => {
    const r = await runGit(['-C', req.dir, ...args], g.env, deadline, g.secrets);
    if (r.code !== 0) throw classify(r.stderr, req.url);
    return r.stdout.trim();
  };
  try {
    if (!existsSync(join(req.dir, '.git', 'HEAD'))) {
      await rm(req.dir, { recursive: true, force: true });
      await mkdir(req.dir, { recursive: true, mode: 0o700 });
      await git(['init', '--quiet', '--template=']);
    }
    const fetch = (spec: string, deepen: boolean) =>
      git([
        'fetch',
        '--quiet',
        '--no-tags',
        '--force',
        '--no-recurse-submodules',
        ...(!deepen ? ['--depth=1'] : existsSync(join(req.dir, '.git', 'shallow')) ? ['--unshallow'] : []),
        '--',
        req.url,
        spec,
      ]);
    let target = deep ? `${req.ref.commit}^{commit}` : 'refs/weir/target^{commit}';
    try {
      await fetch(refspec, deep);
    } catch (err) {
      // Servers that refuse to serve an unadvertised SHA: fetch the branches and look for it there.
      if (!(err instanceof FetchError && err.reason === 'RefNotFound' && req.ref.commit)) throw err;
      await fetch('+refs/heads/*:refs/weir/heads/*', true);
      target = `${req.ref.commit}^{commit}`;
    }
    let revision: string;
    try {
      revision = await git(['rev-parse', '--verify', '--quiet', target]);
    } catch {
      throw new FetchError('RefNotFound', `${redactUrl(req.url)}: ${refName} not found`);
    }
    // Checked out already (unchanged revision): no checkout. Only git writes this worktree, and a
    // forced checkout between commits removes the files the new one dropped, so no clean is needed.
    const head = await readFile(join(req.dir, '.git', 'HEAD'), 'utf8').catch(() => '');
    if (head.trim() !== revision) await git(['checkout', '--quiet', '--force', '--detach', revision]);
    return { revision, refName };
  } catch (err) {
    // A killed or failed fetch may leave locks or a half-written pack: start clean next time.
    await rm(req.dir, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof FetchError && err.reason === 'Timeout')
      throw new FetchError(
        'Timeout',
        `fetch from ${redactUrl(req.url)} took longer than the timeout (${Math.round(req.timeoutMs / 1000)}s) and was abandoned`,
      );
    throw err;
  } finally {
    await g.cleanup();
  }
}
