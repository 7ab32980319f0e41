// Provider `kubernetes`: traffic moves through the apex Service's selector alone, no proxy.
// - blue/green (iterations): the apex selects the primary's pods (100/0) or the canary's (0/100).
// - weights (stepWeight, stepWeights, steps): the apex selects both (SHARED_POD_LABEL, which the
//   router puts on both pod templates) and the weight becomes pod counts (replicas.ts): the split is
//   by pods, approximate, as in Argo Rollouts' basic canary. The weight is kept on the apex as an
//   annotation; with dynamicStableScale so is the primary's count before it was scaled down.
// Every write is skipped when the cache already shows it, and each step is resumable: the count to
// restore is recorded before the primary shrinks, and the apex leaves "both" only once it is back.
import type { V1Deployment, V1HorizontalPodAutoscaler, V1Service } from '@kubernetes/client-node';
import { SCALE_MANAGER, SHARED_POD_LABEL } from '../../canary/workloads.ts';
import { WeirError } from '../../errors.ts';
import { RESOURCES } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import type { RouteTarget, Router, RouterDeps, RouterFactory } from '../router.ts';
import { podShare, replicaSplit, totalReplicas, weighted } from './replicas.ts';

const WEIGHT_ANNOTATION = 'weir.dev/canary-weight';
const RECORDED_ANNOTATION = 'weir.dev/primary-replicas';
/** Field manager of the shared pod label on the Deployments' templates. */
const LABEL_MANAGER = 'weir-apex-label';

type Mode = 'primary' | 'canary' | 'both';

const selectorFor = (t: RouteTarget, mode: Mode): Record<string, string> =>
  mode === 'both'
    ? { [SHARED_POD_LABEL]: t.apex }
    : { [t.selector.key]: mode === 'canary' ? t.selector.value : `${t.selector.value}-primary` };

function modeOf(t: RouteTarget, svc: V1Service | undefined): Mode {
  const sel = svc?.spec?.selector ?? {};
  if (sel[t.selector.key] === t.selector.value) return 'canary';
  if (sel[SHARED_POD_LABEL] === t.apex && !(t.selector.key in sel)) return 'both';
  return 'primary';
}

const workloadNames = (t: RouteTarget) => ({
  canary: t.spec.targetRef.name,
  primary: `${t.spec.targetRef.name}-primary`,
});

/** A merge patch turning selector `from` into `to` (keys `to` lacks are removed explicitly). */
function selectorPatch(from: Record<string, string>, to: Record<string, string>) {
  const gone = Object.keys(from).filter((k) => !(k in to));
  return { ...Object.fromEntries(gone.map((k) => [k, null])), ...to };
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function createCluster({ kube, cached }: RouterDeps) {
  const apexOf = (t: RouteTarget) => cached(RESOURCES.service, t.namespace, t.apex) as V1Service | undefined;
  const deployment = (t: RouteTarget, name: string) =>
    cached(RESOURCES.deployment, t.namespace, name) as V1Deployment | undefined;
  return {
    apexOf,
    deployment,
    /** Sets the apex's selector to `mode` and the given annotations (null: removed), if not so already. */
    async patchApex(t: RouteTarget, mode: Mode, annotations: Record<string, string | null>): Promise<void> {
      const svc = apexOf(t);
      const from = svc?.spec?.selector ?? {};
      const to = selectorFor(t, mode);
      const have = svc?.metadata?.annotations ?? {};
      const changed = Object.entries(annotations).filter(([k, v]) => (have[k] ?? null) !== v);
      if (svc && sameMap(from, to) && !changed.length) return;
      await kube.mergePatch(
        { ...RESOURCES.service, namespace: t.namespace, name: t.apex },
        {
          metadata: { annotations: Object.fromEntries(changed) },
          spec: { selector: selectorPatch(from, to) },
        },
      );
    },
    async scaleTo(t: RouteTarget, name: string, replicas: number): Promise<void> {
      if (deployment(t, name)?.spec?.replicas === replicas) return;
      await kube.apply(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, namespace: t.namespace },
          spec: { replicas },
        },
        SCALE_MANAGER,
      );
    },
    /** Puts SHARED_POD_LABEL on a Deployment's pod template; true when it wrote. */
    async label(t: RouteTarget, name: string): Promise<boolean> {
      const d = deployment(t, name);
      if (!d || d.spec?.template?.metadata?.labels?.[SHARED_POD_LABEL] === t.apex) return false;
      await kube.apply(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, namespace: t.namespace },
          spec: { template: { metadata: { labels: { [SHARED_POD_LABEL]: t.apex } } } },
        },
        LABEL_MANAGER,
      );
      return true;
    },
    /** The primary's size at 0% (replicas.ts totalReplicas) from the caches. */
    total(t: RouteTarget): number {
      const ref = t.spec.autoscalerRef;
      const hpa = ref
        ? (cached(RESOURCES.hpa, t.namespace, `${ref.name}-primary`) as V1HorizontalPodAutoscaler | undefined)
        : undefined;
      const recorded = Number(apexOf(t)?.metadata?.annotations?.[RECORDED_ANNOTATION]);
      return totalReplicas({
        hpaCurrent: hpa?.status?.currentReplicas,
        recorded: Number.isInteger(recorded) ? recorded : undefined,
        primary: deployment(t, workloadNames(t).primary)?.spec?.replicas,
      });
    },
  };
}

type Cluster = ReturnType<typeof createCluster>;

