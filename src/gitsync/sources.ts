// Which files of a checkout make up a GitSync, read safely: every *.yaml/*.yml under `path`
// (recursively), or the `resources:` of a kustomization file where a directory has one. A hostile
// repository must not make the controller read outside the checkout or exhaust memory, so symlinks
// that leave the repository, a path outside it and oversized files are refused (as problems, never
// thrown), and nothing stops at the first problem: the caller reports them all at once.
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Lexer, parse } from 'yaml';

export interface SourceLimits {
  /** Largest manifest file read (bytes). */
  maxFileBytes: number;
  /** All manifest files together (bytes). */
  maxTotalBytes: number;
  maxFiles: number;
  /**
   * YAML tokens (scalars, indicators, separators) in one document. The parser holds a few hundred
   * bytes per token and cannot be interrupted inside a document, so this bounds both its memory and
   * how long it holds the event loop: 4 MiB of `[1,1,1,…]` is 2 million tokens and about 2 GB.
   * 500,000 tokens is about 1.6 MB of ordinary YAML, above what etcd stores in one object.
   */
  maxDocumentTokens: number;
  /** YAML tokens of all manifests together (about 16 MB of ordinary YAML). */
  maxTotalTokens: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxFiles: 10_000,
  maxDocumentTokens: 500_000,
  maxTotalTokens: 5_000_000,
};

// The lexer marks the start of every document with this token, and every scalar with the other.
const DOCUMENT_TOKEN = '\x02';
const SCALAR_TOKEN = '\x1f';
export const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * Counts a file's YAML tokens without building anything (constant memory), giving the event loop a
 * turn every 50,000 tokens; a problem when a document or the whole goes over its budget.
 */
export async function tokenBudget(
  text: string,
  file: string,
  limits: Pick<SourceLimits, 'maxDocumentTokens' | 'maxTotalTokens'>,
  used: { total: number },
): Promise<Problem | undefined> {
  let inDoc = 0;
  let n = 0;
  let prev = '';
  for (const token of new Lexer().lex(text)) {
    // A document starts at the lexer's marker or at `---`, unless that is a plain scalar's text.
    if (token === DOCUMENT_TOKEN || (token === '---' && prev !== SCALAR_TOKEN)) inDoc = 0;
    prev = token;
    inDoc++;
    used.total++;
    if (inDoc > limits.maxDocumentTokens)
      return {
        file,
        message: `a YAML document has more than ${limits.maxDocumentTokens} tokens: refused as a resource exhaustion attack (split it)`,
      };
    if (used.total > limits.maxTotalTokens)
      return {
        file,
        message: `the manifests have more than ${limits.maxTotalTokens} YAML tokens in total: refused as a resource exhaustion attack`,
      };
    if (++n % 50_000 === 0) await yieldToLoop();
  }
  return undefined;
}

export interface SourceFile {
  /** Path relative to the repository root, with forward slashes (what messages show). */
  file: string;
  text: string;
}

export interface Problem {
  file?: string;
  line?: number;
  col?: number;
  message: string;
}

const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
// Kustomization fields Weir honours; anything else (patches, images, generators…) would change what
// is applied, so it is refused rather than silently ignored.
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'resources', 'bases']);

export function isManifest(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !KUSTOMIZATION.includes(name);
}

