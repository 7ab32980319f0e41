// MetricTemplate: a query against a metrics provider, reusable across Canaries (Flagger's shape).
import { Type, type Static } from '@sinclair/typebox';
import { Obj, PromDuration, StringEnum, StringMap, durationRange } from './schema-kit.ts';

export const METRIC_PROVIDERS = ['prometheus'] as const;

export const MetricTemplateSpec = Obj({
  provider: Obj(
    {
      type: StringEnum(METRIC_PROVIDERS, { description: 'Metrics backend.' }),
      address: Type.Optional(
        Type.String({
          maxLength: 2048,
          pattern: '^https?://',
          description: 'Base URL; defaults to the controller flag --prometheus-address.',
        }),
      ),
      secretRef: Type.Optional(
        Obj(
          { name: Type.String({ minLength: 1, maxLength: 253 }) },
          { description: 'Secret with `token`, or `username` and `password`.' },
        ),
      ),
      headers: Type.Optional(StringMap('Extra HTTP headers sent with every query.')),
      insecureSkipVerify: Type.Optional(Type.Boolean()),
      timeout: Type.Optional(
        PromDuration({ default: '5s', description: 'Time for one query: 100ms to 5m.' }),
      ),
    },
    { description: 'Where and how to query.', rules: [durationRange('timeout', '100ms', '5m')] },
  ),
  query: Type.String({
    minLength: 1,
    maxLength: 16384,
    description:
      'Query with variables {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ interval }}, {{ variables.X }}; substitution only, no code.',
  }),
});

export type MetricTemplateSpec = Static<typeof MetricTemplateSpec>;
