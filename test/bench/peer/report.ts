// The side-by-side table (Flagger, Weir, Flagger/Weir) and the JSON result.
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Figures } from './figures.ts';
import type { PeerOptions } from './options.ts';

type Row = [label: string, key: keyof Figures];

const ROWS: Row[] = [
  ['create -> all Initialized (s)', 'initSeconds'],
  ['idle API requests/min', 'idleRequestsPerMin'],
  ['idle metric queries/min', 'idleQueriesPerMin'],
  ['API requests per second during rollouts', 'requestsPerSecondInRollouts'],
  ['API requests per canary per tick', 'requestsPerCanaryPerTick'],
  ['writes per canary per tick', 'writesPerCanaryPerTick'],
  ['metric queries per canary per tick', 'queriesPerCanaryPerTick'],
  ['analysis intervals per rollout', 'intervalsPerRollout'],
  ['API requests per canary per rollout', 'requestsPerCanaryPerRollout'],
  ['writes per canary per rollout', 'writesPerCanaryPerRollout'],
  ['  of them Events', 'eventWritesPerCanaryPerRollout'],
  ['  of them not Events', 'writesWithoutEventsPerCanaryPerRollout'],
  ['metric queries per canary per rollout', 'queriesPerCanaryPerRollout'],
  ['new revision -> Progressing, median (s)', 'toProgressingMedianS'],
  ['new revision -> Succeeded, median (s)', 'toSucceededMedianS'],
  ['  succeeded', 'succeeded'],
  ['failing check -> Failed, median (s)', 'failureDetectionMedianS'],
  ['  failed', 'failed'],
  ['step lateness p50 (s)', 'stepLatenessP50S'],
  ['step lateness p99 (s)', 'stepLatenessP99S'],
  ['step lateness max (s)', 'stepLatenessMaxS'],
  ['CPU seconds per rollout (all canaries)', 'cpuSecondsPerRollout'],
  ['RSS before any canary (MiB)', 'rssBaselineMiB'],
  ['RSS idle (MiB)', 'rssIdleMiB'],
  ['RSS peak (MiB)', 'rssPeakMiB'],
  ['RSS per canary (KiB)', 'rssPerCanaryKiB'],
  ['heap used, idle (MiB)', 'heapIdleMiB'],
  ['heap used per canary (KiB)', 'heapPerCanaryKiB'],
  ['Canary reconciles per canary per rollout', 'reconcilesPerCanaryPerRollout'],
  ['reconcile, mean (ms)', 'reconcileMeanMs'],
  ['work-queue wait, mean (ms)', 'queueWaitMeanMs'],
  ['work-queue wait p99, at most (s)', 'queueWaitP99AtMostS'],
];

const NUMERIC = ROWS.filter(([, k]) => k !== 'succeeded' && k !== 'failed').map(([, k]) => k);

/** Flagger / Weir for every numeric figure (above 1: Weir uses less or is faster). */
export function ratios(weir: Figures, flagger: Figures): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of NUMERIC) {
    const w = weir[k] as number | null;
    const f = flagger[k] as number | null;
    out[k] = typeof w !== 'number' || typeof f !== 'number' || w === 0 ? null : Number((f / w).toFixed(2));
  }
  return out;
}

export function table(weir: Figures | undefined, flagger: Figures | undefined, opts: PeerOptions): string {
  const r = weir && flagger ? ratios(weir, flagger) : {};
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const lines = [
    `canaries: ${opts.n} rolling + ${opts.failing} failing per controller, interval ${opts.intervalS}s, ` +
      `stepWeight 20 to 60, ${opts.rollouts} rollout(s), idle ${opts.idleS}s, hog ${opts.hog}`,
    '',
    '| figure | Flagger | Weir | Flagger/Weir |',
    '| --- | --- | --- | --- |',
  ];
  for (const [label, key] of ROWS)
    lines.push(`| ${label.trim()} | ${cell(flagger?.[key])} | ${cell(weir?.[key])} | ${cell(r[key])} |`);
  return lines.join('\n');
}

export function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** Writes bench-results/peer-<date>-n<N>[-<controller>-only][-hog<K>].json; returns its path. */
export function writeResult(outDir: string, o: PeerOptions, result: Record<string, unknown>): string {
  mkdirSync(outDir, { recursive: true });
  const only = o.controllers.length === 1 ? `-${o.controllers[0]}-only` : '';
  const hog = o.hog ? `-hog${o.hog}` : '';
  const path = join(outDir, `peer-${new Date().toISOString().slice(0, 10)}-n${o.n}${only}${hog}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}
