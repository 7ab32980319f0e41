// The canary decision: a pure function from the Canary (spec + status) and what the controller
// observed to the next status and the actions that make the cluster match it. No I/O here; the
// controller gathers observations (asking again when decide() says it needs a gate or metrics) and
// applies the actions, then writes the status in one patch.
import type { WebhookType } from '../api/canary.ts';
import { freezeWaitText, frozenUntil } from './freeze.ts';
import type { CanaryView, Decision, GateResult, Observations } from './model.ts';
import { MAX_REQUEUE_MS, POLL_MS, Run } from './run.ts';
import { activeMetrics, nextMove, parseDuration, trafficDuringRun, type Next } from './strategy.ts';
import { strategyOf, withStepRoute } from '../api/strategy.ts';
import { measureTick, metricsMeasuredAt, type LimitBreach } from './measurement-limits.ts';
import { withHistory } from './metric-history.ts';
import { tickVerdict } from './tick-verdict.ts';

/** decide() cannot finish without these results; the controller gathers them and calls again. */
export interface Need {
  need: { gates: WebhookType[]; metrics: boolean };
}

export function decide(view: CanaryView, obs: Observations): Decision | Need {
  const run = new Run(view, obs);
  if (view.spec.suspend) {
    run.status.message = 'Suspended: spec.suspend is true';
    return finish(run);
  }
  switch (run.phase) {
    case undefined:
    case 'Initializing':
      initialize(run);
      break;
    case 'Initialized':
    case 'Succeeded':
    case 'Failed':
      idle(run);
      break;
    case 'Waiting':
      waiting(run);
      break;
    case 'Progressing':
    case 'WaitingPromotion':
      progressing(run);
      break;
    case 'Frozen':
      frozen(run);
      break;
    case 'Queued':
      queued(run);
      break;
    case 'Promoting':
      promoting(run);
      break;
    case 'Finalising':
      finalising(run);
      break;
    default:
      break; // Terminating/Terminated belong to the finalizer
  }
  if (run.needGates.length || run.needMetrics) {
    return { need: { gates: [...new Set(run.needGates)], metrics: run.needMetrics } };
  }
  return finish(run);
}

function finish(run: Run): Decision {
  run.status.observedGeneration = run.view.generation;
  // Bounded both ways: a timer longer than 2^31-1 ms would fire at once (and loop).
  const requeue = Number.isFinite(run.requeueAfterMs) ? run.requeueAfterMs : MAX_REQUEUE_MS;
  return {
    status: run.status,
    actions: run.actions,
    requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, requeue)),
  };
}

function initialize(run: Run): void {
  const { obs, view } = run;
  run.act({ type: 'ensurePrimary' });
  if (!obs.primary.exists || obs.primary.readyPercent < view.spec.analysis.primaryReadyThreshold) {
    if (run.phase !== 'Initializing')
      run.setPhase('Initializing', 'Initializing: creating primary Deployment and Services');
    else
      run.status.message = `Initializing: waiting for ${view.spec.targetRef.name}-primary to be ready (${obs.primary.readyPercent}% ready)`;
    run.awaitWatched();
    return;
  }
  run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
  run.act({ type: 'scaleCanary', replicas: 0 });
  Object.assign(run.status, {
    lastAppliedSpec: obs.revision,
    lastPromotedSpec: obs.revision,
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    stepIndex: 0,
  });
  run.setPhase('Initialized', 'Initialized: primary is serving all traffic');
  run.alert('initialized', 'info', 'Initialization done!');
}

function idle(run: Run): void {
  const { obs, status } = run;
  const retry = run.pending('retry');
  if (retry) run.handled('retry');
  const repair = obs.revision === status.lastPromotedSpec && obs.primary.revision !== status.lastPromotedSpec;
  if (obs.revision === status.lastAppliedSpec && !(retry && run.phase === 'Failed')) {
    if (repair) repairPrimary(run);
    else if (status.message?.startsWith('Repairing:'))
      status.message = `Repaired: ${run.view.spec.targetRef.name}-primary runs the promoted revision ${status.lastPromotedSpec} again`;
    return;
  }
  if (obs.revision === status.lastPromotedSpec && obs.revision !== status.lastAppliedSpec) {
    // Reverted to what primary already runs: nothing to analyse (Flagger's behaviour).
    status.lastAppliedSpec = obs.revision;
    run.act({ type: 'scaleCanary', replicas: 0 });
    run.setPhase('Succeeded', 'Reverted: target is back on the promoted revision');
    if (repair) repairPrimary(run);
    return;
  }
  if (!admitted(run)) return;
  startRun(run, retry ? 'retry requested' : 'new revision');
}

/**
 * A concurrency limit (admission.ts) decides whether a new run may start. Held back, the run waits in
 * Queued and does nothing to the cluster: no canary pods, routes left at the primary. queuedAt keeps
 * its place across controller restarts. Returns whether the run may start now.
 */
