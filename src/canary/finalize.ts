// Deleting a Canary. Without revertOnDeletion, owner references remove what Weir created. With it
// (finalizer), Weir first gives the user's Deployment its replicas back (a DaemonSet: its nodes, by
// removing the parking nodeSelector), waits for it to be ready, points the apex Service and the
// routing object at it and detaches them from the Canary, then lets the deletion finish: no request
// is dropped on the way out.
//
// Deletion never hangs: it is handled before anything else a reconcile checks, a Canary whose target
// is gone or whose spec is invalid has nothing to revert (the finalizer goes at once), and the wait
// for the target is bounded (progressDeadlineSeconds, at most MAX_REVERT_WAIT_S); past it Weir hands
// traffic over anyway, records a Warning Event and lets the deletion finish.
import type { V1Deployment } from '@kubernetes/client-node';
import { describeError, isWeirError } from '../errors.ts';
import type { Kube, Obj } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../log.ts';
import { FINALIZER } from './apply.ts';
import type { Caches, CanaryContext, CanaryObject } from './context.ts';
import { services } from './targets.ts';

export interface FinalizeDeps {
  kube: Kube;
  caches: Caches;
  recorder: EventRecorder;
  log: Logger;
  now: () => Date;
}

/** The longest a deletion waits for the target, whatever progressDeadlineSeconds says. */
export const MAX_REVERT_WAIT_S = 600;
const DEFAULT_DEADLINE_S = 600;
const POLL_MS = 2000;

/**
 * Handles a Canary being deleted; returns when to look again, or undefined once the finalizer is
 * gone. `build` makes the reconcile context (throws INVALID_SPEC / NOT_FOUND as buildContext does).
 */
export async function finalizeCanary(
  obj: CanaryObject,
  build: () => CanaryContext,
  deps: FinalizeDeps,
): Promise<number | undefined> {
  if (!obj.metadata.finalizers?.includes(FINALIZER)) return undefined;
  if (obj.spec?.revertOnDeletion) {
    const wait = await revertOrGiveUp(obj, build, deps);
    if (wait !== undefined) return wait;
  }
  // A merge patch of the whole list (guarded by resourceVersion: a concurrent change is a conflict,
  // retried), so Weir's finalizer goes whichever field manager wrote it (Git, kubectl, Weir).
  await deps.kube.mergePatch(
    {
      apiVersion: obj.apiVersion!,
      kind: obj.kind!,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    },
    {
      metadata: {
        finalizers: obj.metadata.finalizers.filter((f) => f !== FINALIZER),
        resourceVersion: obj.metadata.resourceVersion,
      },
    },
  );
  deps.log.info('finalizer removed');
  return undefined;
}

/** When the revert stops waiting for the target: deletion time plus the bounded deadline. */
export function revertDeadline(obj: CanaryObject): number {
  const seconds = Math.min(obj.spec?.progressDeadlineSeconds ?? DEFAULT_DEADLINE_S, MAX_REVERT_WAIT_S);
  return deletedAt(obj) + seconds * 1000;
}

/** The informer keeps the JSON string; typed clients give a Date. */
function deletedAt(obj: CanaryObject): number {
  return new Date(obj.metadata.deletionTimestamp as Date | string).getTime();
}

