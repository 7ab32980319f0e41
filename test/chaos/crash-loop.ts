// Crash loop: many releases, good and bad, on several Canaries at once, while the controller is
// SIGKILLed at random moments (seeded) and restarted. The first two kills are deterministic
// (src/failpoints.ts): WEIR_FAILPOINT=after-promote-write dies right after writing the primary's
// template, before the status write that records the promotion; after-status-write dies right
// after a status write that records a transition's alerts, before sending them.
import { setTimeout as delay } from 'node:timers/promises';
import { startWorld } from '../cluster/canary-world.ts';
import type { CanaryPlan, Release } from './invariants.ts';
import {
  ControllerDied,
  closeOut,
  controllerReady,
  logSize,
  record,
  setupApp,
  ship,
  tally,
  type Scenario,
} from './kit.ts';

const SIZES = {
  full: { apps: 8, bad: 3, releases: 50, kills: 20, gapMs: [4_000, 18_000], downMs: [0, 3_000] },
  reduced: { apps: 3, bad: 1, releases: 6, kills: 2, gapMs: [10_000, 25_000], downMs: [0, 2_000] },
} as const;
const RUN_TIMEOUT_MS = 240_000;

export const crashLoop: Scenario = {
  name: 'crash-loop',
  async run(env) {
    const size = SIZES[env.profile];
    const t0 = Date.now();
    const w = await startWorld('chaos-crash', {
      controller: 'child',
      cluster: env.cluster,
      deferController: true,
    });
    try {
      // The first start carries the failpoint: it dies at the first promotion.
      await w.startController({ WEIR_FAILPOINT: 'after-promote-write' });
      const names = Array.from({ length: size.apps }, (_, i) => `crash-${i}`);
      const good = (i: number) => i >= size.bad;
      const plans: CanaryPlan[] = await Promise.all(
        names.map((n, i) => setupApp(w, n, { good: good(i), stepWeight: 25, maxWeight: 50 })),
      );
      const rec = record(w);
      // Releases round-robin over the apps; each app ships its releases one after another.
      const releases: Release[] = Array.from({ length: size.releases }, (_, k) => {
        const app = k % size.apps;
        return {
          canary: names[app]!,
          image: `example.com/${names[app]}:${2 + Math.floor(k / size.apps)}.0.0`,
          expect: good(app) ? 'Succeeded' : 'Failed',
        };
      });
      env.log(`crash-loop: ${releases.length} releases on ${size.apps} Canaries (${size.bad} bad)`);

      let finished = false;
      /** Set when the controller cannot be brought back: the releases stop waiting for it. */
      let aborted = false;
      const problems: string[] = [];
      const recoveryMs: number[] = [];
      let kills = 0;
      /** When each controller died (epoch ms), failpoint or SIGKILL: what explains a duplicate alert. */
      const killTimes: number[] = [];
      let failpointKills = 0;
      let window = '';
      // Evidence that the failpoint hit the window: a primary already on the new template while
      // the Canary's status does not record the promotion yet.
      const promotionWindow = async () => {
        const found: string[] = [];
        for (const n of names) {
          const st = (await w.canary(n)).status;
          const image = await w.image(`${n}-primary`);
          if (
            st?.lastPromotedSpec !== st?.lastAppliedSpec &&
            image !== plans.find((p) => p.name === n)?.initialImage
          )
            found.push(`${n}-primary runs ${image} while ${n} is ${st?.phase} at ${st?.canaryWeight}%`);
        }
        return found.join('; ') || 'no primary ahead of its status';
      };
      const shipping = Promise.all(
        names.map(async (n) => {
          for (const r of releases.filter((x) => x.canary === n)) {
            if (aborted) break;
            await ship(w, r, RUN_TIMEOUT_MS, () => aborted);
            env.log(`crash-loop: ${r.canary} ${r.image} -> ${r.outcome ?? 'unfinished'}`);
            if (!r.outcome) break; // the invariants report it; later releases would only pile up
          }
        }),
      ).finally(() => (finished = true));

      const restart = async (extraEnv: Record<string, string> = {}) => {
        const offset = logSize(w.logFile);
        const t = Date.now();
        await w.startController(extraEnv);
        try {
          recoveryMs.push(await controllerReady(w.logFile, offset, t, 120_000, w.controllerProcess()));
        } catch (err) {
          // A failpoint may fire before /readyz answers: that is the failpoint, not a failed start.
          if (!(err instanceof ControllerDied) || !extraEnv.WEIR_FAILPOINT) throw err;
        }
      };
      /** Waits for the current controller to die at its failpoint; false if the releases ended first. */
      const failpointFired = async () => {
        const proc = w.controllerProcess()!;
        await Promise.race([proc.exited, shipping]);
        if (proc.child.signalCode !== 'SIGKILL') return false;
        killTimes.push(Date.now());
        kills++;
        failpointKills++;
        return true;
      };
      const chaos = (async () => {
        // 1. The failpoints: the first controller dies at its first promotion write; the next one
        // right after the first status write that records a transition with alerts, before
        // sending them (an alert outbox must deliver them after the restart).
        if (await failpointFired()) {
          window = await promotionWindow();
          env.log(`crash-loop: failpoint after-promote-write fired (${window}); restarting the controller`);
          await restart({ WEIR_FAILPOINT: 'after-status-write' });
          if (await failpointFired()) {
            env.log('crash-loop: failpoint after-status-write fired (alerts written, not sent); restarting');
            await restart();
          }
        }
        // 2. Random kills until the releases are done or the budget is spent.
        while (!finished && kills < size.kills + failpointKills) {
          const gap = env.rng.int(size.gapMs[0], size.gapMs[1]);
          await Promise.race([delay(gap), shipping]);
          if (finished) break;
          killTimes.push(Date.now());
          await w.killController();
          kills++;
          const down = env.rng.int(size.downMs[0], size.downMs[1]);
          env.log(
            `crash-loop: SIGKILL #${kills} at ${new Date().toISOString()} after ${gap} ms, down ${down} ms`,
          );
          await delay(down);
          await restart();
        }
      })().catch((err: Error) => {
        aborted = true;
        problems.push(`controller restart failed: ${err.message}`);
      });
      await Promise.all([shipping, chaos]);
      const { violations, watchGaps } = await closeOut(w, rec, plans, releases, killTimes);
      violations.unshift(...problems);
      if (failpointKills < 2)
        violations.push(
          `only ${failpointKills} of the 2 failpoints (after-promote-write, after-status-write) fired`,
        );
      return {
        name: 'crash-loop',
        durationMs: Date.now() - t0,
        kills,
        recoveryMs,
        outcomes: tally(releases),
        figures: {
          watchGaps,
          releases: releases.length,
          canaries: size.apps,
          failpointKills,
          failpointWindow: window,
        },
        violations,
      };
    } finally {
      await w.stop();
    }
  },
};
