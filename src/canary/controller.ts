// The canary controller: informer events -> keyed work queue -> reconcile. A reconcile reads the
// caches, asks decide() what to do, applies the cluster actions, writes status in one patch, then
// runs the side effects. Gate webhooks and metric queries decide() asks for are gathered by a
// background job (gather.ts) whose end requeues the Canary: no slow call holds a worker.
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { CanarySpec, CanaryStatus, PendingAlert, WebhookType } from '../api/canary.ts';
import type { MetricTemplateSpec } from '../api/metric-template.ts';
import { GROUP, VERSION } from '../api/kinds.ts';
import { ValidationMemo } from '../api/validate.ts';
import { runAnalysis } from '../analysis/evaluate.ts';
import type { Config } from '../config.ts';
import { describeError, isWeirError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import { runGate } from '../hooks/webhooks.ts';
import type { Kube, Obj } from '../kube/client.ts';
import { revisionNumber } from '../kube/compare.ts';
import { InFlightWrites } from '../kube/in-flight.ts';
import type { EventRecorder } from '../kube/events.ts';
import { cacheKeyOf, RESOURCES, type ResourceType } from '../kube/resources.ts';
import { WorkQueue } from '../kube/queue.ts';
import type { Logger } from '../log.ts';
import { providerResources } from '../routing/registry.ts';
import type { Metrics } from '../server/metrics.ts';
import { applyAction, REVISION_MOVED } from './apply.ts';
import { buildContext, observe, type Caches, type CanaryContext, type CanaryObject } from './context.ts';
import { decide } from './decide.ts';
import { repairDrift, WriteLog } from './drift.ts';
import { Gatherer, jobBoundMs, stampOf, type Gathered, type Wanted } from './gather.ts';
import { decodeSecret, runEffects, sendAlerts } from './effects.ts';
import { finalizeCanary } from './finalize.ts';
import { metricsMeasuredAt } from './measurement-limits.ts';
import type { CanaryView, Decision, Observations } from './model.ts';
import { AlertOutbox, enqueueAlerts, samePending } from './outbox.ts';
import { QuietRuns } from './quiet.ts';
import { Slots } from './slots.ts';
import { RefIndex, refOf, specRefs } from './ref-index.ts';
import { statusWrite } from './status-write.ts';
import { windowState } from './window.ts';
import { holdsSlot } from './admission.ts';
import { parseDuration } from './strategy.ts';
import { forgetRevision, imagesOf } from './targets.ts';

export interface ControllerDeps {
  kube: Kube;
  caches: Caches;
  config: Config;
  metrics: Metrics;
  recorder: EventRecorder;
  log: Logger;
  now?: () => Date;
}

const SLOW_REQUEUE_MS = 60_000;
/** How long a watch event's reconcile waits for the rest of its burst (see watch()). */
const COALESCE_MS = 100;
/** A cache that has not shown a write of an earlier reconcile yet is looked at again this soon for drift. */
const DRIFT_RECHECK_MS = 2_000;

/** The Canary as the subject of an Event. */
function eventSubjectOf(obj: CanaryObject) {
  return {
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
    uid: obj.metadata.uid!,
  };
}
/** The Canary's status subresource, for Kube.patchStatus and Kube.jsonPatchStatus. */
function statusRefOf(at: { namespace?: string; name: string }) {
  return { ...RESOURCES.canary, group: GROUP, version: VERSION, namespace: at.namespace, name: at.name };
}
/** Set on a Canary's target by GitSync (src/gitsync/apply.ts). */
const GIT_REVISION_ANNOTATION = 'weir.dev/git-revision';
/**
 * How long a reconcile waits for the cache to show this controller's own status write. Well above
 * the 2 s requeue of the promotion phases, so a lagging watch delays a step instead of repeating it.
 */
const OWN_WRITE_WAIT_MS = 15_000;

export class CanaryController {
  readonly queue: WorkQueue;
  private readonly now: () => Date;
  /**
   * resourceVersions of a Canary around its last status patch here: `before` (what the reconcile
   * read) and `after` (what the patch returned). A cache older than `after` has not seen the write:
   * deciding from it would redo the last step (a second analysis tick, a duplicate event or alert),
   * e.g. when the route's watch event arrives before the Canary's. The Canary's own update event
   * requeues it; the deadline covers a watch that never catches up (the informer then re-lists).
   */
  private readonly ownWrites = new Map<string, OwnWrite>();
  /** Status writes awaiting their answer (in-flight.ts). */
  private readonly statusInFlight = new InFlightWrites();

  /** When this process last patched each Canary's status (readiness reports wait for an interval, see status-write.ts). */
  private readonly lastStatusWrite = new Map<string, number>();

  /** Gate webhooks and metric queries, gathered off the workers (see gather.ts). */
  private readonly gatherer: Gatherer;

  /** Canaries in a run reconciled without change: said at info once a minute (see quiet.ts). */
  private readonly quiet = new QuietRuns();

  /** Pending alerts (status.pendingAlerts) this process is sending or has sent (see outbox.ts). */
  private readonly alerts = new AlertOutbox();

  /** What this controller wrote, so that a lagging cache is not taken for drift (drift.ts). */
  private readonly writes = new WriteLog();

  /** The Canaries each workload's or HPA's events concern, from their specs (ref-index.ts). */
  private readonly targets = new RefIndex();

  /** The Canaries each ConfigMap's or Secret's events concern: what their last reconcile read. */
  private readonly contents = new RefIndex();

  /** Each Canary's spec validated once per generation, not once per reconcile. */
  private readonly validated = new ValidationMemo();

  /** Concurrency limits: who holds a slot, and runs admitted here not in the cache yet (slots.ts). */
  private readonly slots: Slots;

  constructor(private readonly deps: ControllerDeps) {
    this.queue = new WorkQueue({ workers: deps.config.workers });
    this.now = deps.now ?? (() => new Date());
    this.gatherer = new Gatherer({ onDone: (key) => this.queue.add(key), log: deps.log });
    this.slots = new Slots(deps.config.limits);
  }

  /**
   * Maps informer events to Canary keys: the Canary itself, its workloads, configs and routes. The
   * echo of this controller's own write (an object whose resourceVersion is the one our write
   * returned) requeues nothing: the reconcile that wrote it already asked for its next look, and
   * about a third of a rollout's reconciles were such echoes (docs/performance.md).
   */
  watch(): void {
    const { caches } = this.deps;
    // One status write shows up as several events (the Canary's, its route's, its Deployments'),
    // and the kube-controller-manager updates a Deployment's status in several quick steps: keys
    // from watch events wait COALESCE_MS, so such a burst costs one reconcile, not one per event.
    const enqueue = (o: Obj) =>
      this.queue.addAfter(`${o.metadata?.namespace}/${o.metadata?.name}`, COALESCE_MS);
    caches.canary?.on((o, kind) => {
      const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
      const rv = o.metadata?.resourceVersion;
      const ours = kind === 'update' && this.isOwnStatusEcho(key, o);
      if (!ours && !(kind === 'update' && this.statusInFlight.hold(key, rv, () => enqueue(o)))) enqueue(o);
      if (kind === 'delete') {
        this.targets.delete(key);
        this.contents.delete(key);
        this.validated.forget(o.metadata?.uid);
      } else this.targets.file(key, specRefs(o.metadata?.namespace ?? '', (o as CanaryObject).spec));
      // A run that ended (or a Canary that left) frees a slot: the queued ones look at once.
      const phase = (o as CanaryObject).status?.phase;
      if (this.slots.limited && (kind === 'delete' || !holdsSlot(phase))) this.requeueQueued(o);
    });
    // Workloads, HPAs, ConfigMaps and Secrets requeue the Canaries that refer to them (ref-index.ts).
    const byRef = (index: RefIndex, ref: string, writtenKind: string) => (o: Obj, kind: string) => {
      const requeue = () => {
        for (const key of index.of(refOf(ref, o.metadata?.namespace ?? '', o.metadata?.name ?? '')))
          this.queue.addAfter(key, COALESCE_MS);
      };
      if (kind === 'update' && this.writes.echoOrHeld(writtenKind, o, requeue)) return;
      if (kind === 'delete') this.writes.deleted(writtenKind, o);
      requeue();
    };
    const forgetDeleted = (o: Obj, kind: string) => {
      if (kind === 'delete') forgetRevision(o.metadata?.uid);
    };
    caches.deployment?.on(byRef(this.targets, 'workload', RESOURCES.deployment.kind));
    caches.deployment?.on(forgetDeleted);
    caches.daemonSet?.on(byRef(this.targets, 'workload', RESOURCES.daemonSet.kind));
    caches.daemonSet?.on(forgetDeleted);
    caches.hpa?.on(byRef(this.targets, 'hpa', RESOURCES.hpa.kind));
    caches.configMap?.on(byRef(this.contents, 'configMap', RESOURCES.configMap.kind));
    caches.secret?.on(byRef(this.contents, 'secret', RESOURCES.secret.kind));
    const byLabel = (labelledKind: string) => (o: Obj, kind: string) => {
      const name = o.metadata?.labels?.['weir.dev/canary'];
      const requeue = () => {
        if (name) this.queue.addAfter(`${o.metadata?.namespace}/${name}`, COALESCE_MS);
      };
      if (kind === 'update' && this.writes.echoOrHeld(labelledKind, o, requeue)) return;
      if (kind === 'delete') this.writes.deleted(labelledKind, o);
      requeue();
    };
    // Services and every routing provider's objects carry the weir.dev/canary label: an edit or a
    // deletion requeues the Canary, whose reconcile repairs the drift (drift.ts).
    const labelled = new Map([
      ['service', RESOURCES.service.kind],
      ...providerResources().map((r) => [r.key, r.type.kind] as const),
    ]);
    for (const [key, kind] of labelled) caches[key]?.on(byLabel(kind));
  }

  /**
   * Whether a Canary's update event is only one of our last status writes coming back: its
   * resourceVersion is one those writes returned (a reconcile's write may echo after the alert
   * removal that followed it), and the latest returned object is kept, so no reconcile waits for
   * this event (freshest()).
   */
  private isOwnStatusEcho(key: string, o: Obj): boolean {
    const w = this.ownWrites.get(key);
    const rv = o.metadata?.resourceVersion;
    return !!w?.object && rv !== undefined && w.recent.includes(rv);
  }

  /** Every Queued Canary but `changed` (its own event already requeued it). */
  private requeueQueued(changed: Obj): void {
    const key = `${changed.metadata?.namespace}/${changed.metadata?.name}`;
    for (const c of (this.deps.caches.canary?.list() ?? []) as CanaryObject[]) {
      const other = `${c.metadata.namespace}/${c.metadata.name}`;
      if (c.status?.phase === 'Queued' && other !== key) this.queue.add(other);
    }
  }

  run(): Promise<void> {
    return this.queue.run((key, waitedMs) => this.reconcileKey(key, waitedMs));
  }

  stop(): void {
    this.queue.stop();
  }

  private async reconcileKey(key: string, waitedMs = 0): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const log = this.deps.log.child({ canary: key });
    const end = this.deps.metrics.reconcileDuration.startTimer({ kind: 'Canary' });
    this.deps.metrics.queueDepth.set({ kind: 'Canary' }, this.queue.depth());
    this.deps.metrics.queueWait.observe({ kind: 'Canary' }, waitedMs / 1000);
    try {
      const obj = this.deps.caches.canary?.get(ns, name) as CanaryObject | undefined;
      if (!obj) {
        this.ownWrites.delete(key);
        this.lastStatusWrite.delete(key);
        this.quiet.forget(key);
        this.alerts.forget(key);
        this.gatherer.used(key);
        this.deps.metrics.forgetCanary(ns, name, this.deps.caches.canary?.list(ns).length ?? 0);
        end({ result: 'gone' });
        return;
      }
      const fresh = this.freshest(key, obj, waitedMs);
      if (typeof fresh === 'number') {
        this.queue.addAfter(key, fresh);
        this.tellIfQuiet(key, obj, log, 'the cache to show our last status write');
        end({ result: 'stale' });
        return;
      }
      const requeue = await this.reconcile(fresh, log);
      this.queue.forget(key);
      if (requeue) this.queue.addAfter(key, requeue);
      this.tellIfQuiet(key, obj, log, requeue ? `a look again in ${requeue} ms` : 'a watch event or job');
      end({ result: 'ok' });
    } catch (err) {
      if (isWeirError(err, 'LOADING')) {
        // A referenced Secret/ConfigMap is being read; its arrival requeues too (src/kube/content.ts).
        this.queue.addAfter(key, 2_000);
        log.debug({ reason: err.message }, 'waiting for referenced content');
        const obj = this.deps.caches.canary?.get(ns, name) as CanaryObject | undefined;
        if (obj) this.tellIfQuiet(key, obj, log, `referenced content: ${err.message}`);
        end({ result: 'loading' });
        return;
      }
      const delay = this.queue.addRateLimited(key);
      log.error({ err: describeError(err), retryInMs: delay }, 'reconcile failed');
      end({ result: 'error' });
    }
  }

  private cachedCanaries(): CanaryObject[] {
    return (this.deps.caches.canary?.list() ?? []) as CanaryObject[];
  }

  /** An info line, at most once a minute, while a Canary in a run stays unchanged (see quiet.ts). */
  private tellIfQuiet(key: string, obj: CanaryObject, log: Logger, waitingFor: string): void {
    const ms = this.quiet.check(key, obj.metadata.resourceVersion, obj.status?.phase, Date.now());
    if (ms === undefined) return;
    log.info(
      {
        phase: obj.status?.phase ?? 'Initializing',
        unchangedForS: Math.round(ms / 1000),
        waitingFor,
        status: obj.status?.message,
      },
      'run unchanged for over a minute; still waiting',
    );
  }

  /** One reconcile; returns when to look again (ms). */
  async reconcile(obj: CanaryObject, log: Logger): Promise<number | undefined> {
    const { deps } = this;
    const started = Date.now();
    const kube = this.writes.wrap(deps.kube);
    const routerDeps = {
      kube,
      cached: (t: ResourceType, n: string, nm: string) => deps.caches[cacheKeyOf(t)]?.get(n, nm),
      log,
    };
    const build = () =>
      buildContext(
        obj,
        deps.caches,
        deps.config.defaultProvider,
        routerDeps,
        {
          crossNamespaceRefs: deps.config.crossNamespaceRefs,
        },
        this.validated,
        (wanted) =>
          this.contents.file(
            `${obj.metadata.namespace}/${obj.metadata.name}`,
            wanted.map((w) => refOf(w.cache, w.namespace, w.name)),
          ),
      );
    // Deletion first: a Canary whose target is gone or whose spec is invalid must still go away.
    if (obj.metadata.deletionTimestamp) {
      this.gatherer.used(`${obj.metadata.namespace}/${obj.metadata.name}`);
      return finalizeCanary(obj, build, { ...deps, log, now: this.now });
    }
    let ctx: CanaryContext;
    try {
      ctx = build();
    } catch (err) {
      if (!isWeirError(err) || !['INVALID_SPEC', 'NOT_FOUND'].includes(err.code)) throw err;
      await this.reportProblem(
        obj,
        err.code === 'INVALID_SPEC' ? 'InvalidSpec' : 'TargetNotFound',
        err.message,
        log,
      );
      return SLOW_REQUEUE_MS;
    }
    const obs = observe(ctx, this.now());
    const routesPending = ctx.router.pendingRoutes?.(ctx.route);
    if (routesPending) obs.routesPending = routesPending;
    // From reading the cache for admission to reserving the slot nothing awaits (see slots.ts).
    if (!holdsSlot(obj.status?.phase)) {
      // Only a run not started yet asks the schedule: a closing window does not stop a run.
      if (obj.spec.schedule) obs.window = windowState(obj.spec.schedule, obs.now);
      const admission = this.slots.admission(obj, this.cachedCanaries(), obs.now);
      if (admission) obs.admission = admission;
    }
    const decision = this.decideOffWorker(ctx, obs, log);
    if (decision) this.slots.decided(obj, obj.status?.phase, decision.status.phase, obs.now);
    if (!decision) {
      // Pending alerts minus those this process delivered (their removal is written here).
      const pending = this.alerts.settle(ctx.key, obj.status?.pendingAlerts);
      await this.writePendingAlerts(obj, pending);
      this.sendPendingAlerts(ctx, pending, log);
      return untilDeadline(ctx, obs.now);
    }
    const { status } = decision;
    let drift: string[] | 'lagging';
    try {
      for (const a of decision.actions) {
        const applyDeps = { kube, caches: deps.caches };
        if ((await applyAction(ctx, a, applyDeps, status.lastAppliedSpec)) === REVISION_MOVED) {
          // Nothing promoted and no status written: the next reconcile restarts the analysis.
          log.info('revision changed just before promotion; analysing the new revision first');
          this.gatherer.used(ctx.key);
          return 1;
        }
      }
      const routesSet = decision.actions.some((a) => a.type === 'setTraffic');
      const driftDeps = { kube, caches: deps.caches, writes: this.writes, since: started, routesSet };
      drift = await repairDrift(ctx, status, driftDeps);
    } catch (err) {
      await this.reportProblem(obj, isWeirError(err) ? err.code : 'ApplyFailed', describeError(err), log);
      throw err;
    }
    status.conditions = conditions(status, obj.status?.conditions);
    recordGitRevision(status, ctx);
    if (Object.keys(ctx.checksums).length) status.trackedConfigs = ctx.checksums;
    else delete status.trackedConfigs;
    // Settled after the actions, so an alert delivered (and removed) meanwhile is not written back.
    const pending = this.alerts.settle(ctx.key, obj.status?.pendingAlerts);
    const alerts = this.recordAlerts(ctx, status, decision, pending, log);
    const shown = obj.status && {
      ...obj.status,
      pendingAlerts: this.alerts.afterRemovals(ctx.key, obj.status.pendingAlerts),
    };
    const write = statusWrite(shown, status, {
      now: Date.now(),
      lastWriteAt: this.lastStatusWrite.get(ctx.key),
      intervalMs: parseDuration(ctx.view.spec.analysis.interval),
    });
    if (write.write) {
      await this.writingStatus(ctx.key, async () => {
        const written = await deps.kube.patchStatus(statusRefOf(ctx.view), nullMissing(obj.status, status));
        this.noteOwnWrite(obj, written);
      });
      log.debug(
        { phase: status.phase, weight: status.canaryWeight, status: status.message },
        'status written',
      );
      if (alerts.length) failpoint('after-status-write'); // chaos tests only: die before sending them
    }
    this.sendPendingAlerts(ctx, status.pendingAlerts ?? [], log);
    await runEffects(ctx, decision, {
      caches: deps.caches,
      config: deps.config,
      recorder: deps.recorder,
      log,
    });
    this.record(ctx, obj.status, decision);
    // A readiness report held back (statusWrite) is looked at again when it may be written.
    const requeue = Math.min(decision.requeueAfterMs, ('laterMs' in write && write.laterMs) || Infinity);
    if (drift === 'lagging') return Math.min(requeue, DRIFT_RECHECK_MS);
    for (const message of drift) {
      log.warn({ reason: 'DriftRepaired' }, message);
      await deps.recorder.record(eventSubjectOf(obj), 'Warning', 'DriftRepaired', message);
    }
    return requeue;
  }

  /**
   * Puts the decision's alerts in status.pendingAlerts (the outbox), so that the status patch
   * recording the transition records its alerts too; returns the alerts added.
   */
  private recordAlerts(
    ctx: CanaryContext,
    status: CanaryStatus,
    d: Decision,
    pending: PendingAlert[],
    log: Logger,
  ): PendingAlert[] {
    // With nowhere to send them (no spec.analysis.alerts, no global Slack), alerts are not recorded:
    // each would cost a status write to add and another to remove, and reach no one.
    const anyTarget = !!ctx.view.spec.analysis.alerts?.length || !!this.deps.config.slack;
    const q = enqueueAlerts(pending, anyTarget ? d.actions : [], {
      fields: {
        phase: status.phase ?? '',
        revision: imagesOf(ctx.target),
        weight: status.canaryWeight ?? 0,
        failedChecks: status.failedChecks ?? 0,
        threshold: ctx.view.spec.analysis.threshold,
      },
      time: this.now().toISOString(),
      newId: () => randomBytes(6).toString('hex'),
    });
    for (const p of q.dropped)
      log.warn({ kind: p.kind, time: p.time }, `alert dropped, too many pending: ${p.message}`);
    if (q.pending.length) status.pendingAlerts = q.pending;
    else delete status.pendingAlerts;
    return q.added;
  }

  /**
   * A reconcile with no status write of its own (gathering off the worker) still removes the alerts
   * delivered since the last write: one small patch, recorded as our own write like any other.
   */
  private async writePendingAlerts(obj: CanaryObject, pending: PendingAlert[]): Promise<void> {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    if (samePending(this.alerts.afterRemovals(key, obj.status?.pendingAlerts), pending)) return;
    await this.writingStatus(key, async () => {
      const written = await this.deps.kube.patchStatus(statusRefOf(obj.metadata), {
        pendingAlerts: pending.length ? pending : null,
      });
      this.noteOwnWrite(obj, written);
    });
  }

  /**
   * Sends the pending alerts nobody here is sending yet: those just recorded, and after a restart
   * those the previous process recorded but never delivered. Each one leaves status right after
   * its delivery (removeDelivered), before the next alert is sent.
   */
  private sendPendingAlerts(ctx: CanaryContext, pending: readonly PendingAlert[], log: Logger): void {
    const { deps } = this;
    const fresh = this.alerts.claim(ctx.key, pending);
    const effectDeps = { caches: deps.caches, config: deps.config, recorder: deps.recorder, log };
    sendAlerts(ctx, fresh, effectDeps, (id) => {
      this.alerts.finished(ctx.key, id);
      return this.removeDelivered(ctx, id, log);
    });
  }

  /**
   * Removes a delivered alert from status at once: the shorter the time between delivery and this
   * write, the rarer a duplicate after a crash. Alerts are sent oldest first, so it is the first
   * pending one; the `test` op makes sure of it on the server. Otherwise (or when the write fails)
   * the next reconcile's status write removes it (AlertOutbox.settle), so the Canary is requeued.
   */
  private async removeDelivered(ctx: CanaryContext, id: string, log: Logger): Promise<void> {
    this.alerts.removal(ctx.key, id, true);
    try {
      await this.writingStatus(ctx.key, async () => {
        const written = await this.deps.kube.jsonPatchStatus(statusRefOf(ctx.view), [
          { op: 'test', path: '/status/pendingAlerts/0/id', value: id },
          { op: 'remove', path: '/status/pendingAlerts/0' },
        ]);
        this.noteDirectWrite(ctx.key, written);
      });
      this.alerts.removal(ctx.key, id, false);
    } catch (err) {
      // Off before the requeue: that reconcile's status write is now the one that removes it.
      this.alerts.removal(ctx.key, id, false);
      log.debug({ id, err: describeError(err) }, 'delivered alert left to the next status write');
      this.queue.add(ctx.key);
    }
  }

  /**
   * decide() with what the Canary's background job gathered for it. When decide() asks for gates or
   * metrics, a job starts (one per Canary) and this returns undefined: the worker is free, and the
   * job's end requeues the Canary. Abort, deadline and failed-check rollbacks are decided before
   * any gate is asked, so they never wait behind a job.
   */
  private decideOffWorker(ctx: CanaryContext, obs: Observations, log: Logger): Decision | undefined {
    const { view } = ctx;
    const stamp = stampOf(view, ctx.revision);
    const got = this.gatherer.results(ctx.key, stamp);
    if (got) {
      Object.assign(obs.gates, got.gates);
      if (got.metrics) obs.metrics = got.metrics;
    }
    const d = decide(view, obs);
    if (!('need' in d)) {
      this.gatherer.used(ctx.key);
      return d;
    }
    if (this.gatherer.busy(ctx.key)) return this.rollbackWhileAsking(ctx, obs, d.need.gates);
    const payload = {
      name: view.name,
      namespace: view.namespace,
      phase: view.status.phase ?? 'Initializing',
      checksum: ctx.revision,
    };
    const analysisDeps = this.analysisDeps(log);
    const gather = async (what: Wanted): Promise<Gathered> => {
      const out: Gathered = { gates: {} };
      await Promise.all([
        ...what.gates.map(async (g) => {
          out.gates[g] = await runGate(view.spec.analysis.webhooks, g, payload, { log });
        }),
        (async () => {
          if (what.metrics)
            out.metrics = await runAnalysis(
              {
                spec: measuredSpec(view, obs.now),
                name: view.name,
                namespace: view.namespace,
                provider: ctx.provider,
              },
              analysisDeps,
            );
        })(),
      ]);
      return out;
    };
    log.debug({ gates: d.need.gates, metrics: d.need.metrics }, 'gathering observations off the worker');
    this.gatherer.start(
      ctx.key,
      stamp,
      d.need,
      gather,
      jobBoundMs(view.spec, d.need, (m) => this.metricTimeoutMs(ctx, m)),
    );
    return undefined;
  }

  /**
   * While a job still asks approval gates, decide as if they were closed (no answer yet): a Waiting
   * Canary past its progress deadline rolls back now rather than after a hanging gate's timeout.
   * Only such a rollback is taken; anything else waits for the job.
   */
  private rollbackWhileAsking(
    ctx: CanaryContext,
    obs: Observations,
    asked: WebhookType[],
  ): Decision | undefined {
    const gates = { ...obs.gates };
    for (const g of asked)
      if (g.startsWith('confirm-')) gates[g] = { ok: false, message: 'no answer yet (still asking)' };
    const d = decide(ctx.view, { ...obs, gates });
    if ('need' in d || d.status.phase !== 'Failed' || ctx.view.status.phase === 'Failed') return undefined;
    this.gatherer.used(ctx.key);
    return d;
  }

  /** A metric check's query timeout: its template's, else the controller's default. */
  private metricTimeoutMs(ctx: CanaryContext, metric: string): number {
    const check = ctx.view.spec.analysis.metrics?.find((m) => m.name === metric);
    const ref = check?.templateRef;
    const tpl = ref
      ? (this.deps.caches.metricTemplate?.get(ref.namespace ?? ctx.view.namespace, ref.name) as
          { spec?: MetricTemplateSpec } | undefined)
      : undefined;
    const t = tpl?.spec?.provider?.timeout;
    return t ? parseDuration(t) : this.deps.config.metricTimeoutMs;
  }

  /**
   * One status write of ours (noted inside `write`): events of the Canary that arrive before its
   * answer wait for it, and requeue only if they were not the echo of one of our writes.
   */
  private async writingStatus(key: string, write: () => Promise<void>): Promise<void> {
    this.statusInFlight.begin(key);
    try {
      await write();
    } finally {
      this.statusInFlight.end(
        key,
        (rv) => rv !== undefined && !!this.ownWrites.get(key)?.recent.includes(rv),
      );
    }
  }

  private noteOwnWrite(obj: CanaryObject, written: Obj | undefined): void {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    this.lastStatusWrite.set(key, Date.now());
    const next = ownWriteOf(written);
    this.ownWrites.set(key, {
      before: obj.metadata.resourceVersion,
      ...next,
      recent: withRecent(this.ownWrites.get(key), next.after),
    });
  }

  /**
   * A status write made outside a reconcile (removeDelivered): the next reconcile decides from the
   * later of it and the last recorded write, so it never decides from a copy that misses either.
   */
  private noteDirectWrite(key: string, written: Obj | undefined): void {
    const w = this.ownWrites.get(key);
    const next = ownWriteOf(written);
    const keep = w?.after && next.after && cacheHasSeen(w.after, { after: next.after });
    const recent = withRecent(w, next.after);
    this.ownWrites.set(key, keep ? { ...w, at: Date.now(), recent } : { before: w?.before, ...next, recent });
  }

  /**
   * The Canary to decide from: the cache's copy once it shows this controller's last status write,
   * else the object that write returned, which is the API server's state right after it (never
   * older than the cache). So a lagging watch neither repeats a step nor holds the run. Only a
   * write that returned no object makes the reconcile wait for the cache (ms), up to
   * OWN_WRITE_WAIT_MS. A cache still behind after that is reported with how long this reconcile
   * waited for a worker: a starved queue and a stale cache look alike from here.
   */
  private freshest(key: string, cached: CanaryObject, waitedMs: number): CanaryObject | number {
    const w = this.ownWrites.get(key);
    if (!w || cacheHasSeen(cached.metadata.resourceVersion, w)) {
      this.ownWrites.delete(key);
      return cached;
    }
    const left = w.at + OWN_WRITE_WAIT_MS - Date.now();
    if (left <= 0) {
      this.deps.log.warn(
        { canary: key, cached: cached.metadata.resourceVersion, written: w.after, queuedMs: waitedMs },
        'cache did not show our status write in time',
      );
      w.at = Date.now(); // said again after another OWN_WRITE_WAIT_MS, not at every reconcile
    }
    if (w.object) return w.object;
    if (left > 0) return left;
    this.ownWrites.delete(key);
    return cached;
  }

  private analysisDeps(log: Logger) {
    const { caches, config } = this.deps;
    return {
      getTemplate: (ns: string, name: string) =>
        (caches.metricTemplate?.get(ns, name) as { spec?: MetricTemplateSpec } | undefined)?.spec,
      getSecret: (ns: string, name: string) =>
        decodeSecret(caches.secret?.content(ns, name) as V1Secret | undefined),
      ...(config.prometheusAddress ? { defaultAddress: config.prometheusAddress } : {}),
      defaultTimeoutMs: config.metricTimeoutMs,
      log,
    };
  }

  /** An invalid spec or missing target: Ready=False naming the field, an event, nothing applied. */
  private async reportProblem(
    obj: CanaryObject,
    reason: string,
    message: string,
    log: Logger,
  ): Promise<void> {
    const ready = obj.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'False' && ready.message === message) return;
    log.warn({ reason }, message);
    const now = this.now().toISOString();
    const conds = (obj.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
    conds.push({
      type: 'Ready',
      status: 'False',
      reason,
      message,
      lastTransitionTime: now,
      observedGeneration: obj.metadata.generation ?? 0,
    });
    await this.writingStatus(`${obj.metadata.namespace}/${obj.metadata.name}`, async () => {
      const written = await this.deps.kube.patchStatus(statusRefOf(obj.metadata), {
        conditions: conds,
        message: `${reason}: ${message}`,
      });
      this.noteOwnWrite(obj, written);
    });
    await this.deps.recorder.record(eventSubjectOf(obj), 'Warning', reason, message);
  }

  private record(ctx: CanaryContext, before: CanaryStatus | undefined, d: Decision): void {
    const m = this.deps.metrics;
    const labels = { name: ctx.view.name, namespace: ctx.view.namespace };
    const phase = d.status.phase;
    const weight = d.status.canaryWeight ?? 0;
    m.recordCanary(ctx.view.namespace, ctx.view.name, {
      status: phase === 'Failed' ? 2 : phase && ['Initialized', 'Succeeded'].includes(phase) ? 1 : 0,
      weights: { [ctx.names.target]: weight, [ctx.names.primary]: 100 - weight },
      analysis: Object.fromEntries(
        (d.status.metrics ?? []).flatMap((r) => (r.value !== undefined ? [[r.name, r.value]] : [])),
      ),
    });
    m.canaryTotal.set(
      { namespace: ctx.view.namespace },
      this.deps.caches.canary?.list(ctx.view.namespace).length ?? 0,
    );
    if (before?.phase !== phase && (phase === 'Succeeded' || phase === 'Failed')) {
      (phase === 'Succeeded' ? m.successes : m.failures).inc(labels);
      const started = Date.parse(before?.lastTransitionTime ?? '');
      if (before?.phase && !Number.isNaN(started))
        m.canaryDuration.observe(labels, (Date.now() - started) / 1000);
    }
  }
}

