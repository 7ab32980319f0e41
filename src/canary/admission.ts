// Concurrency limits (docs/concurrency.md): at most --max-progressing Canaries progressing in the
// cluster and --max-progressing-per-namespace in one namespace. A run that would pass a limit waits
// in phase Queued, ordered by spec.priority (higher first), then by status.queuedAt (first come).
// Pure: the controller hands it what its caches hold; decide() gets only the verdict.
import type { Phase } from '../api/canary.ts';

export interface Limits {
  /** --max-progressing: Canaries progressing at once in the cluster (undefined: no limit). */
  cluster?: number;
  /** --max-progressing-per-namespace (undefined: no limit). */
  perNamespace?: number;
}

/**
 * Phases that hold a slot: a run started (past admission) and not ended. Waiting holds one too (its
 * run was admitted and waits for confirm-rollout), and Frozen holds the traffic of its failing step.
 */
export const SLOT_PHASES: readonly Phase[] = [
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
  'Frozen',
];

export function holdsSlot(phase: Phase | undefined): boolean {
  return !!phase && SLOT_PHASES.includes(phase);
}

/** A Canary that wants to start a run (queued already, or the one deciding now). */
export interface Contender {
  /** namespace/name */
  key: string;
  namespace: string;
  priority: number;
  /** ISO time its run was first queued (for the one deciding now and not queued yet: now). */
  since: string;
}

export type Admission = { admitted: true } | { admitted: false; message: string };

/** Higher priority first, then first come, then by key so that every worker sees one order. */
export function admissionOrder(contenders: readonly Contender[]): Contender[] {
  return [...contenders].sort(
    (a, b) =>
      b.priority - a.priority ||
      Date.parse(a.since) - Date.parse(b.since) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
}

/**
 * Whether `self` may start now. Slots left by the limits go to the contenders in admission order;
 * a contender blocked by its namespace's limit does not hold back one of another namespace.
 * `progressing`: the namespaces of the Canaries holding a slot, one entry each.
 */
export function admit(
  self: Contender,
  queued: readonly Contender[],
  progressing: readonly string[],
  limits: Limits,
): Admission {
  const inCluster = { n: progressing.length };
  const inNamespace = new Map<string, number>();
  for (const ns of progressing) inNamespace.set(ns, (inNamespace.get(ns) ?? 0) + 1);
  const fits = (ns: string) =>
    (limits.cluster === undefined || inCluster.n < limits.cluster) &&
    (limits.perNamespace === undefined || (inNamespace.get(ns) ?? 0) < limits.perNamespace);
  const order = admissionOrder([...queued.filter((q) => q.key !== self.key), self]);
  let ahead = 0;
  for (const c of order) {
    const blocked = !fits(c.namespace);
    if (c.key === self.key) {
      if (!blocked) return { admitted: true };
      return {
        admitted: false,
        message: queuedMessage(self.namespace, inCluster.n, inNamespace, limits, ahead),
      };
    }
    if (blocked) {
      if (competes(c, self, limits)) ahead++;
      continue;
    }
    inCluster.n++;
    inNamespace.set(c.namespace, (inNamespace.get(c.namespace) ?? 0) + 1);
  }
  return { admitted: true }; // unreachable: self is in the order
}

/** `other` waits for the same slot as `self`: any in the cluster, or one of its namespace. */
function competes(other: Contender, self: Contender, limits: Limits): boolean {
  return limits.cluster !== undefined || other.namespace === self.namespace;
}

function queuedMessage(
  ns: string,
  inCluster: number,
  inNamespace: Map<string, number>,
  limits: Limits,
  ahead: number,
): string {
  const here = inNamespace.get(ns) ?? 0;
  const byNamespace = limits.perNamespace !== undefined && here >= limits.perNamespace;
  const which = byNamespace
    ? `${canaries(here)} progressing in namespace ${ns} (limit ${limits.perNamespace}, --max-progressing-per-namespace)`
    : `${canaries(inCluster)} progressing in the cluster (limit ${limits.cluster}, --max-progressing)`;
  return `Queued: ${which}; ${ahead} ahead of this one`;
}

const canaries = (n: number) => `${n} ${n === 1 ? 'canary' : 'canaries'}`;
