// The GitSync's status from the outcome of one reconcile (pure): revisions, inventory, the Ready /
// Reconciling / Stalled conditions (kstatus conventions: Stalled for what retrying cannot fix,
// Reconciling while a retry is pending), and what the Canaries it applies are doing with which Git
// revision. Transition times are kept when a condition's status does not change.
import type { GitSyncStatus, RollbackRecord } from '../api/gitsync.ts';
import type { InventoryEntry } from './apply.ts';

export type Condition = NonNullable<GitSyncStatus['conditions']>[number];
export type CanarySummary = NonNullable<GitSyncStatus['canaries']>[number];

export type Outcome =
  | {
      ok: true;
      revision: string;
      refName: string;
      inventory: InventoryEntry[];
      /** Whether anything was created, changed or deleted. */
      changed: boolean;
    }
  | {
      ok: false;
      reason: string;
      message: string;
      /** True when only a change (new commit, new spec) can fix it; false when a retry may. */
      stalled: boolean;
      revision?: string | undefined;
      inventory?: InventoryEntry[] | undefined;
    };

export interface StatusInput {
  previous: GitSyncStatus;
  generation: number;
  syncRequest?: string | undefined;
  outcome?: Outcome | undefined;
  canaries: CanarySummary[];
  /** Rollbacks of those Canaries and what Git was told (rollback-sync.ts); undefined keeps the previous. */
  rollbacks?: RollbackRecord[] | undefined;
  now: Date;
}

const MAX_MESSAGE = 32_768;

export function nextStatus(input: StatusInput): GitSyncStatus {
  const { previous: prev, outcome, now } = input;
  const out: GitSyncStatus = { ...prev, observedGeneration: input.generation };
  if (input.syncRequest && outcome) out.lastHandledSyncRequest = input.syncRequest;
  if (input.canaries.length || prev.canaries) out.canaries = input.canaries;
  // An empty list, not a missing field, clears them: status is written with a merge patch.
  if (input.rollbacks && (input.rollbacks.length || prev.rollbacks)) out.rollbacks = input.rollbacks;
  if (!outcome) return out;
  const at = now.toISOString();
  const gen = input.generation;
  const make = (type: string, ok: boolean, reason: string, message: string): Condition => {
    const before = prev.conditions?.find((c) => c.type === type);
    const status = ok ? ('True' as const) : ('False' as const);
    return {
      type,
      status,
      reason,
      // The CRD allows 32 KiB (apiserver messages quoted in apply errors can be long): over it the
      // status patch would be refused and the GitSync would never show why it fails.
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 16)}… (truncated)` : message,
      lastTransitionTime: before?.status === status ? (before.lastTransitionTime ?? at) : at,
      observedGeneration: gen,
    };
  };
  if (outcome.ok) {
    const applied = `Applied revision ${outcome.refName}@${outcome.revision}`;
    out.lastAttemptedRevision = outcome.revision;
    if (outcome.changed || prev.lastAppliedRevision !== outcome.revision || !prev.lastAppliedTime)
      out.lastAppliedTime = at;
    out.lastAppliedRevision = outcome.revision;
    out.inventory = sortInventory(outcome.inventory);
    out.conditions = [
      make('Ready', true, 'Succeeded', applied),
      make('Reconciling', false, 'Succeeded', applied),
      make('Stalled', false, 'Succeeded', applied),
    ];
    return out;
  }
  if (outcome.revision) out.lastAttemptedRevision = outcome.revision;
  if (outcome.inventory) out.inventory = sortInventory(outcome.inventory);
  out.conditions = [
    make('Ready', false, outcome.reason, outcome.message),
    outcome.stalled
      ? make('Reconciling', false, outcome.reason, 'waiting for a new revision or spec change')
      : make('Reconciling', true, 'ProgressingWithRetry', `retrying with backoff after ${outcome.reason}`),
    make('Stalled', outcome.stalled, outcome.reason, outcome.stalled ? outcome.message : 'retrying'),
  ];
  return out;
}

export function sortInventory(entries: InventoryEntry[]): InventoryEntry[] {
  const key = (e: InventoryEntry) => `${e.namespace ?? ''}/${e.kind}/${e.name}/${e.apiVersion}`;
  const seen = new Set<string>();
  return [...entries]
    .sort((a, b) => key(a).localeCompare(key(b)))
    .filter((e) => (seen.has(key(e)) ? false : (seen.add(key(e)), true)));
}

/** Structural equality of two statuses (key order and undefined fields ignored). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => [k, normalise((v as Record<string, unknown>)[k])]),
    );
  return v;
}
