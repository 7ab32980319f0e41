// A compact terminal chart of one metric over time against its threshold band, for `weir simulate`:
// one column per tick (several ticks share a column past `width`), ● a passing value, ✗ a failing
// one, a blank column a tick without a value, and a dotted line at each bound of the band. Pure.
import { fmt } from '../analysis/format.ts';

export interface ChartPoint {
  /** Undefined: the tick had no value (no data, or the first tick, which measures nothing). */
  value?: number;
  /** The metric failed at this tick (drawn ✗). */
  failed?: boolean;
}

export interface ChartOptions {
  /** The threshold band; each bound is drawn as a line. */
  min?: number;
  max?: number;
  /** Rows of the plot; default 8. */
  height?: number;
  /** Most columns; default 60. */
  width?: number;
  /** Under the first and the last column. */
  from: string;
  to: string;
}

const LINE = '┄';

export function chart(points: readonly ChartPoint[], opts: ChartOptions): string[] {
  const values = points.flatMap((p) => (p.value === undefined ? [] : [p.value]));
  const bounds = [opts.min, opts.max].filter((b): b is number => b !== undefined);
  if (!values.length) return ['(no values)'];
  const height = Math.max(2, opts.height ?? 8);
  const cols = Math.min(points.length, opts.width ?? 60);
  let lo = Math.min(...values, ...bounds);
  let hi = Math.max(...values, ...bounds);
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const rowOf = (v: number): number => Math.round(((hi - v) / (hi - lo)) * (height - 1));
  const grid = Array.from({ length: height }, () => Array<string>(cols).fill(' '));
  const labels = new Map<number, string>([
    [0, fmt(hi)],
    [height - 1, fmt(lo)],
  ]);
  for (const [name, bound] of [
    ['min', opts.min],
    ['max', opts.max],
  ] as const) {
    if (bound === undefined) continue;
    grid[rowOf(bound)]!.fill(LINE);
    labels.set(rowOf(bound), `${name} ${fmt(bound)}`);
  }
  points.forEach((p, i) => {
    if (p.value === undefined) return;
    const col = Math.floor((i * cols) / points.length);
    const cell = grid[rowOf(p.value)]!;
    // A failure in a shared column stays visible.
    if (cell[col] !== '✗') cell[col] = p.failed ? '✗' : '●';
  });
  const w = Math.max(...[...labels.values()].map((l) => l.length));
  const rows = grid.map((cells, r) => {
    const label = labels.get(r);
    return `${(label ?? '').padStart(w)} ${label ? '┤' : '│'}${cells.join('')}`;
  });
  const gap = Math.max(1, cols - opts.from.length - opts.to.length + 1);
  const axis = `${' '.repeat(w)} └${'─'.repeat(cols)}`;
  const times = `${' '.repeat(w + 2)}${opts.from}${' '.repeat(gap)}${opts.to}`;
  return [...rows.map((r) => r.trimEnd()), axis, times];
}
