// The GitSync controller: its own informer events and work queue, in the same process (and under the
// same leader election) as the canary controller. A reconcile syncs when one is due — the spec
// changed, the interval elapsed, the receiver or `weir sync gitsync` (annotation
// weir.dev/sync-requested) asked — and otherwise only refreshes what its Canaries are doing. A sync
// is fetch -> build -> apply -> prune, all or nothing up to apply, prune only after a clean apply;
// then one status patch, events and metrics.
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { V1Secret } from '@kubernetes/client-node';
import type { GitSyncSpec, GitSyncStatus } from '../api/gitsync.ts';
import { GROUP, VERSION } from '../api/kinds.ts';
import { formatProblems, validateObject } from '../api/validate.ts';
import type { Caches, CanaryObject } from '../canary/context.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { Config } from '../config.ts';
import { describeError } from '../errors.ts';
import type { Kube, Obj } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { RESOURCES } from '../kube/informers.ts';
import { WorkQueue } from '../kube/queue.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../server/metrics.ts';
import { GIT_REVISION_ANNOTATION, type AppliedRecord } from './apply.ts';
import { DEFAULT_LIMITS, type BuildLimits } from './build.ts';
import { OPEN_POLICY, checkoutDir, clampDelay, isCheckoutOf } from './policy.ts';
import { registerReceiver } from './receiver.ts';
import { createApiClient, type ApiClient } from '../kube/rest.ts';
import { nextStatus, sameStatus, type CanarySummary, type Outcome } from './status.ts';
import { syncOnce, type SyncReport } from './sync.ts';
import { cacheLookup, reconcileRollbacks, type RollbackSyncResult } from './rollback-sync.ts';
import { scratchDirOf } from './writeback.ts';

export const SYNC_REQUEST_ANNOTATION = 'weir.dev/sync-requested';

export interface GitSyncObject extends Obj {
  metadata: Obj['metadata'] & { name: string; namespace: string };
  spec: GitSyncSpec;
  status?: GitSyncStatus;
}

export interface GitSyncDeps {
  kube: Kube;
  caches: Caches;
  config: Pick<Config, 'gitCacheDir' | 'workers'> & Partial<Pick<Config, 'gitsync'>>;
  metrics: Metrics;
  recorder: EventRecorder;
  log: Logger;
  /** The API client for applied objects (tests and benchmarks pass one to count writes). */
  api?: ApiClient;
  limits?: BuildLimits;
  now?: () => Date;
}

export interface GitSyncController {
  readonly queue: WorkQueue;
  readonly api: ApiClient;
  watch(): void;
  run(): Promise<void>;
  stop(): void;
  registerReceiver(app: FastifyInstance): void;
  /** An immediate sync: queued here when this replica leads, else requested through the annotation. */
  requestSync(namespace: string, name: string): Promise<void>;
  /** What the last sync of a GitSync did (for tests, benchmarks and debugging). */
  lastReport(namespace: string, name: string): SyncReport | undefined;
}

interface KeyState {
  nextSyncAt: number;
  forced: boolean;
  failures: number;
  memory: Map<string, AppliedRecord>;
  /** The status last written (the informer may lag behind it). */
  status?: GitSyncStatus | undefined;
  generation?: number | undefined;
  lastReport?: SyncReport | undefined;
  lastSkipped?: string | undefined;
  uid?: string | undefined;
  /** Failed rollback write-backs and when each may be tried again. */
  writeBackRetries: Map<string, { at: number; failures: number }>;
}

/** The target's name when `d` is a Canary's `<target>-primary` copy (owned by the Canary). */
export function targetOfPrimary(d: Obj): string | undefined {
  const name = d.metadata?.name ?? '';
  if (!name.endsWith(PRIMARY_SUFFIX)) return undefined;
  const ownedByCanary = (d.metadata?.ownerReferences ?? []).some(
    (o) => o.kind === 'Canary' && o.apiVersion.startsWith(`${GROUP}/`),
  );
  return ownedByCanary ? name.slice(0, -PRIMARY_SUFFIX.length) : undefined;
}
const PRIMARY_SUFFIX = '-primary';

