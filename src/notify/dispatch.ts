// Sends one notification to every alert target whose severity admits it.
import { describeError, isWeirError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { passesSeverity, type Notification, type Notifier, type Severity } from './notifier.ts';

export interface AlertTarget {
  severity: Severity;
  notifier: Notifier;
  /** spec.analysis.alerts[].name, used in logs instead of the (secret) URL. */
  name: string;
}

/**
 * A target with severity `info` gets everything, `warn` gets warn and error, `error` only errors.
 * Targets are sent to concurrently; one failing never stops the others, and failures are only
 * logged (alerts must not block a rollout or a rollback). Never rejects.
 *
 * `muteAlert` (Flagger's): a gate webhook with `muteAlert: true` silences the alerts its closed gate
 * would cause ("Canary is waiting for approval."). Muting is the caller's decision: it passes no
 * targets (or only the unmuted ones) for such notifications; dispatch() knows nothing of webhooks.
 */
export async function dispatch(n: Notification, targets: AlertTarget[], log: Logger): Promise<void> {
  const chosen = targets.filter((t) => passesSeverity(t.severity, n.severity));
  await Promise.all(
    chosen.map(async (t) => {
      try {
        await t.notifier.send(n);
      } catch (err) {
        // Our notifiers throw URL-free WeirErrors; anything else might embed the URL, so only its name.
        const why = isWeirError(err)
          ? describeError(err)
          : `unexpected ${err instanceof Error ? err.name : typeof err}`;
        log.warn({ alert: t.name, provider: t.notifier.type, kind: n.kind, err: why }, 'alert not delivered');
      }
    }),
  );
}