/**
 * The spec as a tick at the run's current step measures it: stepOnly metrics only at their step, and
 * only the metrics due (count, initialDelay); decide() judges no others.
 */
function measuredSpec(view: CanaryView, now: Date): CanarySpec {
  const metrics = metricsMeasuredAt(view.spec, view.status, now.getTime());
  return { ...view.spec, analysis: { ...view.spec.analysis, metrics } };
}

/**
 * While a job gathers observations, look again when the progress deadline falls (its end requeues
 * the Canary anyway): a deadline never waits for a slow gate.
 */
function untilDeadline(ctx: CanaryContext, now: Date): number | undefined {
  const since = Date.parse(ctx.view.status.waitingSince ?? '');
  const left = since + ctx.view.spec.progressDeadlineSeconds * 1000 - now.getTime();
  // Already past and still asking: this phase weighs the deadline after the gate (e.g. Waiting).
  return Number.isNaN(left) || left < 0 ? undefined : left + 100;
}

/** Conditions Ready and Promoted, derived from the phase (transition times kept when unchanged). */
function conditions(
  status: CanaryStatus,
  previous: CanaryStatus['conditions'],
): NonNullable<CanaryStatus['conditions']> {
  const phase = status.phase ?? 'Initializing';
  const now = status.lastTransitionTime ?? new Date().toISOString();
  const make = (type: string, ok: boolean, reason: string, message: string) => {
    const prev = previous?.find((c) => c.type === type);
    const s = ok ? ('True' as const) : ('False' as const);
    return {
      type,
      status: s,
      reason,
      message,
      lastTransitionTime: prev?.status === s ? (prev.lastTransitionTime ?? now) : now,
    };
  };
  const promoted = ['Initialized', 'Succeeded'].includes(phase);
  return [
    make('Ready', phase !== 'Initializing', phase, status.message ?? phase),
    make('Promoted', promoted, phase, status.message ?? phase),
  ];
}