function admitted(run: Run): boolean {
  const override = run.pending('promoteNow');
  if (!override && !inReleaseWindow(run)) return false;
  const { admission } = run.obs;
  const { status } = run;
  if (admission && !admission.admitted) {
    queue(run, admission.message, QUEUED_RECHECK_MS);
    return false;
  }
  delete status.queuedAt;
  // A promote --now is consumed by the run it lets start, so an old one never opens a later window.
  if (override) overrideWindow(run, override.by);
  return true;
}

/** Wait in Queued (nothing done to the cluster), looking again after `recheckMs`. */
function queue(run: Run, message: string, recheckMs: number): void {
  run.status.queuedAt ??= run.now;
  if (run.phase !== 'Queued') run.setPhase('Queued', message);
  else run.status.message = message;
  // Ending runs requeue the queue (controller.ts); this is the backstop if that event is missed.
  run.requeueAfterMs = recheckMs;
}

const QUEUED_RECHECK_MS = 30_000;
const BAD_SCHEDULE_RECHECK_MS = 300_000;

/**
 * spec.schedule (window.ts): outside its windows a new revision waits in Queued and the controller
 * looks again at the next opening. An unknown time zone is refused as an invalid spec before decide()
 * (validate.ts); should one get here anyway, it holds the run with a Warning naming the field, as
 * starting outside the windows the user meant is worse.
 */
function inReleaseWindow(run: Run): boolean {
  const { window } = run.obs;
  if (!window || window.open) return true;
  if ('error' in window) {
    const message = `Queued: ${window.error}`;
    if (run.status.message !== message)
      run.act({ type: 'event', eventType: 'Warning', reason: 'InvalidSchedule', message: window.error });
    queue(run, message, BAD_SCHEDULE_RECHECK_MS);
    return false;
  }
  const untilOpening = window.nextOpening
    ? Date.parse(window.nextOpening) - run.obs.now.getTime()
    : Number.POSITIVE_INFINITY;
  queue(run, window.message, untilOpening);
  return false;
}

/** `weir promote --now`: the run starts outside its window; the Event says who asked. */
function overrideWindow(run: Run, by: string | undefined): void {
  run.handled('promoteNow');
  const { window } = run.obs;
  if (!window || window.open) return;
  const why = 'error' in window ? window.error : window.message.replace(/^Queued: /, '');
  run.act({
    type: 'event',
    eventType: 'Normal',
    reason: 'WindowOverridden',
    message: `Release window overridden by ${by ?? 'an unnamed user'} (weir promote --now): ${why}`,
  });
}

/**
 * A run waiting for a slot. Reverting the target to the promoted revision or `weir abort` takes it
 * out of the queue without a run; otherwise it starts once admitted, with the newest revision.
 */
function queued(run: Run): void {
  const { obs, status } = run;
  if (obs.revision === status.lastPromotedSpec) {
    delete status.queuedAt;
    status.lastAppliedSpec = obs.revision;
    run.setPhase('Succeeded', 'Reverted: target is back on the promoted revision, left the queue');
    return;
  }
  if (run.pending('abort')) {
    run.handled('abort');
    delete status.queuedAt;
    // Recorded as applied, so this revision does not queue again (as after a rollback).
    status.lastAppliedSpec = obs.revision;
    run.setPhase('Failed', 'Aborted: removed from the queue by user before its run started');
    return;
  }
  if (!admitted(run)) return;
  startRun(run, 'admitted from the queue');
}

/**
 * The primary does not run the promoted revision (edited by hand, deleted, or left on a failed one by
 * an older release): the target carries the promoted revision, so copy it to the primary again.
 */
function repairPrimary(run: Run): void {
  const { obs, status, view } = run;
  status.lastAppliedSpec = obs.revision;
  run.act({ type: 'promotePrimary' });
  const msg = `Repairing: ${view.spec.targetRef.name}-primary runs revision ${obs.primary.revision ?? '(none)'}, not the promoted ${status.lastPromotedSpec}; copying the promoted revision back`;
  if (status.message !== msg)
    run.act({ type: 'event', eventType: 'Warning', reason: 'PrimaryRepaired', message: msg });
  status.message = msg;
  run.requeueAfterMs = POLL_MS;
}

/**
 * The primary already runs the revision under analysis, yet status never recorded its promotion: the
 * promotion write landed and the status write after it was lost (a crash or a failed patch). The
 * revision is in production; reporting a rollback would be false, so the promotion is recorded, a
 * pending abort is answered with a Warning, and the promotion resumes (or, if the target moved on in
 * the meantime, the new revision's run starts from this promoted state). Returns true when it acted.
 */
