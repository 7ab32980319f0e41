// Which Canaries a workload's watch event concerns: the Canary whose spec.targetRef names it, or
// names the workload it is the primary of. Kept from the Canaries' own events, so a Deployment event
// costs a map lookup, not a walk over every Canary of its namespace (1,000 Canaries in one
// namespace made each of the rollout's many Deployment status events a 1,000-entry scan).

export class TargetIndex {
  /** `namespace/workload` → keys (`namespace/name`) of the Canaries it concerns. */
  private readonly canaries = new Map<string, Set<string>>();
  /** Canary key → the workload keys it is filed under. */
  private readonly filed = new Map<string, string[]>();

  /** Files the Canary `key` under its target and the target's primary (again on every event: targetRef may change). */
  set(key: string, namespace: string, target: string | undefined): void {
    this.delete(key);
    if (!target) return;
    const workloads = [`${namespace}/${target}`, `${namespace}/${target}-primary`];
    for (const w of workloads) {
      const set = this.canaries.get(w) ?? new Set<string>();
      set.add(key);
      this.canaries.set(w, set);
    }
    this.filed.set(key, workloads);
  }

  delete(key: string): void {
    for (const w of this.filed.get(key) ?? []) {
      const set = this.canaries.get(w);
      set?.delete(key);
      if (set?.size === 0) this.canaries.delete(w);
    }
    this.filed.delete(key);
  }

  /** Keys of the Canaries whose target (or its primary) is `namespace/workload`. */
  of(namespace: string, workload: string): ReadonlySet<string> {
    return this.canaries.get(`${namespace}/${workload}`) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
