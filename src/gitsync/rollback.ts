// Git-consistent rollback, the pure part: which Canaries this GitSync applies have rolled back while
// Git still asks for the failed revision, the status records that say so, and the write-back commit
// message. A Canary counts when it is Failed on a revision other than the promoted one, and its
// target Deployment (also applied by this GitSync) still carries the Git revision of that failed run:
// Git asks for X, the primary keeps serving Y. The canary controller does not run X again (its
// status.lastAppliedSpec is X), and re-applying the unchanged X writes nothing, so the cluster stays
// on Y without a loop; these records make that visible, and write-back (rollback-sync.ts) ends it.
import type { V1Deployment } from '@kubernetes/client-node';
import type { RollbackRecord, WriteBackSpec } from '../api/gitsync.ts';
import { GROUP } from '../api/kinds.ts';
import type { CanaryObject } from '../canary/context.ts';
import { redactCredentials } from '../redact.ts';
import { GIT_REVISION_ANNOTATION, type InventoryEntry } from './apply.ts';

export const WEIR_AUTHOR = { name: 'Weir', email: 'weir@weir.dev' };
export const SIGN_OFF = `Signed-off-by: ${WEIR_AUTHOR.name} <${WEIR_AUTHOR.email}>`;

export interface RolledBack {
  canary: string;
  namespace: string;
  /** The target Deployment's name; the primary is `<target>-primary`. */
  target: string;
  failedRevision: string;
  keptRevision?: string | undefined;
  /** The primary's images, when the kept Git revision is unknown. */
  keptImages: string[];
  reason: string;
  /** spec.template.spec of the target (the failed revision) and of the primary, as the API server keeps them. */
  failedPodSpec: unknown;
  keptPodSpec: unknown;
}

export interface RollbackLookup {
  canary(namespace: string, name: string): CanaryObject | undefined;
  deployment(namespace: string, name: string): V1Deployment | undefined;
}

/** History kept in status: the newest records (pinned ones always stay while they hold). */
export const MAX_RECORDS = 10;
const ROLLED_BACK = /^RolledBack:\s*/;

export const shortRevision = (rev: string | undefined): string => (rev ? rev.slice(0, 12) : '?');

/** Canaries in `inventory` rolled back while their target, also in `inventory`, still has the failed Git revision. */
export function findRollbacks(inventory: InventoryEntry[], lookup: RollbackLookup): RolledBack[] {
  const applied = new Set(inventory.map((e) => `${e.kind}/${e.namespace ?? ''}/${e.name}`));
  const out: RolledBack[] = [];
  for (const e of inventory) {
    if (e.kind !== 'Canary' || !e.apiVersion.startsWith(`${GROUP}/`) || !e.namespace) continue;
    const found = rolledBack(e.namespace, e.name, lookup, applied);
    if (found) out.push(found);
  }
  return out;
}

function rolledBack(
  namespace: string,
  name: string,
  lookup: RollbackLookup,
  applied: Set<string>,
): RolledBack | undefined {
  const c = lookup.canary(namespace, name);
  const st = c?.status;
  const targetName = c?.spec?.targetRef?.name;
  if (!st || !targetName || c.spec.targetRef.kind !== 'Deployment') return undefined;
  if (st.phase !== 'Failed' || !st.lastAppliedSpec || st.lastAppliedSpec === st.lastPromotedSpec)
    return undefined;
  if (!applied.has(`Deployment/${namespace}/${targetName}`)) return undefined;
  const target = lookup.deployment(namespace, targetName);
  const primary = lookup.deployment(namespace, `${targetName}-primary`);
  const gitRevision = target?.metadata?.annotations?.[GIT_REVISION_ANNOTATION];
  if (!target || !primary || !gitRevision || gitRevision !== st.lastAppliedGitRevision) return undefined;
  return {
    canary: name,
    namespace,
    target: targetName,
    failedRevision: gitRevision,
    keptRevision: st.lastPromotedGitRevision,
    keptImages: (primary.spec?.template?.spec?.containers ?? []).map((k) => k.image ?? ''),
    // It goes into status and a commit message: no credentials a gate or metric URL may carry.
    reason: redactCredentials((st.message ?? 'rolled back').replace(ROLLED_BACK, '')),
    failedPodSpec: target.spec?.template?.spec,
    keptPodSpec: primary.spec?.template?.spec,
  };
}

/** What the cluster kept, for people: the Git revision, else the primary's images. */
function keptText(r: RolledBack): string {
  if (r.keptRevision) return shortRevision(r.keptRevision);
  return r.keptImages.length ? r.keptImages.join(', ') : `${r.target}-primary`;
}

export const sameRollback = (rec: RollbackRecord, r: RolledBack): boolean =>
  rec.namespace === r.namespace && rec.canary === r.canary && rec.failedRevision === r.failedRevision;

const base = (r: RolledBack) => ({
  canary: r.canary,
  namespace: r.namespace,
  failedRevision: r.failedRevision,
  ...(r.keptRevision ? { keptRevision: r.keptRevision } : {}),
  reason: r.reason,
});

/** Git asks for X, the cluster keeps Y; `note` says why write-back did not (yet) change that. */
export function pinnedRecord(r: RolledBack, note?: string): RollbackRecord {
  const why = `Git asks for ${shortRevision(r.failedRevision)}, cluster kept ${keptText(r)} because Canary ${r.namespace}/${r.canary} rolled it back: ${r.reason}`;
  return { ...base(r), state: 'Pinned', message: note ? `${why} (write-back: ${note})` : why };
}

export function writtenRecord(
  r: RolledBack,
  commit: string,
  branch: string,
  pushed: boolean,
): RollbackRecord {
  const what = pushed
    ? `pushed ${shortRevision(commit)} to ${branch}`
    : `${branch} at ${shortRevision(commit)} already has it`;
  return {
    ...base(r),
    state: 'WrittenBack',
    commit,
    message: `Canary ${r.namespace}/${r.canary} rolled back ${shortRevision(r.failedRevision)} (${r.reason}); ${what}, restoring ${keptText(r)} in Git`,
  };
}

/** The records of this reconcile first, then the older written-back ones, newest kept. */
export function mergeRecords(current: RollbackRecord[], previous: RollbackRecord[]): RollbackRecord[] {
  const key = (x: RollbackRecord) => `${x.namespace}/${x.canary}/${x.failedRevision}`;
  const now = new Set(current.map(key));
  const history = previous.filter((p) => p.state === 'WrittenBack' && !now.has(key(p)));
  return [...current, ...history].slice(0, Math.max(MAX_RECORDS, current.length));
}

/** Subject (spec `message`, with placeholders), body naming the failed revision and the reason, sign-off. */
export function commitMessage(spec: WriteBackSpec, r: RolledBack, changed: string[]): string {
  const vars: Record<string, string> = {
    canary: `${r.namespace}/${r.canary}`,
    target: `${r.namespace}/${r.target}`,
    revision: shortRevision(r.failedRevision),
    kept: keptText(r),
  };
  const template =
    spec.message ?? 'Roll back {{ target }} to {{ kept }}: Canary {{ canary }} rejected {{ revision }}';
  const subject = template.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => vars[k] ?? m).split('\n')[0]!;
  const body = [
    `Canary ${vars.canary} rolled back Git revision ${r.failedRevision}: ${r.reason}`,
    `The cluster kept ${keptText(r)}; this commit sets the target Deployment back to what its primary runs:`,
    ...changed.map((c) => `  ${c}`),
  ];
  return `${subject}\n\n${body.join('\n')}\n\n${SIGN_OFF}\n`;
}
