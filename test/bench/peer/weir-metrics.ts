// Weir's own account of a rollout, from its Prometheus metrics read before and after it: how many
// Canary reconciles ran, how long each took, and how long keys waited in the work queue for a
// worker. They tell a late step's own time (queue wait, reconcile) from the API server's.

/** One histogram (its series summed over the labels matched): cumulative bucket counts by `le`. */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  buckets: Map<number, number>;
}

export interface WeirRolloutMetrics {
  reconciles: number;
  reconcileMeanMs: number | null;
  queueWaitMeanMs: number | null;
  /** The upper bound of the bucket holding the 99th percentile of queue waits (s); Infinity above the last. */
  queueWaitP99AtMostS: number | null;
}

const SERIES = /^(\w+?)(_bucket|_sum|_count)\{([^}]*)\} (\S+)$/;

/** Sums the series of histogram `name` whose labels include every `labels` pair. */
export function histogram(text: string, name: string, labels: Record<string, string>): HistogramSnapshot {
  const out: HistogramSnapshot = { count: 0, sum: 0, buckets: new Map() };
  for (const line of text.split('\n')) {
    const m = SERIES.exec(line);
    if (!m || m[1] !== name) continue;
    const pairs = new Map([...m[3]!.matchAll(/(\w+)="([^"]*)"/g)].map((p) => [p[1]!, p[2]!]));
    if (Object.entries(labels).some(([k, v]) => pairs.get(k) !== v)) continue;
    const value = Number(m[4]);
    if (m[2] === '_count') out.count += value;
    else if (m[2] === '_sum') out.sum += value;
    else {
      const le = pairs.get('le') === '+Inf' ? Infinity : Number(pairs.get('le'));
      out.buckets.set(le, (out.buckets.get(le) ?? 0) + value);
    }
  }
  return out;
}

function minus(after: HistogramSnapshot, before: HistogramSnapshot): HistogramSnapshot {
  const buckets = new Map<number, number>();
  for (const [le, n] of after.buckets) buckets.set(le, n - (before.buckets.get(le) ?? 0));
  return { count: after.count - before.count, sum: after.sum - before.sum, buckets };
}

function quantileBound(h: HistogramSnapshot, q: number): number | null {
  if (h.count === 0) return null;
  for (const [le, n] of [...h.buckets].sort((a, b) => a[0] - b[0])) if (n >= q * h.count) return le;
  return Infinity;
}

const RECONCILE = ['weir_reconcile_duration_seconds', { kind: 'Canary' }] as const;
const QUEUE_WAIT = ['weir_workqueue_wait_seconds', { kind: 'Canary' }] as const;

/** What happened between two scrapes of Weir's /metrics. */
export function rolloutMetrics(before: string, after: string): WeirRolloutMetrics {
  const rec = minus(histogram(after, ...RECONCILE), histogram(before, ...RECONCILE));
  const wait = minus(histogram(after, ...QUEUE_WAIT), histogram(before, ...QUEUE_WAIT));
  const mean = (h: HistogramSnapshot) => (h.count ? Math.round((h.sum / h.count) * 10_000) / 10 : null);
  return {
    reconciles: rec.count,
    reconcileMeanMs: mean(rec),
    queueWaitMeanMs: mean(wait),
    queueWaitP99AtMostS: quantileBound(wait, 0.99),
  };
}
