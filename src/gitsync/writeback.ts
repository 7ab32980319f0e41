// Rollback write-back, the Git side: fetch the branch (depth 1) into a scratch directory, find the
// target Deployment's file under the GitSync's path, set the primary's values back (template-edit.ts),
// commit as Weir and push with the same credentials mechanism as the fetch (fetch.ts: env-scoped
// headers or an ssh key file, never a command line). A push refused because the branch moved on
// (non-fast-forward) is retried from a fresh fetch. A branch that already has the primary's values
// (the push of an earlier attempt landed, then the controller crashed) yields its head and no commit:
// running this twice never pushes twice.
import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import {
  FetchError,
  REF_NAME,
  classify,
  gitEnvironment,
  redactUrl,
  runGit,
  type GitCredentials,
} from './fetch.ts';
import { WEIR_AUTHOR } from './rollback.ts';
import { editDeploymentFile, type DeploymentRef, type TemplateEdit } from './template-edit.ts';

export interface WriteBackRequest {
  /** Scratch directory (removed before and after). */
  dir: string;
  url: string;
  branch: string;
  credentials?: GitCredentials | undefined;
  allowFile?: boolean | undefined;
  timeoutMs: number;
  /** spec.path: where the Deployment's file is looked for. */
  path: string;
  target: DeploymentRef;
  edits: TemplateEdit[];
  /** The whole commit message (subject, body, sign-off) for the changes made (`path: old -> new`). */
  message: (changed: string[]) => string;
}

export type WriteBackResult =
  | { ok: true; commit: string; pushed: boolean; file: string; changed: string[] }
  /** retryable: a fetch or push problem; otherwise only a new revision or spec can help. */
  | { ok: false; reason: string; retryable: boolean };

const MAX_PUSH_ATTEMPTS = 3;
const MAX_FILES = 5000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const REJECTED = /\[rejected\]|non-fast-forward|fetch first|failed to update ref|cannot lock ref/i;

export async function writeBack(req: WriteBackRequest): Promise<WriteBackResult> {
  if (!REF_NAME.test(req.branch))
    return { ok: false, reason: `${req.branch} is not a valid branch name`, retryable: false };
  const deadline = Date.now() + req.timeoutMs;
  await rm(req.dir, { recursive: true, force: true });
  await mkdir(req.dir, { recursive: true, mode: 0o700 });
  const g = await gitEnvironment(req.dir, req.url, req.credentials, req.allowFile);
  const git = async (args: string[]) => {
    const r = await runGit(['-C', join(req.dir, 'repo'), ...args], g.env, deadline, g.secrets);
    if (r.code !== 0) throw Object.assign(classify(r.stderr, req.url), { stderr: r.stderr });
    return r.stdout.trim();
  };
  try {
    await mkdir(join(req.dir, 'repo'));
    await git(['init', '--quiet', '--template=']);
    for (let attempt = 1; ; attempt++) {
      const result = await attemptOnce(req, git);
      if (result !== 'rejected') return result;
      if (attempt >= MAX_PUSH_ATTEMPTS)
        return {
          ok: false,
          reason: `push to ${req.branch} was rejected ${attempt} times (the branch keeps moving)`,
          retryable: true,
        };
    }
  } catch (err) {
    const reason =
      err instanceof FetchError ? err.message : `write-back to ${redactUrl(req.url)}: ${String(err)}`;
    return { ok: false, reason, retryable: true };
  } finally {
    await g.cleanup();
    await rm(req.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

type Git = (args: string[]) => Promise<string>;

/** One fetch-edit-commit-push round; 'rejected' when the branch moved on in between. */
async function attemptOnce(req: WriteBackRequest, git: Git): Promise<WriteBackResult | 'rejected'> {
  await git([
    'fetch',
    '--quiet',
    '--no-tags',
    '--force',
    '--depth=1',
    '--',
    req.url,
    `+refs/heads/${req.branch}:refs/weir/writeback`,
  ]);
  await git(['checkout', '--quiet', '--force', '-B', 'weir-writeback', 'refs/weir/writeback']);
  const head = await git(['rev-parse', 'HEAD']);
  const located = await locateAndEdit(join(req.dir, 'repo'), req);
  if (!located.ok) return { ...located, retryable: false };
  if (!located.changed.length)
    return { ok: true, commit: head, pushed: false, file: located.file, changed: [] };
  await git(['add', '--', located.file]);
  await git(commitArgs(req.message(located.changed)));
  const commit = await git(['rev-parse', 'HEAD']);
  try {
    await git(['push', '--quiet', '--no-verify', '--', req.url, `HEAD:refs/heads/${req.branch}`]);
  } catch (err) {
    if (REJECTED.test((err as { stderr?: string }).stderr ?? '')) return 'rejected';
    throw err;
  }
  return { ok: true, commit, pushed: true, file: located.file, changed: located.changed };
}

/** `git commit` arguments: Weir as author and committer, the message as given. */
function commitArgs(message: string): string[] {
  const who = `${WEIR_AUTHOR.name} <${WEIR_AUTHOR.email}>`;
  return [
    '-c',
    `user.name=${WEIR_AUTHOR.name}`,
    '-c',
    `user.email=${WEIR_AUTHOR.email}`,
    'commit',
    '--quiet',
    '--no-verify',
    `--author=${who}`,
    '-m',
    message,
  ];
}

type Located = { ok: true; file: string; changed: string[] } | { ok: false; reason: string };

/** Finds the Deployment's file under `path`, edits it in place; the file is relative to the repo. */
async function locateAndEdit(repo: string, req: WriteBackRequest): Promise<Located> {
  const root = join(repo, req.path);
  const name = `Deployment ${req.target.namespace}/${req.target.name}`;
  for (const abs of await yamlFiles(root)) {
    const text = await readFile(abs, 'utf8');
    const edit = editDeploymentFile(text, req.target, req.edits);
    if (!edit.ok) return { ok: false, reason: `${relative(repo, abs)}: ${edit.reason}` };
    if (!edit.found) continue;
    if (edit.changed.length) await writeFile(abs, edit.text);
    return { ok: true, file: relative(repo, abs), changed: edit.changed };
  }
  return {
    ok: false,
    reason: `${name} is not a plain YAML document under ${req.path} of branch ${req.branch} (built by a tool, or elsewhere)`,
  };
}

/** *.yaml / *.yml files under `root`, sorted; dot-names and symlinks skipped (the build refuses escapes). */
async function yamlFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir).catch(() => [] as string[])).sort();
    for (const n of names) {
      if (n.startsWith('.') || out.length >= MAX_FILES) continue;
      const p = join(dir, n);
      const st = await lstat(p);
      if (st.isDirectory()) await visit(p);
      else if (st.isFile() && /\.ya?ml$/.test(n) && st.size <= MAX_FILE_BYTES) out.push(p);
    }
  };
  await visit(root);
  return out;
}

/** The scratch directory of a checkout's write-backs: next to it, hidden, private like it. */
export const scratchDirOf = (checkout: string): string =>
  join(dirname(checkout), `.${basename(checkout)}-writeback`);
