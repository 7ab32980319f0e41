// Drift repair: what Weir wrote is read back from the informer caches every reconcile, and an object
// a person deleted or edited (the Services, the provider's routing objects, their weights) is put
// back at once, with a DriftRepaired event, rather than at the next revision. The weights expected
// are those the Canary's status says the last decision set (expectedTraffic); the controller's own
// writes the caches have not shown yet are never taken for drift (WriteLog).
import type { CanarySpec, CanaryStatus } from '../api/canary.ts';
import type { Kube, Obj } from '../kube/client.ts';
import { isSubset, revisionNumber } from '../kube/compare.ts';
import { InFlightWrites } from '../kube/in-flight.ts';
import { cacheKeyOf } from '../kube/resources.ts';
import { servicesOf, type Caches, type CanaryContext } from './context.ts';
import type { Traffic } from './model.ts';
import { sameTraffic } from '../vocab/traffic.ts';
import { strategyOf } from '../api/strategy.ts';

/**
 * The routes the status stands for (a Frozen run holds the weights of its failing step), or undefined where the phase is a transition that decide()
 * itself drives (initializing, promoting, finalising, terminating).
 */
export function expectedTraffic(spec: CanarySpec, status: CanaryStatus): Traffic | undefined {
  switch (status.phase) {
    case 'Initialized':
    case 'Succeeded':
    case 'Failed':
    case 'Waiting':
    case 'Queued':
      return { primary: 100, canary: 0 };
    case 'Progressing':
    case 'WaitingPromotion':
    case 'Frozen': {
      const weight = status.canaryWeight ?? 0;
      const started = (status.iterations ?? 0) >= 1;
      switch (strategyOf(spec)) {
        case 'ab':
          // The match rule is added when the first iteration passes (decide.ts advance()).
          return started ? { primary: 100, canary: 0, match: true } : { primary: 100, canary: 0 };
        case 'bluegreen':
          return started && spec.analysis.mirror
            ? { primary: 100, canary: 0, mirror: true }
            : { primary: 100, canary: 0 };
        default: {
          const routes = status.stepRoutes ?? [];
          return { primary: 100 - weight, canary: weight, ...(routes.length ? { routes } : {}) };
        }
      }
    }
    default:
      return undefined;
  }
}

export { sameTraffic };

const show = (t: Traffic) =>
  `${t.primary}/${t.canary}${t.match ? ' with match' : ''}${t.mirror ? ' with mirror' : ''}${
    t.routes?.length ? ` with step routes ${t.routes.map((r) => r.name).join(', ')}` : ''
  }`;

/** A written object as the WriteLog names it. */
const keyOf = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/**
 * The resourceVersions this controller's writes returned. A cache older than our last write of an
 * object is lagging, not drifted; after `graceMs` without the cache showing it (a watch that missed
 * it, or the object deleted since), the cache is believed again.
 */
