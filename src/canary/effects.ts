// The side effects a Decision causes after its status is written: Kubernetes Events, alerts to the
// Canary's AlertProviders and the global Slack target (from the status outbox, see outbox.ts), and
// notification webhooks (event, post-rollout). Best effort: failures are logged and never undo the
// decision. Events and webhooks are at most once (a crash right after the status write loses them).
import type { V1Secret } from '@kubernetes/client-node';
import type { AlertProviderSpec } from '../api/alert-provider.ts';
import type { PendingAlert } from '../api/canary.ts';
import type { Config } from '../config.ts';
import { fireAndForget, type WebhookPayload } from '../hooks/webhooks.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../log.ts';
import { dispatch, type AlertTarget } from '../notify/dispatch.ts';
import { createNotifier } from '../notify/registry.ts';
import type { Caches, CanaryContext } from './context.ts';
import type { Decision } from './model.ts';
import { toNotification } from './outbox.ts';
import { eventTypeOf } from './run.ts';

export interface EffectDeps {
  caches: Caches;
  config: Config;
  recorder: EventRecorder;
  log: Logger;
}

export function decodeSecret(s: V1Secret | undefined): Record<string, string> | undefined {
  if (!s) return undefined;
  return Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function alertTargets(ctx: CanaryContext, deps: EffectDeps): AlertTarget[] {
  const out: AlertTarget[] = [];
  const opts = { log: deps.log, timeoutMs: 10_000 };
  for (const a of ctx.view.spec.analysis.alerts ?? []) {
    const ns = a.providerRef.namespace ?? ctx.view.namespace;
    const provider = deps.caches.alertProvider?.get(ns, a.providerRef.name) as
      { spec?: AlertProviderSpec } | undefined;
    if (!provider?.spec) {
      deps.log.warn(
        { alert: a.name },
        `spec.analysis.alerts[${a.name}].providerRef: AlertProvider ${ns}/${a.providerRef.name} not found`,
      );
      continue;
    }
    const secretRef = provider.spec.secretRef;
    const secret = secretRef
      ? decodeSecret(deps.caches.secret?.content(ns, secretRef.name) as V1Secret | undefined)
      : undefined;
    try {
      out.push({ name: a.name, severity: a.severity, notifier: createNotifier(provider.spec, secret, opts) });
    } catch (err) {
      deps.log.warn({ err, alert: a.name }, 'alert provider unusable');
    }
  }
  if (deps.config.slack) {
    const { url, channel, username } = deps.config.slack;
    const spec: AlertProviderSpec = {
      type: 'slack',
      address: url,
      username,
      ...(channel ? { channel } : {}),
    };
    out.push({ name: 'global-slack', severity: 'info', notifier: createNotifier(spec, undefined, opts) });
  }
  return out;
}

/**
 * A Canary's alerts and notification webhooks, sent in order but off the reconcile worker: a slow
 * Slack or a hanging `event` hook (each bounded by its own timeout) never holds a worker.
 */
const outbox = new Map<string, Promise<void>>();

function send(key: string, work: () => Promise<void>, log: Logger): void {
  const next = (outbox.get(key) ?? Promise.resolve())
    .then(work)
    .catch((err: unknown) => log.warn({ err: String(err) }, 'notification failed'));
  outbox.set(key, next);
  void next.finally(() => {
    if (outbox.get(key) === next) outbox.delete(key);
  });
}

/**
 * Sends pending alerts (status.pendingAlerts) in order, in the Canary's notification queue, and
 * awaits `finished(id)` once each one's dispatch is over (before the next one): dispatch never
 * throws, so that is delivery or a failure after the notifiers' own retries and timeouts. Either
 * way the alert leaves status.
 */
export function sendAlerts(
  ctx: CanaryContext,
  alerts: readonly PendingAlert[],
  deps: EffectDeps,
  finished: (id: string) => Promise<void>,
): void {
  if (!alerts.length) return;
  const targets = alertTargets(ctx, deps);
  for (const p of alerts) {
    const n = toNotification(ctx.view.namespace, ctx.view.name, p);
    send(
      ctx.key,
      async () => {
        try {
          await dispatch(n, targets, deps.log);
        } finally {
          await finished(p.id);
        }
      },
      deps.log,
    );
  }
}

export async function runEffects(ctx: CanaryContext, d: Decision, deps: EffectDeps): Promise<void> {
  const { view } = ctx;
  const target = {
    apiVersion: ctx.obj.apiVersion!,
    kind: ctx.obj.kind!,
    namespace: view.namespace,
    name: view.name,
    uid: ctx.obj.metadata.uid!,
  };
  const payload = (metadata?: Record<string, string>): WebhookPayload => ({
    name: view.name,
    namespace: view.namespace,
    phase: d.status.phase ?? 'Initializing',
    checksum: d.status.lastAppliedSpec ?? ctx.revision,
    ...(metadata ? { metadata } : {}),
  });
  const hookOpts = { log: deps.log };
  // `alert` actions are not sent here: they are recorded in status.pendingAlerts with the
  // transition and sent by sendAlerts() (see outbox.ts), so a crash cannot lose them.
  for (const a of d.actions) {
    if (a.type === 'event') {
      deps.log.info({ reason: a.reason }, a.message);
      await deps.recorder.record(target, a.eventType, a.reason, a.message);
    } else if (a.type === 'runHooks') {
      const msg = d.status.message ?? '';
      const body = payload(
        a.hookType === 'event' ? { eventMessage: msg, eventType: eventTypeOf(d.status.phase) } : undefined,
      );
      const hooks = view.spec.analysis.webhooks;
      send(ctx.key, () => fireAndForget(hooks, a.hookType, body, hookOpts), deps.log);
    }
  }
}
