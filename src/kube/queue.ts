// A keyed work queue in the manner of client-go's: a key is processed by one worker at a time, a key
// added while it is being processed runs again afterwards, delayed adds keep only the earliest
// deadline, and failures back off exponentially per key up to a cap.
export interface QueueOptions {
  workers: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** When each queued key became ready to run (its wait in line is reported to the handler). */
  private readonly queued = new Map<string, number>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private stopped = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly opts: QueueOptions) {
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.set(key, Date.now());
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  addAfter(key: string, ms: number): void {
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Requeue after a failure with exponential backoff. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  depth(): number {
    return this.queue.length;
  }

  /**
   * Runs `handle` for queued keys with `workers` concurrent workers until stop(); `waitedMs` is how
   * long the key waited in line for a worker (a starved queue shows there, not in the caches).
   */
  run(handle: (key: string, waitedMs: number) => Promise<void>): Promise<void> {
    const worker = async () => {
      while (!this.stopped) {
        const key = this.queue.shift();
        if (key === undefined) {
          await new Promise<void>((r) => this.waiters.push(r));
          continue;
        }
        const waitedMs = Date.now() - (this.queued.get(key) ?? Date.now());
        this.queued.delete(key);
        this.active.add(key);
        try {
          await handle(key, waitedMs);
        } finally {
          this.active.delete(key);
          if (this.dirty.delete(key)) this.add(key);
        }
      }
    };
    return Promise.all(Array.from({ length: this.opts.workers }, worker)).then(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