/** Whether the Deployment's pods all carry the shared label (its template has it and is rolled out). */
function labelledPods(t: RouteTarget, d: V1Deployment | undefined): boolean {
  const s = d?.status;
  return (
    d?.spec?.template?.metadata?.labels?.[SHARED_POD_LABEL] === t.apex &&
    (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s?.updatedReplicas ?? 0) >= (s?.replicas ?? 0)
  );
}

/** Weighted routes: pod counts first, then the apex (so it never selects pods that are not yet so). */
async function setWeight(c: Cluster, t: RouteTarget, weight: number): Promise<void> {
  const names = workloadNames(t);
  const dynamic = !!t.spec.analysis.dynamicStableScale;
  const recorded = c.apexOf(t)?.metadata?.annotations?.[RECORDED_ANNOTATION];
  if (weight === 0) {
    // The canary's count at 0% is the controller's (scaleCanary); the primary gets its pods back
    // before the apex stops selecting the canary.
    if (dynamic && recorded) await c.scaleTo(t, names.primary, c.total(t));
    await c.patchApex(t, 'primary', { [WEIGHT_ANNOTATION]: null, [RECORDED_ANNOTATION]: null });
    return;
  }
  const shared = [names.primary, names.canary].map((n) => c.deployment(t, n));
  if (!shared.every((d) => labelledPods(t, d))) {
    for (const n of [names.primary, names.canary]) await c.label(t, n);
    throw new WeirError(
      'ROUTING',
      `provider kubernetes: waiting for the pods of ${names.primary} and ${names.canary} to carry ${SHARED_POD_LABEL}=${t.apex} before ${t.apex} selects both`,
    );
  }
  const total = c.total(t);
  // Recorded before the primary shrinks, so a crash anywhere after still knows what to restore.
  if (dynamic && !recorded)
    await c.patchApex(t, modeOf(t, c.apexOf(t)), { [RECORDED_ANNOTATION]: String(total) });
  const split = replicaSplit(weight, total, dynamic);
  await c.scaleTo(t, names.canary, split.canary);
  if (split.primary !== undefined) await c.scaleTo(t, names.primary, split.primary);
  await c.patchApex(t, weight >= 100 ? 'canary' : 'both', { [WEIGHT_ANNOTATION]: String(weight) });
}

/** The routes of a weighted spec as stored: the apex's weight while the pod counts match it, else the pods' share. */
function storedWeight(c: Cluster, t: RouteTarget, svc: V1Service): Traffic {
  const mode = modeOf(t, svc);
  if (mode === 'primary') return { primary: 100, canary: 0 };
  const weight = mode === 'canary' ? 100 : Number(svc.metadata?.annotations?.[WEIGHT_ANNOTATION] ?? NaN);
  const names = workloadNames(t);
  const canary = c.deployment(t, names.canary)?.spec?.replicas ?? 0;
  const primary = c.deployment(t, names.primary)?.spec?.replicas ?? 0;
  const want = replicaSplit(weight, c.total(t), !!t.spec.analysis.dynamicStableScale);
  const counts = canary === want.canary && (want.primary === undefined || primary === want.primary);
  const share = Number.isFinite(weight) && counts ? weight : podShare(canary, primary);
  return { primary: 100 - share, canary: share };
}

export const createKubernetesRouter: RouterFactory = (deps) => {
  const c = createCluster(deps);
  const router: Router = {
    async reconcile(t) {
      // The Services are created (and repaired) with the primary objects (targets.ts); with weights
      // both pod templates carry the shared label from the start, while the canary has no pods.
      if (!weighted(t.spec)) return false;
      const names = workloadNames(t);
      const wrote = [await c.label(t, names.primary), await c.label(t, names.canary)];
      return wrote.some(Boolean);
    },
    async setRoutes(t, traffic: Traffic) {
      if (weighted(t.spec)) return setWeight(c, t, traffic.canary);
      if (traffic.canary !== 0 && traffic.canary !== 100) {
        throw new WeirError(
          'ROUTING',
          `provider kubernetes cannot split traffic ${traffic.primary}/${traffic.canary} without weights in the spec; use analysis.iterations (blue/green)`,
        );
      }
      await c.patchApex(t, traffic.canary === 100 ? 'canary' : 'primary', {});
    },
    getRoutes(t) {
      const svc = c.apexOf(t);
      if (!svc) return undefined;
      if (weighted(t.spec)) return storedWeight(c, t, svc);
      return modeOf(t, svc) === 'canary' ? { primary: 0, canary: 100 } : { primary: 100, canary: 0 };
    },
    apexSelector: (t) => selectorFor(t, modeOf(t, c.apexOf(t))),
    objects(t) {
      // The Deployments' counts are routes here: drift waits for the caches to show their writes.
      if (!weighted(t.spec)) return [];
      const names = workloadNames(t);
      return [names.canary, names.primary].map((name) => ({ type: RESOURCES.deployment, name }));
    },
    async finalize(t) {
      // The apex Service is handed back to the target by the Canary's finalizer (finalize.ts); the
      // shared label this router added to the selector goes with it.
      const sel = c.apexOf(t)?.spec?.selector ?? {};
      if (!(SHARED_POD_LABEL in sel)) return;
      await deps.kube.mergePatch(
        { ...RESOURCES.service, namespace: t.namespace, name: t.apex },
        { spec: { selector: { [SHARED_POD_LABEL]: null } } },
      );
    },
  };
  return router;
};
