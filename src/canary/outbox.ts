// The alert outbox. A transition's alerts are recorded in status.pendingAlerts by the same status
// patch that records the transition, and removed by a later patch once delivered. A controller that
// dies between the two finds them in status after its restart and sends them then: an alert is
// never lost to a crash, and is duplicated only when the process dies between delivery and the
// removal patch. The pure parts are here (table-tested); the controller does the I/O.
import { MAX_PENDING_ALERTS, type PendingAlert } from '../api/canary.ts';
import type { Notification } from '../notify/notifier.ts';
import type { Action } from './model.ts';

export type AlertAction = Extract<Action, { type: 'alert' }>;

/** What a new pending alert records besides its action: the Canary's state at the transition. */
export interface AlertContext {
  fields: PendingAlert['fields'];
  time: string;
  newId: () => string;
}

/**
 * `pending` with one entry per alert action appended, at most `max` kept: the oldest go first
 * (returned as `dropped`, for a log line), since status must stay bounded when no alert can be sent.
 */
export function enqueueAlerts(
  pending: readonly PendingAlert[],
  actions: readonly Action[],
  at: AlertContext,
  max = MAX_PENDING_ALERTS,
): { pending: PendingAlert[]; added: PendingAlert[]; dropped: PendingAlert[] } {
  const added = actions
    .filter((a): a is AlertAction => a.type === 'alert')
    .map((a) => ({
      id: at.newId(),
      kind: a.kind,
      severity: a.severity,
      message: a.message,
      fields: { ...at.fields },
      time: at.time,
    }));
  const all = [...pending, ...added];
  const cut = Math.max(0, all.length - max);
  return { pending: all.slice(cut), added, dropped: all.slice(0, cut) };
}

/** The notification a pending alert becomes. */
export function toNotification(namespace: string, canary: string, p: PendingAlert): Notification {
  return {
    canary,
    namespace,
    severity: p.severity,
    kind: p.kind,
    message: p.message,
    fields: { ...p.fields },
  };
}

/**
 * What this process knows of a Canary's pending alerts that status cannot say: which it is sending
 * now (`inflight`: a reconcile must not send them again) and which it has delivered but whose
 * removal from status the cache does not show yet (`delivered`: pruned by the next status write).
 */
export class AlertOutbox {
  private readonly inflight = new Map<string, Set<string>>();
  private readonly delivered = new Map<string, Set<string>>();
  /** Delivered alerts whose removal patch (the controller's removeDelivered) is on its way. */
  private readonly removing = new Map<string, Set<string>>();

  /**
   * The Canary's pending alerts (from a cache that has seen this process's last write) without the
   * ones delivered here. Delivered ids no longer in status are forgotten: their removal was written.
   */
  settle(key: string, pending: readonly PendingAlert[] | undefined): PendingAlert[] {
    const done = this.delivered.get(key);
    const list = pending ?? [];
    if (!done) return [...list];
    const present = new Set(list.map((p) => p.id));
    for (const id of done) if (!present.has(id)) done.delete(id);
    if (!done.size) this.delivered.delete(key);
    return list.filter((p) => !done.has(p.id));
  }

  /** The alerts of `pending` nobody here is sending or has sent; they are marked in flight. */
  claim(key: string, pending: readonly PendingAlert[]): PendingAlert[] {
    const flying = this.inflight.get(key) ?? new Set<string>();
    const done = this.delivered.get(key);
    const out = pending.filter((p) => !flying.has(p.id) && !done?.has(p.id));
    for (const p of out) flying.add(p.id);
    if (flying.size) this.inflight.set(key, flying);
    return out;
  }

  /** Dispatch of `id` finished (delivered, or given up after its retries): remove it from status. */
  finished(key: string, id: string): void {
    const flying = this.inflight.get(key);
    flying?.delete(id);
    if (flying && !flying.size) this.inflight.delete(key);
    const done = this.delivered.get(key) ?? new Set<string>();
    done.add(id);
    this.delivered.set(key, done);
  }

  /** The removal patch of a delivered alert starts (`on`) or has ended, written or not (`off`). */
  removal(key: string, id: string, on: boolean): void {
    const ids = this.removing.get(key) ?? new Set<string>();
    if (on) ids.add(id);
    else ids.delete(id);
    if (ids.size) this.removing.set(key, ids);
    else this.removing.delete(key);
  }

  /**
   * Pending alerts as status will hold them once the removal patches on their way have landed: a
   * reconcile whose only news is such a removal leaves it to that patch instead of writing it twice.
   * A removal that fails requeues the Canary, whose next status write then removes the alert.
   */
  afterRemovals(key: string, pending: readonly PendingAlert[] | undefined): PendingAlert[] | undefined {
    const ids = this.removing.get(key);
    return ids && pending ? pending.filter((p) => !ids.has(p.id)) : pending?.slice();
  }

  /** The Canary is gone. */
  forget(key: string): void {
    this.inflight.delete(key);
    this.delivered.delete(key);
    this.removing.delete(key);
  }
}

/** Whether two pending lists hold the same ids in the same order. */
export function samePending(a: readonly PendingAlert[] | undefined, b: readonly PendingAlert[]): boolean {
  const x = a ?? [];
  return x.length === b.length && x.every((p, i) => p.id === b[i]!.id);
}
