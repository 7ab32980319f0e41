// Git-consistent rollback, once per GitSync reconcile: for every Canary this GitSync applies that
// rolled back while Git still asks for the failed revision, either pin it in status (no writeBack
// configured, or write-back impossible for this source) or push a commit that sets the target's pod
// template back to the primary's. Status is the record of what was written back: a rollback recorded
// as WrittenBack is never pushed again, and a crash between push and status write is harmless (the
// next attempt finds the branch already restored and pushes nothing). Retryable failures (fetch,
// push, credentials) back off in memory; a source where the fields cannot be located stays pinned.
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { GitSyncSpec, RollbackRecord, WriteBackSpec } from '../api/gitsync.ts';
import type { Logger } from '../log.ts';
import type { InventoryEntry } from './apply.ts';
import { credentialsFromSecret, type GitCredentials } from './fetch.ts';
import {
  commitMessage,
  findRollbacks,
  mergeRecords,
  pinnedRecord,
  sameRollback,
  writtenRecord,
  type RollbackLookup,
  type RolledBack,
} from './rollback.ts';
import { templateDifferences } from './template-edit.ts';
import { writeBack } from './writeback.ts';

export interface RollbackSyncInput {
  owner: { namespace: string; name: string };
  spec: GitSyncSpec;
  inventory: InventoryEntry[];
  previous: RollbackRecord[];
  lookup: RollbackLookup;
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** Scratch directory for the write-back clone. */
  scratchDir: string;
  timeoutMs: number;
  allowFile: boolean;
  /** Per-GitSync memory of failed write-backs: when each may be tried again (Infinity: not). */
  retries: Map<string, { at: number; failures: number }>;
  log: Logger;
}

export interface RollbackSyncResult {
  records: RollbackRecord[];
  /** A commit landed on the branch this GitSync syncs: sync now to apply it. */
  pushedToSyncedBranch: boolean;
  /** When to look again for a write-back that failed and may succeed later. */
  retryAfterMs?: number;
  /** Records new or changed since the previous status, for Events. */
  changed: RollbackRecord[];
}

const RETRY_BASE_MS = 5_000;
const RETRY_MAX_MS = 5 * 60_000;

export async function reconcileRollbacks(input: RollbackSyncInput): Promise<RollbackSyncResult> {
  const found = findRollbacks(input.inventory, input.lookup);
  const writeBackSpec = input.spec.rollback?.writeBack;
  const result: RollbackSyncResult = { records: [], pushedToSyncedBranch: false, changed: [] };
  for (const r of found) {
    const before = input.previous.find((p) => sameRollback(p, r));
    let record: RollbackRecord;
    if (before?.state === 'WrittenBack') record = before;
    else if (!writeBackSpec) record = pinnedRecord(r);
    else record = await tryWriteBack(input, writeBackSpec, r, before, result);
    result.records.push(record);
    if (record.state !== before?.state || record.message !== before.message) result.changed.push(record);
  }
  result.records = mergeRecords(result.records, input.previous);
  return result;
}

const keyOf = (r: RolledBack) => `${r.namespace}/${r.canary}/${r.failedRevision}`;

async function tryWriteBack(
  input: RollbackSyncInput,
  spec: WriteBackSpec,
  r: RolledBack,
  before: RollbackRecord | undefined,
  result: RollbackSyncResult,
): Promise<RollbackRecord> {
  const key = keyOf(r);
  const retry = input.retries.get(key);
  if (retry && Date.now() < retry.at) {
    if (retry.at !== Infinity) later(result, retry.at - Date.now());
    return before ?? pinnedRecord(r, 'waiting to retry');
  }
  const outcome = await attemptWriteBack(input, spec, r);
  if (outcome.ok) {
    input.retries.delete(key);
    input.log.info(
      { canary: key, commit: outcome.commit, pushed: outcome.pushed },
      'rollback written back to Git',
    );
    if (outcome.pushed && outcome.branch === input.spec.ref?.branch) result.pushedToSyncedBranch = true;
    return writtenRecord(r, outcome.commit, outcome.branch, outcome.pushed);
  }
  input.log.warn({ canary: key, retryable: outcome.retryable }, `rollback write-back: ${outcome.reason}`);
  const failures = (retry?.failures ?? 0) + 1;
  const delay = outcome.retryable ? Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1)) : Infinity;
  input.retries.set(key, { at: Date.now() + delay, failures });
  if (outcome.retryable) later(result, delay);
  return pinnedRecord(r, outcome.reason);
}

function later(result: RollbackSyncResult, ms: number): void {
  result.retryAfterMs = Math.min(result.retryAfterMs ?? ms, ms);
}

type Attempt =
  | { ok: true; commit: string; pushed: boolean; branch: string }
  | { ok: false; reason: string; retryable: boolean };

async function attemptWriteBack(
  input: RollbackSyncInput,
  spec: WriteBackSpec,
  r: RolledBack,
): Promise<Attempt> {
  const branch = spec.branch ?? input.spec.ref?.branch;
  if (!branch)
    return { ok: false, reason: 'no branch to push to (ref is a tag or a commit)', retryable: false };
  const diff = templateDifferences(r.failedPodSpec, r.keptPodSpec);
  if (!diff.ok) return { ok: false, reason: diff.reason, retryable: false };
  if (!diff.edits.length)
    return {
      ok: false,
      reason: 'the pod templates are equal: the failed revision changed only tracked ConfigMap/Secret data',
      retryable: false,
    };
  const credentials = await pushCredentials(input, spec);
  if (typeof credentials === 'string') return { ok: false, reason: credentials, retryable: true };
  const { namespace } = input.owner;
  const done = await writeBack({
    dir: input.scratchDir,
    url: input.spec.url,
    branch,
    credentials,
    allowFile: input.allowFile,
    timeoutMs: input.timeoutMs,
    path: input.spec.path ?? '.',
    target: {
      name: r.target,
      namespace: r.namespace,
      defaultNamespace: input.spec.targetNamespace ?? namespace,
    },
    edits: diff.edits,
    message: (changed) => commitMessage(spec, r, changed),
  });
  return done.ok ? { ok: true, commit: done.commit, pushed: done.pushed, branch } : done;
}

/** writeBack.secretRef, else spec.secretRef, else none; a string says what is missing. */
async function pushCredentials(
  input: RollbackSyncInput,
  spec: WriteBackSpec,
): Promise<GitCredentials | undefined | string> {
  const ref = spec.secretRef ?? input.spec.secretRef;
  if (!ref) return undefined;
  const secret = await input.readSecret(input.owner.namespace, ref.name).catch(() => undefined);
  if (!secret) return `Secret ${input.owner.namespace}/${ref.name} not found`;
  return credentialsFromSecret(secret.data);
}

/** The lookup of the rollback detection, over informer caches. */
export function cacheLookup(
  canary: (ns: string, name: string) => unknown,
  deployment: (ns: string, name: string) => unknown,
): RollbackLookup {
  return {
    canary: (ns, name) => canary(ns, name) as ReturnType<RollbackLookup['canary']>,
    deployment: (ns, name) => deployment(ns, name) as V1Deployment | undefined,
  };
}
