// API server outage: kube-apiserver stopped in the middle of two runs (one good, one bad) and
// started again after `outageMs` on the same etcd, port and certificates. The controller keeps
// running throughout; its informers must reconnect and both runs must end as they should.
import { setTimeout as delay } from 'node:timers/promises';
import { startWorld } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import type { Release } from './invariants.ts';
import { closeOut, record, setupApp, ship, tally, type Scenario } from './kit.ts';

const OUTAGE_MS = { full: 30_000, reduced: 10_000 } as const;

export const apiserverOutage: Scenario = {
  name: 'apiserver-outage',
  async run(env) {
    const outageMs = OUTAGE_MS[env.profile];
    const t0 = Date.now();
    const w = await startWorld('chaos-api', { controller: 'child', cluster: env.cluster });
    try {
      const plans = await Promise.all([
        setupApp(w, 'api-good', { good: true, stepWeight: 20, maxWeight: 60 }),
        setupApp(w, 'api-bad', { good: false, stepWeight: 20, maxWeight: 60, analysis: { threshold: 3 } }),
      ]);
      const rec = record(w);
      const releases: Release[] = [
        { canary: 'api-good', image: 'example.com/api-good:2.0.0', expect: 'Succeeded' },
        { canary: 'api-bad', image: 'example.com/api-bad:2.0.0', expect: 'Failed' },
      ];
      const shipping = Promise.all(releases.map((r) => ship(w, r, 300_000)));
      // Mid-run: the good Canary has taken its first step, the bad one is still being analysed.
      await waitFor(
        'api-good at its first step',
        async () => ((await w.canary('api-good')).status?.canaryWeight ?? 0) > 0,
        120_000,
        250,
      );
      const weightAtStop = (await w.canary('api-good')).status?.canaryWeight;
      env.log(`apiserver-outage: stopping kube-apiserver for ${outageMs} ms (api-good at ${weightAtStop}%)`);
      const stopAt = Date.now();
      await env.cluster.stopApiserver();
      await delay(outageMs);
      const startAt = Date.now();
      await env.cluster.startApiserver();
      const apiBackMs = Date.now() - startAt;
      env.log(`apiserver-outage: kube-apiserver ready again after ${apiBackMs} ms`);
      // Recovered once the controller writes again: any Canary status change after the restart.
      const statusAt = JSON.stringify((await w.canary('api-good')).status);
      await waitFor(
        'the controller to write a status after the restart',
        async () => JSON.stringify((await w.canary('api-good')).status) !== statusAt,
        120_000,
        250,
      ).catch(() => undefined);
      const resumedMs = Date.now() - startAt;
      await shipping;
      const { violations, watchGaps } = await closeOut(w, rec, plans, releases);
      return {
        name: 'apiserver-outage',
        durationMs: Date.now() - t0,
        kills: 0,
        recoveryMs: [resumedMs],
        outcomes: tally(releases),
        figures: {
          watchGaps,
          outageMs: startAt - stopAt,
          apiserverReadyMs: apiBackMs,
          controllerResumedMs: resumedMs,
          weightAtStop: weightAtStop ?? 0,
        },
        violations,
      };
    } finally {
      await w.stop();
    }
  },
};
