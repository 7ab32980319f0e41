// Numbers in metric messages: short enough to read, never rounded into a lie.

/** At most 4 significant digits (2 decimals from 100 up); enough to read, not noise. */
export function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Math.abs(v) >= 100 ? Number(v.toFixed(2)) : Number(v.toPrecision(4)));
}

/** Never print a failing value so rounded that it looks equal to its limit (98.99996 vs min 99). */
export function formatValue(v: number, limit: number): string {
  const s = fmt(v);
  return s === fmt(limit) && v !== limit ? String(v) : s;
}
