// Loud enough to diagnose a stuck run. A reconcile that decides "keep waiting" (canary pods, content
// still loading, the cache behind our own write, a background job) writes nothing and logs at most at
// debug, so a run that waits forever leaves no trace: chaos seed 403502959 had a Canary wait 4
// minutes across three controller processes without one log line. This says so at info, at most
// once a minute per Canary, once a Canary in a run has been reconciled with no change to it for a
// minute.

/**
 * Phases of a run in flight: a Canary in any other phase is idle and may stay unchanged for days.
 * Frozen is left out: it waits for a person on purpose, and its status says so.
 */
const IN_RUN = new Set([
  'Initializing',
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
]);

export const QUIET_LOG_EVERY_MS = 60_000;

export class QuietRuns {
  private readonly seen = new Map<string, { rv: string | undefined; since: number; told: number }>();

  constructor(private readonly everyMs = QUIET_LOG_EVERY_MS) {}

  /**
   * Records a reconcile of `key`, whose object is at resourceVersion `rv` in `phase`. Returns how
   * long (ms) the object has not changed when that deserves a log line now, else undefined.
   */
  check(key: string, rv: string | undefined, phase: string | undefined, now: number): number | undefined {
    if (!IN_RUN.has(phase ?? 'Initializing')) {
      this.seen.delete(key);
      return undefined;
    }
    const s = this.seen.get(key);
    if (!s || s.rv !== rv) {
      this.seen.set(key, { rv, since: now, told: now });
      return undefined;
    }
    if (now - s.told < this.everyMs) return undefined;
    s.told = now;
    return now - s.since;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }
}