function promotionLanded(run: Run): boolean {
  const { obs, status, view } = run;
  const rev = status.lastAppliedSpec;
  if (!rev || obs.primary.revision !== rev || status.lastPromotedSpec === rev) return false;
  status.lastPromotedSpec = rev;
  const primary = `${view.spec.targetRef.name}-primary`;
  if (run.pending('abort')) {
    run.handled('abort');
    run.act({
      type: 'event',
      eventType: 'Warning',
      reason: 'AbortIgnored',
      message: `Abort ignored: ${primary} already runs revision ${rev}; the promotion is completed`,
    });
  }
  if (obs.revision !== rev) return false; // the caller starts the new revision's run
  run.setPhase('Promoting', `Promoting: ${primary} already runs revision ${rev}, resuming the promotion`);
  promoting(run);
  return true;
}

/** confirm-rollout, then scale the canary up and start analysing (`restart`: already alerted). */
function startRun(run: Run, why: string, restart = false): void {
  const { status, obs, view } = run;
  status.lastAppliedSpec = obs.revision;
  const gate = run.gate('confirm-rollout');
  if (!gate) return;
  if (!gate.ok) {
    // No traffic to an unanalysed revision while the gate holds it (a restart may come from weight > 0).
    run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
    status.canaryWeight = 0;
    if (run.phase !== 'Waiting') {
      run.setPhase('Waiting', `Waiting: confirm-rollout gate is closed: ${gate.message}`);
      run.alert('waiting-approval', 'info', `Canary is waiting for approval`);
    }
    if (run.deadlineExceeded())
      return rollback(run, 'Progress deadline exceeded while waiting for confirm-rollout');
    run.requeueAfterMs = Math.min(run.requeueAfterMs, parseDuration(view.spec.analysis.interval));
    return;
  }
  Object.assign(status, { canaryWeight: 0, failedChecks: 0, iterations: 0, stepIndex: 0, metrics: [] });
  delete status.measurements;
  delete status.lastAnalysisTime;
  delete status.analysisStartTime;
  delete status.score;
  delete status.pauseStartTime;
  delete status.canaryScale;
  delete status.stepRoutes;
  if (view.spec.skipAnalysis) {
    copyToPrimary(run);
    run.setPhase('Promoting', 'Promoting: skipAnalysis is set, copying the new revision to primary');
    if (!restart)
      run.alert('new-revision', 'info', `New revision detected, skipping analysis (skipAnalysis)`);
    run.requeueAfterMs = POLL_MS;
    return;
  }
  run.act({ type: 'scaleCanary', replicas: 'restore' });
  run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
  run.setPhase('Progressing', `Progressing: ${why}, starting canary analysis`);
  if (!restart) run.alert('new-revision', 'info', `New revision detected, progressing canary analysis`);
  run.requeueAfterMs = POLL_MS;
}

function waiting(run: Run): void {
  if (promotionLanded(run)) return;
  if (run.pending('abort')) {
    run.handled('abort');
    return rollback(run, 'aborted by user');
  }
  if (run.pending('promote')) {
    run.handled('promote');
    run.obs.gates['confirm-rollout'] = { ok: true }; // the user opened the gate
  }
  startRun(run, 'new revision');
}

function progressing(run: Run): void {
  const { obs, status, view } = run;
  if (promotionLanded(run)) return;
  if (run.pending('abort')) {
    run.handled('abort');
    return rollback(run, 'aborted by user');
  }
  if (obs.revision !== status.lastAppliedSpec) {
    run.alert('restarted', 'info', `New revision detected during analysis, restarting`);
    run.setPhase('Progressing', 'Progressing: new revision during analysis, restarting from zero');
    run.madeProgress();
    return startRun(run, 'revision changed mid-run', true);
  }
  if (run.phase === 'WaitingPromotion' && run.pending('promote')) {
    run.handled('promote');
    return beginPromotion(run, true);
  }
  const userPaused = obs.requests.paused;
  // A wait judged at ticks (closed gate, manual pause, failing checks) is normally given one more
  // tick to clear; past the deadline plus an interval it ends here, before any gate is asked, so a
  // rollback never waits behind a slow gate.
  if (!userPaused && run.deadlineExceeded(run.intervalMs)) return deadlineRollback(run, status.message ?? '');
  if (obs.canary.scaledToZero) return rescaleCanary(run);
  if (obs.canary.readyPercent < view.spec.analysis.canaryReadyThreshold) {
    const msg = `Progressing: waiting for canary pods (${obs.canary.readyPercent}% ready)`;
    if (!userPaused && run.deadlineExceeded()) return deadlineRollback(run, msg);
    status.message = msg;
    run.awaitWatched();
    if (userPaused) run.madeProgress();
    return;
  }
  // Weight verification: the next step waits until the data plane has taken the last one (a step
  // analysed on weights the proxy never applied would judge the wrong traffic).
  if (obs.routesPending) {
    const msg = `Progressing: waiting for the routes to be taken: ${obs.routesPending}`;
    if (!userPaused && run.deadlineExceeded()) return deadlineRollback(run, msg);
    status.message = msg;
    run.requeueAfterMs = POLL_MS;
    return;
  }
  // Waiting for a scheduled tick is not a stall; a closed gate or a manual pause is judged at the
  // tick that asks again (see advance()).
  // A pending `weir promote` is acted on at once (with a fresh analysis), not at the next interval,
  // and is used up by this tick whatever its outcome, so it never causes a second early tick —
  // except a full promote on the first tick, which stays pending for the first analysed tick.
  // Under a user pause a promote waits (still pending) until `weir resume`.
  const promote = userPaused ? undefined : run.pending('promote');
  if (!run.tickDue() && !promote) return;
  const first = !status.lastAnalysisTime;
  if (promote && !(first && promote.full)) run.handled('promote');
  const rollbackHook = run.gate('rollback');
  if (rollbackHook?.ok) return rollback(run, 'rollback webhook requested it');
  const unanalysed = first || heldBeforeTraffic(run);
  if (!analysisPasses(run, unanalysed, finalTick(run, promote))) return;
  if (userPaused) {
    status.message = 'Paused: by user (analysis keeps running)';
    run.madeProgress();
    return;
  }
  advance(run, promote, unanalysed);
}

