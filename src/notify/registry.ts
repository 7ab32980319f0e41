// Alert providers by AlertProvider `spec.type`. Adding one: a file, a test and a line here.
import type { AlertProviderSpec } from '../api/alert-provider.ts';
import { WeirError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { discordNotifier } from './discord.ts';
import { msteamsNotifier } from './msteams.ts';
import type { Notifier, NotifierFactory } from './notifier.ts';
import { slackNotifier } from './slack.ts';
import { webhookNotifier } from './webhook.ts';

export const NOTIFIERS: Record<AlertProviderSpec['type'], NotifierFactory> = {
  slack: slackNotifier,
  msteams: msteamsNotifier,
  discord: discordNotifier,
  webhook: webhookNotifier,
};

/**
 * Builds the notifier for an AlertProvider. `secret` is the decoded data of spec.secretRef; as in
 * Flagger, its `address` wins over spec.address, and `token` is used by the generic webhook.
 */
export function createNotifier(
  spec: AlertProviderSpec,
  secret: Record<string, string> | undefined,
  opts: { log: Logger; timeoutMs: number },
): Notifier {
  const address = secret?.address || spec.address;
  if (!address) {
    throw new WeirError(
      'CONFIG',
      spec.secretRef
        ? `AlertProvider spec.secretRef: Secret "${spec.secretRef.name}" has no key "address" and spec.address is not set`
        : 'AlertProvider needs spec.address or spec.secretRef (a Secret with key "address")',
    );
  }
  // The schema checks spec.address; a Secret's value is only checked here. Never echo it: it is secret.
  if (!/^https?:\/\/[^\s]+$/i.test(address))
    throw new WeirError('CONFIG', 'AlertProvider address must be an http:// or https:// URL');
  const factory = NOTIFIERS[spec.type] as NotifierFactory | undefined;
  if (!factory)
    throw new WeirError('CONFIG', `AlertProvider spec.type "${String(spec.type)}" is not supported`);
  return factory({
    address,
    ...(spec.channel ? { channel: spec.channel } : {}),
    ...(spec.username ? { username: spec.username } : {}),
    ...(secret?.token ? { token: secret.token } : {}),
    timeoutMs: opts.timeoutMs,
    log: opts.log,
  });
}
