// `npm run chaos`: the fault-injection suite (test/chaos) on a fresh local control plane with real
// Prometheus and real controller processes, printing figures per scenario.
//   npm run chaos                         full profile (50 releases in the crash loop, 30 s outage, …)
//   npm run chaos -- --seed 1234          replay a run (the seed is printed at the start; or WEIR_CHAOS_SEED)
//   npm run chaos -- --only crash-loop    some scenarios only (comma-separated names)
//   npm run chaos -- --reduced            the reduced profile that `npm test` runs
//   npm run chaos -- --parallel           run the scenarios that can share the cluster side by side
// Exits 1 when an invariant was violated. Results also go to .weir/chaos/results-<seed>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../test/cluster/cluster.ts';
import { createRng, seedFrom } from '../test/chaos/prng.ts';
import type { Profile, ScenarioEnv, ScenarioResult } from '../test/chaos/kit.ts';
import { ALONE, SHARING, formatResult, runScenario, startChaosCluster } from '../test/chaos/suite.ts';

const argv = process.argv.slice(2);
const seed = seedFrom(argv);
const profile: Profile = argv.includes('--reduced') ? 'reduced' : 'full';
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : [];
const pick = <T extends { name: string }>(list: T[]) =>
  list.filter((s) => !only.length || only.includes(s.name));

const out = join(projectRoot, '.weir', 'chaos');
mkdirSync(out, { recursive: true });
console.log(`chaos: seed ${seed} (replay with --seed ${seed}), profile ${profile}`);
const t0 = Date.now();
const cluster = await startChaosCluster(join(out, `cluster-${seed}`));
console.log(`chaos: cluster ready in ${Date.now() - t0} ms; component logs in ${cluster.logDir}`);

const results: ScenarioResult[] = [];
const env = (name: string): ScenarioEnv => ({
  cluster,
  profile,
  // One stream per scenario, so that running one scenario alone replays the same choices.
  rng: createRng(seed ^ [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)),
  log: (line) => console.log(`  [${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`),
});
const report = (r: ScenarioResult) => {
  results.push(r);
  console.log(formatResult(r).join('\n'));
};
try {
  const sharing = pick(SHARING);
  if (argv.includes('--parallel'))
    await Promise.all(sharing.map(async (s) => report(await runScenario(s, env(s.name)))));
  else for (const s of sharing) report(await runScenario(s, env(s.name)));
  for (const s of pick(ALONE)) report(await runScenario(s, env(s.name)));
} finally {
  await cluster.stop();
}
const failed = results.filter((r) => r.violations.length);
writeFileSync(join(out, `results-${seed}.json`), JSON.stringify({ seed, profile, results }, null, 2));
console.log(
  `\nchaos: ${results.length - failed.length} passed, ${failed.length} failed in ${((Date.now() - t0) / 1000).toFixed(0)} s (seed ${seed})`,
);
process.exit(failed.length ? 1 : 0);
