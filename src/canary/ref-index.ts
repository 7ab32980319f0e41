// Which Canaries an object's watch event concerns, kept from what each Canary refers to: its
// workloads and HPAs (from its spec, on its own events) and the ConfigMaps and Secrets its last
// reconcile read (tracked configs, their -primary copies, metric and alert secrets). A Deployment,
// ConfigMap, Secret or HPA event then costs a map lookup and requeues the Canaries that use the
// object, not every Canary of the namespace: 1,000 Canaries in one namespace made each Deployment
// status event a 1,000-entry scan, and each change of any ConfigMap there (a leader-election
// ConfigMap changes every few seconds) 1,000 reconciles.

/** An object as the index names it: `<kind>:<namespace>/<name>`. */
export const refOf = (kind: string, namespace: string, name: string): string =>
  `${kind}:${namespace}/${name}`;

export class RefIndex {
  /** Object ref → keys (`namespace/name`) of the Canaries that refer to it. */
  private readonly canaries = new Map<string, Set<string>>();
  /** Canary key → the refs it is filed under. */
  private readonly filed = new Map<string, readonly string[]>();

  /** Files the Canary `key` under `refs`, replacing what it was filed under before. */
  file(key: string, refs: readonly string[]): void {
    const before = this.filed.get(key);
    if (before && before.length === refs.length && before.every((r, i) => r === refs[i])) return;
    this.delete(key);
    if (!refs.length) return;
    for (const r of refs) {
      const set = this.canaries.get(r) ?? new Set<string>();
      set.add(key);
      this.canaries.set(r, set);
    }
    this.filed.set(key, refs);
  }

  delete(key: string): void {
    for (const r of this.filed.get(key) ?? []) {
      const set = this.canaries.get(r);
      set?.delete(key);
      if (set?.size === 0) this.canaries.delete(r);
    }
    this.filed.delete(key);
  }

  /** Keys of the Canaries filed under `ref`. */
  of(ref: string): ReadonlySet<string> {
    return this.canaries.get(ref) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/**
 * What a Canary's spec names: its target and the primary made from it (under `workload`), and its
 * HorizontalPodAutoscaler and the primary's copy of it (under `hpa`).
 */
export function specRefs(
  namespace: string,
  spec: { targetRef?: { name?: string }; autoscalerRef?: { name?: string } } | undefined,
): string[] {
  const out: string[] = [];
  const target = spec?.targetRef?.name;
  if (target)
    out.push(refOf('workload', namespace, target), refOf('workload', namespace, `${target}-primary`));
  const hpa = spec?.autoscalerRef?.name;
  if (hpa) out.push(refOf('hpa', namespace, hpa), refOf('hpa', namespace, `${hpa}-primary`));
  return out;
}