/**
 * A weighted run still at weight 0 behind a confirm-traffic-increase gate (closed at the first step):
 * the canary has no traffic, so its metric checks could only say "no data" and would roll back a run
 * that merely waits for its gate. Such ticks query no metrics, as Flagger skips analysis while no
 * traffic is routed to the canary.
 */
function heldBeforeTraffic(run: Run): boolean {
  const { spec } = run.view;
  return (
    strategyOf(spec) === 'canary' &&
    (run.status.canaryWeight ?? 0) === 0 &&
    !!spec.analysis.webhooks?.some((w) => w.type === 'confirm-traffic-increase')
  );
}

/**
 * The canary Deployment was scaled to 0 during the run: a rollback stopped between its cluster
 * writes and its status write (a crash), or a hand edit. Its pods would never come back by
 * themselves, and waiting for them lasted until the progress deadline, silently. So traffic is
 * taken off it, it is scaled up again and the weight steps start over from 0; the failed checks
 * and the tick schedule are kept, so a bad revision still rolls back at its next failed check.
 */
function rescaleCanary(run: Run): void {
  const { status, view } = run;
  run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
  run.act({ type: 'scaleCanary', replicas: 'restore' });
  const msg = `Progressing: ${view.spec.targetRef.name} was scaled to 0 during the run (an interrupted rollback or a hand edit); scaling it up again, weight from 0`;
  // Once per occurrence, though a lagging Deployment cache may show 0 replicas a little longer.
  if (status.message !== msg)
    run.act({ type: 'event', eventType: 'Warning', reason: 'CanaryRescaled', message: msg });
  Object.assign(status, { canaryWeight: 0, stepIndex: 0, iterations: 0 });
  delete status.pauseStartTime;
  delete status.canaryScale;
  delete status.stepRoutes;
  status.message = msg;
  run.madeProgress();
  run.requeueAfterMs = POLL_MS;
}

function deadlineRollback(run: Run, awaited: string): void {
  rollback(run, `Progress deadline exceeded (${run.view.spec.progressDeadlineSeconds}s): ${awaited}`);
}

/**
 * One analysis tick: pre-rollout hooks on the first, then rollout hooks, and metrics unless the tick
 * is `unanalysed` (the first, or held before any traffic: see heldBeforeTraffic).
 */
function analysisPasses(run: Run, unanalysed: boolean, final: boolean): boolean {
  const { status, obs, view } = run;
  const first = !status.lastAnalysisTime;
  const checks: Array<GateResult | undefined> = [
    ...(first ? [run.gate('pre-rollout')] : []),
    run.gate('rollout'),
  ];
  const specs = activeMetrics(view.spec, status.stepIndex ?? 0);
  // count and initialDelay: the metrics this tick measures (the controller gathers only those).
  const due = new Set(metricsMeasuredAt(view.spec, status, obs.now.getTime()).map((m) => m.name));
  if (!unanalysed && due.size && !obs.metrics) run.needMetrics = true;
  if (checks.includes(undefined) || run.needMetrics) return false;
  status.lastAnalysisTime = run.now;
  status.analysisStartTime ??= run.now;
  run.requeueAfterMs = Math.min(run.requeueAfterMs, parseDuration(view.spec.analysis.interval));
  const failures = checks
    .filter((c): c is { ok: false; message: string } => !!c && !c.ok)
    .map((c) => c.message);
  const results = obs.metrics?.filter((r) => due.has(r.name));
  if (!unanalysed && results?.length) {
    const dryRun = new Set(specs.filter((m) => m.dryRun).map((m) => m.name));
    const latest = results.map((m) => ({
      ...m,
      time: run.now,
      ...(dryRun.has(m.name) ? { dryRun: true } : {}),
    }));
    status.metrics = withStepResults(view.spec, status.metrics ?? [], latest);
    const measured = measureTick(specs, results, status.measurements ?? []);
    if (measured.counts.length) status.measurements = measured.counts;
    if (measured.breach) {
      endByLimits(run, measured.breach);
      return false;
    }
    // Every metric judged by its own limits or dry-run: nothing is left for the tick to judge.
    if (!measured.forTick.length) return !failures.length || countFailedCheck(run, failures);
    const tick = tickVerdict(view.spec.analysis, measured.forTick, final);
    if (tick.score) status.score = { ...tick.score, time: run.now };
    if (tick.kind === 'fail') failures.push(...tick.failures);
    if (tick.kind === 'hold' && !failures.length) {
      // Not a failed check and not progress: the deadline ends a check that never concludes.
      status.message = `Progressing: inconclusive, holding canary weight ${status.canaryWeight ?? 0}: ${tick.reason}`;
      return false;
    }
  }
  if (!failures.length) return true;
  return countFailedCheck(run, failures);
}