/** ms to wait before looking again, or undefined when the finalizer may go. */
async function revertOrGiveUp(
  obj: CanaryObject,
  build: () => CanaryContext,
  deps: FinalizeDeps,
): Promise<number | undefined> {
  const left = revertDeadline(obj) - deps.now().getTime();
  const seconds = Math.round((revertDeadline(obj) - deletedAt(obj)) / 1000);
  let ctx: CanaryContext;
  try {
    ctx = await withPrimary(build(), deps);
  } catch (err) {
    if (isWeirError(err) && ['INVALID_SPEC', 'NOT_FOUND'].includes(err.code)) {
      await warn(obj, deps, 'RevertSkipped', `revertOnDeletion: nothing to revert (${err.message})`);
      return undefined;
    }
    if (left > 0) throw err; // e.g. referenced content still loading: retried
    await warn(
      obj,
      deps,
      'RevertTimedOut',
      `revertOnDeletion: gave up after ${seconds}s (${describeError(err)}); deleting the Canary anyway`,
    );
    return undefined;
  }
  if (left > 0) {
    // A failure here is retried with backoff; past the deadline the give-up path below runs instead.
    const waiting = await scaleTargetBack(ctx, deps);
    if (!waiting) {
      await handTrafficBack(ctx, deps);
      return undefined;
    }
    deps.log.info(`revertOnDeletion: ${waiting}`);
    return Math.min(POLL_MS, left + 100);
  }
  // Giving up: traffic goes to the target anyway (its ready pods serve; the primary is about to go).
  const waiting = awaited(ctx) ?? 'handing traffic back';
  try {
    await handTrafficBack(ctx, deps);
  } catch (err) {
    deps.log.warn({ err: describeError(err) }, 'revertOnDeletion: handing traffic back failed');
  }
  await warn(
    obj,
    deps,
    'RevertTimedOut',
    `revertOnDeletion: gave up after ${seconds}s ${waiting}; deleting the Canary anyway`,
  );
  return undefined;
}

/** The replicas the target gets back: the primary's (at least 1; a DaemonSet has none to copy). */
function replicasBack(ctx: CanaryContext): number {
  return Math.max(1, (ctx.primary as V1Deployment | undefined)?.spec?.replicas ?? 1);
}

/**
 * The context with the primary read from the API server when the cache does not show it (a lagging
 * cache would otherwise give the target 1 replica instead of the primary's count).
 */
async function withPrimary(ctx: CanaryContext, deps: FinalizeDeps): Promise<CanaryContext> {
  if (ctx.primary || ctx.workload.kind !== 'Deployment') return ctx;
  const primary = await deps.kube.get<V1Deployment & Obj>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ctx.view.namespace,
    name: ctx.names.primary,
  });
  return primary ? { ...ctx, primary } : ctx;
}

/** What the revert still waits for, or undefined when the target is scaled back and ready. */
function awaited(ctx: CanaryContext): string | undefined {
  const { workload, target } = ctx;
  const replicas = replicasBack(ctx);
  if (workload.kind !== 'Deployment') {
    if (workload.scaledToZero(target))
      return `waiting for ${ctx.names.target} to leave its parking nodeSelector`;
  } else if ((target as V1Deployment).spec?.replicas !== replicas)
    return `waiting for ${ctx.names.target} to scale to ${replicas}`;
  const ready = workload.readyPercent(target);
  return ready < 100 ? `waiting for ${ctx.names.target} to be ready (${ready}% ready)` : undefined;
}

/** Gives the target its pods back; returns what is still awaited, or undefined when it is ready. */
async function scaleTargetBack(ctx: CanaryContext, deps: FinalizeDeps): Promise<string | undefined> {
  await ctx.workload.scale(deps.kube, ctx.target, ctx.view.namespace, replicasBack(ctx));
  return awaited(ctx);
}

async function handTrafficBack(ctx: CanaryContext, deps: FinalizeDeps): Promise<void> {
  const { view } = ctx;
  const [apex] = services(view.spec, ctx.names, ctx.selector, view.namespace, ctx.owner);
  apex!.spec!.selector = { [ctx.selector.key]: ctx.selector.value };
  delete apex!.metadata!.ownerReferences;
  await deps.kube.apply(apex!);
  await ctx.router.finalize(ctx.route);
  deps.log.info(`revertOnDeletion: traffic handed back to the target ${ctx.workload.kind}`);
}

async function warn(obj: CanaryObject, deps: FinalizeDeps, reason: string, message: string): Promise<void> {
  deps.log.warn({ reason }, message);
  await deps.recorder.record(
    {
      apiVersion: obj.apiVersion!,
      kind: obj.kind!,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      uid: obj.metadata.uid!,
    },
    'Warning',
    reason,
    message,
  );
}
