// The README's demo, run non-interactively on the real data plane: at every step of the good release
// the share of real requests answered by its pods (through Traefik) is printed and within ±5 points of
// the weight, the good release is promoted and then answers everything, the bad one (--random-error)
// is rolled back by the built-in success rate and then answers nothing, and everything the demo
// started is stopped again. It runs in a namespace of the suite's shared cluster (--kubeconfig): a
// second KWOK cluster in the run's network namespace would hand out the same pod IPs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot, sharedCluster } from '../cluster/cluster.ts';
import { assertRunNetns } from '../cluster/netns.ts';
import { MIN_STEP_REQUESTS } from '../../scripts/demo/step-gate.ts';

const TOLERANCE = 5;

interface Split {
  weight: number;
  measured: number;
  requests: number;
  tag: string;
}

function splits(out: string): Split[] {
  const re = /^\[[\d:]+\] split {3}weight (\d+)% → ([\d.]+)% of (\d+) requests answered by (\S+)/gm;
  return [...out.matchAll(re)].map((m) => ({
    weight: Number(m[1]),
    measured: Number(m[2]),
    requests: Number(m[3]),
    tag: m[4]!,
  }));
}

test(
  'npm run demo promotes the good release and rolls back the bad one, measuring each step',
  { timeout: 480_000 },
  async () => {
    assertRunNetns('the demo');
    const cluster = await sharedCluster();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(projectRoot, 'scripts', 'demo.ts'), '--kubeconfig', cluster.kubeconfigPath],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const lines = out.split('\n').filter((l) => / split {3}/.test(l));
    console.log(lines.join('\n'));
    assert.equal(code, 0, out.slice(-3000));
    const result = out.match(/^DEMO RESULT (.+)$/m)?.[1];
    assert.deepEqual(JSON.parse(result ?? '{}'), { '6.0.1': 'Succeeded', '6.0.2': 'Failed' });

    const good = splits(out).filter((s) => s.tag === '6.0.1');
    for (const w of [20, 40, 60]) {
      const step = good.find((s) => s.weight === w);
      assert.ok(step, `a measured split at weight ${w}% of the good release:\n${lines.join('\n')}`);
      // The demo's gate holds each step until the meter has measured this many.
      assert.ok(
        step.requests >= MIN_STEP_REQUESTS,
        `at least ${MIN_STEP_REQUESTS} requests at ${w}% (${step.requests})`,
      );
      assert.ok(
        Math.abs(step.measured - w) <= TOLERANCE,
        `${step.measured}% answered by 6.0.1 within ±${TOLERANCE} points of ${w}%`,
      );
    }
    assert.match(out, /split {3}promoted: 100\.0% of \d+ requests answered by 6\.0\.1/);
    assert.ok(
      splits(out).some((s) => s.tag === '6.0.2' && s.weight === 20),
      'the bad release was measured at 20%',
    );
    assert.match(
      out,
      /slack> .*rolled back: Failed checks threshold reached 2: request-success-rate [\d.]+ < min 99/,
    );
    assert.match(out, /split {3}rolled back: weight 0% → 0\.0% of \d+ requests answered by 6\.0\.2/);
    assert.match(out, /everything stopped/);
  },
);
