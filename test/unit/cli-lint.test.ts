// `weir lint` as users run it (a real process): every invalid fixture is blamed on the field the API
// server names (its `# expect-field:` header, checked against the real API server by crds.test.ts)
// and exits 1; every valid fixture exits 0; a directory is linted as a whole.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FIXTURES, invalidFixtures, refusedFixtures, validFixtures } from '../fixtures/load.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'weir.js');

// Each `weir lint` is a node process that loads the sources through tsx: about 1 s of CPU, but tens of
// seconds of wall time on a machine at load 40+. So at most PARALLEL run at once, and each gets
// LINT_TIMEOUT_MS before it is killed (a kill fails the test with execFile's error, never a pass).
// Budget: 43 invalid fixtures / 2 at a time at ~4-10 s each under load is 90-220 s, well inside the
// runner's per-test timeout (scripts/run-tests.ts, --test-timeout 600 s).
const PARALLEL = 2;
const LINT_TIMEOUT_MS = 120_000;

async function lint(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'lint', ...args], {
      timeout: LINT_TIMEOUT_MS,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs `fn` over items, `n` at a time (each is a node process). */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

test('each invalid fixture: exit 1, blamed on the API server’s field path and message', async () => {
  const failures: string[] = [];
  await pool(invalidFixtures(), PARALLEL, async (fx) => {
    const r = await lint('-f', join(FIXTURES, fx.file));
    const out = r.stdout;
    if (r.code !== 1) failures.push(`${fx.file}: exit ${r.code}\n${out}${r.stderr}`);
    else if (!out.includes(`: ${fx.expectField}: `))
      failures.push(`${fx.file}: no problem at ${fx.expectField}:\n${out}`);
    else if (fx.expectMessage && !out.includes(fx.expectMessage))
      failures.push(`${fx.file}: message "${fx.expectMessage}" missing:\n${out}`);
    else if (!out.includes(`${join(FIXTURES, fx.file)}: document 1 (`))
      failures.push(`${fx.file}: no file/document:\n${out}`);
  });
  assert.deepEqual(failures, []);
});

test('each refused fixture (valid schema, a capability its provider lacks): exit 1 naming the field', async () => {
  const failures: string[] = [];
  await pool(refusedFixtures(), PARALLEL, async (fx) => {
    const r = await lint('-f', join(FIXTURES, fx.file));
    if (r.code !== 1 || !r.stdout.includes(`: ${fx.expectField}: ${fx.expectMessage}`))
      failures.push(`${fx.file}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  });
  assert.deepEqual(failures, []);
});

test('each valid fixture: exit 0', async () => {
  const failures: string[] = [];
  await pool(validFixtures(), PARALLEL, async (fx) => {
    const r = await lint('-f', join(FIXTURES, fx.file));
    if (r.code !== 0 || !/1 object\(s\) valid/.test(r.stdout))
      failures.push(`${fx.file}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  });
  assert.deepEqual(failures, []);
});

test('a directory: every problem listed, exit 1; a missing file is an error, not a stack trace', async () => {
  const r = await lint('-f', join(FIXTURES, 'invalid'));
  assert.equal(r.code, 1);
  const n = invalidFixtures().length;
  const summary = /(\d+) problem\(s\) in (\d+) object\(s\)/.exec(r.stdout);
  assert.ok(summary, r.stdout);
  assert.equal(Number(summary[2]), n);
  assert.ok(Number(summary[1]) >= n);
  const missing = await lint('-f', join(FIXTURES, 'nope.yaml'));
  assert.notEqual(missing.code, 0);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  assert.match(missing.stderr, /nope\.yaml/);
});
