// Applies the cluster-facing actions of a Decision. Every write is idempotent (desired state compared
// with the cache first, server-side apply otherwise), so replaying a reconcile after a crash is safe.
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1HorizontalPodAutoscaler,
  V1Secret,
} from '@kubernetes/client-node';
import { WeirError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Kube } from '../kube/client.ts';
import { isSubset } from '../kube/compare.ts';
import { RESOURCES } from '../kube/informers.ts';
import { replicaSplit } from '../routing/kubernetes/replicas.ts';
import { servicesOf, type Caches, type CanaryContext } from './context.ts';
import type { Action } from './model.ts';
import { primaryWorkload, revisionFor } from './targets.ts';
import type { Workload } from './workloads.ts';

export const FINALIZER = 'weir.dev/finalizer';

export interface ApplyDeps {
  kube: Kube;
  caches: Caches;
}

async function ensure(
  deps: ApplyDeps,
  input: KubernetesObject | Record<string, unknown>,
  manager?: string,
): Promise<void> {
  const obj = input as KubernetesObject & Record<string, unknown>;
  const type = Object.values(RESOURCES).find((r) => r.kind === obj.kind && r.apiVersion === obj.apiVersion);
  const key = type && Object.entries(RESOURCES).find(([, r]) => r === type)?.[0];
  const live = key
    ? deps.caches[key as keyof Caches]?.content(obj.metadata!.namespace!, obj.metadata!.name!)
    : undefined;
  const { metadata, ...rest } = obj;
  if (
    live &&
    isSubset(rest, live) &&
    isSubset({ labels: metadata?.labels, annotations: metadata?.annotations }, live.metadata)
  )
    return;
  await deps.kube.apply(obj, manager);
}

/** Server-side apply of a whole config copy: keys it no longer lists are removed. */
async function applyCopy(deps: ApplyDeps, obj: Record<string, unknown>): Promise<void> {
  await deps.kube.apply(obj as never);
}

/** The primary keeps its own replica count; an HPA, when present, owns it; a DaemonSet has none. */
function primaryReplicas(ctx: CanaryContext): number | undefined {
  if (ctx.view.spec.autoscalerRef || ctx.workload.kind !== 'Deployment') return undefined;
  const replicas = (d: Workload | undefined) => (d as V1Deployment | undefined)?.spec?.replicas;
  return replicas(ctx.primary) ?? replicas(ctx.target) ?? 1;
}

function restoreReplicas(ctx: CanaryContext, deps: ApplyDeps): number {
  const ref = ctx.view.spec.autoscalerRef;
  const hpa = ref
    ? (deps.caches.hpa?.get(ctx.view.namespace, ref.name) as V1HorizontalPodAutoscaler | undefined)
    : undefined;
  const primary = ctx.primary as V1Deployment | undefined;
  return Math.max(1, primary?.spec?.replicas ?? hpa?.spec?.minReplicas ?? 1);
}

/**
 * The canary's replicas for a scaleCanary action. A setCanaryScale weight is a share of the primary's
 * count, rounded up as the replica-ratio canary rounds a weight (replicas.ts), so at least 1 pod.
 */
function canaryReplicas(
  ctx: CanaryContext,
  deps: ApplyDeps,
  action: Extract<Action, { type: 'scaleCanary' }>,
): number {
  const want = action.replicas;
  if (want === 0) return 0;
  if (want === 'restore') return restoreReplicas(ctx, deps);
  if ('replicas' in want) return want.replicas;
  return replicaSplit(want.weight, restoreReplicas(ctx, deps), false).canary;
}

/** A copy must equal its source: ensure()'s subset test would keep keys deleted from the source. */
function sameData(src: Record<string, unknown>, copy: Record<string, unknown> | undefined): boolean {
  const keys = ['data', 'binaryData'];
  return (
    !!copy &&
    keys.every((k) => isSubset(src[k] ?? {}, copy[k] ?? {}) && isSubset(copy[k] ?? {}, src[k] ?? {}))
  );
}

/** Reads a tracked ConfigMap or Secret by kind and name. */
type ConfigSource = (kind: 'ConfigMap' | 'Secret', name: string) => (V1ConfigMap & V1Secret) | undefined;

function fromCaches(ctx: CanaryContext, deps: ApplyDeps): ConfigSource {
  const ns = ctx.view.namespace;
  return (kind, name) =>
    (kind === 'ConfigMap' ? deps.caches.configMap : deps.caches.secret)?.content(ns, name) as
      (V1ConfigMap & V1Secret) | undefined;
}

async function copyConfigs(
  ctx: CanaryContext,
  deps: ApplyDeps,
  onlyMissing: boolean,
  source: ConfigSource = fromCaches(ctx, deps),
): Promise<void> {
  const kinds = [
    { kind: 'ConfigMap' as const, cache: deps.caches.configMap, names: ctx.tracked.configMaps },
    { kind: 'Secret' as const, cache: deps.caches.secret, names: ctx.tracked.secrets },
  ];
  const ns = ctx.view.namespace;
  for (const { kind, cache, names } of kinds) {
    for (const name of names) {
      const src = source(kind, name);
      const copy = cache?.content(ns, `${name}-primary`);
      if (!src || (onlyMissing && copy)) continue;
      await (sameData(src as never, copy) ? ensure : applyCopy)(deps, {
        apiVersion: 'v1',
        kind,
        metadata: {
          name: `${name}-primary`,
          namespace: ns,
          labels: { ...src.metadata?.labels, 'app.kubernetes.io/managed-by': 'weir' },
          ownerReferences: [ctx.owner],
        },
        ...(kind === 'Secret' ? { type: src.type ?? 'Opaque' } : {}),
        ...(src.data ? { data: src.data } : {}),
        ...(src.binaryData ? { binaryData: src.binaryData } : {}),
      });
    }
  }
}

