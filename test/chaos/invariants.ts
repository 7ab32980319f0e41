// The invariants every chaos scenario is checked against, whatever fault it injected:
// 1. every good release Succeeded and every bad one Failed;
// 2. the primary never ran a revision that did not earn its promotion (its image history holds only
//    the initial image and releases that Succeeded, and no promotion or weight increase was ever
//    decided on a metric result other than Successful, i.e. never on faulty data);
// 3. weights never skipped or repeated a step (every HTTPRoute write is +stepWeight or back to 0);
// 4. no Canary is left in a non-terminal phase;
// 5. one alert per transition (Slack), delivered at least once: one "New revision" per release, one
//    "promotion finished" per success, one "rolled back" per failure; none lost, and a copy beyond
//    that only where a kill explains it (see explainedDuplicates).
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
  /** When the scenario killed a controller (epoch ms); none when it killed none. */
  kills?: number[];
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
      const what = `${want.name}: ${got} "${ALERT_TEXT[key]}" alerts for ${want[key]} transitions`;
      if (got < want[key]) out.push(`${what} (lost)`);
      else if (got > want[key]) {
        const explained = explainedDuplicates(i, want.name, ALERT_TEXT[key]);
        if (got - want[key] > explained)
          out.push(`${what} (${got - want[key]} extra, ${explained} explained by a kill)`);
      }
    }
  }
  return out;
}

/**
 * How many extra copies of Canary `name`'s alerts containing `text` the kills explain. Delivery is
 * at least once (docs/alerts.md "Delivery"): an alert stays in status.pendingAlerts from the status
 * write of its transition until a later patch removes it after delivery, and a controller killed in
 * between leaves it there for the next one to send again. So each kill explains one copy of each
 * such alert that, at the kill, was still pending in the last status recorded up to the kill (the
 * recorder sees writes late, never early, so its removal had not landed before the kill either) and
 * had already been captured: at least as many captures of that kind for the Canary before the kill
 * as alerts of that kind it had recorded, up to and including this one. Nothing else is explained.
 */
export function explainedDuplicates(i: InvariantInput, name: string, text: string): number {
  const samples = i.history.statuses.get(name) ?? [];
  const order: string[] = []; // ids of this kind, by first appearance in status
  for (const s of samples)
    for (const p of s.pending ?? []) if (p.message.includes(text) && !order.includes(p.id)) order.push(p.id);
  const captured = i.slack
    .filter((m) => countAlerts([m], i.ns, name, text) === 1)
    .map((m) => m.receivedAt.getTime());
  let explained = 0;
  for (const kill of i.kills ?? []) {
    const atKill = samples.filter((s) => s.at <= kill).at(-1);
    const before = captured.filter((t) => t < kill).length;
    for (const p of atKill?.pending ?? [])
      if (p.message.includes(text) && before >= order.indexOf(p.id) + 1) explained++;
  }
  return explained;
}
