// The `weir get canary` view: a pure rendering of a Canary, its two Deployments and its latest
// Events. The same function draws every frame of `--watch`, and tests pin its plain output.
import type { CoreV1Event, V1Deployment } from '@kubernetes/client-node';
import type { CanarySpec, CanaryStatus } from '../api/canary.ts';
import { SHARD_LABEL } from '../api/shard.ts';
import type { CanaryObject } from '../canary/context.ts';
import { freezeWaitText, frozenUntil } from '../canary/freeze.ts';
import { hasLimits, LIMIT_DEFAULTS } from '../canary/measurement-limits.ts';
import { REQUEST } from '../canary/requests.ts';
import { strategyOf, totalSteps } from '../api/strategy.ts';
import { SCORE_DEFAULTS } from '../canary/tick-verdict.ts';
import { localIso, scheduleText, windowState, type Schedule } from '../canary/window.ts';
import { age, phaseBadge, table, weightBar, type Style } from './style.ts';

export interface CanaryViewData {
  canary: CanaryObject;
  /** `<target>-primary` */
  primary?: V1Deployment;
  /** `<target>`, the canary while a run is on */
  target?: V1Deployment;
  events?: CoreV1Event[];
}

export interface RenderOptions {
  style: Style;
  now: Date;
  /** How many of the latest events to show (default 5). */
  events?: number;
}

const LABEL = 15;
const line = (label: string, value: string): string => `${`${label}:`.padEnd(LABEL)}${value}`;
const more = (value: string): string => `${' '.repeat(LABEL)}${value}`;

export function isPaused(c: CanaryObject): boolean {
  return c.metadata.annotations?.[REQUEST.paused] === 'true' || /^Paused:/.test(c.status?.message ?? '');
}

export function strategyText(spec: CanarySpec): string {
  const a = spec.analysis;
  switch (strategyOf(spec)) {
    case 'canary':
      return a.stepWeights?.length
        ? `canary, stepWeights ${a.stepWeights.join(', ')}`
        : `canary, stepWeight ${a.stepWeight} up to ${a.maxWeight ?? 100}`;
    case 'steps':
      return `steps, ${a.steps?.map(stepText).join(' → ')}`;
    case 'ab':
      return `A/B, ${a.iterations ?? 1} iterations on matching requests`;
    case 'bluegreen':
      return `blue-green, ${a.iterations ?? 1} iterations${a.mirror ? ', mirrored traffic' : ''}`;
  }
}

function stepText(s: NonNullable<CanarySpec['analysis']['steps']>[number]): string {
  if (s.setWeight !== undefined) return `${s.setWeight}%`;
  const scale = s.setCanaryScale;
  if (scale)
    return scale.replicas !== undefined
      ? `scale ${scale.replicas} pods`
      : scale.weight !== undefined
        ? `scale ${scale.weight}%`
        : 'scale usual';
  if (s.analysis) return `analysis ${s.analysis.metrics.join(',')}`;
  return s.pause?.duration ? `pause ${s.pause.duration}` : 'pause';
}

/** "n/m": steps taken for weighted strategies, iterations for A/B and blue-green. */
export function progressText(spec: CanarySpec, status: CanaryStatus): { label: string; value: string } {
  const s = strategyOf(spec);
  const total = totalSteps(spec);
  if (s === 'ab' || s === 'bluegreen')
    return { label: 'Iteration', value: `${status.iterations ?? 0}/${total}` };
  return { label: 'Step', value: `${status.stepIndex ?? 0}/${total}` };
}

export function imagesOf(d: V1Deployment | undefined): string {
  const images = d?.spec?.template?.spec?.containers?.map((c) => c.image ?? '?') ?? [];
  return images.length ? images.join(', ') : '-';
}

export function replicasOf(d: V1Deployment | undefined): string {
  if (!d) return 'missing';
  return `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0} ready`;
}

export function fmtNumber(v: number | undefined): string {
  if (v === undefined || v === null) return '-';
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return String(Math.abs(v) >= 1 ? Number(v.toFixed(2)) : Number(v.toPrecision(3)));
}

