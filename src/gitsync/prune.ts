// Deletes what left Git: only objects of the previous inventory that the new build no longer has,
// only when the GitSync says `prune: true`, and only after a fully successful build and apply (the
// controller's job). Each candidate is re-read first and kept when it is not this GitSync's any more
// (labels changed hands), when Weir's canary controller manages it, or when it is the namespace the
// GitSync itself lives in.
import { keyOf } from './build.ts';
import {
  LABEL_NAME,
  LABEL_NAMESPACE,
  describeRef,
  isManagedByWeir,
  labelValue,
  rankOf,
  type InventoryEntry,
} from './apply.ts';
import type { Confinement } from './policy.ts';
import type { ApiClient, Json } from '../kube/rest.ts';

export interface PruneReport {
  deleted: string[];
  kept: Array<{ object: string; reason: string }>;
}

/** Inventory entries of `previous` whose identity (group/kind/namespace/name) is not in `current`. */
export function leftGit(previous: InventoryEntry[], current: InventoryEntry[]): InventoryEntry[] {
  const now = new Set(current.map((e) => keyOf(e)));
  return previous.filter((e) => !now.has(keyOf(e)));
}

/**
 * Why the tenancy flags keep the GitSync from deleting `entry` (the same rule as for applying it), or
 * undefined. An inventory can hold objects from before confinement was turned on, or entries written
 * into the status by someone else: a confined GitSync deletes nothing outside its namespace.
 */
export function confinedOut(
  entry: InventoryEntry,
  owner: { namespace: string },
  c: Confinement | undefined,
): string | undefined {
  if (!c) return undefined;
  if (!entry.namespace && !c.clusterScoped) return 'cluster-scoped, which this GitSync may not write';
  if (entry.namespace && entry.namespace !== owner.namespace && !c.otherNamespaces)
    return "outside the GitSync's namespace, which it may not write";
  return undefined;
}

export async function prune(
  api: ApiClient,
  candidates: InventoryEntry[],
  owner: { namespace: string; name: string },
  confinement?: Confinement,
): Promise<PruneReport> {
  const report: PruneReport = { deleted: [], kept: [] };
  // Reverse apply order: custom resources and workloads before CRDs and Namespaces.
  const ordered = [...candidates].sort((a, b) => rankOf(b.kind) - rankOf(a.kind));
  for (const entry of ordered) {
    const name = describeRef(entry);
    const outside = confinedOut(entry, owner, confinement);
    if (outside) {
      report.kept.push({ object: name, reason: outside });
      continue;
    }
    let refused: string | undefined;
    const live = await api.get(entry).catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      // A kind whose CRD is gone has nothing left to delete.
      if (code === 'NOT_FOUND') return undefined;
      // An entry the client will not send (a malformed name, a namespace on a cluster-scoped kind).
      if (code === 'INVALID_SPEC') {
        refused = (err as Error).message;
        return undefined;
      }
      throw err;
    });
    if (refused) report.kept.push({ object: name, reason: refused });
    if (!live) continue;
    const labels = ((live.metadata as Json | undefined)?.labels ?? {}) as Record<string, string>;
    const reason =
      entry.kind === 'Namespace' && entry.name === owner.namespace
        ? "the GitSync's own namespace"
        : isManagedByWeir(live)
          ? 'managed by Weir'
          : labels[LABEL_NAME] !== labelValue(owner.name) || labels[LABEL_NAMESPACE] !== owner.namespace
            ? 'no longer labelled as this GitSync’s'
            : undefined;
    if (reason) {
      report.kept.push({ object: name, reason });
      continue;
    }
    if (await api.remove(entry)) report.deleted.push(name);
  }
  return report;
}
