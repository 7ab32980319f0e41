// The README's demo, run non-interactively: a good release is promoted, a bad one rolled back, and
// everything it started is stopped again.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../cluster/cluster.ts';

test('npm run demo promotes the good release and rolls back the bad one', { timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts', 'demo.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, out.slice(-3000));
  const result = out.match(/^DEMO RESULT (.+)$/m)?.[1];
  assert.deepEqual(JSON.parse(result ?? '{}'), { '2.0.0': 'Succeeded', '3.0.0': 'Failed' });
  assert.match(
    out,
    /slack> .*rolled back: Failed checks threshold reached 2: request-success-rate [\d.]+ < min 99/,
  );
  assert.match(out, /everything stopped/);
});