/**
 * The metrics' run history after this tick. A stepOnly metric not measured at this tick keeps its
 * last results, so `weir get canary` still shows what its analysis step saw.
 */
function withStepResults(
  spec: CanaryView['spec'],
  previous: NonNullable<CanaryView['status']['metrics']>,
  latest: NonNullable<CanaryView['status']['metrics']>,
) {
  const stepOnly = new Set((spec.analysis.metrics ?? []).filter((m) => m.stepOnly).map((m) => m.name));
  const kept = previous.filter((p) => stepOnly.has(p.name) && !latest.some((l) => l.name === p.name));
  return [...withHistory(previous, latest), ...kept];
}

/** Flagger's failed check: one more against analysis.threshold, which ends the run. Always false. */
function countFailedCheck(run: Run, failures: string[]): false {
  const { status, view } = run;
  status.failedChecks = (status.failedChecks ?? 0) + 1;
  const msg = `Halted: failed check ${status.failedChecks}/${view.spec.analysis.threshold}: ${failures.join('; ')}`;
  run.act({ type: 'event', eventType: 'Warning', reason: 'FailedCheck', message: msg });
  if (status.failedChecks >= view.spec.analysis.threshold) {
    const reason = `Failed checks threshold reached ${status.failedChecks}: ${failures.join('; ')}`;
    if (view.spec.analysis.onFailure === 'freeze') freeze(run, reason);
    else rollback(run, reason);
  } else {
    status.message = msg;
  }
  return false;
}

/**
 * A metric's own limit was exceeded (measurement-limits.ts): no threshold to wait for. Too many
 * failures or errors end the run as onFailure says; too many inconclusive results freeze it, as Argo
 * pauses an Inconclusive run for a person to promote, abort or retry.
 */
function endByLimits(run: Run, breach: LimitBreach): void {
  const reason = `Measurement limit exceeded: ${breach.reasons.join('; ')}`;
  run.act({ type: 'event', eventType: 'Warning', reason: 'MeasurementLimit', message: reason });
  if (breach.kind === 'inconclusive' || run.view.spec.analysis.onFailure === 'freeze') freeze(run, reason);
  else rollback(run, reason);
}

/** Passing this tick would promote: the last step, or `weir promote --full`. */
function finalTick(run: Run, promote: Observations['requests']['promote']): boolean {
  const { status, view } = run;
  if (promote?.full) return true;
  const next = nextMove(view.spec, status.canaryWeight ?? 0, status.stepIndex ?? 0, status.iterations ?? 0);
  return next.kind === 'promote';
}

/**
 * A passing tick moves the run one step. `first`: this tick queried no metrics (the canary had no
 * traffic yet), so it may not end in a promotion: only skipAnalysis promotes unanalysed.
 */
