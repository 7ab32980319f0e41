// The chaos suite's reduced profile (see test/chaos and docs/reliability.md): fewer releases and
// kills, a shorter API server outage, fewer Secrets, the same invariants. It needs its own cluster
// (an audit log, and an API server it stops), so it does not use the shared one.
// Replay a failure with WEIR_CHAOS_SEED=<seed printed below>.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalCluster } from '../cluster/cluster.ts';
import type { ScenarioEnv } from '../chaos/kit.ts';
import { createRng, seedFrom } from '../chaos/prng.ts';
import { ALONE, SHARING, formatResult, runScenario, startChaosCluster } from '../chaos/suite.ts';
import type { Scenario } from '../chaos/kit.ts';

const seed = seedFrom([]);
let cluster: LocalCluster;

const env = (s: Scenario): ScenarioEnv => ({
  cluster,
  profile: 'reduced',
  rng: createRng(seed ^ [...s.name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)),
  log: (line) => console.log(`# ${line}`),
});

async function check(s: Scenario): Promise<void> {
  const r = await runScenario(s, env(s));
  console.log(
    formatResult(r)
      .map((l) => `# ${l}`)
      .join('\n'),
  );
  assert.deepEqual(r.violations, [], `${s.name} (seed ${seed})`);
}

describe(`chaos, reduced (seed ${seed})`, () => {
  before(async () => {
    cluster = await startChaosCluster();
  });
  after(async () => cluster?.stop());

  describe('faults side by side', { concurrency: true }, () => {
    for (const s of SHARING) test(s.name, () => check(s));
  });
  // Stops the API server: only once nothing else uses the cluster.
  describe('alone', () => {
    for (const s of ALONE) test(s.name, () => check(s));
  });
});
