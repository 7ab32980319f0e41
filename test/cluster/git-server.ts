// A real git server on loopback for GitSync tests: smart HTTP through `git http-backend` run as CGI
// from a node:http server (push enabled, optional per-repo HTTP basic auth), and optionally
// `git daemon` for git:// URLs. Plus client helpers (`commitFiles`, `runGit`) that never put a
// credential on a command line: auth travels as an `http.extraHeader` set through GIT_CONFIG_* env.
import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';

export interface BasicAuth {
  username: string;
  password: string;
}

export interface GitRepo {
  /** http://127.0.0.1:port/name.git */
  url: string;
  /** git://127.0.0.1:port/name.git, only when the daemon runs and the repo has no auth */
  gitDaemonUrl?: string;
  /** the bare repository on disk */
  dir: string;
}

export interface GitServer {
  /** http://127.0.0.1:port */
  url: string;
  root: string;
  /** `delayMs`: every HTTP answer for this repo waits that long first (a slow remote). */
  createRepo(name: string, opts?: RepoOptions): Promise<GitRepo>;
  stop(): Promise<void>;
}

export interface RepoOptions {
  auth?: BasicAuth;
  delayMs?: number;
}

export interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const GIT_TIMEOUT_MS = 60_000;
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export async function startGitServer(opts: { logDir?: string; daemon?: boolean } = {}): Promise<GitServer> {
  const base = await mkdtemp(join(tmpdir(), 'weir-git-'));
  const root = join(base, 'repos');
  await mkdir(root);
  const logDir = opts.logDir ?? base;
  await mkdir(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, 'git-http-backend.log'), { flags: 'a' });
  log.on('error', () => {}); // a lost log line must not crash the test process
  const repos = new Map<string, RepoOptions>();
  let daemon: { proc: Managed; port: number } | undefined;
  let server: Server | undefined;
  try {
    server = createServer((req, res) => handle(req, res, root, repos, log));
    const port = await listen(server);
    if (opts.daemon) daemon = await startDaemon(root, logDir);
    const url = `http://127.0.0.1:${port}`;
    const httpServer = server;
    return {
      url,
      root,
      async createRepo(name, repoOpts = {}) {
        if (!REPO_NAME.test(name) || name.split('/').includes('..')) throw new Error(`bad repo name ${name}`);
        if (repos.has(name)) throw new Error(`repo ${name} exists`);
        const dir = join(root, `${name}.git`);
        await initBareRepo(dir, !repoOpts.auth);
        repos.set(name, repoOpts);
        return {
          url: `${url}/${name}.git`,
          dir,
          ...(daemon && !repoOpts.auth ? { gitDaemonUrl: `git://127.0.0.1:${daemon.port}/${name}.git` } : {}),
        };
      },
      async stop() {
        await daemon?.proc.stop();
        await closeServer(httpServer);
        await new Promise<void>((r) => log.end(r));
        await rm(base, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await daemon?.proc.stop();
    if (server) await closeServer(server);
    log.end();
    await rm(base, { recursive: true, force: true });
    throw err;
  }
}

async function initBareRepo(dir: string, exportToDaemon: boolean): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  await git(['init', '--quiet', '--bare', '--initial-branch=main', dir]);
  // http-backend refuses pushes from unauthenticated clients unless receivepack is set explicitly.
  await git(['-C', dir, 'config', 'http.receivepack', 'true']);
  // git daemon serves only repos marked export-ok (it runs without --export-all), so auth repos stay private.
  if (exportToDaemon) await writeFile(join(dir, 'git-daemon-export-ok'), '');
}

// ---- HTTP side -------------------------------------------------------------------------------------

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  repos: Map<string, RepoOptions>,
  log: WriteStream,
): void {
  const url = new URL(req.url ?? '/', 'http://x');
  let pathInfo: string;
  try {
    pathInfo = decodeURIComponent(url.pathname);
  } catch {
    return void res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path\n');
  }
  const name = findRepo(pathInfo, repos);
  if (name === undefined)
    return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such repository\n');
  const { auth, delayMs } = repos.get(name) ?? {};
  if (delayMs) {
    setTimeout(() => answer(req, res, url, pathInfo, { root, auth, log }), delayMs);
    return;
  }
  answer(req, res, url, pathInfo, { root, auth, log });
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  pathInfo: string,
  { root, auth, log }: { root: string; auth?: BasicAuth; log: WriteStream },
): void {
  let user: string | undefined;
  if (auth) {
    user = checkBasicAuth(req.headers.authorization, auth);
    if (!user) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="weir"', 'content-type': 'text/plain' });
      return void res.end('authentication required\n');
    }
  }
  runBackend(req, res, { root, pathInfo, query: url.search.slice(1), user, log });
}

