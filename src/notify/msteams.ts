// Microsoft Teams: an Adaptive Card in a `message` envelope, which both Workflows (Power Automate)
// webhooks and the retiring Office 365 connectors accept; MessageCard only works on the latter.
import type { Notification, NotifierFactory, Severity } from './notifier.ts';
import { postJson, summary } from './webhook.ts';

const COLOURS: Record<Severity, string> = { info: 'Good', warn: 'Warning', error: 'Attention' };

export const msteamsNotifier: NotifierFactory = (opts) => ({
  type: 'msteams',
  send: (n: Notification) =>
    postJson('msteams', opts.address, teamsMessage(n), { timeoutMs: opts.timeoutMs }),
});

export function teamsMessage(n: Notification): Record<string, unknown> {
  const { title, facts } = summary(n);
  return {
    type: 'message',
    summary: `${title}: ${n.message}`,
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: title, weight: 'Bolder', size: 'Medium', color: COLOURS[n.severity] },
            { type: 'TextBlock', text: n.message, wrap: true },
            { type: 'FactSet', facts: facts.map(([t, value]) => ({ title: t, value })) },
          ],
        },
      },
    ],
  };
}
