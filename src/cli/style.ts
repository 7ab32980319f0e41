// Terminal presentation shared by the CLI views: colours (only when asked for), phase icons, tables
// whose columns line up even with coloured cells, and kubectl-style ages. All pure.
import type { Phase } from '../api/canary.ts';

export interface Style {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const ansi =
  (open: number, close: number) =>
  (s: string): string =>
    `\x1b[${open}m${s}\x1b[${close}m`;

export const COLOR: Style = {
  green: ansi(32, 39),
  red: ansi(31, 39),
  yellow: ansi(33, 39),
  blue: ansi(36, 39),
  dim: ansi(2, 22),
  bold: ansi(1, 22),
};

const same = (s: string): string => s;
export const PLAIN: Style = { green: same, red: same, yellow: same, blue: same, dim: same, bold: same };

/** Colours only on a terminal, never with --no-color or NO_COLOR (https://no-color.org). */
export function styleFor(
  stream: { isTTY?: boolean },
  flag: boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Style {
  return stream.isTTY && flag !== false && !env.NO_COLOR ? COLOR : PLAIN;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
export const visibleLength = (s: string): number => [...s.replace(ANSI, '')].length;

export type PhaseKind = 'ok' | 'failed' | 'busy' | 'waiting';

/** How a phase reads at a glance; `paused` (user pause or a pause step) wins over the phase. */
export function phaseKind(phase: Phase | undefined, paused = false): PhaseKind {
  if (paused) return 'waiting';
  switch (phase) {
    case 'Succeeded':
    case 'Initialized':
    case 'Terminated':
      return 'ok';
    case 'Failed':
      return 'failed';
    case 'Waiting':
    case 'WaitingPromotion':
    case 'Frozen': // failed analysis holding its weights: it waits for a person
    case 'Queued': // a concurrency limit holds its run back
      return 'waiting';
    default:
      return 'busy';
  }
}

const ICON: Record<PhaseKind, string> = { ok: '✔', failed: '✖', busy: '◌', waiting: '॥' };

export function phaseBadge(phase: Phase | undefined, paused: boolean, style: Style): string {
  const kind = phaseKind(phase, paused);
  const paint = { ok: style.green, failed: style.red, busy: style.blue, waiting: style.yellow }[kind];
  const label = phase ?? 'Pending';
  return paint(`${ICON[kind]} ${paused && phase !== 'Failed' ? `${label} (paused)` : label}`);
}

/** Rows padded into columns, separated by three spaces as kubectl does; the last column is not padded. */
export function table(rows: string[][], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) =>
            i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)),
          )
          .join('   ')
          .trimEnd(),
    )
    .join('\n');
}

/** kubectl's age format: 45s, 3m12s, 5h4m, 2d3h. */
export function age(since: string | Date | undefined, now: Date): string {
  if (!since) return '-';
  const t = typeof since === 'string' ? Date.parse(since) : since.getTime();
  if (Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/** A weight bar of `width` cells: the canary's share filled. */
export function weightBar(canaryPercent: number, style: Style, width = 20): string {
  const filled = Math.round((Math.min(100, Math.max(0, canaryPercent)) / 100) * width);
  return `[${style.yellow('█'.repeat(filled))}${style.dim('░'.repeat(width - filled))}]`;
}
