// Metric providers of Argo AnalysisTemplates and Flagger MetricTemplates -> Weir MetricTemplate
// `spec.provider` and `query`. What has no Weir equivalent becomes a note; where the source takes
// credentials from the pod (CloudWatch's IAM role) or a differently keyed Secret, a note says which
// Secret and keys Weir needs (docs/metrics.md).
import { arr, compact, isObject, obj, type Notes } from './notes.ts';

type Json = Record<string, unknown>;

export interface Converted {
  provider: Json;
  query: string;
  /** The source field the query came from, for notes about its variables. */
  queryField: string;
}

const seconds = (v: unknown): string | undefined =>
  typeof v === 'number' ? `${v}s` : typeof v === 'string' && /^[0-9]+$/.test(v) ? `${v}s` : undefined;
const duration = (v: unknown): string | undefined =>
  typeof v === 'string' && /^([0-9]+(ms|s|m|h))+$/.test(v) ? v : undefined;
const httpUrl = (v: unknown): string | undefined =>
  typeof v === 'string' && /^https?:\/\//.test(v) ? v : undefined;

/** Argo's headers: a list of {key, value} (or valueFrom, which Weir takes only as a Secret `token`). */
function argoHeaders(list: unknown, src: string, at: string, notes: Notes): Json | undefined {
  const out: Json = {};
  for (const h of arr(list).map(obj)) {
    if (typeof h.value === 'string') out[String(h.key)] = h.value;
    else
      notes.add(
        src,
        `${at}.headers`,
        `header ${String(h.key)} takes its value from a Secret: put the credential in spec.provider.secretRef as \`token\` (Bearer) or \`username\`/\`password\``,
      );
  }
  return Object.keys(out).length ? out : undefined;
}

/** One Argo metric's provider, or undefined (with a note) when Weir has no equivalent. */
export function fromArgo(provider: unknown, src: string, at: string, notes: Notes): Converted | undefined {
  const p = obj(provider);
  const [kind] = Object.keys(p);
  const v = obj(p[kind ?? '']);
  const where = `${at}.provider.${kind}`;
  const keep = (fields: string[]) => notes.rest(src, v, fields, where);
  switch (kind) {
    case 'prometheus':
      keep(['address', 'query', 'headers', 'insecure', 'timeout']);
      return {
        provider: compact({
          type: 'prometheus',
          address: httpUrl(v.address),
          insecureSkipVerify: v.insecure,
          timeout: seconds(v.timeout),
          headers: argoHeaders(v.headers, src, where, notes),
        }),
        query: String(v.query ?? ''),
        queryField: `${where}.query`,
      };
    case 'web':
      return fromArgoWeb(v, src, where, notes);
    case 'datadog':
      keep(['query', 'interval', 'apiVersion']);
      if (!v.query) {
        notes.add(
          src,
          where,
          'datadog v2 queries/formula are not supported (one v1 query only); metric not converted',
        );
        return undefined;
      }
      notes.add(
        src,
        where,
        'Weir reads the Datadog keys from Secret datadog (keys api-key, app-key) in the template namespace',
      );
      return {
        provider: compact({
          type: 'datadog',
          secretRef: { name: 'datadog' },
          lookback: duration(v.interval),
        }),
        query: String(v.query),
        queryField: `${where}.query`,
      };
    case 'newrelic':
      keep(['query', 'profile']);
      return {
        // Argo's profile is the name of the Secret with personal-api-key and account-id, as Weir reads it.
        provider: {
          type: 'newrelic',
          secretRef: { name: typeof v.profile === 'string' ? v.profile : 'newrelic' },
        },
        query: String(v.query ?? ''),
        queryField: `${where}.query`,
      };
    case 'cloudwatch':
      keep(['interval', 'metricDataQueries']);
      notes.add(
        src,
        where,
        'Argo uses the pod’s AWS identity; Weir signs with Secret aws-cloudwatch (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and needs spec.provider.region: us-east-1 was written, set yours',
      );
      return {
        provider: compact({
          type: 'cloudwatch',
          region: 'us-east-1',
          secretRef: { name: 'aws-cloudwatch' },
          lookback: duration(v.interval),
        }),
        query: JSON.stringify(arr(v.metricDataQueries)),
        queryField: `${where}.metricDataQueries`,
      };
    case 'graphite':
      keep(['address', 'query']);
      return {
        provider: compact({ type: 'graphite', address: httpUrl(v.address) }),
        query: String(v.query ?? ''),
        queryField: `${where}.query`,
      };
    case 'influxdb':
      notes.add(
        src,
        where,
        'Argo’s influxdb provider runs Flux against InfluxDB 2.x; Weir’s influxdb is 1.x InfluxQL: write the query in InfluxQL; metric not converted',
      );
      return undefined;
    default:
      notes.add(
        src,
        `${at}.provider`,
        `${String(kind)} provider has no Weir equivalent; metric not converted`,
      );
      return undefined;
  }
}

