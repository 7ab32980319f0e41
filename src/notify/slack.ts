// Slack through @slack/webhook: `text` for plain clients and notifications, plus one attachment
// coloured by severity with the run's facts as fields.
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook';
import { WeirError } from '../errors.ts';
import type { Notification, NotifierFactory, Severity } from './notifier.ts';
import { excerpt, summary } from './webhook.ts';

const COLOURS: Record<Severity, string> = { info: 'good', warn: 'warning', error: 'danger' };

export const slackNotifier: NotifierFactory = (opts) => {
  // No client retries: a failed alert is logged by dispatch() and the next transition alerts again.
  const hook = new IncomingWebhook(opts.address, {
    timeout: opts.timeoutMs,
    ...(opts.channel ? { channel: opts.channel } : {}),
    ...(opts.username ? { username: opts.username } : {}),
  });
  return {
    type: 'slack',
    async send(n: Notification) {
      try {
        await hook.send(slackMessage(n));
      } catch (err) {
        throw slackError(err, opts.timeoutMs, opts.address);
      }
    },
  };
};

export function slackMessage(n: Notification): {
  text: string;
  attachments: Array<Record<string, unknown>>;
} {
  const { title, facts } = summary(n);
  const text = `${escape(title)}: ${escape(n.message)}`;
  return {
    text,
    attachments: [
      {
        color: COLOURS[n.severity],
        fallback: text,
        fields: facts.map(([t, value]) => ({ title: t, value: escape(value), short: true })),
      },
    ],
  };
}

/** Slack reads `<...>` as links and mentions; `&`, `<`, `>` must be escaped in user text. */
function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A WeirError without `cause`: the client's errors can hold the webhook URL, which is a secret. */
function slackError(err: unknown, timeoutMs: number, address: string): WeirError {
  if (err instanceof IncomingWebhookHTTPError) {
    const body = excerpt(err.body);
    return new WeirError('ALERT', `slack alert answered HTTP ${err.statusCode}${body ? `: ${body}` : ''}`);
  }
  if (err instanceof IncomingWebhookRequestError) {
    const original = err.original as Error & { cause?: { code?: unknown; message?: unknown } };
    if (original.name === 'TimeoutError' || original.name === 'AbortError')
      return new WeirError('ALERT', `slack alert timed out after ${timeoutMs} ms`);
    // fetch says "fetch failed"; the reason (ECONNREFUSED, "bad port", ...) is in its cause.
    const cause = original.cause;
    const why =
      typeof cause?.code === 'string'
        ? cause.code
        : typeof cause?.message === 'string'
          ? cause.message
          : original.name;
    return new WeirError('ALERT', `slack alert failed: ${why.split(address).join('<address>')}`);
  }
  return new WeirError('ALERT', `slack alert failed: ${err instanceof Error ? err.name : 'unknown error'}`);
}
