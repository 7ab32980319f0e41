// Restart backoff for a watch, as client-go's reflector does it: each failure doubles the delay up to
// a cap, and the delay only falls back to the base once a watch has stayed up for `resetAfterMs`.
// Resetting on every (re)connect instead keeps the delay at its base during an outage: each attempt
// "connects" before it fails, so a down API server would be hammered twice a second by every watch.
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** A watch that ran this long without failing is healthy: the next failure starts from the base. */
  resetAfterMs?: number;
  now?: () => number;
  /** In [0, 1): each delay is stretched by up to this fraction so replicas do not retry in step. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  private lastStart: number | undefined;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;
  private readonly now: () => number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? 800;
    this.maxMs = o.maxMs ?? 30_000;
    this.resetAfterMs = o.resetAfterMs ?? 120_000;
    this.now = o.now ?? Date.now;
    this.jitter = o.jitter ?? 0;
    this.random = o.random ?? Math.random;
  }

  /** Call when a watch (re)starts. */
  started(): void {
    this.lastStart = this.now();
  }

  /** Call when a watch fails; returns how long to wait before restarting it. */
  failed(): number {
    if (this.lastStart !== undefined && this.now() - this.lastStart >= this.resetAfterMs) this.failures = 0;
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    return Math.round(delay * (1 + this.jitter * this.random()));
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
