// Watch events of objects a write of ours is still waiting on. The API server may deliver the watch
// event of our own write before the write's response: the event's resourceVersion is then not known
// as ours yet, and the event would pass for someone else's change (a reconcile for nothing, a
// twelfth of a rollout's reconciles at 20 Canaries). Such events wait for the write's answer and
// are then judged against it. Held events go when the last write of the object in flight ends
// (answered, failed or timed out), so no event waits longer than those writes. A write that changes
// nothing returns the object's current resourceVersion, which may be another writer's change not
// yet seen here: that change is then taken for our echo, as isEcho always did (a change of fields
// we do not write, since ours already held our values).

interface Flight {
  writes: number;
  held: Array<{ rv: string | undefined; then: () => void }>;
}

export class InFlightWrites {
  private readonly flights = new Map<string, Flight>();

  /** A write of `key` starts; end() must follow, answered or failed. */
  begin(key: string): void {
    const f = this.flights.get(key);
    if (f) f.writes++;
    else this.flights.set(key, { writes: 1, held: [] });
  }

  /**
   * A write of `key` ended. Once none is left in flight, each event held meanwhile runs its `then`
   * unless `ours(rv)` says it is the echo of one of our writes.
   */
  end(key: string, ours: (rv: string | undefined) => boolean): void {
    const f = this.flights.get(key);
    if (!f || --f.writes > 0) return;
    this.flights.delete(key);
    for (const e of f.held) if (!ours(e.rv)) e.then();
  }

  /** Holds an event of `key` (resourceVersion `rv`) while a write of it is in flight; false when none is. */
  hold(key: string, rv: string | undefined, then: () => void): boolean {
    const f = this.flights.get(key);
    if (!f) return false;
    f.held.push({ rv, then });
    return true;
  }

  /** Writes now in flight (for tests). */
  get size(): number {
    return this.flights.size;
  }
}
