// The working state of one decide() call: a copy of the status being rewritten, the actions so far,
// what the call still needs observed, and the small questions every phase asks (gates, requests,
// deadline, tick). Pure: it only reads the view and observations it was given.
import type { CanaryStatus, Phase, WebhookType } from '../api/canary.ts';
import type { Action, AlertKind, CanaryView, GateResult, Observations } from './model.ts';
import { parseDuration } from './strategy.ts';

const IDLE_RESYNC_MS = 5 * 60_000;

/** User requests acted on once per id (status.handledRequests). */
type RequestKind = 'promote' | 'abort' | 'retry' | 'promoteNow';
export const POLL_MS = 2_000;
/**
 * The longest wait between looks while pods roll out. Their readiness arrives as watch events of
 * the Deployment (or DaemonSet), which requeue the Canary at once; this look is a backstop only.
 * Polling every POLL_MS instead cost 100 reconciles per Canary per rollout at 1,000 Canaries,
 * where pods take minutes.
 */
export const WATCHED_WAIT_MS = 10_000;
/** The longest requeue decide() asks for: far below setTimeout's limit (2^31-1 ms). */
export const MAX_REQUEUE_MS = IDLE_RESYNC_MS;

/** The Event type of entering `phase`: a failed run, or one frozen by failed analysis, warns. */
export function eventTypeOf(phase: Phase | undefined): 'Warning' | 'Normal' {
  return phase === 'Failed' || phase === 'Frozen' ? 'Warning' : 'Normal';
}

export class Run {
  readonly status: CanaryStatus;
  readonly actions: Action[] = [];
  requeueAfterMs = IDLE_RESYNC_MS;
  needGates: WebhookType[] = [];
  needMetrics = false;

  constructor(
    readonly view: CanaryView,
    readonly obs: Observations,
  ) {
    this.status = structuredClone(view.status);
  }

  get now(): string {
    return this.obs.now.toISOString();
  }

  get phase(): Phase | undefined {
    return this.status.phase;
  }

  setPhase(phase: Phase, message: string): void {
    if (this.status.phase !== phase) {
      this.status.lastTransitionTime = this.now;
      this.status.waitingSince = this.now;
      this.act({
        type: 'event',
        eventType: eventTypeOf(phase),
        reason: phase,
        message,
      });
      this.act({ type: 'runHooks', hookType: 'event' });
    }
    this.status.phase = phase;
    this.status.message = message;
  }

  act(a: Action): void {
    this.actions.push(a);
  }

  alert(kind: AlertKind, severity: 'info' | 'warn' | 'error', message: string): void {
    this.act({ type: 'alert', kind, severity, message });
  }

  /** A gate webhook's verdict; undefined means "not observed yet" (decide asks for it). */
  gate(type: WebhookType): GateResult | undefined {
    const configured = this.view.spec.analysis.webhooks?.some((w) => w.type === type);
    if (!configured) return type === 'rollback' ? { ok: false, message: 'no rollback hook' } : { ok: true };
    const r = this.obs.gates[type];
    if (!r) this.needGates.push(type);
    return r;
  }

  /** A user request not yet acted on. */
  pending<K extends RequestKind>(kind: K): Observations['requests'][K] | undefined {
    const r = this.obs.requests[kind];
    if (!r || this.status.handledRequests?.[kind] === r.id) return undefined;
    return r;
  }

  handled(kind: RequestKind): void {
    const r = this.obs.requests[kind];
    if (r) this.status.handledRequests = { ...this.status.handledRequests, [kind]: r.id };
  }

  /** The current wait has lasted longer than progressDeadlineSeconds (plus `graceMs`). */
  deadlineExceeded(graceMs = 0): boolean {
    return this.obs.now.getTime() > this.deadlineAt(graceMs);
  }

  /** When the current wait passes progressDeadlineSeconds (plus `graceMs`), epoch ms. */
  private deadlineAt(graceMs: number): number {
    const since = Date.parse(this.status.waitingSince ?? this.now);
    return since + this.view.spec.progressDeadlineSeconds * 1000 + graceMs;
  }

  /**
   * Waits for what watch events report (a workload's readiness): the next look comes with the
   * event, at the latest after WATCHED_WAIT_MS, and on time for the deadline (plus `graceMs`).
   */
  awaitWatched(graceMs = 0): void {
    const untilDeadline = Math.max(0, this.deadlineAt(graceMs) - this.obs.now.getTime()) + 1;
    this.requeueAfterMs = Math.min(this.requeueAfterMs, WATCHED_WAIT_MS, untilDeadline);
  }

  /**
   * The run moved (or waits on its own schedule). After an analysis tick pass `scheduledMs`, the time
   * to the next tick: the deadline clock starts only when that tick falls due, so a long interval or
   * timed pause never counts against progressDeadlineSeconds.
   */
  madeProgress(scheduledMs = 0): void {
    this.status.waitingSince = new Date(this.obs.now.getTime() + scheduledMs).toISOString();
  }

  /** analysis.interval in ms. */
  get intervalMs(): number {
    return parseDuration(this.view.spec.analysis.interval);
  }

  tickDue(): boolean {
    const last = this.status.lastAnalysisTime;
    const interval = parseDuration(this.view.spec.analysis.interval);
    if (!last) return true;
    const wait = Date.parse(last) + interval - this.obs.now.getTime();
    if (wait > 0) this.requeueAfterMs = Math.min(this.requeueAfterMs, wait);
    return wait <= 0;
  }
}
