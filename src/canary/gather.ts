// Gathering what decide() asks for (gate webhooks, metric queries) off the reconcile worker. A
// reconcile that needs observations starts one background job for its Canary and returns at once;
// the job's end requeues the Canary, and the next reconcile uses the results only while the Canary
// still stands where the job started (same revision, spec generation, phase, step and tick). So a
// slow gate never holds a worker that another Canary's rollback needs, and a verdict gathered for
// one state never decides another.
import type { CanarySpec, WebhookType } from '../api/canary.ts';
import type { Logger } from '../log.ts';
import type { CanaryView, GateResult, MetricResult } from './model.ts';
import { parseDuration } from './strategy.ts';

export interface Gathered {
  gates: Partial<Record<WebhookType, GateResult>>;
  metrics?: MetricResult[];
}

export interface Wanted {
  gates: WebhookType[];
  metrics: boolean;
}

/** Where a Canary stands; results gathered at one stamp are used at that stamp only. */
export function stampOf(view: CanaryView, revision: string): string {
  const s = view.status;
  return JSON.stringify([
    revision,
    view.generation,
    s.phase,
    s.lastAppliedSpec,
    s.stepIndex,
    s.canaryWeight,
    s.iterations,
    s.failedChecks,
    s.lastAnalysisTime,
  ]);
}

/** Whether `got` already answers everything `want` asks. */
function missing(want: Wanted, got: Gathered): Wanted {
  return { gates: want.gates.filter((g) => !got.gates[g]), metrics: want.metrics && !got.metrics };
}

// Webhook retries back off up to 2 s each (src/hooks/webhooks.ts).
const RETRY_BACKOFF_MS = 2_000;
/** Above the sum of a job's own timeouts: only a bug could make a job take this long. */
const SAFETY_MARGIN_MS = 30_000;

/**
 * The longest a job asking `want` can take by its own timeouts (hooks and queries run concurrently),
 * plus a margin. `metricTimeoutMs(name)` is a metric check's query timeout.
 */
export function jobBoundMs(
  spec: CanarySpec,
  want: Wanted,
  metricTimeoutMs: (metric: string) => number,
): number {
  let bound = 0;
  for (const h of spec.analysis.webhooks ?? []) {
    if (!want.gates.includes(h.type ?? 'rollout')) continue;
    const timeout = h.timeout ? parseDuration(h.timeout) : 10_000;
    const retries = h.retries ?? 0;
    bound = Math.max(bound, timeout * (1 + retries) + RETRY_BACKOFF_MS * retries);
  }
  if (want.metrics)
    for (const m of spec.analysis.metrics ?? []) bound = Math.max(bound, metricTimeoutMs(m.name));
  return bound + SAFETY_MARGIN_MS;
}

interface Job {
  id: number;
  /** undefined: its results are no longer wanted (a decision was made without them). */
  stamp: string | undefined;
  running: boolean;
  gathered: Gathered;
  timer?: NodeJS.Timeout;
}

export interface GathererOptions {
  /** Called when a job ends (the controller requeues the Canary). */
  onDone(key: string): void;
  log: Logger;
}

/** At most one job per Canary key; results kept until a decision uses them or the Canary moves on. */
export class Gatherer {
  private readonly jobs = new Map<string, Job>();
  private nextId = 1;

  constructor(private readonly opts: GathererOptions) {}

  /** Finished results for `key` at `stamp` (dropping results gathered at another stamp). */
  results(key: string, stamp: string): Gathered | undefined {
    const job = this.jobs.get(key);
    if (!job || job.running) return undefined;
    if (job.stamp === stamp) return job.gathered;
    this.jobs.delete(key);
    return undefined;
  }

  /** A job for `key` is still running (a new one waits for it: one job per Canary). */
  busy(key: string): boolean {
    return this.jobs.get(key)?.running ?? false;
  }

  /**
   * Starts gathering what `want` asks and `results()` at this stamp does not hold yet, keeping what
   * it holds (decide() may ask in rounds: rollout gates and metrics, then confirm-promotion).
   * `boundMs` is the job's own limit: past it the job is abandoned and the Canary requeued.
   */
  start(
    key: string,
    stamp: string,
    want: Wanted,
    gather: (what: Wanted) => Promise<Gathered>,
    boundMs: number,
  ): void {
    if (this.busy(key)) return;
    const before = this.results(key, stamp) ?? { gates: {} };
    const job: Job = { id: this.nextId++, stamp, running: true, gathered: before };
    this.jobs.set(key, job);
    const what = missing(want, before);
    const abandoned = new Promise<undefined>((resolve) => {
      job.timer = setTimeout(() => resolve(undefined), boundMs);
      job.timer.unref();
    });
    void Promise.race([gather(what), abandoned])
      .then((got) => {
        if (!got) {
          this.opts.log.error({ canary: key, boundMs }, 'observations not gathered in time; job abandoned');
          job.stamp = undefined;
          return;
        }
        job.gathered = {
          gates: { ...before.gates, ...got.gates },
          ...((got.metrics ?? before.metrics) ? { metrics: got.metrics ?? before.metrics } : {}),
        };
      })
      .catch((err: unknown) => {
        this.opts.log.error({ canary: key, err: String(err) }, 'gathering observations failed');
        job.stamp = undefined;
      })
      .finally(() => {
        clearTimeout(job.timer);
        job.running = false;
        if (this.jobs.get(key) !== job) return;
        if (job.stamp === undefined) this.jobs.delete(key);
        this.opts.onDone(key);
      });
  }

  /** A decision was made: what was gathered for it is used up (a running job's result is dropped). */
  used(key: string): void {
    const job = this.jobs.get(key);
    if (!job) return;
    if (job.running) job.stamp = undefined;
    else this.jobs.delete(key);
  }

  /** Jobs running now (for tests and metrics). */
  running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.running) n++;
    return n;
  }
}
