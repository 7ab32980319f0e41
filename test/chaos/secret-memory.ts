// Secret memory: many large Secrets in the watched namespace, none used by a Canary; the controller's
// resident memory (RSS of its process) is measured before and after they exist. A controller that
// caches every Secret in full grows by at least their size; one that keeps metadata only (or reads
// on demand what a Canary references) stays flat.
import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import { startWorld } from '../cluster/canary-world.ts';
import { controllerReady, rssMiB, type Scenario } from './kit.ts';

const SIZES = { full: 1000, reduced: 500 } as const;
const SECRET_BYTES = 100 * 1024;
const CONCURRENCY = 8;

export const secretMemory: Scenario = {
  name: 'secret-memory',
  async run(env) {
    const t0 = Date.now();
    const count = SIZES[env.profile];
    const w = await startWorld('chaos-secrets', { controller: 'child', cluster: env.cluster });
    const core = env.cluster.kc.makeApiClient(CoreV1Api);
    try {
      await controllerReady(w.logFile, 0, Date.now(), 120_000, w.controllerProcess());
      const pid = w.controllerProcess()!.child.pid!;
      const before = await settledRss(pid);
      let made = 0;
      const createdIn = Date.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (made < count) {
            const i = made++;
            await core.createNamespacedSecret({
              namespace: w.ns,
              body: {
                metadata: { name: `blob-${i}` },
                data: { blob: randomBytes(SECRET_BYTES).toString('base64') },
              },
            });
          }
        }),
      );
      const createMs = Date.now() - createdIn;
      env.log(`secret-memory: ${count} Secrets of ${SECRET_BYTES / 1024} KiB created in ${createMs} ms`);
      const after = await settledRss(pid);
      const dataMiB = (count * SECRET_BYTES) / 2 ** 20;
      // Watch events still carry each Secret's data before the cache strips it: that garbage stays
      // in the heap until V8's next major GC (tens of MiB at most, whatever the count), while a
      // cache that keeps the data grows with the count (base64: 4/3 of the bytes, and more).
      const allowed = Math.max(50, dataMiB / 2);
      const growth = Math.round((after.last - before.last) * 10) / 10;
      const violations =
        growth > allowed
          ? [`controller RSS grew ${growth} MiB with ${dataMiB} MiB of Secrets (allowed ${allowed} MiB)`]
          : [];
      if (w.controllerProcess()!.child.exitCode !== null) violations.push('the controller exited');
      return {
        name: 'secret-memory',
        durationMs: Date.now() - t0,
        kills: 0,
        recoveryMs: [],
        outcomes: {},
        figures: {
          secrets: count,
          secretKiB: SECRET_BYTES / 1024,
          dataMiB,
          rssBeforeMiB: before.last,
          rssAfterMiB: after.last,
          rssPeakMiB: after.peak,
          rssGrowthMiB: growth,
          createMs,
        },
        violations,
      };
    } finally {
      await w.stop();
      await core.deleteCollectionNamespacedSecret({ namespace: w.ns }).catch(() => undefined);
    }
  },
};

/**
 * RSS once it stopped moving: sampled every second until three samples in a row are within 2 MiB
 * (the watch has delivered what it will), at most 60 s. Returns the last sample and the peak.
 */
async function settledRss(pid: number): Promise<{ last: number; peak: number }> {
  const samples: number[] = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    samples.push(rssMiB(pid));
    const last3 = samples.slice(-3);
    if (last3.length === 3 && Math.max(...last3) - Math.min(...last3) <= 2) break;
    await delay(1_000);
  }
  return { last: samples[samples.length - 1]!, peak: Math.max(...samples) };
}
