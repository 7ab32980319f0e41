// What `weir simulate` prints: the replayed ticks as a table (time, the weight the run reached, each
// metric's value and verdict, what the controller would have said), the outcome in one sentence, and
// a chart per metric against its threshold band; or all of it as JSON (-o json). Pure.
import type { CanarySpec } from '../api/canary.ts';
import { fmt } from '../analysis/format.ts';
import { iso, type Simulation, type SimulatedTick, type SimulationOutcome } from '../canary/simulate.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import { chart, type ChartPoint } from './chart.ts';
import type { Style } from './style.ts';
import { visibleLength } from './style.ts';

export interface SimulationHeader {
  name: string;
  namespace: string;
  spec: CanarySpec;
  fromMs: number;
  toMs: number;
}

/** 0 promoted, 1 rolled back or frozen, 2 no decision in the window (as `weir status`). */
export function exitCodeOf(outcome: SimulationOutcome): number {
  return outcome.kind === 'promoted' ? 0 : outcome.kind === 'undecided' ? 2 : 1;
}

/** The outcome in one sentence: "would have rolled back at …: request-success-rate 97.1 < min 99 …". */
export function outcomeText(outcome: SimulationOutcome, spec: CanarySpec): string {
  switch (outcome.kind) {
    case 'promoted':
      return `would have promoted at ${outcome.time} (from canary weight ${outcome.weight})`;
    case 'rolledBack':
      return `would have rolled back at ${outcome.time}: ${failureText(outcome.reason, spec)}`;
    case 'frozen':
      return `would have frozen at ${outcome.time} (onFailure: freeze): ${failureText(outcome.reason, spec)}`;
    case 'undecided':
      return `${outcome.reason} (canary weight ${outcome.weight})`;
  }
}

/** The controller's "Failed checks threshold reached N: <failures>" as "<failures> (failed checks N/T)". */
function failureText(reason: string, spec: CanarySpec): string {
  const m = /^Failed checks threshold reached (\d+): (.*)$/s.exec(reason);
  return m ? `${m[2]} (failed checks ${m[1]}/${spec.analysis.threshold})` : reason;
}

export function simulationJson(h: SimulationHeader, sim: Simulation): Record<string, unknown> {
  return {
    canary: { namespace: h.namespace, name: h.name },
    from: iso(h.fromMs),
    to: iso(h.toMs),
    interval: h.spec.analysis.interval,
    ticks: sim.ticks,
    outcome: { ...sim.outcome, summary: outcomeText(sim.outcome, h.spec) },
  };
}

export function renderSimulation(h: SimulationHeader, sim: Simulation, style: Style): string[] {
  const a = h.spec.analysis;
  const names = (a.metrics ?? []).map((m) => m.name);
  const head = [
    `Canary ${h.namespace}/${h.name} replayed from ${iso(h.fromMs)} to ${iso(h.toMs)}: interval ${a.interval}, threshold ${a.threshold}`,
    '',
  ];
  const rows = [
    ['TIME (UTC)', 'WEIGHT', ...names, 'RESULT'],
    ...sim.ticks.map((t) => [
      clock(t.time),
      weightText(t),
      ...names.map((n) => cell(t, n, style)),
      t.message,
    ]),
  ];
  const outcome = outcomeText(sim.outcome, h.spec);
  const color =
    sim.outcome.kind === 'promoted'
      ? style.green
      : sim.outcome.kind === 'undecided'
        ? style.yellow
        : style.red;
  return [...head, ...table(rows), '', style.bold(color(outcome)), ...charts(h, sim)];
}

function weightText(t: SimulatedTick): string {
  return t.weight === t.weightBefore ? String(t.weight) : `${t.weightBefore}→${t.weight}`;
}

/** HH:MM:SS of an RFC 3339 UTC time. */
function clock(time: string): string {
  return time.slice(11, 19);
}

function cell(t: SimulatedTick, name: string, style: Style): string {
  const r = t.metrics?.find((m) => m.name === name);
  if (!r) return '-';
  const dry = r.dryRun ? ' (dry run)' : '';
  const primary = r.primaryValue !== undefined ? ` vs ${fmt(r.primaryValue)}` : '';
  const value = r.value !== undefined ? `${fmt(r.value)}${primary}` : '';
  return `${mark(r, style)}${value ? ` ${value}` : ''}${dry}`;
}

function mark(r: MetricResult, style: Style): string {
  switch (r.result) {
    case 'Successful':
      return style.green('✓');
    case 'Failed':
      return style.red('✗');
    case 'Inconclusive':
      return style.yellow('? inconclusive');
    case 'NoData':
      return style.red('✗ no data');
    case 'Error':
      return style.red('✗ error');
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => visibleLength(r[c] ?? ''))));
  return rows.map((r) =>
    r
      .map((v, c) => (c === r.length - 1 ? v : v + ' '.repeat(widths[c]! - visibleLength(v))))
      .join('  ')
      .trimEnd(),
  );
}

function charts(h: SimulationHeader, sim: Simulation): string[] {
  if (!sim.ticks.length) return [];
  const from = clock(sim.ticks[0]!.time).slice(0, 5);
  const to = clock(sim.ticks.at(-1)!.time).slice(0, 5);
  return (h.spec.analysis.metrics ?? []).flatMap((m) => {
    const points: ChartPoint[] = sim.ticks.map((t) => {
      const r = t.metrics?.find((x) => x.name === m.name);
      return r?.value === undefined ? {} : { value: r.value, failed: r.result === 'Failed' };
    });
    const band = m.thresholdRange ?? {};
    const limits = [
      ...(band.min !== undefined ? [`min ${fmt(band.min)}`] : []),
      ...(band.max !== undefined ? [`max ${fmt(band.max)}`] : []),
    ];
    const title = `${m.name}${limits.length ? ` (${limits.join(', ')})` : ''}`;
    return ['', title, ...chart(points, { ...band, from, to })];
  });
}