function advance(run: Run, promote: Observations['requests']['promote'], first: boolean): void {
  const { status, view, obs } = run;
  const next = promote?.full
    ? ({ kind: 'promote' } as const)
    : nextMove(view.spec, status.canaryWeight ?? 0, status.stepIndex ?? 0, status.iterations ?? 0);
  const scheduled = run.intervalMs;
  switch (next.kind) {
    case 'weight': {
      if (next.weight > (status.canaryWeight ?? 0)) {
        const gate = promote ? { ok: true as const } : run.gate('confirm-traffic-increase');
        if (!gate) return;
        if (!gate.ok) {
          const msg = `Waiting: confirm-traffic-increase gate is closed: ${gate.message}`;
          if (run.deadlineExceeded()) return deadlineRollback(run, msg);
          status.message = msg;
          return;
        }
      }
      status.canaryWeight = next.weight;
      status.stepIndex = next.stepIndex;
      run.act({
        type: 'setTraffic',
        traffic: trafficDuringRun(view.spec, next.weight, status.stepRoutes),
      });
      status.message = `Progressing: advanced canary weight to ${next.weight}`;
      run.madeProgress(scheduled);
      return;
    }
    case 'pause': {
      status.pauseStartTime ??= run.now;
      const elapsed = obs.now.getTime() - Date.parse(status.pauseStartTime);
      // `weir promote` ends any pause, timed or manual (Argo Rollouts' promote skips the current pause).
      const done = !!promote || (next.durationMs !== undefined && elapsed >= next.durationMs);
      if (!done) {
        const left =
          next.durationMs !== undefined
            ? `${Math.ceil((next.durationMs - elapsed) / 1000)}s left`
            : 'waiting for `weir promote`';
        const msg = `Paused: step ${next.stepIndex + 1}, ${left}`;
        if (next.durationMs !== undefined) {
          // A timed pause runs on schedule: not a wait the deadline covers.
          run.requeueAfterMs = Math.min(run.requeueAfterMs, next.durationMs - elapsed);
          run.madeProgress(scheduled);
        } else if (run.deadlineExceeded()) {
          return deadlineRollback(run, msg);
        }
        status.message = msg;
        return;
      }
      delete status.pauseStartTime;
      status.stepIndex = next.stepIndex + 1;
      status.message = `Progressing: pause at step ${next.stepIndex + 1} ended`;
      run.madeProgress(scheduled);
      return;
    }
    case 'scale':
      return scaleStep(run, next);
    case 'route':
      return routeStep(run, next);
    case 'analysis':
      return analysisStep(run, next, first, !!promote);
    case 'iteration': {
      if (next.iterations === 1 || strategyOf(view.spec) === 'ab') {
        run.act({ type: 'setTraffic', traffic: trafficDuringRun(view.spec, 0) });
      }
      status.iterations = next.iterations;
      status.message = `Progressing: iteration ${next.iterations}/${view.spec.analysis.iterations ?? 1} passed`;
      run.madeProgress(scheduled);
      return;
    }
    case 'promote':
      if (first) {
        status.message = 'Progressing: promotion waits for one analysed tick';
        run.madeProgress(scheduled);
        return;
      }
      return beginPromotion(run, !!promote);
  }
}

/**
 * setCanaryScale: the canary's size apart from its weight until a later setCanaryScale or the end of
 * the run; matchTrafficWeight gives it its usual size again (the primary's).
 */
function scaleStep(run: Run, next: Extract<Next, { kind: 'scale' }>): void {
  const { status } = run;
  if (next.scale) status.canaryScale = next.scale;
  else delete status.canaryScale;
  delete status.stepRoutes;
  run.act({ type: 'scaleCanary', replicas: next.scale ?? 'restore' });
  status.stepIndex = next.stepIndex + 1;
  const to = !next.scale
    ? 'its usual size (matchTrafficWeight)'
    : 'replicas' in next.scale
      ? `${next.scale.replicas} replicas`
      : `${next.scale.weight}% of the primary's replicas`;
  status.message = `Progressing: step ${next.stepIndex + 1} scaled the canary to ${to}`;
  run.madeProgress(run.intervalMs);
}

/**
 * setHeaderRoute/setMirrorRoute: the named route is added, replaced or removed in status.stepRoutes
 * and the routes are applied with the current weight. Routes last until the run ends.
 */
function routeStep(run: Run, next: Extract<Next, { kind: 'route' }>): void {
  const { status, view } = run;
  const routes = withStepRoute(status.stepRoutes, next.change);
  if (routes.length) status.stepRoutes = routes;
  else delete status.stepRoutes;
  run.act({ type: 'setTraffic', traffic: trafficDuringRun(view.spec, status.canaryWeight ?? 0, routes) });
  status.stepIndex = next.stepIndex + 1;
  const what =
    'remove' in next.change
      ? `removed route ${next.change.remove}`
      : `${next.change.route.mirror ? 'mirror' : 'header'} route ${next.change.route.name} set`;
  status.message = `Progressing: step ${next.stepIndex + 1}: ${what}`;
  run.madeProgress(run.intervalMs);
}

/**
 * An analysis step: this tick measured its stepOnly metrics (activeMetrics) and passed as a whole;
 * the step ends once each of them was Successful at one tick (or took its `count`). A failure not yet over the metric's own
 * limits, or a first tick that measured nothing, holds the step: measuring on schedule is progress,
 * and the limits (or analysis.threshold) end a step that keeps failing.
 */