/** Merge patch that also clears status fields the decision removed. */
function nullMissing(before: CanaryStatus | undefined, after: CanaryStatus): Record<string, unknown> {
  const out: Record<string, unknown> = { ...after };
  for (const k of Object.keys(before ?? {})) if (!(k in after)) out[k] = null;
  return out;
}

/** Which Git revision (stamped on the target by GitSync) is running, promoted or rolled back. */
function recordGitRevision(status: CanaryStatus, ctx: CanaryContext): void {
  const git = ctx.target.metadata?.annotations?.[GIT_REVISION_ANNOTATION];
  if (!git) return;
  if (status.lastAppliedSpec === ctx.revision) status.lastAppliedGitRevision = git;
  if (status.lastPromotedSpec === status.lastAppliedSpec && status.lastAppliedGitRevision) {
    status.lastPromotedGitRevision = status.lastAppliedGitRevision;
  }
}

/** What a status write of this controller returned: its resourceVersion and the object. */
interface OwnWrite {
  /** The resourceVersion the reconcile read before writing. */
  before?: string;
  after?: string;
  object?: CanaryObject;
  at: number;
  /**
   * resourceVersions of this controller's last status writes (the reconcile's and the alert
   * removals after it): their echoes may still be on the way when a later write is noted.
   */
  recent: string[];
}

