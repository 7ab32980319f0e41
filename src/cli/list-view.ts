// The `weir list canaries` table, pure: one row per Canary, the columns `kubectl get canaries` has plus
// the step or iteration as n/m, the failed checks against the threshold, and a Queued run's place in
// line.
import type { CanaryObject } from '../canary/context.ts';
import { isPaused, progressText, queuePlace } from './canary-view.ts';
import { age, phaseBadge, table, type Style } from './style.ts';

export function renderCanaryList(canaries: CanaryObject[], o: { style: Style; now: Date }): string {
  if (!canaries.length) return 'No canaries found.';
  const rows = canaries.map((c) => {
    const s = c.status ?? {};
    const hasStatus = s.phase !== undefined;
    return [
      c.metadata.name,
      c.metadata.namespace,
      statusText(c, o.style),
      hasStatus ? `${s.canaryWeight ?? 0}%` : '-',
      hasStatus && c.spec?.analysis ? progressText(c.spec, s).value : '-',
      hasStatus ? `${s.failedChecks ?? 0}/${c.spec?.analysis?.threshold ?? 1}` : '-',
      s.lastTransitionTime ? `${age(s.lastTransitionTime, o.now)} ago` : '-',
    ];
  });
  return table([['NAME', 'NAMESPACE', 'STATUS', 'WEIGHT', 'STEP', 'FAILED', 'LAST TRANSITION'], ...rows]);
}

/** The phase badge; a Queued run's place in line after it ("॥ Queued #2"). */
function statusText(c: CanaryObject, style: Style): string {
  const badge = phaseBadge(c.status?.phase, isPaused(c), style);
  const place = queuePlace(c.status ?? {});
  return place ? `${badge} ${style.yellow(`#${place}`)}` : badge;
}