export function createGitSyncController(deps: GitSyncDeps): GitSyncController {
  const queue = new WorkQueue({ workers: deps.config.workers });
  const api = deps.api ?? createApiClient(deps.kube.kc);
  const now = deps.now ?? (() => new Date());
  const states = new Map<string, KeyState>();
  let running = false;

  const stateOf = (key: string): KeyState => {
    let s = states.get(key);
    if (!s) {
      s = { nextSyncAt: 0, forced: false, failures: 0, memory: new Map(), writeBackRetries: new Map() };
      states.set(key, s);
    }
    return s;
  };
  const policy = deps.config.gitsync ?? OPEN_POLICY;
  const cacheRoot = deps.config.gitCacheDir;
  /** Removes the checkouts of GitSync `ns/name` (every uid, or all but `keepUid`'s). */
  async function removeCheckouts(ns: string, name: string, keepUid?: string): Promise<void> {
    const entries = await readdir(join(cacheRoot, ns)).catch(() => [] as string[]);
    for (const e of entries)
      // `e === name`: the layout before checkouts carried the uid.
      if ((e === name || isCheckoutOf(e, name)) && (!keepUid || e !== `${name}-${keepUid}`))
        await rm(join(cacheRoot, ns, e), { recursive: true, force: true }).catch(() => undefined);
  }
  let rootReady: Promise<void> | undefined;
  /** The checkout root is private to the controller's user (0700), made once. */
  const ensureRoot = () =>
    (rootReady ??= mkdir(cacheRoot, { recursive: true, mode: 0o700 })
      .then(() => chmod(cacheRoot, 0o700))
      .catch(() => undefined));
  const getGitSync = (ns: string, name: string) =>
    deps.caches.gitSync?.get(ns, name) as GitSyncObject | undefined;

  async function readSecret(ns: string, name: string): Promise<V1Secret | undefined> {
    const cached = (await deps.caches.secret?.load(ns, name)) as V1Secret | undefined;
    if (cached) return cached;
    return deps.kube.get<V1Secret & Obj>({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name });
  }

  /** Canaries this GitSync applies, with their phase and the Git revision of their target. */
  function canaries(inventory: GitSyncStatus['inventory']): CanarySummary[] {
    const out: CanarySummary[] = [];
    for (const e of inventory ?? []) {
      if (e.kind !== 'Canary' || !e.apiVersion.startsWith(`${GROUP}/`) || !e.namespace) continue;
      const c = deps.caches.canary?.get(e.namespace, e.name) as CanaryObject | undefined;
      if (!c) continue;
      const target = deps.caches.deployment?.get(e.namespace, c.spec?.targetRef?.name ?? '');
      const rev = target?.metadata?.annotations?.[GIT_REVISION_ANNOTATION];
      out.push({
        name: e.name,
        namespace: e.namespace,
        ...(c.status?.phase ? { phase: c.status.phase } : {}),
        ...(rev ? { gitRevision: rev } : {}),
      });
    }
    return out;
  }

  /**
   * `namespace/name` of every Deployment a Canary in the cluster targets. The Canary cache holds only
   * this controller's shard (docs/sharding.md), so the `<target>-primary` Deployments that Canaries
   * own count too: a Deployment whose Canary another shard runs keeps its replicas to that shard.
   */
  function clusterCanaryTargets(): Set<string> {
    const out = new Set<string>();
    for (const c of (deps.caches.canary?.list() ?? []) as CanaryObject[]) {
      const t = c.spec?.targetRef?.name;
      if (t) out.add(`${c.metadata.namespace}/${t}`);
    }
    for (const d of deps.caches.deployment?.list() ?? []) {
      const target = targetOfPrimary(d);
      if (target) out.add(`${d.metadata?.namespace}/${target}`);
    }
    return out;
  }

  /** Rollbacks of the Canaries in `inventory`: pinned in status or written back to Git. */
  function rollbacks(
    obj: GitSyncObject,
    spec: GitSyncSpec,
    st: KeyState,
    previous: GitSyncStatus,
    inventory: GitSyncStatus['inventory'],
    log: Logger,
  ): Promise<RollbackSyncResult> {
    const { namespace, name, uid } = obj.metadata;
    return reconcileRollbacks({
      owner: { namespace, name },
      spec,
      inventory: inventory ?? [],
      previous: previous.rollbacks ?? [],
      lookup: cacheLookup(
        (ns, n) => deps.caches.canary?.get(ns, n),
        (ns, n) => deps.caches.deployment?.get(ns, n),
      ),
      readSecret,
      scratchDir: scratchDirOf(checkoutDir(cacheRoot, namespace, name, uid ?? 'unknown')),
      timeoutMs: clampDelay(parseDuration(spec.timeout ?? '60s')),
      allowFile: policy.allowFileUrls,
      retries: st.writeBackRetries,
      log,
    });
  }

  /**
   * After the rollbacks: an Event for each new pin or write-back, then sync at once when a commit
   * landed on the synced branch, else retry a failed write-back when due.
   */
  async function afterRollbacks(
    obj: GitSyncObject,
    key: string,
    st: KeyState,
    r: RollbackSyncResult,
  ): Promise<void> {
    for (const rec of r.changed)
      await record(
        obj,
        rec.state === 'Pinned' ? 'Warning' : 'Normal',
        rec.state === 'Pinned' ? 'RollbackPinned' : 'RollbackWrittenBack',
        rec.message,
      );
    if (r.pushedToSyncedBranch) {
      st.forced = true;
      queue.add(key);
    } else if (r.retryAfterMs !== undefined) queue.addAfter(key, clampDelay(r.retryAfterMs));
  }

  async function writeStatus(obj: GitSyncObject, st: KeyState, status: GitSyncStatus): Promise<void> {
    const current = st.status ?? obj.status ?? {};
    if (sameStatus(current, status)) return;
    await deps.kube.patchStatus(
      {
        ...RESOURCES.gitSync,
        group: GROUP,
        version: VERSION,
        plural: RESOURCES.gitSync.plural,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
      },
      status,
    );
    st.status = status;
  }

  async function record(
    obj: GitSyncObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    await deps.recorder.record(
      {
        apiVersion: obj.apiVersion ?? RESOURCES.gitSync.apiVersion,
        kind: 'GitSync',
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
      },
      type,
      reason,
      message,
    );
  }

  async function reconcile(obj: GitSyncObject, key: string, log: Logger): Promise<void> {
    let st = stateOf(key);
    if (st.uid && st.uid !== obj.metadata.uid) {
      // Deleted and created again under the same name: nothing of the old one applies.
      states.delete(key);
      st = stateOf(key);
    }
    if (st.uid !== obj.metadata.uid && obj.metadata.uid)
      await removeCheckouts(obj.metadata.namespace, obj.metadata.name, obj.metadata.uid);
    st.uid = obj.metadata.uid;
    const { namespace: ns, name } = obj.metadata;
    const generation = obj.metadata.generation ?? 0;
    // The status we wrote last may not be in the cache yet; it is the truth for what we did.
    const previous: GitSyncStatus =
      st.status && (obj.status?.observedGeneration ?? 0) <= (st.status.observedGeneration ?? 0)
        ? st.status
        : (obj.status ?? {});
    const labels = { name, namespace: ns };
    if (obj.metadata.deletionTimestamp) return;

    const { object, problems } = validateObject({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name, namespace: ns },
      spec: obj.spec,
    });
    const syncRequest = obj.metadata.annotations?.[SYNC_REQUEST_ANNOTATION];
    if (problems.length) {
      const message = `spec is invalid: ${formatProblems(problems).replace(/\n/g, '; ')}`;
      const outcome: Outcome = { ok: false, reason: 'InvalidSpec', message, stalled: true };
      await writeStatus(obj, st, nextStatus({ previous, generation, outcome, canaries: [], now: now() }));
      deps.metrics.gitsyncReady.set(labels, 0);
      return;
    }
    const spec = object.spec as GitSyncSpec;
    if (spec.suspend) {
      // Suspended: nothing fetched or applied; only the generation is acknowledged.
      await writeStatus(obj, st, { ...previous, observedGeneration: generation });
      return;
    }
    const intervalMs = clampDelay(parseDuration(spec.interval ?? '1m'));
    const due =
      st.forced ||
      generation !== previous.observedGeneration ||
      (!!syncRequest && syncRequest !== previous.lastHandledSyncRequest) ||
      Date.now() >= st.nextSyncAt;
    if (!due) {
      const rb = await rollbacks(obj, spec, st, previous, previous.inventory, log);
      const status = nextStatus({
        previous,
        generation,
        canaries: canaries(previous.inventory),
        rollbacks: rb.records,
        now: now(),
      });
      await writeStatus(obj, st, status);
      queue.addAfter(key, clampDelay(st.nextSyncAt - Date.now()));
      await afterRollbacks(obj, key, st, rb);
      return;
    }
    st.forced = false;
    const started = Date.now();
    await ensureRoot();
    const report = await syncOnce({
      api,
      obj,
      spec,
      previousInventory: previous.inventory ?? [],
      dir: checkoutDir(cacheRoot, ns, name, obj.metadata.uid ?? 'unknown'),
      memory: st.memory,
      canaryTargets: clusterCanaryTargets(),
      readSecret,
      limits: deps.limits ?? DEFAULT_LIMITS,
      policy,
      cacheRoot,
      log,
    });
    st.lastReport = report;
    const { outcome } = report;
    const inventory = outcome.inventory ?? previous.inventory;
    const rb = await rollbacks(obj, spec, st, previous, inventory, log);
    const status = nextStatus({
      previous,
      generation,
      syncRequest,
      outcome,
      canaries: canaries(inventory),
      rollbacks: rb.records,
      now: now(),
    });
    await writeStatus(obj, st, status);
    deps.metrics.gitsyncDuration.observe(labels, (Date.now() - started) / 1000);
    deps.metrics.gitsyncReady.set(labels, outcome.ok ? 1 : 0);

    const prevReady = previous.conditions?.find((c) => c.type === 'Ready');
    if (outcome.ok) {
      st.failures = 0;
      deps.metrics.gitsyncLastApplied.set(labels, Date.now() / 1000);
      if (report.applyMessage) await record(obj, 'Normal', 'Applied', report.applyMessage);
      if (report.pruneMessage) await record(obj, 'Normal', 'Pruned', report.pruneMessage);
      if (report.skipMessage && report.skipMessage !== st.lastSkipped)
        await record(obj, 'Normal', 'Skipped', report.skipMessage);
      st.lastSkipped = report.skipMessage;
      st.nextSyncAt = Date.now() + intervalMs;
      log.info({ revision: outcome.revision, ms: Date.now() - started, changed: outcome.changed }, 'synced');
    } else {
      if (prevReady?.status !== 'False' || prevReady.message !== outcome.message)
        await record(obj, 'Warning', outcome.reason, outcome.message);
      // Stalled waits for a new revision (next interval) or spec change; the rest backs off.
      const delay = outcome.stalled ? intervalMs : Math.min(intervalMs, 1000 * 2 ** st.failures++);
      st.nextSyncAt = Date.now() + delay;
      log.warn({ reason: outcome.reason, retryInMs: delay }, outcome.message);
    }
    queue.addAfter(key, clampDelay(st.nextSyncAt - Date.now()));
    await afterRollbacks(obj, key, st, rb);
  }

  async function reconcileKey(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const log = deps.log.child({ gitsync: key });
    const end = deps.metrics.reconcileDuration.startTimer({ kind: 'GitSync' });
    deps.metrics.queueDepth.set({ kind: 'GitSync' }, queue.depth());
    const obj = getGitSync(ns, name);
    if (!obj) {
      states.delete(key);
      await removeCheckouts(ns, name);
      for (const g of [deps.metrics.gitsyncReady, deps.metrics.gitsyncLastApplied])
        g.remove({ name, namespace: ns });
      end({ result: 'gone' });
      return;
    }
    try {
      await reconcile(obj, key, log);
      queue.forget(key);
      end({ result: 'ok' });
    } catch (err) {
      const delay = queue.addRateLimited(key);
      log.error({ err: describeError(err), retryInMs: delay }, 'reconcile failed');
      end({ result: 'error' });
    }
  }

  const controller: GitSyncController = {
    queue,
    api,
    watch() {
      const keyOf = (o: Obj) => `${o.metadata?.namespace}/${o.metadata?.name}`;
      deps.caches.gitSync?.on((o) => queue.add(keyOf(o)));
      // A Canary's phase shows in the status of the GitSyncs that apply it.
      deps.caches.canary?.on((c) => {
        for (const g of (deps.caches.gitSync?.list() ?? []) as GitSyncObject[]) {
          const inv = (states.get(keyOf(g))?.status ?? g.status)?.inventory ?? [];
          if (
            inv.some(
              (e) =>
                e.kind === 'Canary' && e.name === c.metadata?.name && e.namespace === c.metadata?.namespace,
            )
          )
            queue.add(keyOf(g));
        }
      });
    },
    run() {
      running = true;
      return queue.run(reconcileKey);
    },
    stop() {
      running = false;
      queue.stop();
      api.close();
    },
    registerReceiver(app) {
      registerReceiver(app, {
        log: deps.log,
        webhookSecretName: (ns, name) => getGitSync(ns, name)?.spec?.webhookSecretRef?.name,
        secretToken: async (ns, secretName) => {
          const s = await readSecret(ns, secretName).catch(() => undefined);
          const v = s?.data?.token;
          return v ? Buffer.from(v, 'base64').toString('utf8') : undefined;
        },
        trigger: (ns, name) => controller.requestSync(ns, name),
      });
    },
    async requestSync(ns, name) {
      const key = `${ns}/${name}`;
      if (running) {
        stateOf(key).forced = true;
        queue.add(key);
        return;
      }
      // Not leading: ask the leader through the annotation it watches.
      await deps.kube.mergePatch(
        { ...RESOURCES.gitSync, namespace: ns, name },
        { metadata: { annotations: { [SYNC_REQUEST_ANNOTATION]: new Date().toISOString() } } },
      );
    },
    lastReport(ns, name) {
      return states.get(`${ns}/${name}`)?.lastReport;
    },
  };
  return controller;
}
