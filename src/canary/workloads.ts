// The kinds of workload a Canary can target: Deployment and DaemonSet (Flagger supports both). They
// differ in four things only, each one member of WorkloadKind: the primary's spec, how readiness is
// read, how the target is "scaled to zero" while it is not under analysis, and what a target must
// satisfy. Services, routes, analysis and promotion are the same for both.
//
// A DaemonSet has no replicas: as Flagger does, its pods are removed by a nodeSelector no node
// carries (`weir.dev/scale-to-zero: "true"`; Flagger's `flagger.app/scale-to-zero` is honoured, so a
// DaemonSet Flagger left scaled to zero is taken over as it is). The key is no part of the revision
// and never reaches the primary. It has no HPA role (spec.autoscalerRef is refused by the schema).
import type { V1DaemonSet, V1Deployment, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { TargetKindName } from '../api/canary.ts';
import type { Kube } from '../kube/client.ts';
import { RESOURCES, type ResourceType } from '../kube/resources.ts';

export type Workload = V1Deployment | V1DaemonSet;

/** nodeSelector keys that park a DaemonSet's pods: Weir's, and Flagger's (read and removed). */
export const SCALE_TO_ZERO_KEY = 'weir.dev/scale-to-zero';
export const FLAGGER_SCALE_TO_ZERO_KEY = 'flagger.app/scale-to-zero';
const PARKING_KEYS = [SCALE_TO_ZERO_KEY, FLAGGER_SCALE_TO_ZERO_KEY];
/**
 * Pod label a router may give both the primary's and the target's pod templates (value: the apex
 * Service) so that one Service selects both (kubernetes splits traffic by pod counts). Weir's, not the
 * user's: no part of the revision, carried to the primary by primaryWorkload (targets.ts).
 */
export const SHARED_POD_LABEL = 'weir.dev/apex';
/** Field manager of the replica writes (Deployments: server-side apply of spec.replicas). */
export const SCALE_MANAGER = 'weir-scale';

export interface WorkloadKind {
  kind: TargetKindName;
  /** The informer cache holding this kind (RESOURCES key). */
  cache: 'deployment' | 'daemonSet';
  type: ResourceType;
  /** Kind-specific fields of the primary's spec (selector, template and metadata are common). */
  primarySpec(target: Workload, replicas: number | undefined): Record<string, unknown>;
  /** Percent of the desired pods updated and available; 0 while a rollout is pending or none are desired. */
  readyPercent(w: Workload | undefined): number;
  /** The target asks for no pods (parked), as opposed to pods still starting. */
  scaledToZero(w: Workload): boolean;
  /**
   * Parks the target (replicas 0) or gives it pods again (`replicas`, Deployments only); writes
   * nothing when it is already so.
   */
  scale(kube: Kube, target: Workload, namespace: string, replicas: number): Promise<void>;
  /** Why this target cannot be run as a canary, or undefined. */
  problem(target: Workload): string | undefined;
}

/** Whether the object reached its current generation (0 percent until the controller saw it). */
const observed = (w: Workload) => (w.status?.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0);

const percent = (ready: number, desired: number) =>
  desired === 0 ? 0 : Math.floor((100 * Math.min(ready, desired)) / desired);

const deployment: WorkloadKind = {
  kind: 'Deployment',
  cache: 'deployment',
  type: RESOURCES.deployment,
  primarySpec(target, replicas) {
    const t = target as V1Deployment;
    return {
      ...(replicas !== undefined ? { replicas } : {}),
      ...(t.spec?.strategy ? { strategy: t.spec.strategy } : {}),
      ...(t.spec?.minReadySeconds ? { minReadySeconds: t.spec.minReadySeconds } : {}),
    };
  },
  readyPercent(w) {
    const d = w as V1Deployment | undefined;
    if (!d || !observed(d)) return 0;
    const ready = Math.min(d.status?.updatedReplicas ?? 0, d.status?.availableReplicas ?? 0);
    return percent(ready, d.spec?.replicas ?? 1);
  },
  scaledToZero: (w) => (w as V1Deployment).spec?.replicas === 0,
  async scale(kube, target, namespace, replicas) {
    if ((target as V1Deployment).spec?.replicas === replicas) return;
    await kube.apply(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: target.metadata!.name!, namespace },
        spec: { replicas },
      },
      SCALE_MANAGER,
    );
  },
  problem: () => undefined,
};

