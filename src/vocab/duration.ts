// Durations as the schema writes them (Prometheus/Go style: `1m30s`, `500ms`), shared by every layer.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

// A reconcile reads the same few spec durations many times (interval, deadlines, step pauses); the
// regular-expression walk was 1 % of a rollout's CPU. Bounded: specs may hold any string.
const parsed = new Map<string, number>();
const PARSED_MAX = 1_000;

/** Go duration (`1m30s`, `500ms`) to milliseconds; the schema guarantees the shape. */
export function parseDuration(d: string): number {
  const known = parsed.get(d);
  if (known !== undefined) return known;
  let total = 0;
  for (const m of d.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g))
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(d, total);
  return total;
}
