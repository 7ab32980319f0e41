// AlertProvider: where notifications go (Flagger's shape).
import { Type, type Static } from '@sinclair/typebox';
import { Obj, StringEnum } from './schema-kit.ts';

export const ALERT_PROVIDERS = ['slack', 'msteams', 'discord', 'webhook'] as const;

export const AlertProviderSpec = Obj(
  {
    type: StringEnum(ALERT_PROVIDERS),
    channel: Type.Optional(Type.String({ maxLength: 256 })),
    username: Type.Optional(Type.String({ maxLength: 256 })),
    address: Type.Optional(
      Type.String({ maxLength: 2048, pattern: '^https?://', description: 'Webhook URL.' }),
    ),
    secretRef: Type.Optional(
      Obj(
        { name: Type.String({ minLength: 1, maxLength: 253 }) },
        { description: 'Secret with key `address` (and optional `token`).' },
      ),
    ),
  },
  {
    rules: [
      {
        rule: 'has(self.address) || has(self.secretRef)',
        message: 'an AlertProvider needs address or secretRef',
        fieldPath: '.address',
        reason: 'FieldValueRequired',
      },
    ],
  },
);

export type AlertProviderSpec = Static<typeof AlertProviderSpec>;
