// analysis.onFailure: freeze (docs/freeze.md). When the failed checks reach the threshold the run
// holds its weights in phase Frozen instead of rolling back, and waits for a person. How long it waits
// is computed from status.frozenAt and the current spec, so editing freezeDeadline on a Frozen Canary
// moves its deadline. Pure: decide() and `weir get canary` both read it.
import type { CanarySpec, CanaryStatus } from '../api/canary.ts';
import { parseDuration } from '../vocab/duration.ts';

/** How long a Frozen run waits: analysis.freezeDeadline, else progressDeadlineSeconds. */
export function freezeWaitMs(spec: CanarySpec): number {
  const own = spec.analysis.freezeDeadline;
  return own ? parseDuration(own) : spec.progressDeadlineSeconds * 1000;
}

/** The same, as the user wrote it, for messages. */
export function freezeWaitText(spec: CanarySpec): string {
  return spec.analysis.freezeDeadline
    ? `analysis.freezeDeadline ${spec.analysis.freezeDeadline}`
    : `progressDeadlineSeconds ${spec.progressDeadlineSeconds}s`;
}

/**
 * When a Frozen run rolls back unless a person acted. A Frozen status without frozenAt (written by
 * hand) counts from lastTransitionTime, so it still ends.
 */
export function frozenUntil(spec: CanarySpec, status: CanaryStatus): Date | undefined {
  const since = Date.parse(status.frozenAt ?? status.lastTransitionTime ?? '');
  if (Number.isNaN(since)) return undefined;
  return new Date(since + freezeWaitMs(spec));
}
