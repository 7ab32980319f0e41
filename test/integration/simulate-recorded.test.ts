// `weir simulate` replays a recorded run: two Canaries really run under the in-process controller
// against a real Prometheus scraping real exporters (one healthy release, one whose canary answers
// half of its requests with 500). Afterwards `weir simulate` (a real process) replays each Canary, as
// read back from the cluster, over the window of its run on the same Prometheus, and must reach the
// controller's verdicts: the same outcome, the same failing metric, and the same result of the
// success-rate check at every measured tick.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { Simulation } from '../../src/canary/simulate.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { runWeir, showRun } from '../cluster/weir-cli.ts';

const METRIC = 'request-success-rate';

let w: World;
let dir: string;
before(async () => {
  w = await startWorld('sim-recorded');
  dir = mkdtempSync(join(tmpdir(), 'weir-sim-recorded-'));
});
after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Whole seconds, as a user types them. */
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function simulate(file: string, fromMs: number, toMs: number) {
  const args = ['simulate', '-f', file, '--prometheus', w.prom.url, '--from', iso(fromMs), '--to', iso(toMs)];
  return runWeir([...args, '-o', 'json'], { kubeconfig: join(dir, 'no-kubeconfig'), timeoutMs: 180_000 });
}

/** Runs a release for real, then replays it; returns both sides. */
async function recordAndReplay(name: string, errorRate: number) {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  await w.exporters(name, { errorRate }, { errorRate: 0 });
  await w.apply(gatewayCanary(name, { threshold: 2, stepWeights: [20, 40, 60] }));
  await w.waitPhase(name, 'Initialized', 60_000);
  const fromMs = Date.now();
  await w.setImage(name, `example.com/${name}:2.0.0`);
  const done = await w.waitPhase(name, ['Failed', 'Succeeded'], 300_000);
  const toMs = Date.now() + 1000;

  const file = join(dir, `${name}.yaml`);
  const { apiVersion, kind, spec } = done;
  writeFileSync(file, stringify({ apiVersion, kind, metadata: { name, namespace: w.ns }, spec }));
  const r = await simulate(file, fromMs, toMs);
  let sim: Simulation;
  try {
    sim = JSON.parse(r.stdout) as Simulation;
  } catch {
    assert.fail(`weir simulate -o json printed no JSON:\n${showRun(r)}`);
  }
  const real = (done.status?.metrics?.find((m) => m.name === METRIC)?.history ?? []).map((h) => h.result);
  const replayed = sim.ticks
    .flatMap((t) => t.metrics?.filter((m) => m.name === METRIC) ?? [])
    .map((m) => m.result);
  return { done, sim, code: r.code, real, replayed };
}

describe('weir simulate replays a recorded run', { concurrency: true }, () => {
  test('a healthy release: promoted by the controller, "would have promoted" in the replay', async (t) => {
    const { done, sim, code, real, replayed } = await recordAndReplay('healthy', 0);
    t.diagnostic(`controller: ${done.status?.message}; replay: ${JSON.stringify(sim.outcome)}`);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    assert.equal(sim.outcome.kind, 'promoted', JSON.stringify(sim, null, 1));
    assert.equal(code, 0, 'exit 0: would have promoted');
    assert.ok(replayed.length >= 3, `a check at every step: ${JSON.stringify(replayed)}`);
    assert.deepEqual([...new Set(replayed)], ['Successful'], `every replayed check passed: ${replayed}`);
    assert.deepEqual([...new Set(real)], ['Successful'], `as every recorded check did: ${real}`);
    assert.equal(Math.max(...sim.ticks.map((x) => x.weight)), 60, 'the replay went through every step');
  });

  test('a failing release: rolled back by the controller, "would have rolled back" in the replay, naming the metric', async (t) => {
    const { done, sim, code, real, replayed } = await recordAndReplay('failing', 0.5);
    t.diagnostic(`controller: ${done.status?.message}; replay: ${JSON.stringify(sim.outcome)}`);
    assert.equal(done.status?.phase, 'Failed', done.status?.message);
    assert.match(done.status?.message ?? '', new RegExp(METRIC));
    assert.equal(sim.outcome.kind, 'rolledBack', JSON.stringify(sim, null, 1));
    assert.equal(code, 1, 'exit 1: would have rolled back');
    assert.match(
      sim.outcome.kind === 'rolledBack' ? sim.outcome.reason : '',
      new RegExp(`${METRIC} [\\d.]+ < min`),
    );
    // threshold 2: both sides fail the check twice, at the first step, and never go further.
    assert.deepEqual(replayed, ['Failed', 'Failed'], 'the replayed checks');
    assert.deepEqual(real, ['Failed', 'Failed'], 'the recorded checks');
    assert.equal(Math.max(...sim.ticks.map((x) => x.weight)), 20, 'the replay stayed at the first step');
  });
});
