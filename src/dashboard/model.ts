// What the dashboard shows of a Canary, computed from the object alone (pure, tested from tables):
// the row of the list, the weight timeline recorded from watch events, and the metric series of
// status.metrics[].history with their threshold bands.
import type { CanaryObject } from '../canary/context.ts';
import { REQUEST } from '../canary/requests.ts';
import { strategyOf } from '../api/strategy.ts';

export interface CanarySummary {
  namespace: string;
  name: string;
  phase: string;
  weight: number;
  /** "2/5" for steps, else the weight ramp position; empty when idle. */
  step: string;
  failedChecks: number;
  /** Name of the first metric whose latest result is Failed, if any. */
  failingMetric: string;
  paused: boolean;
  message: string;
  created: string;
  lastTransition: string;
}

/** One point of the weight-over-time chart: unix seconds, canary weight, phase. */
export interface TimelinePoint {
  t: number;
  weight: number;
  phase: string;
}

export interface MetricSeries {
  name: string;
  /** Unix seconds and values of the run's latest measurements, oldest first. */
  times: number[];
  values: Array<number | null>;
  results: string[];
  min?: number;
  max?: number;
  /** The latest result (Succeeded, Failed, …). */
  result: string;
  message: string;
}

/** Points kept per Canary: a run of several hours at one change a minute fits. */
export const TIMELINE_LENGTH = 500;

export const key = (namespace: string, name: string): string => `${namespace}/${name}`;

function stepOf(c: CanaryObject): string {
  const phase = c.status?.phase;
  if (!phase || !['Progressing', 'WaitingPromotion', 'Frozen'].includes(phase)) return '';
  if (strategyOf(c.spec) === 'steps') {
    const steps = c.spec.analysis.steps ?? [];
    return `${Math.min((c.status?.stepIndex ?? 0) + 1, steps.length)}/${steps.length}`;
  }
  return `${c.status?.iterations ?? 0}`;
}

export function summarize(c: CanaryObject): CanarySummary {
  const s = c.status ?? {};
  return {
    namespace: c.metadata.namespace ?? '',
    name: c.metadata.name ?? '',
    phase: s.phase ?? 'Pending',
    weight: s.canaryWeight ?? 0,
    step: stepOf(c),
    failedChecks: s.failedChecks ?? 0,
    failingMetric: s.metrics?.find((m) => m.result === 'Failed' && !m.dryRun)?.name ?? '',
    paused: c.metadata.annotations?.[REQUEST.paused] === 'true',
    message: s.message ?? '',
    created: c.metadata.creationTimestamp ? String(c.metadata.creationTimestamp) : '',
    lastTransition: s.lastTransitionTime ?? '',
  };
}

/**
 * The timeline with `c`'s current weight and phase appended when either changed (a watch event that
 * changes neither adds nothing), bounded to TIMELINE_LENGTH points.
 */
export function extendTimeline(
  timeline: readonly TimelinePoint[],
  c: CanaryObject,
  nowMs: number,
): TimelinePoint[] {
  const weight = c.status?.canaryWeight ?? 0;
  const phase = c.status?.phase ?? 'Pending';
  const last = timeline[timeline.length - 1];
  if (last && last.weight === weight && last.phase === phase) return [...timeline];
  const t = Math.max(nowMs / 1000, last?.t ?? 0);
  return [...timeline, { t, weight, phase }].slice(-TIMELINE_LENGTH);
}

const seconds = (iso: string): number => Date.parse(iso) / 1000;

export function metricSeries(c: CanaryObject): MetricSeries[] {
  const specs = new Map((c.spec?.analysis?.metrics ?? []).map((m) => [m.name, m]));
  return (c.status?.metrics ?? []).map((m) => {
    const history = m.history?.length ? m.history : [{ value: m.value, result: m.result, time: m.time }];
    const range = specs.get(m.name)?.thresholdRange;
    return {
      name: m.name,
      times: history.map((h) => seconds(h.time)),
      values: history.map((h) => h.value ?? null),
      results: history.map((h) => h.result),
      ...(range?.min !== undefined ? { min: range.min } : {}),
      ...(range?.max !== undefined ? { max: range.max } : {}),
      result: m.result,
      message: m.message ?? '',
    };
  });
}

/** What runs as primary and as canary: images (comma-separated) and Git revision, when known. */
export interface Deployed {
  primary: { image?: string; revision?: string };
  canary: { image?: string; revision?: string };
}

/** Everything the Canary page's script needs, sent at load and on every change. */
export interface CanaryView {
  summary: CanarySummary;
  timeline: TimelinePoint[];
  metrics: MetricSeries[];
  /** Read from the cluster when the view is sent (the page's and the stream's, not the list's). */
  deployed?: Deployed;
}

/** A series of a range query: unix seconds and values. */
export interface Series {
  times: number[];
  values: number[];
}

export interface MetricHistory {
  name: string;
  /** The canary's series over the range (what the analysis queries, at every step). */
  canary?: Series;
  /** The primary's series, for a metric with `compare` or `judge`. */
  primary?: Series;
  /** Why there is no series (or only part of it): the chart shows the recorded measurements. */
  note?: string;
}

export interface HistoryAnswer {
  /** Unix seconds. */
  start: number;
  end: number;
  step: number;
  metrics: MetricHistory[];
}

/** One metric chart's columns, aligned on one time axis (uPlot's data): nulls where a series has no point. */
export interface MetricChartData {
  x: number[];
  /** The recorded measurements (status.metrics[].history), drawn as points. */
  measured: Array<number | null>;
  /** The canary's and the primary's series from the metrics backend, drawn as lines. */
  canary: Array<number | null>;
  primary: Array<number | null>;
  min: Array<number | null>;
  max: Array<number | null>;
}

/** The recorded measurements and the backend's series of one metric on one time axis. */
export function metricChartData(m: MetricSeries, h?: MetricHistory): MetricChartData {
  const columns = new Map<number, { measured?: number | null; canary?: number; primary?: number }>();
  const at = (t: number) => columns.get(t) ?? columns.set(t, {}).get(t)!;
  m.times.forEach((t, i) => (at(t).measured = m.values[i] ?? null));
  h?.canary?.times.forEach((t, i) => (at(t).canary = h.canary!.values[i]));
  h?.primary?.times.forEach((t, i) => (at(t).primary = h.primary!.values[i]));
  const x = [...columns.keys()].sort((a, b) => a - b);
  const column = (f: 'measured' | 'canary' | 'primary') => x.map((t) => columns.get(t)![f] ?? null);
  return {
    x,
    measured: column('measured'),
    canary: column('canary'),
    primary: column('primary'),
    min: x.map(() => m.min ?? null),
    max: x.map(() => m.max ?? null),
  };
}
