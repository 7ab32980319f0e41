// The invariants every chaos scenario is checked against, whatever fault it injected:
// 1. every good release Succeeded and every bad one Failed;
// 2. the primary never ran a revision that did not earn its promotion (its image history holds only
//    the initial image and releases that Succeeded, and no promotion or weight increase was ever
//    decided on a metric result other than Successful, i.e. never on faulty data);
// 3. weights never skipped or repeated a step (every HTTPRoute write is +stepWeight or back to 0);
// 4. no Canary is left in a non-terminal phase;
// 5. one alert per transition (Slack): one "New revision" per release, one "promotion finished" per
//    success, one "rolled back" per failure, none duplicated by a restart.
// Each check returns sentences naming the Canary and what was seen; an empty list is a pass.
import type { SlackMessage } from '../cluster/slack-capture.ts';
import type { History, StatusSample } from './recorder.ts';

export type Outcome = 'Succeeded' | 'Failed';

export interface Release {
  canary: string;
  image: string;
  /** What the release must end in; 'any' when the fault makes both honest (e.g. flapping data). */
  expect: Outcome | 'any';
  /** The phase it ended in (set by the scenario when the run finished). */
  outcome?: string;
}

export interface CanaryPlan {
  name: string;
  initialImage: string;
  stepWeight: number;
  maxWeight: number;
}

export interface InvariantInput {
  ns: string;
  plans: CanaryPlan[];
  releases: Release[];
  history: History;
  /** status.phase of every Canary at the end. */
  finalPhases: Map<string, string | undefined>;
  slack: SlackMessage[];
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'Initialized']);

export function checkInvariants(i: InvariantInput): string[] {
  return [
    ...outcomes(i),
    ...primaryEarned(i),
    ...noFaultyAdvance(i),
    ...weightSteps(i),
    ...allTerminal(i),
    ...oneAlertPerTransition(i),
  ];
}

function outcomes(i: InvariantInput): string[] {
  return i.releases
    .filter((r) => r.expect !== 'any' && r.outcome !== r.expect)
    .map((r) => `${r.canary} ${r.image}: expected ${r.expect}, ended ${r.outcome ?? 'unfinished'}`);
}

function primaryEarned(i: InvariantInput): string[] {
  const out: string[] = [];
  for (const plan of i.plans) {
    const earned = new Set([
      plan.initialImage,
      ...i.releases
        .filter((r) => r.canary === plan.name && r.outcome === 'Succeeded' && r.expect !== 'Failed')
        .map((r) => r.image),
    ]);
    for (const image of i.history.primaryImages.get(`${plan.name}-primary`) ?? [])
      if (!earned.has(image)) out.push(`${plan.name}-primary ran ${image}, which did not earn a promotion`);
  }
  return out;
}

/** A weight increase or a promotion decided while a metric result was not Successful. */
function noFaultyAdvance(i: InvariantInput): string[] {
  const out: string[] = [];
  for (const [name, samples] of i.history.statuses) {
    samples.forEach((s, k) => {
      const prev: StatusSample | undefined = samples[k - 1];
      if (!prev || prev.lastAppliedSpec !== s.lastAppliedSpec) return;
      const advanced = (s.canaryWeight ?? 0) > (prev.canaryWeight ?? 0);
      const promoted = s.phase === 'Promoting' && prev.phase !== 'Promoting';
      const bad = s.metrics.filter((m) => m.result !== 'Successful');
      if ((advanced || promoted) && bad.length)
        out.push(
          `${name}: ${promoted ? 'promoted' : `advanced to ${s.canaryWeight}`} with ${bad
            .map((m) => `${m.name}=${m.result}${m.message ? ` (${m.message})` : ''}`)
            .join(', ')}`,
        );
    });
  }
  return out;
}

function weightSteps(i: InvariantInput): string[] {
  const out: string[] = [];
  for (const plan of i.plans) {
    const seen = i.history.weights.get(plan.name) ?? [];
    const breaks = i.history.weightBreaks.get(plan.name);
    for (let k = 1; k < seen.length; k++) {
      if (breaks?.has(k)) continue; // the watch started over: k-1 -> k is not one write
      const [a, b] = [seen[k - 1]!, seen[k]!];
      const ok = b === 0 || (b === a + plan.stepWeight && b <= plan.maxWeight);
      if (!ok) out.push(`${plan.name}: weight went ${a} -> ${b} (sequence ${seen.join(',')})`);
    }
  }
  return out;
}

function allTerminal(i: InvariantInput): string[] {
  return [...i.finalPhases]
    .filter(([, phase]) => !phase || !TERMINAL.has(phase))
    .map(([name, phase]) => `${name} left in phase ${phase ?? '(none)'}`);
}

/** The alert counts the releases call for, per Canary. */
export function expectedAlerts(i: Pick<InvariantInput, 'plans' | 'releases'>) {
  return i.plans.map((p) => {
    const mine = i.releases.filter((r) => r.canary === p.name && r.outcome !== undefined);
    return {
      name: p.name,
      newRevision: mine.length,
      promoted: mine.filter((r) => r.outcome === 'Succeeded').length,
      rolledBack: mine.filter((r) => r.outcome === 'Failed').length,
    };
  });
}

/** Alerts about Canary `name` (texts carry `<name>.<namespace>`) whose payload contains `text`. */
export function countAlerts(slack: SlackMessage[], ns: string, name: string, text: string): number {
  return slack.filter((m) => {
    const body = JSON.stringify(m.payload);
    return body.includes(`${name}.${ns}`) && body.includes(text);
  }).length;
}

export const ALERT_TEXT = {
  newRevision: 'New revision detected',
  promoted: 'promotion finished',
  rolledBack: 'rolled back',
} as const;

function oneAlertPerTransition(i: InvariantInput): string[] {
  const out: string[] = [];
  for (const want of expectedAlerts(i)) {
    for (const key of ['newRevision', 'promoted', 'rolledBack'] as const) {
      const got = countAlerts(i.slack, i.ns, want.name, ALERT_TEXT[key]);
      if (got !== want[key])
        out.push(`${want.name}: ${got} "${ALERT_TEXT[key]}" alerts for ${want[key]} transitions`);
    }
  }
  return out;
}
