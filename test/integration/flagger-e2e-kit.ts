// Flagger's own end-to-end manifests (test/fixtures/flagger-e2e/, kept verbatim with their source) as
// a user migrating would run them: through the real `weir convert` and `weir lint` processes, then
// applied to the API server. Every Flagger scenario names its app `podinfo` in namespace `test`, so
// each one is given its own name (`podinfo*` values become `<id>*`) and the test's namespace, which
// lets many run side by side under one controller.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../cluster/cluster.ts';

export const FLAGGER_FIXTURES = join(projectRoot, 'test', 'fixtures', 'flagger-e2e');
const BIN = join(projectRoot, 'bin', 'weir.js');

// Each `weir` is a node process loading the sources through tsx: seconds of wall time on a loaded
// machine, so at most PARALLEL at once, each killed after CLI_TIMEOUT_MS (a kill fails the test).
const PARALLEL = 2;
const CLI_TIMEOUT_MS = 120_000;

export type Json = Record<string, unknown>;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let running = 0;
const waiting: Array<() => void> = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Runs `weir <args>` (stdin from `input` when given); never throws on a non-zero exit. */
export function weir(args: string[], input?: string): Promise<CliResult> {
  return slot(
    () =>
      new Promise<CliResult>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [BIN, ...args],
          { timeout: CLI_TIMEOUT_MS, maxBuffer: 8 << 20 },
          (err, stdout, stderr) => {
            const code = err ? (err as { code?: unknown }).code : 0;
            if (typeof code !== 'number') reject(err ?? new Error(`weir ${args.join(' ')}: no exit code`));
            else resolve({ code, stdout, stderr });
          },
        );
        child.stdin?.end(input ?? '');
      }),
  );
}

/** The YAML documents of a file or of a string. */
export function documents(text: string): Json[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => !!d);
}

export const fixtureDocs = (file: string): Json[] =>
  documents(readFileSync(join(FLAGGER_FIXTURES, file), 'utf8'));

/**
 * A deep copy of `value` moved to namespace `ns` (every `namespace` field) with the app renamed to
 * `id`: `podinfo` and `podinfo-<suffix>` values become `id` and `id-<suffix>`, and names listed in
 * `prefixed` become `id-<name>`. Commands and URLs are left alone (they contain `.`, `/` or spaces).
 */
export function relocate<T>(value: T, ns: string, id: string, prefixed: ReadonlySet<string> = new Set()): T {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key === 'namespace') return ns;
      if (v === 'podinfo' || /^podinfo-[a-z0-9-]+$/.test(v)) return id + v.slice('podinfo'.length);
      return prefixed.has(v) ? `${id}-${v}` : v;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(value) as T;
}
