// Discord: an execute-webhook call with `content` (shown in notifications) and one coloured embed.
// The channel is fixed by the webhook itself, so `channel` is ignored; `username` overrides the name.
import type { Notification, NotifierFactory, Severity } from './notifier.ts';
import { postJson, summary } from './webhook.ts';

const COLOURS: Record<Severity, number> = { info: 0x2eb886, warn: 0xdaa038, error: 0xa30200 };
// Discord rejects the whole message when a limit is exceeded, so clip instead.
const CONTENT_MAX = 2000;
const DESCRIPTION_MAX = 4096;

export const discordNotifier: NotifierFactory = (opts) => ({
  type: 'discord',
  send: (n: Notification) =>
    postJson('discord', opts.address, discordMessage(n, opts.username), { timeoutMs: opts.timeoutMs }),
});

export function discordMessage(n: Notification, username?: string): Record<string, unknown> {
  const { title, facts } = summary(n);
  return {
    ...(username ? { username } : {}),
    content: clip(`**${title}**: ${n.message}`, CONTENT_MAX),
    // Messages quote user input (metric names, hook answers): never let them ping @everyone.
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title,
        description: clip(n.message, DESCRIPTION_MAX),
        color: COLOURS[n.severity],
        fields: facts.map(([name, value]) => ({ name, value: clip(value, 1024), inline: true })),
      },
    ],
  };
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