function fromArgoWeb(v: Json, src: string, where: string, notes: Notes): Converted | undefined {
  notes.rest(
    src,
    v,
    ['url', 'method', 'headers', 'body', 'jsonBody', 'timeoutSeconds', 'jsonPath', 'insecure'],
    where,
  );
  if (!httpUrl(v.url)) {
    notes.add(src, `${where}.url`, 'web provider without an http(s) url; metric not converted');
    return undefined;
  }
  const body =
    v.jsonBody !== undefined ? JSON.stringify(v.jsonBody) : typeof v.body === 'string' ? v.body : undefined;
  const method =
    typeof v.method === 'string' ? v.method.toUpperCase() : body !== undefined ? 'POST' : undefined;
  return {
    provider: compact({
      type: 'web',
      method,
      body,
      jsonPath: typeof v.jsonPath === 'string' ? v.jsonPath : undefined,
      headers: argoHeaders(v.headers, src, where, notes),
      insecureSkipVerify: v.insecure,
      timeout: seconds(v.timeoutSeconds),
    }),
    query: String(v.url),
    queryField: `${where}.url`,
  };
}

/** A Flagger MetricTemplate's provider (spec.provider of type X), or undefined with a note. */
export function fromFlagger(p: Json, query: string, src: string, notes: Notes): Converted | undefined {
  const type = String(p.type);
  const common = {
    address: httpUrl(p.address),
    secretRef: isObject(p.secretRef) ? { name: p.secretRef.name } : undefined,
    insecureSkipVerify: p.insecureSkipVerify,
  };
  const out = (provider: Json): Converted => ({
    provider: compact(provider),
    query,
    queryField: 'spec.query',
  });
  switch (type) {
    case 'prometheus':
    case 'graphite':
      return out({ type, ...common });
    case 'datadog':
      // Flagger's keys (datadog_api_key, datadog_application_key) are read as they are.
      return out({ type, ...common });
    case 'newrelic':
      notes.add(
        src,
        'spec.provider',
        'Flagger reads New Relic’s Insights API with a query key; Weir uses NerdGraph: the Secret needs personal-api-key (a User API key) and account-id',
      );
      // Flagger's address is the Insights endpoint, not NerdGraph's.
      return out({ type, secretRef: common.secretRef });
    case 'cloudwatch':
      notes.add(
        src,
        'spec.provider',
        'Flagger uses the pod’s AWS identity; Weir needs spec.provider.secretRef with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; region taken from the address',
      );
      return out({
        type,
        region: /monitoring\.([a-z0-9-]+)\.amazonaws\.com/.exec(String(p.address ?? ''))?.[1] ?? 'us-east-1',
        secretRef: common.secretRef ?? { name: 'aws-cloudwatch' },
      });
    case 'influxdb':
      notes.add(
        src,
        'spec.provider.type',
        'Flagger’s influxdb provider runs Flux against InfluxDB 2.x; Weir’s influxdb is 1.x InfluxQL: MetricTemplate not converted',
      );
      return undefined;
    default:
      notes.add(src, 'spec.provider.type', `${type} has no Weir equivalent; MetricTemplate not converted`);
      return undefined;
  }
}