function analysisStep(
  run: Run,
  next: Extract<Next, { kind: 'analysis' }>,
  unanalysed: boolean,
  promoted: boolean,
): void {
  const { status, obs, view } = run;
  const specs = view.spec.analysis.metrics ?? [];
  const dryRun = new Set(specs.filter((m) => m.dryRun).map((m) => m.name));
  // A metric that took its `count` within its limits is done, as Argo's AnalysisRun then completes.
  const counted = new Set(
    specs
      .filter((m) => m.count !== undefined)
      .filter((m) => (status.measurements?.find((c) => c.name === m.name)?.count ?? 0) >= m.count!)
      .map((m) => m.name),
  );
  const open = next.metrics
    .filter((name) => !dryRun.has(name) && !counted.has(name))
    .flatMap((name) => {
      const r = unanalysed ? undefined : obs.metrics?.find((m) => m.name === name);
      return r?.result === 'Successful'
        ? []
        : [`${name} ${r ? `${r.result}: ${r.message}` : 'not measured yet'}`];
    });
  run.madeProgress(run.intervalMs);
  // `weir promote` moves past the step as it ends a pause (Argo's promote skips the current step).
  if (open.length && !promoted) {
    status.message = `Progressing: analysis step ${next.stepIndex + 1} holds: ${open.join('; ')}`;
    return;
  }
  // A later analysis step naming the same metric counts its limits afresh, as a new Argo AnalysisRun.
  const counts = (status.measurements ?? []).filter((c) => !next.metrics.includes(c.name));
  if (counts.length) status.measurements = counts;
  else delete status.measurements;
  status.stepIndex = next.stepIndex + 1;
  status.message = open.length
    ? `Progressing: analysis step ${next.stepIndex + 1} ended by weir promote (${open.join('; ')})`
    : `Progressing: analysis step ${next.stepIndex + 1} passed (${next.metrics.join(', ')})`;
}

/** confirm-promotion (unless the user promoted), then copy the canary to primary. */
function beginPromotion(run: Run, byUser: boolean): void {
  const { view, status } = run;
  if (!byUser) {
    const gate = run.gate('confirm-promotion');
    if (!gate) return;
    if (!gate.ok) {
      if (run.phase !== 'WaitingPromotion') {
        run.setPhase(
          'WaitingPromotion',
          `WaitingPromotion: confirm-promotion gate is closed: ${gate.message}`,
        );
        run.alert('waiting-approval', 'info', `Canary is waiting for approval (promotion)`);
      } else {
        const msg = `WaitingPromotion: confirm-promotion gate is closed: ${gate.message}`;
        if (run.deadlineExceeded()) return deadlineRollback(run, msg);
        status.message = msg;
      }
      return;
    }
  }
  copyToPrimary(run);
  run.setPhase(
    'Promoting',
    `Promoting: copying ${view.spec.targetRef.name} to ${view.spec.targetRef.name}-primary`,
  );
  run.requeueAfterMs = POLL_MS;
}

/**
 * The promotion's first step: the primary gets the canary's template. The controller applies the
 * actions before it writes status, so when this status is written the primary's template carries
 * the revision: it is recorded as promoted in the same write (issue 12: one status write less than
 * recording it once the primary's watch event shows it). A lost write is mended by promotionLanded.
 */
function copyToPrimary(run: Run): void {
  run.act({ type: 'promotePrimary' });
  run.status.lastPromotedSpec = run.status.lastAppliedSpec;
}

function promoting(run: Run): void {
  const { obs, status, view } = run;
  // The primary's own template is the truth about what was promoted, whatever status said before.
  const landed = obs.primary.revision === status.lastAppliedSpec;
  if (landed) status.lastPromotedSpec = status.lastAppliedSpec;
  if (obs.revision !== status.lastAppliedSpec) {
    // Never promote what analysis did not see: a newer revision goes through analysis first.
    run.setPhase('Progressing', 'Progressing: new revision during promotion, restarting analysis');
    return startRun(run, 'revision changed during promotion');
  }
  run.act({ type: 'promotePrimary' }); // idempotent; makes a crash between phases harmless
  const primary = `${view.spec.targetRef.name}-primary`;
  if (!landed || obs.primary.readyPercent < view.spec.analysis.primaryReadyThreshold) {
    status.message = `Promoting: waiting for ${primary} to roll out (${obs.primary.readyPercent}% ready)`;
    if (run.deadlineExceeded()) {
      // Once the primary carries the new template there is nothing to roll back to: say so.
      if (landed) return promotionStalled(run, primary);
      // The primary never showed the copied template (reverted by hand meanwhile?): what it runs
      // is the promoted revision, so an idle Canary does not copy the failed one to it.
      if (obs.primary.revision) status.lastPromotedSpec = obs.primary.revision;
      return rollback(run, 'Progress deadline exceeded while promoting');
    }
    run.awaitWatched();
    return;
  }
  const stepBack = view.spec.analysis.stepWeightPromotion;
  const weight = status.canaryWeight ?? 0;
  if (stepBack && weight > 0) {
    if (!run.tickDue()) return;
    status.lastAnalysisTime = run.now;
    const canary = Math.max(0, weight - stepBack);
    status.canaryWeight = canary;
    // The step routes end with the run (Argo removes its managed routes when a rollout completes).
    delete status.stepRoutes;
    run.act({ type: 'setTraffic', traffic: { primary: 100 - canary, canary } });
    status.message = `Promoting: moved traffic back to primary, canary weight ${canary}`;
    run.madeProgress(run.intervalMs);
    if (canary > 0) return;
  } else {
    run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
    status.canaryWeight = 0;
    delete status.stepRoutes;
  }
  run.act({ type: 'scaleCanary', replicas: 0 });
  run.setPhase('Finalising', 'Finalising: scaling the canary down');
  run.requeueAfterMs = POLL_MS;
}