/** What the run is waiting on, read from the phase and message the controller writes. */
export function waitsOf(c: CanaryObject): string[] {
  const msg = c.status?.message ?? '';
  const name = c.metadata.name;
  const hooks = (type: string) =>
    (c.spec.analysis.webhooks ?? [])
      .filter((w) => w.type === type)
      .map((w) => w.name)
      .join(', ');
  const out: string[] = [];
  const gate = /^(?:Waiting|WaitingPromotion): (confirm-[a-z-]+) gate is closed: (.*)$/.exec(msg);
  if (gate) {
    const names = hooks(gate[1]!);
    out.push(
      `${gate[1]} gate${names ? ` (webhook ${names})` : ''}: ${gate[2]} — \`weir promote ${name}\` overrides it`,
    );
  }
  if (c.status?.phase === 'Queued' && RELEASE_WINDOW.test(c.status.message ?? ''))
    out.push(
      `the release window: ${(c.status.message ?? '').replace(/^Queued: /, '')} — \`weir promote ${name} --now\` overrides it`,
    );
  else if (c.status?.phase === 'Queued')
    out.push(
      `a slot under the concurrency limit: ${(c.status.message ?? '').replace(/^Queued: /, '')} — \`weir abort ${name}\` leaves the queue`,
    );
  if (c.status?.phase === 'Frozen')
    out.push(
      `frozen after failed analysis — \`weir promote ${name}\`, \`weir abort ${name}\` or \`weir retry ${name}\``,
    );
  const manual = /^Paused: step (\d+), waiting for `weir promote`/.exec(msg);
  if (manual) out.push(`manual approval at step ${manual[1]} — run \`weir promote ${name}\``);
  const timed = /^Paused: step (\d+), (.+ left)$/.exec(msg);
  if (timed) out.push(`pause at step ${timed[1]}: ${timed[2]}`);
  if (c.metadata.annotations?.[REQUEST.paused] === 'true')
    out.push(`paused by user (analysis keeps running) — run \`weir resume ${name}\``);
  const pods = /waiting for (canary pods|\S+-primary)[^(]*\((\d+)% ready\)/.exec(msg);
  if (pods) {
    const canaryPods = pods[1] === 'canary pods';
    const need = canaryPods ? c.spec.analysis.canaryReadyThreshold : c.spec.analysis.primaryReadyThreshold;
    out.push(`${canaryPods ? 'canary' : 'primary'} pods ready: ${pods[2]}% of ${need ?? 100}% needed`);
  }
  return out;
}

function metricsTable(c: CanaryObject, style: Style, now: Date): string[] {
  const measured = new Map((c.status?.metrics ?? []).map((m) => [m.name, m]));
  const names = [...(c.spec.analysis.metrics ?? []).map((m) => m.name)];
  for (const n of measured.keys()) if (!names.includes(n)) names.push(n);
  if (!names.length) return [line('Metrics', 'none')];
  const rows = names.map((n) => {
    const spec = c.spec.analysis.metrics?.find((m) => m.name === n);
    const m = measured.get(n);
    const min = m?.min ?? spec?.thresholdRange?.min;
    const max = m?.max ?? spec?.thresholdRange?.max;
    const result = !m
      ? style.dim('not measured yet')
      : m.result === 'Successful'
        ? style.green(m.pValue !== undefined ? `✔ p=${fmtNumber(m.pValue)}` : '✔')
        : m.result === 'Inconclusive'
          ? style.yellow(`… ${m.message ?? 'inconclusive'}`)
          : style.red(
              `✖ ${m.result === 'Failed' ? (m.message ?? 'out of range') : `${m.result}: ${m.message ?? ''}`}`,
            );
    // A dry-run metric's result counts toward nothing: say so before a red cross alarms anyone.
    const shown = spec?.dryRun || m?.dryRun ? `${style.dim('(dry-run)')} ${result}` : result;
    return [n, fmtNumber(m?.value), fmtNumber(min), fmtNumber(max), m ? age(m.time, now) : '-', shown];
  });
  const measuredTable = table([['NAME', 'VALUE', 'MIN', 'MAX', 'AGE', 'RESULT'], ...rows], '  ');
  return ['Metrics:', measuredTable, ...limitLines(c), ...historyLines(c, style)];
}

const MARKS: Record<string, string> = { Successful: '✔', Failed: '✖', Inconclusive: '…' };

/** Each metric's measurements in this run, oldest first: a trend, not only the latest. */
function historyLines(c: CanaryObject, style: Style): string[] {
  const measured = (c.status?.metrics ?? []).filter((m) => m.history?.length);
  if (!measured.length) return [];
  const rows = measured.map((m) => {
    const cells = (m.history ?? []).map((h) => {
      const mark = MARKS[h.result] ?? h.result;
      const text = h.value !== undefined ? `${fmtNumber(h.value)} ${mark}` : mark;
      return h.result === 'Successful'
        ? text
        : h.result === 'Inconclusive'
          ? style.yellow(text)
          : style.red(text);
    });
    return [m.name, cells.join(' · ')];
  });
  return ['Recent measurements (oldest first):', table(rows, '  ')];
}

/** Metrics judged by their own limits: the run's counts next to each limit (measurement-limits.ts). */
function limitLines(c: CanaryObject): string[] {
  const limited = (c.spec.analysis.metrics ?? []).filter((m) => !m.dryRun && hasLimits(m));
  if (!limited.length) return [];
  const rows = limited.map((m) => {
    const n = c.status?.measurements?.find((x) => x.name === m.name);
    const of = (count: number | undefined, limit: number) => `${count ?? 0} (limit ${limit})`;
    return [
      m.name,
      String(n?.count ?? 0),
      of(n?.failed, m.failureLimit ?? LIMIT_DEFAULTS.failureLimit),
      of(n?.inconclusive, m.inconclusiveLimit ?? LIMIT_DEFAULTS.inconclusiveLimit),
      of(n?.consecutiveErrors, m.consecutiveErrorLimit ?? LIMIT_DEFAULTS.consecutiveErrorLimit),
    ];
  });
  const head = ['NAME', 'MEASURED', 'FAILED', 'INCONCLUSIVE', 'ERRORS IN A ROW'];
  return ['Measurement limits (this run):', table([head, ...rows], '  ')];
}

function eventsTable(events: CoreV1Event[], count: number, now: Date, style: Style): string[] {
  if (!events.length) return [line('Events', 'none')];
  const when = (e: CoreV1Event) => e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
  const time = (e: CoreV1Event) => new Date((when(e) as unknown as string | Date | undefined) ?? 0).getTime();
  const latest = [...events].sort((a, b) => time(a) - time(b)).slice(-count);
  const rows = latest.map((e) => [
    age(when(e) as unknown as string, now),
    e.type === 'Warning' ? style.red('Warning') : (e.type ?? ''),
    e.reason ?? '',
    (e.message ?? '').replace(/\s+/g, ' ').slice(0, 200),
  ]);
  return ['Events:', table([['AGE', 'TYPE', 'REASON', 'MESSAGE'], ...rows], '  ')];
}

/** The controller's message for a run held by spec.schedule (window.ts). */
const RELEASE_WINDOW = /^Queued: (outside the release window|blackout date|spec\.schedule)/;

/** spec.schedule and whether it is open now, else when it opens next (local time and how soon). */
function scheduleLine(schedule: Schedule, now: Date): string {
  const state = windowState(schedule, now);
  const blackouts = schedule.blackoutDates?.length ? `; blackout ${schedule.blackoutDates.join(', ')}` : '';
  const text = `${scheduleText(schedule)}${blackouts}`;
  if (state.open) return `${text}; open now`;
  if ('error' in state) return `${text}; ${state.error}`;
  if (!state.nextOpening) return `${text}; closed, no opening within a year`;
  const next = new Date(state.nextOpening);
  return `${text}; next opens ${localIso(schedule.timeZone ?? 'UTC', next)} (in ${age(now, next)})`;
}

/**
 * A Queued run's place in line (1: next), read from the controller's message ("…; N ahead of this
 * one"), or undefined when not queued.
 */
export function queuePlace(status: CanaryStatus): number | undefined {
  if (status.phase !== 'Queued') return undefined;
  const m = /; (\d+) ahead of this one$/.exec(status.message ?? '');
  return m ? Number(m[1]) + 1 : undefined;
}

/** Place in line, priority and since when, for `weir get canary`. */
function queuedText(c: CanaryObject, now: Date): string {
  const status = c.status ?? {};
  const place = queuePlace(status);
  const since = status.queuedAt ? `, since ${age(status.queuedAt, now)} ago` : '';
  return `${place ? `#${place} in line` : 'in line'} (priority ${c.spec.priority ?? 0}${since})`;
}

/** When a Frozen run rolls back by itself, and from which setting. */
export function frozenDeadlineText(c: CanaryObject, now: Date, style: Style): string {
  const until = frozenUntil(c.spec, c.status ?? {});
  if (!until) return '-';
  const left = until.getTime() > now.getTime() ? `in ${age(now, until)}` : 'now';
  return style.red(`${until.toISOString()} (${left}, ${freezeWaitText(c.spec)}), then it rolls back`);
}

/** analysis.score: the latest tick's score and result against the thresholds. */
export function scoreText(spec: CanarySpec, status: CanaryStatus, style: Style): string {
  const pass = spec.analysis.score?.pass ?? SCORE_DEFAULTS.pass;
  const marginal = spec.analysis.score?.marginal ?? SCORE_DEFAULTS.marginal;
  const thresholds = `pass ${pass}, marginal ${marginal}`;
  const score = status.score;
  if (!score) return style.dim(`not scored yet (${thresholds})`);
  const text = `${score.value !== undefined ? `${fmtNumber(score.value)} ` : ''}${score.result} (${thresholds})`;
  const paint = score.result === 'Pass' ? style.green : score.result === 'Fail' ? style.red : style.yellow;
  return `${paint(text)}${score.message ? `: ${score.message}` : ''}`;
}

export function renderCanary(d: CanaryViewData, o: RenderOptions): string {
  const { canary: c, style, now } = { ...d, ...o };
  const status = c.status ?? {};
  const spec = c.spec;
  const out: string[] = [];
  out.push(line('Name', style.bold(c.metadata.name)));
  out.push(line('Namespace', c.metadata.namespace));
  // Which controller owns it (docs/sharding.md); unlabelled ones belong to the shard-less one.
  const shard = c.metadata.labels?.[SHARD_LABEL];
  if (shard !== undefined) out.push(line('Shard', `${shard} (the controller started with --shard=${shard})`));
  const since = status.lastTransitionTime ? ` for ${age(status.lastTransitionTime, now)}` : '';
  out.push(line('Status', `${phaseBadge(status.phase, isPaused(c), style)}${since}`));
  out.push(line('Message', status.message ?? '-'));
  if (status.phase === 'Frozen') out.push(line('Frozen until', frozenDeadlineText(c, now, style)));
  if (status.phase === 'Queued' && !RELEASE_WINDOW.test(status.message ?? ''))
    out.push(line('Queued', style.yellow(queuedText(c, now))));
  if (spec.schedule) out.push(line('Window', scheduleLine(spec.schedule, now)));
  out.push(line('Strategy', `${strategyText(spec)} (${spec.provider ?? 'default provider'})`));
  const progress = progressText(spec, status);
  out.push(line(progress.label, progress.value));
  const weight = status.canaryWeight ?? 0;
  const s = strategyOf(spec);
  if (s === 'canary' || s === 'steps') {
    out.push(line('Weight', `canary ${weight}%  primary ${100 - weight}%  ${weightBar(weight, style)}`));
  } else if (s === 'ab') {
    out.push(line('Traffic', 'matching requests → canary during a run, all others → primary'));
  } else {
    out.push(line('Traffic', 'primary 100% (blue-green: the canary is tested through its own Service)'));
  }
  out.push(line('Images', `${imagesOf(d.primary)} ${style.dim('(primary)')}`));
  out.push(more(`${imagesOf(d.target)} ${style.dim('(canary)')}`));
  out.push(line('Replicas', `primary ${replicasOf(d.primary)}   canary ${replicasOf(d.target)}`));
  const failed = status.failedChecks ?? 0;
  const threshold = spec.analysis.threshold ?? 1;
  const failedText = `${failed}/${threshold}`;
  out.push(line('Failed checks', failed ? style.red(failedText) : failedText));
  out.push(
    line(
      'Analysis',
      `every ${spec.analysis.interval ?? '1m'}${status.lastAnalysisTime ? `, last ${age(status.lastAnalysisTime, now)} ago` : ''}`,
    ),
  );
  if (spec.analysis.score) out.push(line('Score', scoreText(spec, status, style)));
  const waits = waitsOf(c);
  out.push(line('Waiting on', waits.length ? style.yellow(`॥ ${waits[0]}`) : '-'));
  for (const w of waits.slice(1)) out.push(more(style.yellow(`॥ ${w}`)));
  const gates = (spec.analysis.webhooks ?? []).filter((w) => w.type?.startsWith('confirm-'));
  out.push(line('Gates', gates.length ? gates.map((g) => `${g.type} (${g.name})`).join(', ') : 'none'));
  out.push(...metricsTable(c, style, now));
  out.push(...eventsTable(d.events ?? [], o.events ?? 5, now, style));
  return out.join('\n');
}