/** Reads the manifest files of `path` inside the checkout at `root`. */
export async function readSources(
  root: string,
  path: string,
  limits: SourceLimits = DEFAULT_SOURCE_LIMITS,
): Promise<{ files: SourceFile[]; problems: Problem[] }> {
  const realRoot = await realpath(root);
  const files: SourceFile[] = [];
  const problems: Problem[] = [];
  const visited = new Set<string>();
  let total = 0;
  let overTotal = false;
  const kustomizationTokens = { total: 0 };
  let entriesSeen = 0;
  let overEntries = false;
  const show = (abs: string) => relative(realRoot, abs).split(sep).join('/') || '.';
  const inside = (abs: string) => abs === realRoot || abs.startsWith(realRoot + sep);

  /**
   * Whether a path inside the repository goes through a symlink (checked component by component from
   * the root, so only the repository's own entries are looked at).
   */
  async function viaSymlink(abs: string): Promise<boolean> {
    let p = realRoot;
    for (const part of relative(realRoot, abs).split(sep).filter(Boolean)) {
      p = join(p, part);
      const st = await lstat(p).catch(() => undefined);
      if (!st) return false;
      if (st.isSymbolicLink()) return true;
    }
    return false;
  }

  /** Resolves a path (following symlinks) and checks it stays in the repository. */
  async function safe(abs: string, what: string): Promise<string | undefined> {
    // One message whether a symlink's target outside exists or not: the answer must not tell a
    // repository which paths exist on the controller's filesystem (another GitSync's checkout).
    const refuse = () => {
      problems.push({
        file: show(abs),
        message: `${what} points outside the repository or to nothing (symlink), refused`,
      });
      return undefined;
    };
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      if (await viaSymlink(abs)) return refuse();
      problems.push({ file: show(abs), message: `${what} does not exist in the repository` });
      return undefined;
    }
    return inside(real) ? real : refuse();
  }

  /**
   * Reads one file with the checks every file gets: resolved inside the repository, a regular file,
   * under the per-file limit and within the total. The read itself is bounded too, so a file that
   * grows (or a device that lies about its size) cannot take more than the limit.
   */
  async function readChecked(abs: string, shown: string, what: string): Promise<string | undefined> {
    const real = await safe(abs, what);
    if (!real) return undefined;
    const fh = await open(real, 'r').catch(() => undefined);
    if (!fh) {
      problems.push({ file: shown, message: `${what} cannot be read` });
      return undefined;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        problems.push({ file: shown, message: `${what} is not a regular file, refused` });
        return undefined;
      }
      const tooBig = (size: number | string) =>
        problems.push({
          file: shown,
          message: `${what} is ${size} bytes, over the limit of ${limits.maxFileBytes} bytes, refused`,
        });
      if (st.size > limits.maxFileBytes) return void tooBig(st.size);
      const buf = Buffer.alloc(Math.min(st.size, limits.maxFileBytes) + 1);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got > limits.maxFileBytes) return void tooBig(`more than ${limits.maxFileBytes}`);
      total += got;
      if (total > limits.maxTotalBytes) {
        if (!overTotal)
          problems.push({ message: `manifests exceed ${limits.maxTotalBytes} bytes in total, refused` });
        overTotal = true;
        return undefined;
      }
      return buf.subarray(0, got).toString('utf8');
    } finally {
      await fh.close();
    }
  }

  async function readFileSafe(abs: string, shown: string): Promise<void> {
    const real = await safe(abs, 'file');
    if (!real) return;
    if (visited.has(real)) return;
    visited.add(real);
    if (files.length >= limits.maxFiles) {
      if (files.length === limits.maxFiles)
        problems.push({ message: `more than ${limits.maxFiles} manifest files, refused` });
      return;
    }
    const text = await readChecked(real, shown, 'file');
    if (text !== undefined) files.push({ file: shown, text });
  }

  async function readDir(abs: string): Promise<void> {
    const real = await safe(abs, 'directory');
    if (!real || visited.has(real)) return;
    visited.add(real);
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    // Non-YAML files and directories cost a walk too: a tree of a million of them is refused.
    entriesSeen += entries.length;
    if (entriesSeen > limits.maxFiles * 10) {
      if (!overEntries)
        problems.push({
          message: `more than ${limits.maxFiles * 10} directory entries under the path, refused`,
        });
      overEntries = true;
      return;
    }
    const kfile = entries.find((e) => KUSTOMIZATION.includes(e.name));
    if (kfile) return readKustomization(join(abs, kfile.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue; // .git, .github and other tool directories
      const child = join(abs, e.name);
      if (e.isSymbolicLink()) {
        const target = await safe(child, 'symlink');
        if (!target) continue;
        const st = await stat(target);
        if (st.isDirectory()) await readDir(child);
        else if (isManifest(e.name)) await readFileSafe(child, show(child));
      } else if (e.isDirectory()) await readDir(child);
      else if (isManifest(e.name)) await readFileSafe(child, show(child));
    }
  }

  async function readKustomization(abs: string): Promise<void> {
    const shown = show(abs);
    // The kustomization file is a file of the repository like any other: a symlink out of it, a
    // device or an oversized file is refused before a byte is read.
    const text = await readChecked(abs, shown, 'kustomization');
    if (text === undefined) return;
    // Bounded like every manifest before the parser builds it.
    const over = await tokenBudget(text, shown, limits, kustomizationTokens);
    if (over) return void problems.push(over);
    let k: unknown;
    try {
      k = parse(text, { maxAliasCount: 100 });
    } catch (err) {
      problems.push({ file: shown, message: `cannot parse: ${(err as Error).message.split('\n')[0]}` });
      return;
    }
    if (!k || typeof k !== 'object' || Array.isArray(k)) {
      problems.push({ file: shown, message: 'a kustomization must be a mapping' });
      return;
    }
    const unsupported = Object.keys(k).filter((f) => !KUSTOMIZATION_FIELDS.has(f));
    if (unsupported.length) {
      problems.push({
        file: shown,
        message: `kustomization fields ${unsupported.join(', ')} are not supported (only resources); render them into plain manifests`,
      });
    }
    const obj = k as { resources?: unknown; bases?: unknown };
    const list = [...asList(obj.resources), ...asList(obj.bases)];
    for (const entry of list) {
      if (typeof entry !== 'string' || !entry) {
        problems.push({ file: shown, message: 'resources entries must be non-empty strings' });
        continue;
      }
      if (
        /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ||
        /^(github\.com|gitlab\.com)\//.test(entry) ||
        entry.includes('@')
      ) {
        problems.push({ file: shown, message: `remote resource ${entry} is not supported` });
        continue;
      }
      if (isAbsolute(entry)) {
        problems.push({ file: shown, message: `resource ${entry} must be a relative path` });
        continue;
      }
      const target = resolve(abs, '..', entry);
      if (!inside(target)) {
        problems.push({ file: shown, message: `resource ${entry} is outside the repository, refused` });
        continue;
      }
      const st = await stat(target).catch(() => undefined);
      if (st?.isDirectory()) await readDir(target);
      else await readFileSafe(target, show(target));
    }
  }

  const start = resolve(realRoot, path);
  if (isAbsolute(path) || !inside(start)) {
    return { files, problems: [{ message: `spec.path ${path} is outside the repository, refused` }] };
  }
  const realStart = await safe(start, `spec.path ${path}`);
  if (!realStart) return { files, problems };
  const st = await stat(realStart);
  if (st.isDirectory()) await readDir(start);
  else await readFileSafe(start, show(start));
  files.sort((a, b) => a.file.localeCompare(b.file));
  return { files, problems };
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}