/** The registered repo a request path belongs to: `/<name>.git` or `/<name>.git/...`. */
function findRepo(pathInfo: string, repos: Map<string, unknown>): string | undefined {
  const m = /^\/(.+?\.git)(\/|$)/.exec(pathInfo);
  if (!m?.[1]) return undefined;
  const name = m[1].slice(0, -'.git'.length);
  return repos.has(name) ? name : undefined;
}

/** The user name if the Authorization header carries exactly these credentials. */
function checkBasicAuth(header: string | undefined, want: BasicAuth): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const got = Buffer.from(m[1], 'base64');
  const expected = Buffer.from(`${want.username}:${want.password}`);
  return got.length === expected.length && timingSafeEqual(got, expected) ? want.username : undefined;
}

/** Runs `git http-backend` as a CGI: request body to stdin, CGI headers + body from stdout. */
function runBackend(
  req: IncomingMessage,
  res: ServerResponse,
  cgi: { root: string; pathInfo: string; query: string; user?: string; log: WriteStream },
): void {
  const h = req.headers;
  const env: NodeJS.ProcessEnv = {
    ...gitEnv(),
    GIT_PROJECT_ROOT: cgi.root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: cgi.pathInfo,
    QUERY_STRING: cgi.query,
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: h['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    ...(cgi.user ? { REMOTE_USER: cgi.user } : {}),
    ...(h['content-length'] ? { CONTENT_LENGTH: h['content-length'] } : {}),
    // git sends gzip'ed upload-pack requests; http-backend inflates them itself when told.
    ...(h['content-encoding'] ? { HTTP_CONTENT_ENCODING: h['content-encoding'] } : {}),
    // protocol v2 negotiation rides on the Git-Protocol header.
    ...(typeof h['git-protocol'] === 'string' ? { HTTP_GIT_PROTOCOL: h['git-protocol'] } : {}),
  };
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => cgi.log.write(d));
  child.stdin.on('error', () => {}); // the backend may exit before reading all of a bad request
  child.on('error', (err) => fail(res, `spawn git http-backend: ${err.message}`));
  req.pipe(child.stdin);
  req.on('aborted', () => child.kill('SIGKILL'));
  pipeCgiResponse(child.stdout, res);
  child.on('exit', (code) => {
    if (code !== 0) cgi.log.write(`http-backend ${req.method} ${cgi.pathInfo} exited ${code}\n`);
  });
}

/** Parses the CGI header block (ended by a blank line), then streams the rest as the body. */
function pipeCgiResponse(out: NodeJS.ReadableStream, res: ServerResponse): void {
  let head = Buffer.alloc(0);
  let headersSent = false;
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (!end) return;
    out.removeListener('data', onData);
    out.pause();
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
    res.writeHead(status, headers);
    headersSent = true;
    res.write(head.subarray(end.at + end.len));
    out.pipe(res);
    out.resume();
  };
  out.on('data', onData);
  out.on('end', () => {
    if (!headersSent) fail(res, 'git http-backend produced no CGI headers');
  });
}

function headerEnd(buf: Buffer): { at: number; len: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, len: 4 };
  if (lf >= 0) return { at: lf, len: 2 };
  return undefined;
}

function parseCgiHeaders(block: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (key.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[key] = value;
  }
  return { status, headers };
}

function fail(res: ServerResponse, message: string): void {
  if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
  res.end(`${message}\n`);
}

// ---- git daemon ------------------------------------------------------------------------------------

/**
 * git daemon on a free port. The port is picked before git binds it, so another process can take it
 * in between: then the daemon exits ("Address already in use") and it is started again on another.
 */