/** How many of the last status writes' resourceVersions are known as echoes. */
const RECENT_WRITES = 4;

/** `recent` with the resourceVersion of the write just made added. */
function withRecent(w: OwnWrite | undefined, after: string | undefined): string[] {
  const recent = [...(w?.recent ?? []), ...(after ? [after] : [])];
  return recent.slice(-RECENT_WRITES);
}

function ownWriteOf(written: Obj | undefined): Omit<OwnWrite, 'before' | 'recent'> {
  const object = written?.metadata ? (written as CanaryObject) : undefined;
  // Kept until the cache catches up; ownership bookkeeping is never read from it.
  if (object) delete object.metadata.managedFields;
  return {
    at: Date.now(),
    ...(object?.metadata.resourceVersion ? { after: object.metadata.resourceVersion } : {}),
    ...(object ? { object } : {}),
  };
}

/**
 * Whether a cached resourceVersion is at or after our write. resourceVersions are etcd revisions,
 * which grow with every write to the API server's store (newer Kubernetes documents comparing them); when one
 * is not an integer, only a change from what the reconcile read counts (a user's patch racing ours
 * is then taken for ours, as before).
 */
export function cacheHasSeen(
  cached: string | undefined,
  write: { before?: string; after?: string },
): boolean {
  if (cached === undefined) return false;
  if (cached === write.after) return true;
  const c = revisionNumber(cached);
  const a = revisionNumber(write.after);
  if (c !== undefined && a !== undefined) return c >= a;
  return cached !== write.before;
}
