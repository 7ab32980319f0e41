// `weir simulate`: a Canary's run replayed over a past window. The run is the controller's own
// decide() (the step schedule, the tick verdict, analysis.threshold, the measurement limits, the
// score), called at the times the controller would call it, with the metric results that `measure`
// gives for each tick. Everything else is assumed to go well: the pods are ready, the routes are
// taken, every gate webhook is open and no rollback webhook asks for a rollback. So the outcome
// depends only on the metrics, and a simulation cannot drift from what the controller does.
// Pure but for `measure`, which the CLI answers from Prometheus (src/cli/simulate.ts).
import {
  WEBHOOK_TYPES,
  type CanarySpec,
  type CanaryStatus,
  type MetricCheck,
  type WebhookType,
} from '../api/canary.ts';
import { WeirError } from '../errors.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import { decide } from './decide.ts';
import { metricsMeasuredAt } from './measurement-limits.ts';
import type { CanaryView, Decision, GateResult, Observations } from './model.ts';

export interface SimulationInput {
  name: string;
  namespace: string;
  /** Defaulted, as the controller sees it. */
  spec: CanarySpec;
  /** The new revision is deployed at `fromMs`; the simulation ends at `toMs` (ms since the epoch). */
  fromMs: number;
  toMs: number;
}

/**
 * The metric results of the analysis tick at `atMs`, as runAnalysis would have produced them, for
 * `metrics`: those the tick measures (count and initialDelay leave some out).
 */
export type Measure = (atMs: number, metrics: MetricCheck[]) => Promise<MetricResult[]>;

/** One analysis tick of the replayed run. */
export interface SimulatedTick {
  time: string;
  /** The canary weight while the tick's metrics were measured (before the tick). */
  weightBefore: number;
  /** The canary weight after the tick. */
  weight: number;
  /** Undefined on a tick that queries no metrics (the first: the canary has had no traffic yet). */
  metrics?: Array<MetricResult & { dryRun?: boolean }>;
  failedChecks: number;
  /** What the controller would have written into status.message after this tick. */
  message: string;
}

export type SimulationOutcome =
  | { kind: 'promoted'; time: string; weight: number }
  | { kind: 'rolledBack' | 'frozen'; time: string; weight: number; reason: string }
  | { kind: 'undecided'; time: string; weight: number; reason: string };

export interface Simulation {
  ticks: SimulatedTick[];
  outcome: SimulationOutcome;
}

const REVISION = 'simulated';
const PROMOTED = 'before';

export async function simulate(input: SimulationInput, measure: Measure): Promise<Simulation> {
  const { spec, fromMs, toMs } = input;
  if (!(toMs > fromMs)) throw new WeirError('USAGE', '--to must be later than --from');
  const start = iso(fromMs);
  const view: CanaryView = {
    name: input.name,
    namespace: input.namespace,
    generation: 1,
    spec,
    annotations: {},
    // A run that has just started: the state startRun() leaves behind.
    status: {
      phase: 'Progressing',
      lastAppliedSpec: REVISION,
      lastPromotedSpec: PROMOTED,
      canaryWeight: 0,
      failedChecks: 0,
      iterations: 0,
      stepIndex: 0,
      lastTransitionTime: start,
      waitingSince: start,
    },
  };
  const ticks: SimulatedTick[] = [];
  for (let t = fromMs; t <= toMs;) {
    const before = view.status;
    const { decision, metrics } = await decideAt(view, t, measure, manualPause(before));
    const after = decision.status;
    view.status = after;
    const now = new Date(t).toISOString();
    if (after.lastAnalysisTime === now && before.lastAnalysisTime !== now) {
      ticks.push(tickOf(spec, t, before, after, metrics));
    }
    const outcome = ended(after, before.canaryWeight ?? 0, t);
    if (outcome) return { ticks, outcome };
    t += decision.requeueAfterMs;
  }
  const weight = view.status.canaryWeight ?? 0;
  const reason = `no decision by ${iso(toMs)}: ${view.status.message ?? ''}`;
  return { ticks, outcome: { kind: 'undecided', time: iso(toMs), weight, reason } };
}

/** decide() at `t`, answering what it asks for: the metrics of the tick (the gates are all open). */
async function decideAt(
  view: CanaryView,
  t: number,
  measure: Measure,
  promote: boolean,
): Promise<{ decision: Decision; metrics?: MetricResult[] }> {
  const obs = observationsAt(t);
  if (promote) obs.requests.promote = { id: `simulated-${t}`, full: false };
  const first = decide(view, obs);
  if (!('need' in first)) return { decision: first };
  // What the controller would query at this step and time.
  const due = metricsMeasuredAt(view.spec, view.status, t);
  const metrics = first.need.metrics ? await measure(t, due) : undefined;
  const second = decide(view, { ...obs, ...(metrics ? { metrics } : {}) });
  if ('need' in second) {
    // Cannot happen: the gates are all given and the metrics were measured.
    throw new Error(`simulate: decide() still needs ${JSON.stringify(second.need)}`);
  }
  return { decision: second, ...(metrics ? { metrics } : {}) };
}

/**
 * A pause step without a duration waits for `weir promote`, which a replay never gets: it is taken as
 * promoted by a person at the next tick (the run would otherwise wait there until its deadline).
 */
function manualPause(status: CanaryStatus): boolean {
  return /^Paused: step \d+, waiting for `weir promote`/.test(status.message ?? '');
}

function observationsAt(t: number): Observations {
  const ready = { exists: true, readyPercent: 100 };
  return {
    now: new Date(t),
    revision: REVISION,
    primary: { ...ready, revision: PROMOTED },
    canary: ready,
    requests: { paused: false },
    gates: OPEN_GATES,
  };
}

/** Every gate open; a rollback webhook never asks for a rollback (its `ok` means "roll back"). */
const OPEN_GATES: Partial<Record<WebhookType, GateResult>> = Object.fromEntries(
  WEBHOOK_TYPES.map((type) => [
    type,
    type === 'rollback' ? { ok: false, message: 'not simulated' } : { ok: true },
  ]),
);

function tickOf(
  spec: CanarySpec,
  t: number,
  before: CanaryStatus,
  after: CanaryStatus,
  metrics: MetricResult[] | undefined,
): SimulatedTick {
  const dryRun = new Set((spec.analysis.metrics ?? []).filter((m) => m.dryRun).map((m) => m.name));
  return {
    time: iso(t),
    weightBefore: before.canaryWeight ?? 0,
    weight: after.canaryWeight ?? 0,
    ...(metrics ? { metrics: metrics.map((m) => (dryRun.has(m.name) ? { ...m, dryRun: true } : m)) } : {}),
    failedChecks: after.failedChecks ?? 0,
    message: after.message ?? '',
  };
}

/** The run's end, if this decision ended it, with the weight the run had reached. */
function ended(status: CanaryStatus, weight: number, t: number): SimulationOutcome | undefined {
  const time = iso(t);
  switch (status.phase) {
    case 'Promoting':
    case 'Finalising':
    case 'Succeeded':
      return { kind: 'promoted', time, weight };
    case 'Failed':
      return { kind: 'rolledBack', time, weight, reason: reasonOf(status.message, 'RolledBack: ') };
    case 'Frozen':
      return { kind: 'frozen', time, weight, reason: reasonOf(status.message, 'Frozen: ') };
    default:
      return undefined;
  }
}

function reasonOf(message: string | undefined, prefix: string): string {
  const m = message ?? '';
  return m.startsWith(prefix) ? m.slice(prefix.length) : m;
}

/** RFC 3339 in UTC, without milliseconds when there are none. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