function finalising(run: Run): void {
  const { status } = run;
  run.act({ type: 'scaleCanary', replicas: 0 });
  status.lastPromotedSpec = status.lastAppliedSpec;
  status.canaryWeight = 0;
  delete status.canaryScale;
  delete status.stepRoutes;
  run.setPhase('Succeeded', 'Succeeded: canary analysis completed successfully, promotion finished');
  run.act({ type: 'runHooks', hookType: 'post-rollout' });
  run.alert('promoted', 'info', `Canary analysis completed successfully, promotion finished`);
}

/** The primary got the new template but did not become ready in time: Failed, never "RolledBack". */
function promotionStalled(run: Run, primary: string): void {
  const { status, view } = run;
  run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
  run.act({ type: 'scaleCanary', replicas: 0 });
  status.canaryWeight = 0;
  delete status.stepRoutes;
  const reason = `${primary} carries revision ${status.lastAppliedSpec} but did not become ready within ${view.spec.progressDeadlineSeconds}s`;
  run.setPhase('Failed', `PromotionStalled: ${reason}`);
  run.act({ type: 'runHooks', hookType: 'post-rollout' });
  run.alert('rolled-back', 'error', `Canary promotion stalled, not rolled back: ${reason}`);
}

/**
 * analysis.onFailure: freeze. No traffic or scale action: the routes stay at the weight of the
 * failing step (drift repair keeps them there, see expectedTraffic). A promote or retry requested
 * before the freeze (a promote held by a user pause) answered another situation, so it is used up
 * here: only a request made while Frozen ends the freeze.
 */
function freeze(run: Run, reason: string): void {
  const { status, view } = run;
  run.handled('promote');
  run.handled('retry');
  status.frozenAt = run.now;
  const until = frozenUntil(view.spec, status)!;
  const weight = status.canaryWeight ?? 0;
  run.setPhase('Frozen', `Frozen: ${reason}`);
  run.alert(
    'frozen',
    'error',
    `Canary analysis failed, frozen at canary weight ${weight}: waiting for weir promote, abort or retry until ${until.toISOString()}, then it rolls back: ${reason}`,
  );
  run.requeueAfterMs = until.getTime() - run.obs.now.getTime();
}

/**
 * Frozen: nothing is measured and no weight moves; only a person (or the deadline) ends it. Abort
 * rolls back, promote copies the canary to primary now, retry resumes analysis at the held weight
 * with the failed checks reset, a new revision of the target starts a new run.
 */
function frozen(run: Run): void {
  const { obs, status, view } = run;
  if (promotionLanded(run)) return;
  const until = frozenUntil(view.spec, status);
  const why = (status.message ?? '').replace(/^Frozen: /, '');
  if (run.pending('abort')) {
    run.handled('abort');
    return rollback(run, `aborted by user while frozen (${why})`);
  }
  if (obs.revision !== status.lastAppliedSpec) {
    delete status.frozenAt;
    run.alert('restarted', 'info', `New revision detected while frozen, restarting`);
    run.setPhase('Progressing', 'Progressing: new revision while frozen, restarting from zero');
    return startRun(run, 'revision changed while frozen', true);
  }
  if (run.pending('promote')) {
    run.handled('promote');
    delete status.frozenAt;
    return beginPromotion(run, true);
  }
  if (run.pending('retry')) return resumeFromFreeze(run);
  if (!until) {
    status.frozenAt = run.now; // a Frozen status without any time (hand-written): start counting now
    run.requeueAfterMs = POLL_MS;
    return;
  }
  const left = until.getTime() - obs.now.getTime();
  if (left <= 0)
    return rollback(
      run,
      `freeze deadline exceeded (${freezeWaitText(view.spec)}) without weir promote, abort or retry; frozen because: ${why}`,
    );
  run.requeueAfterMs = left;
}

/** `weir retry` on a Frozen run: analysis starts again where the run froze, failed checks at 0. */
function resumeFromFreeze(run: Run): void {
  const { status } = run;
  run.handled('retry');
  delete status.frozenAt;
  delete status.pauseStartTime;
  delete status.measurements;
  status.failedChecks = 0;
  run.setPhase(
    'Progressing',
    `Progressing: retry requested while frozen, analysis resumes at canary weight ${status.canaryWeight ?? 0}`,
  );
  run.requeueAfterMs = POLL_MS;
}

function rollback(run: Run, reason: string): void {
  const { status } = run;
  run.act({ type: 'setTraffic', traffic: { primary: 100, canary: 0 } });
  run.act({ type: 'scaleCanary', replicas: 0 });
  status.canaryWeight = 0;
  delete status.pauseStartTime;
  delete status.frozenAt;
  delete status.canaryScale;
  delete status.stepRoutes;
  run.setPhase('Failed', `RolledBack: ${reason}`);
  run.act({ type: 'runHooks', hookType: 'post-rollout' });
  run.alert('rolled-back', 'error', `Canary failed, rolled back: ${reason}`);
}