export class WriteLog {
  private readonly writes = new Map<string, { rv?: string; at: number }>();
  private readonly inFlight = new InFlightWrites();
  constructor(
    private readonly graceMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** `kube` whose apply and mergePatch note what they wrote. */
  wrap(kube: Kube): Kube {
    return {
      ...kube,
      apply: (obj, manager) =>
        this.writing(keyOf(obj.kind ?? '', obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''), () =>
          kube.apply(obj, manager),
        ),
      mergePatch: <T extends Obj>(ref: Parameters<Kube['mergePatch']>[0], patch: Record<string, unknown>) =>
        this.writing(keyOf(ref.kind, ref.namespace ?? '', ref.name), () => kube.mergePatch<T>(ref, patch)),
    };
  }

  /** One write, noted; watch events of the object that arrive before its answer wait for it. */
  private async writing<T>(key: string, write: () => Promise<T>): Promise<T> {
    this.inFlight.begin(key);
    try {
      const out = await write();
      this.note(out as Obj);
      return out;
    } finally {
      this.inFlight.end(key, (rv) => rv !== undefined && this.writes.get(key)?.rv === rv);
    }
  }

  private note(obj: Obj | undefined): void {
    const m = obj?.metadata;
    if (!obj?.kind || !m?.name) return;
    this.writes.set(keyOf(obj.kind, m.namespace ?? '', m.name), { rv: m.resourceVersion, at: this.now() });
  }

  /**
   * Whether a watch event's object is exactly what our last write of it stored (same
   * resourceVersion): the echo of that write, which tells the reconcile that made it nothing new.
   */
  isEcho(kind: string, obj: Obj): boolean {
    const m = obj.metadata;
    const rv = m?.resourceVersion;
    return rv !== undefined && this.writes.get(keyOf(kind, m?.namespace ?? '', m?.name ?? ''))?.rv === rv;
  }

  /**
   * Whether a watch event's object needs no reconcile from here: it is the echo of our last write
   * (isEcho), or a write of it is in flight, and then `requeue` runs once that write's answer shows
   * the event was not its echo.
   */
  echoOrHeld(kind: string, obj: Obj, requeue: () => void): boolean {
    const m = obj.metadata;
    const key = keyOf(kind, m?.namespace ?? '', m?.name ?? '');
    return this.isEcho(kind, obj) || this.inFlight.hold(key, m?.resourceVersion, requeue);
  }

  /**
   * The object was deleted: the write noted for it is neither pending nor an echo any more, so
   * drift is judged at once (the deletion is what there is to repair). A deletion older than our
   * write (of the copy our write has since re-created) leaves the write pending.
   */
  deleted(kind: string, obj: Obj): void {
    const m = obj.metadata;
    const key = keyOf(kind, m?.namespace ?? '', m?.name ?? '');
    const [gone, ours] = [revisionNumber(m?.resourceVersion), revisionNumber(this.writes.get(key)?.rv)];
    if (gone !== undefined && ours !== undefined && gone < ours) return;
    this.writes.delete(key);
  }

  /** When our last write of the object not yet seen in the cache was made (undefined: none pending). */
  pendingSince(kind: string, namespace: string, name: string): number | undefined {
    return this.writes.get(keyOf(kind, namespace, name))?.at;
  }

  /** Whether `cached` (the cache's copy, undefined when absent) shows our last write of the object. */
  seen(kind: string, namespace: string, name: string, cached: Obj | undefined): boolean {
    const key = keyOf(kind, namespace, name);
    const w = this.writes.get(key);
    if (!w) return true;
    const rv = cached?.metadata?.resourceVersion;
    const [c, a] = [revisionNumber(rv), revisionNumber(w.rv)];
    const caught = rv !== undefined && (rv === w.rv || (c !== undefined && a !== undefined && c >= a));
    if (caught || this.now() - w.at > this.graceMs) {
      this.writes.delete(key);
      return true;
    }
    return false;
  }
}

export interface DriftDeps {
  kube: Kube;
  caches: Caches;
  writes: WriteLog;
  /** When this reconcile started, to tell its own writes from earlier ones. */
  since: number;
  /** Whether this reconcile set the routes (setTraffic): then its own unseen writes hide nothing. */
  routesSet: boolean;
}

/**
 * Repairs what drifted from `status` (the status this reconcile decided). Resolves to one message
 * per repaired object (for DriftRepaired events), or 'lagging' when a cache has not shown one of
 * our writes yet (look again shortly: a change may be hidden behind it). One exception: when this
 * reconcile set the routes and only its own writes are unseen, those objects are what it decided
 * (the whole route, from the current spec), and a change after them requeues the Canary with its
 * own watch event (the echo of our write does not), so the next look is the decision's own.
 * Errors (an object the API server refuses) propagate.
 */
export async function repairDrift(
  ctx: CanaryContext,
  status: CanaryStatus,
  deps: DriftDeps,
): Promise<string[] | 'lagging'> {
  const { view } = ctx;
  if (
    view.spec.suspend ||
    !status.phase ||
    ['Initializing', 'Terminating', 'Terminated'].includes(status.phase)
  )
    return [];
  const ns = view.namespace;
  const repaired: string[] = [];
  // Writes the caches have not shown yet: this reconcile's own, and earlier ones.
  const unseenWrites = { own: 0, older: 0 };
  const unseen = (kind: string, name: string, cached: Obj | undefined): boolean => {
    if (deps.writes.seen(kind, ns, name, cached)) return false;
    const at = deps.writes.pendingSince(kind, ns, name) ?? 0;
    unseenWrites[at < deps.since ? 'older' : 'own']++;
    return true;
  };
  for (const svc of servicesOf(ctx)) {
    const name = svc.metadata!.name!;
    const cached = deps.caches.service?.get(ns, name);
    if (unseen('Service', name, cached)) continue;
    if (cached && isSubset(svc.spec, cached.spec) && isSubset(svc.metadata!.labels, cached.metadata?.labels))
      continue;
    await deps.kube.apply(svc);
    repaired.push(`Service ${ns}/${name} was ${cached ? 'changed' : 'deleted'}; restored`);
  }
  const { router, route } = ctx;
  for (const o of router.objects(route)) {
    const cached = deps.caches[cacheKeyOf(o.type)]?.get(ns, o.name);
    unseen(o.type.kind, o.name, cached);
  }
  // A Service just rewritten (the kubernetes provider's routes) is judged once the cache shows it.
  if (!unseenWrites.older && unseenWrites.own && deps.routesSet) return repaired;
  if (unseenWrites.older || unseenWrites.own) return 'lagging';
  if (repaired.length) return repaired;
  const expected = expectedTraffic(view.spec, status);
  const current = router.getRoutes(route);
  const names =
    router
      .objects(route)
      .map((o) => `${o.type.kind} ${ns}/${o.name}`)
      .join(', ') || `Service ${ns}/${route.apex}`;
  if (!current) {
    const to = expected ?? { primary: 100, canary: 0 };
    if (expected) await router.setRoutes(route, to);
    else await router.reconcile(route);
    return [`${names} was deleted; recreated with routes ${show(to)}`];
  }
  if (expected && !sameTraffic(current, expected)) {
    await router.setRoutes(route, expected);
    return [`${names} routed ${show(current)}, not ${show(expected)} as the Canary's status says; restored`];
  }
  if (await router.reconcile(route)) return [`${names} differed from the Canary's spec; restored`];
  return [];
}
