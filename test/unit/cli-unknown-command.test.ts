// `weir <unknown command>` fails like kubectl's: it names the word, suggests near commands and exits
// 64, whatever follows it (`--help` included), so a typo in a CI script cannot pass. Run through the
// real bin/weir.js, as a user or a script would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'weir.js');
const weir = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('an unknown command is named, with a hint, and exits 64', () => {
  for (const args of [['lsit'], ['lsit', '--help'], ['help', 'lsit'], ['lsit', 'canaries', '-A']]) {
    const r = weir(...args);
    assert.equal(r.code, 64, `weir ${args.join(' ')}: exit code`);
    assert.match(r.stderr, /^error: unknown command "lsit" for "weir"/, `weir ${args.join(' ')}`);
    assert.match(r.stderr, /Did you mean this\?\n\tlist\n/);
    assert.match(r.stderr, /Run 'weir --help' for usage\./);
    assert.doesNotMatch(r.stdout + r.stderr, /Commands:/, 'no global help instead of the error');
  }
});

test('an unknown subcommand is named with its parent command', () => {
  const r = weir('get', 'canry', 'app');
  assert.equal(r.code, 64);
  assert.match(r.stderr, /^error: unknown command "canry" for "weir get"/);
  assert.match(r.stderr, /\tcanary\n/);
});

test('known commands and help still work', () => {
  assert.equal(weir('version').code, 0);
  const help = weir('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Commands:/);
  assert.equal(weir('help', 'get').code, 0);
});