async function startDaemon(root: string, logDir: string): Promise<{ proc: Managed; port: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDaemonOnce(root, logDir);
    } catch (err) {
      if (attempt >= 3 || !/already in use|exited/i.test((err as Error).message)) throw err;
    }
  }
}

async function startDaemonOnce(root: string, logDir: string): Promise<{ proc: Managed; port: number }> {
  const port = await freePort();
  const proc = startProcess(
    'git-daemon',
    'git',
    [
      'daemon',
      '--reuseaddr',
      '--listen=127.0.0.1',
      `--port=${port}`,
      `--base-path=${root}`,
      '--enable=receive-pack',
      '--informative-errors',
      root,
    ],
    { logDir, env: gitEnv() },
  );
  let gone = false;
  void proc.exited.then(() => (gone = true));
  const outcome = await waitFor(
    `git daemon on 127.0.0.1:${port}`,
    async () => (gone ? 'exited' : (await canConnect(port)) && 'listening'),
    10_000,
    100,
  ).catch((err: Error) => err.message);
  // A connection could have reached another process on that port: ours must still be alive.
  if (outcome === 'listening') await new Promise((r) => setTimeout(r, 200));
  if (outcome === 'listening' && !gone) return { proc, port };
  await proc.stop();
  const why =
    outcome === 'exited' || outcome === 'listening' ? 'git daemon exited before listening' : outcome;
  throw new Error(`${why}\n--- ${proc.logFile} (tail) ---\n${proc.tail()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

// ---- client helpers --------------------------------------------------------------------------------

/**
 * Environment for every git process we run: no system or user config (a developer's credential
 * helper must not answer for our test server), never prompt, a fixed identity.
 */
export function gitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: tmpdir(),
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Weir Test',
    GIT_AUTHOR_EMAIL: 'test@weir.invalid',
    GIT_COMMITTER_NAME: 'Weir Test',
    GIT_COMMITTER_EMAIL: 'test@weir.invalid',
    ...extra,
  };
}

/** Env that makes git send basic auth on every HTTP request, via config from the environment. */
export function gitAuthEnv(auth: BasicAuth): NodeJS.ProcessEnv {
  const token = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${token}`,
  };
}

/** Runs git with `gitEnv()`; resolves with exit code and output, never rejects on a git failure. */
export function runGit(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: gitEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? GIT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs git and returns trimmed stdout; throws with stderr on a non-zero exit. */
export async function git(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const r = await runGit(args, opts);
  if (r.code !== 0) throw new Error(`git ${args[0] ?? ''} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Commits `files` (path -> content, null deletes) on `branch` (default main) of `repoUrl` and pushes.
 * Works on an empty repo too. Returns the new commit's SHA.
 */
export async function commitFiles(
  repoUrl: string,
  files: Record<string, string | null>,
  message: string,
  opts: { auth?: BasicAuth; branch?: string } = {},
): Promise<string> {
  const branch = opts.branch ?? 'main';
  const env = opts.auth ? gitAuthEnv(opts.auth) : {};
  const work = await mkdtemp(join(tmpdir(), 'weir-git-work-'));
  try {
    const run = (args: string[]) => git(args, { cwd: work, env });
    await run(['init', '--quiet', `--initial-branch=${branch}`]);
    await run(['remote', 'add', 'origin', repoUrl]);
    await run(['fetch', '--quiet', 'origin']);
    const remoteHead = await runGit(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}`], {
      cwd: work,
    });
    if (remoteHead.code === 0) await run(['checkout', '--quiet', '-B', branch, `origin/${branch}`]);
    await applyFiles(work, files);
    await run(['add', '--all']);
    await run(['commit', '--quiet', '--allow-empty', '-m', message]);
    await run(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
    return await run(['rev-parse', 'HEAD']);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function applyFiles(work: string, files: Record<string, string | null>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = resolve(work, rel);
    const gitDir = join(work, '.git');
    if (!abs.startsWith(work + sep) || abs === gitDir || abs.startsWith(gitDir + sep)) {
      throw new Error(`file path escapes the work tree: ${rel}`);
    }
    if (content === null) {
      await rm(abs, { force: true });
    } else {
      await mkdir(dirname(abs), { recursive: true });
      await writeFile(abs, content);
    }
  }
}

// ---- small utilities -------------------------------------------------------------------------------

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