/**
 * The target and its tracked configs as the caches hold them now, with the revision they hash to.
 * Promotion copies from this snapshot, so what reaches the primary is exactly what was checked.
 */
function snapshot(ctx: CanaryContext, deps: ApplyDeps) {
  const ns = ctx.view.namespace;
  const seen = new Map<string, V1ConfigMap & V1Secret>();
  const read = (kind: 'ConfigMap' | 'Secret', name: string) => {
    const key = `${kind}/${name}`;
    if (!seen.has(key)) {
      const obj = fromCaches(ctx, deps)(kind, name);
      if (obj) seen.set(key, structuredClone(obj));
    }
    return seen.get(key);
  };
  const target =
    (deps.caches[ctx.workload.cache]?.get(ns, ctx.names.target) as Workload | undefined) ?? ctx.target;
  const { revision } = revisionFor(
    target,
    (n) => read('ConfigMap', n),
    (n) => read('Secret', n),
  );
  return { revision, source: read };
}

async function ensureHpa(ctx: CanaryContext, deps: ApplyDeps): Promise<void> {
  const ref = ctx.view.spec.autoscalerRef;
  if (!ref) return;
  const hpa = deps.caches.hpa?.get(ctx.view.namespace, ref.name) as V1HorizontalPodAutoscaler | undefined;
  if (!hpa)
    throw new WeirError(
      'NOT_FOUND',
      `Canary ${ctx.key}: spec.autoscalerRef: HorizontalPodAutoscaler ${ref.name} not found`,
    );
  const limits = ref.primaryScalerReplicas;
  await ensure(deps, {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: `${ref.name}-primary`,
      namespace: ctx.view.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'weir' },
      ownerReferences: [ctx.owner],
    },
    spec: {
      ...hpa.spec,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: ctx.names.primary },
      ...(limits?.minReplicas ? { minReplicas: limits.minReplicas } : {}),
      ...(limits?.maxReplicas ? { maxReplicas: limits.maxReplicas } : {}),
    },
  });
}

async function ensurePrimary(ctx: CanaryContext, deps: ApplyDeps): Promise<void> {
  if (ctx.view.spec.revertOnDeletion && !ctx.obj.metadata.finalizers?.includes(FINALIZER)) {
    await deps.kube.apply(
      {
        apiVersion: ctx.obj.apiVersion,
        kind: ctx.obj.kind,
        metadata: { name: ctx.view.name, namespace: ctx.view.namespace, finalizers: [FINALIZER] },
      },
      'weir-finalizer',
    );
  }
  await copyConfigs(ctx, deps, true);
  if (!ctx.primary) await deps.kube.apply(desiredPrimary(ctx));
  // Independent objects, written at once: under load one Service create takes seconds, and a
  // Canary's initialisation waited for three of them in turn.
  await Promise.all([ensureHpa(ctx, deps), ...servicesOf(ctx).map((svc) => ensure(deps, svc))]);
  await ctx.router.reconcile(ctx.route);
}

/** The target or a tracked config changed after this reconcile read it: nothing was promoted. */
export const REVISION_MOVED = 'revision-moved';

async function promotePrimary(
  ctx: CanaryContext,
  deps: ApplyDeps,
  analysed: string | undefined,
): Promise<typeof REVISION_MOVED | undefined> {
  // Defence in depth: the template copied must be the revision the analysis ran on.
  if (analysed !== ctx.revision) {
    throw new WeirError(
      'INVALID_SPEC',
      `Canary ${ctx.key}: refusing to promote revision ${ctx.revision}; analysis ran on ${analysed}`,
    );
  }
  // Re-read right before copying: a ConfigMap/Secret edited since the reconcile read the caches
  // is a new revision, which must be analysed from zero rather than copied to the primary.
  const now = snapshot(ctx, deps);
  if (now.revision !== analysed) return REVISION_MOVED;
  await copyConfigs(ctx, deps, false, now.source);
  await ensure(deps, desiredPrimary(ctx));
  failpoint('after-promote-write'); // chaos tests only: die between this write and the status write
  return undefined;
}

/** The primary Deployment or DaemonSet for the target's current template and configs. */
function desiredPrimary(ctx: CanaryContext) {
  const replicas = primaryReplicas(ctx);
  return primaryWorkload({
    kind: ctx.workload,
    target: ctx.target,
    names: ctx.names,
    revision: ctx.revision,
    tracked: ctx.tracked,
    owner: ctx.owner,
    ...(replicas !== undefined ? { replicas } : {}),
  });
}

/**
 * Applies one cluster action; alerts, events and hooks are the controller's, after the status write.
 * REVISION_MOVED: the promotion found a newer revision and did nothing; the caller drops the
 * decision (the next reconcile sees the new revision and restarts the analysis).
 */
export async function applyAction(
  ctx: CanaryContext,
  action: Action,
  deps: ApplyDeps,
  analysedRevision: string | undefined,
): Promise<typeof REVISION_MOVED | undefined> {
  switch (action.type) {
    case 'ensurePrimary':
      await ensurePrimary(ctx, deps);
      break;
    case 'promotePrimary':
      return promotePrimary(ctx, deps, analysedRevision);
    case 'scaleCanary':
      await ctx.workload.scale(deps.kube, ctx.target, ctx.view.namespace, canaryReplicas(ctx, deps, action));
      break;
    case 'setTraffic':
      await ctx.router.setRoutes(ctx.route, action.traffic);
      break;
    default:
      break;
  }
  return undefined;
}