const daemonSet: WorkloadKind = {
  kind: 'DaemonSet',
  cache: 'daemonSet',
  type: RESOURCES.daemonSet,
  primarySpec(target) {
    const t = target as V1DaemonSet;
    return {
      ...(t.spec?.updateStrategy ? { updateStrategy: t.spec.updateStrategy } : {}),
      ...(t.spec?.minReadySeconds ? { minReadySeconds: t.spec.minReadySeconds } : {}),
      ...(t.spec?.revisionHistoryLimit !== undefined
        ? { revisionHistoryLimit: t.spec.revisionHistoryLimit }
        : {}),
    };
  },
  readyPercent(w) {
    const d = w as V1DaemonSet | undefined;
    if (!d || !observed(d)) return 0;
    const s = d.status;
    const ready = Math.min(s?.updatedNumberScheduled ?? 0, s?.numberAvailable ?? 0);
    return percent(ready, s?.desiredNumberScheduled ?? 0);
  },
  scaledToZero: (w) => PARKING_KEYS.some((k) => nodeSelectorOf(w)[k] === 'true'),
  async scale(kube, target, namespace, replicas) {
    const parked = daemonSet.scaledToZero(target);
    const flagger = FLAGGER_SCALE_TO_ZERO_KEY in nodeSelectorOf(target);
    if (replicas === 0 ? parked && !flagger : !parked && !flagger) return;
    // A merge patch, not an apply: Flagger's key belongs to another field manager, and removing it
    // needs an explicit null.
    const selector =
      replicas === 0
        ? { [SCALE_TO_ZERO_KEY]: 'true', [FLAGGER_SCALE_TO_ZERO_KEY]: null }
        : { [SCALE_TO_ZERO_KEY]: null, [FLAGGER_SCALE_TO_ZERO_KEY]: null };
    await kube.mergePatch(
      { apiVersion: 'apps/v1', kind: 'DaemonSet', namespace, name: target.metadata!.name! },
      { spec: { template: { spec: { nodeSelector: selector } } } },
    );
  },
  problem(target) {
    const type = (target as V1DaemonSet).spec?.updateStrategy?.type;
    if (type === undefined || type === 'RollingUpdate') return undefined;
    return `DaemonSet ${target.metadata?.namespace}/${target.metadata?.name} has spec.updateStrategy.type ${type}; Weir needs RollingUpdate (with OnDelete, neither the primary nor the canary would replace its pods when their template changes)`;
  },
};

export const WORKLOAD_KINDS: Record<TargetKindName, WorkloadKind> = {
  Deployment: deployment,
  DaemonSet: daemonSet,
};

export function workloadKindOf(kind: TargetKindName | undefined): WorkloadKind {
  return WORKLOAD_KINDS[kind ?? 'Deployment'];
}

function nodeSelectorOf(w: Workload): Record<string, string> {
  return w.spec?.template?.spec?.nodeSelector ?? {};
}

/**
 * The pod template as the user wrote it: without the parking keys (and without a nodeSelector left
 * empty by removing them) and without SHARED_POD_LABEL. What the revision hashes and the primary copies.
 */
export function userTemplate(w: Workload): V1PodTemplateSpec | undefined {
  const template = w.spec?.template;
  const selector = template?.spec?.nodeSelector;
  const labelled = !!template?.metadata?.labels && SHARED_POD_LABEL in template.metadata.labels;
  if (!labelled && (!selector || !PARKING_KEYS.some((k) => k in selector))) return template;
  const out = structuredClone(template!);
  if (labelled) delete out.metadata!.labels![SHARED_POD_LABEL];
  if (!selector) return out;
  const kept = Object.fromEntries(Object.entries(selector).filter(([k]) => !PARKING_KEYS.includes(k)));
  if (Object.keys(kept).length) out.spec!.nodeSelector = kept;
  else delete out.spec!.nodeSelector;
  return out;
}
