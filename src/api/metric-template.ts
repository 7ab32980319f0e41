// MetricTemplate: a query against a metrics provider, reusable across Canaries (Flagger's shape).
// Fields that belong to one provider type (jsonPath for web, region for cloudwatch…) are refused on
// the others by CEL rules, so a misplaced field is an error naming it rather than silently unused.
import { Type, type Static } from '@sinclair/typebox';
import { Obj, PromDuration, StringEnum, StringMap, durationRange, type CelRule } from './schema-kit.ts';

export const METRIC_PROVIDERS = [
  'prometheus',
  'victoriametrics',
  'graphite',
  'influxdb',
  'web',
  'datadog',
  'newrelic',
  'cloudwatch',
] as const;

/** Rule: `field` may be set only when the provider type is one of `types`. */
function onlyFor(field: string, types: readonly string[]): CelRule {
  return {
    rule: `!has(self.${field}) || self.type in [${types.map((t) => `'${t}'`).join(', ')}]`,
    message: `${field} applies only to provider type ${types.join(', ')}`,
    fieldPath: `.${field}`,
  };
}

const WINDOWED = ['graphite', 'datadog', 'cloudwatch'] as const;

export const MetricTemplateSpec = Obj({
  provider: Obj(
    {
      type: StringEnum(METRIC_PROVIDERS, { description: 'Metrics backend.' }),
      address: Type.Optional(
        Type.String({
          maxLength: 2048,
          pattern: '^https?://',
          description:
            'Base URL. prometheus: defaults to the controller flag --prometheus-address; datadog: https://api.datadoghq.com; newrelic: https://api.newrelic.com/graphql; cloudwatch: https://monitoring.<region>.amazonaws.com; web: not used (the query is the URL).',
        }),
      ),
      secretRef: Type.Optional(
        Obj(
          { name: Type.String({ minLength: 1, maxLength: 253 }) },
          {
            description:
              'Secret with the credentials: `token`, or `username` and `password` (prometheus, victoriametrics, graphite, influxdb, web); API keys for datadog and newrelic; AWS keys for cloudwatch (docs/metrics.md).',
          },
        ),
      ),
      headers: Type.Optional(StringMap('Extra HTTP headers sent with every query.')),
      insecureSkipVerify: Type.Optional(Type.Boolean()),
      timeout: Type.Optional(
        PromDuration({ default: '5s', description: 'Time for one query: 100ms to 5m.' }),
      ),
      method: Type.Optional(
        StringEnum(['GET', 'POST', 'PUT'] as const, { description: 'web: HTTP method (default GET).' }),
      ),
      body: Type.Optional(
        Type.String({ maxLength: 16384, description: 'web: request body sent with POST or PUT, as is.' }),
      ),
      jsonPath: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 1024,
          description:
            "web: JSONPath to the value in the answer, `$.data.value` or Argo's `{$.data.value}`; without it the whole body must be the number.",
        }),
      ),
      database: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 256,
          description: 'influxdb: database the InfluxQL query runs in.',
        }),
      ),
      region: Type.Optional(
        Type.String({
          pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$',
          maxLength: 32,
          description: 'cloudwatch: AWS region, e.g. us-east-1 (required).',
        }),
      ),
      lookback: Type.Optional(
        PromDuration({
          description:
            'graphite, datadog, cloudwatch: the window of data asked for, ending now (default 5m); the newest point in it is the value.',
        }),
      ),
    },
    {
      description: 'Where and how to query.',
      rules: [
        durationRange('timeout', '100ms', '5m'),
        durationRange('lookback', '10s', '24h'),
        {
          rule: "!has(self.address) || self.type != 'web'",
          message: 'web takes its URL from query; address does not apply',
          fieldPath: '.address',
        },
        onlyFor('method', ['web']),
        onlyFor('body', ['web']),
        onlyFor('jsonPath', ['web']),
        onlyFor('database', ['influxdb']),
        onlyFor('region', ['cloudwatch']),
        onlyFor('lookback', WINDOWED),
        {
          rule: "self.type != 'cloudwatch' || has(self.region)",
          message: 'cloudwatch needs region',
          fieldPath: '.region',
          reason: 'FieldValueRequired',
        },
        {
          rule: "!has(self.body) || has(self.method) && self.method != 'GET'",
          message: 'body needs method POST or PUT',
          fieldPath: '.body',
        },
      ],
    },
  ),
  query: Type.String({
    minLength: 1,
    maxLength: 16384,
    description:
      "Query in the provider's language (PromQL, MetricsQL, a Graphite target, InfluxQL, a Datadog query, NRQL, a CloudWatch MetricDataQueries JSON list; for web the URL), with variables {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ interval }}, {{ variables.X }}; substitution only, no code.",
  }),
});

export type MetricTemplateSpec = Static<typeof MetricTemplateSpec>;
