// The controller's side of the concurrency limits: who holds a slot and who waits, read from the
// Canary cache (no API call), plus the runs this process admitted that the cache does not show yet.
//
// Why the reservations: two workers reconciling two Canaries at once could both read a cache with a
// free slot and both start a run. Reading the cache, deciding and reserving happen in one
// synchronous stretch of the reconcile (no await in between), and a reservation counts as a held
// slot until the cache shows the run's own status write. So the second worker, which can only run
// in the first one's await, sees the slot taken. One process decides (leader election), so an
// in-process record is enough.
import type { Phase } from '../api/canary.ts';
import { admit, holdsSlot, type Admission, type Contender, type Limits } from './admission.ts';
import type { CanaryObject } from './context.ts';
import { readRequests } from './requests.ts';
import { windowState } from './window.ts';

/** A reservation whose status write never showed up in the cache (a failed patch) lapses after this. */
const RESERVATION_TTL_MS = 30_000;

const keyOf = (c: CanaryObject) => `${c.metadata.namespace}/${c.metadata.name}`;

export function contenderOf(c: CanaryObject, now: Date): Contender {
  return {
    key: keyOf(c),
    namespace: c.metadata.namespace ?? '',
    priority: c.spec?.priority ?? 0,
    since: c.status?.queuedAt ?? now.toISOString(),
  };
}

/**
 * A queued Canary outside its release window (and not overridden by promote --now) does not compete
 * for a slot: it would otherwise hold back runs behind it that may start now.
 */
function mayStart(c: CanaryObject, now: Date): boolean {
  if (!c.spec?.schedule) return true;
  const override = readRequests(c.metadata.annotations).promoteNow;
  if (override && c.status?.handledRequests?.promoteNow !== override.id) return true;
  return windowState(c.spec.schedule, now).open;
}

export class Slots {
  private readonly reserved = new Map<string, { namespace: string; at: number }>();

  constructor(readonly limits: Limits) {}

  get limited(): boolean {
    return this.limits.cluster !== undefined || this.limits.perNamespace !== undefined;
  }

  /**
   * Whether `self` (not holding a slot) may start a run now, given every Canary the cache holds.
   */
  admission(self: CanaryObject, all: readonly CanaryObject[], now: Date): Admission | undefined {
    if (!this.limited) return undefined;
    const selfKey = keyOf(self);
    const cached = new Map(all.map((c) => [keyOf(c), c]));
    const progressing: string[] = [];
    for (const c of all)
      if (keyOf(c) !== selfKey && holdsSlot(c.status?.phase)) progressing.push(c.metadata.namespace ?? '');
    progressing.push(...this.reservedNotCached(cached, selfKey, now.getTime()));
    const queued = all
      .filter((c) => keyOf(c) !== selfKey && c.status?.phase === 'Queued' && !c.spec?.suspend)
      .filter((c) => mayStart(c, now))
      .map((c) => contenderOf(c, now));
    return admit(contenderOf(self, now), queued, progressing, this.limits);
  }

  /**
   * After a decision: a run that now holds a slot it did not hold in the cache is reserved until the
   * cache shows it; any other outcome drops a reservation of this key.
   */
  decided(self: CanaryObject, before: Phase | undefined, after: Phase | undefined, now: Date): void {
    const key = keyOf(self);
    if (holdsSlot(after) && !holdsSlot(before))
      this.reserved.set(key, { namespace: self.metadata.namespace ?? '', at: now.getTime() });
    else if (!holdsSlot(after)) this.reserved.delete(key);
  }

  /** Namespaces of the reservations the cache does not show holding a slot yet (dropping stale ones). */
  private reservedNotCached(
    cached: ReadonlyMap<string, CanaryObject>,
    selfKey: string,
    nowMs: number,
  ): string[] {
    const out: string[] = [];
    for (const [key, r] of this.reserved) {
      const c = cached.get(key);
      const shown = holdsSlot(c?.status?.phase);
      if (!c || shown || nowMs - r.at > RESERVATION_TTL_MS) this.reserved.delete(key);
      else if (key !== selfKey) out.push(r.namespace);
    }
    return out;
  }
}
