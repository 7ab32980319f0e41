// The replica arithmetic of provider `kubernetes` with weights: without a proxy the only split is by
// pod counts (Argo Rollouts' basic canary), so a weight becomes a number of canary pods. Pure, so the
// tables in test/unit/kubernetes-replicas.test.ts cover it.
import type { CanarySpec } from '../../api/canary.ts';

/** Replica counts for one weight: the canary's, and the primary's (undefined: left as it is). */
export interface ReplicaSplit {
  canary: number;
  primary: number | undefined;
}

/** Whether the spec moves traffic by weights (stepWeight, stepWeights, steps) rather than blue/green. */
export function weighted(spec: CanarySpec): boolean {
  const a = spec.analysis;
  return a.stepWeight !== undefined || a.stepWeights !== undefined || a.steps !== undefined;
}

/**
 * How many pods the weight means when the primary serves `total` at 0%:
 * canary `ceil(weight × total / 100)` (0 at 0%, all of total at 100%); with dynamicStableScale the
 * primary runs `total - canary`, never below 1 pod (promotion hands traffic back to it), otherwise
 * it keeps its count.
 */
export function replicaSplit(weight: number, total: number, dynamicStableScale: boolean): ReplicaSplit {
  const pods = Math.max(1, Math.floor(total));
  const w = Math.min(100, Math.max(0, weight));
  const canary = Math.ceil((w * pods) / 100);
  return { canary, primary: dynamicStableScale ? Math.max(1, pods - canary) : undefined };
}

/**
 * The primary's size at 0%: an HPA's current count when one scales the primary (and has reported
 * one), else the count recorded before the primary was scaled down (dynamicStableScale), else the
 * primary's replicas; at least 1.
 */
export function totalReplicas(counts: {
  hpaCurrent?: number | undefined;
  recorded?: number | undefined;
  primary?: number | undefined;
}): number {
  const first = [counts.hpaCurrent, counts.recorded, counts.primary].find((n) => n !== undefined && n > 0);
  return Math.max(1, first ?? 1);
}

/**
 * The canary's share of the pods, as a weight (what the apex Service really does when the counts
 * are not those the weight asks for).
 */
export function podShare(canary: number, primary: number): number {
  const all = canary + primary;
  return all === 0 ? 0 : Math.round((100 * canary) / all);
}
