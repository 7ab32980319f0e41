// Whether a reconcile's status is worth a write (issue 12: at most one status write per analysis
// tick, none that changes nothing). Pure, table-tested; the controller does the patch.
import type { CanaryStatus } from '../api/canary.ts';
import { isSubset } from '../kube/compare.ts';

/** A message that reports how ready pods are, e.g. "Promoting: waiting for app-primary to roll out (50% ready)". */
const READINESS = /\(\d+% ready\)/;

export type StatusWrite =
  /** Write now. */
  | { write: true }
  /** Nothing to write; `laterMs`: a readiness report held back, written then if still news. */
  | { write: false; laterMs?: number };

/**
 * What to do with `after`, the status a reconcile computed, given `before`, the Canary's status:
 * - nothing when the two say the same (an empty pendingAlerts list is no list: the removal of the
 *   last delivered alert leaves `[]` behind, and rewriting it as absent changes nothing);
 * - a change of the readiness percentage alone (or a first readiness report replacing another
 *   message) waits until `intervalMs` after this controller's last status write (`lastWriteAt`), so
 *   pods becoming ready one by one cost at most one write per analysis interval. Phase, weight,
 *   revisions, analysis results and every other field are written at once.
 */
export function statusWrite(
  before: CanaryStatus | undefined,
  after: CanaryStatus,
  at: { now: number; lastWriteAt: number | undefined; intervalMs: number },
): StatusWrite {
  const was = comparable(before ?? {});
  const now = comparable(after);
  if (same(was, now)) return { write: false };
  if (!READINESS.test(after.message ?? '') || !same(withoutMessages(was), withoutMessages(now)))
    return { write: true };
  const left = (at.lastWriteAt ?? -Infinity) + at.intervalMs - at.now;
  return left > 0 ? { write: false, laterMs: left } : { write: true };
}

function same(a: CanaryStatus, b: CanaryStatus): boolean {
  return isSubset(a, b) && isSubset(b, a);
}

function comparable(status: CanaryStatus): CanaryStatus {
  if (status.pendingAlerts?.length !== 0) return status;
  const { pendingAlerts: _empty, ...rest } = status;
  return rest;
}

/** The status without its message and its conditions' messages (which repeat it). */
function withoutMessages(status: CanaryStatus): CanaryStatus {
  const { message: _message, conditions, ...rest } = status;
  return {
    ...rest,
    ...(conditions ? { conditions: conditions.map(({ message: _m, ...c }) => c) } : {}),
  } as CanaryStatus;
}
