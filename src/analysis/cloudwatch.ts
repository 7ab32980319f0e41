// CloudWatch metric provider: GetMetricData over the lookback window ending now, sent with the AWS
// JSON 1.0 protocol (`POST /`, `X-Amz-Target: GraniteServiceVersion20100801.GetMetricData`,
// `Content-Type: application/x-amz-json-1.0`) and signed with Signature Version 4 (aws4) for service
// `monitoring` in spec.provider.region. The address defaults to https://monitoring.<region>.amazonaws.com.
//
// The query is the MetricDataQueries list as JSON, with AWS' keys (`Id`, `MetricStat`, `Expression`,
// `ReturnData`…) or Argo's camelCase ones (`id`, `metricStat`…), which are the same fields. Exactly one
// query may return data (set `"ReturnData": false` on the inputs of an expression); the newest value
// of that result is the value.
//
// Credentials: secretRef with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally
// `AWS_SESSION_TOKEN`. They are passed to the signer explicitly, so the controller's own environment is
// never used. Pod identity (IRSA) is not supported.
//
// CloudWatch cannot be reached from Weir's test environment: the provider is tested against a local
// server that checks each request, signature included, against the documented API (docs/metrics.md).
import aws4 from 'aws4';
import { WeirError } from '../errors.ts';
import {
  backendOf,
  finiteValue,
  httpStatusError,
  isObject,
  lookbackMs,
  secretValue,
  send,
  shapeError,
  snippet,
  type Answer,
  type Backend,
} from './http.ts';
import type { MetricProviderFactory } from './provider.ts';

export const GET_METRIC_DATA = 'GraniteServiceVersion20100801.GetMetricData';
const CONTENT_TYPE = 'application/x-amz-json-1.0';

export const createCloudWatchProvider: MetricProviderFactory = (opts) => {
  const region = opts.spec.region;
  if (!region) throw new WeirError('CONFIG', 'a cloudwatch MetricTemplate needs spec.provider.region');
  const credentials = {
    accessKeyId: secretValue(opts.secret, ['AWS_ACCESS_KEY_ID'], 'an AWS access key id'),
    secretAccessKey: secretValue(opts.secret, ['AWS_SECRET_ACCESS_KEY'], 'an AWS secret access key'),
    ...(opts.secret?.AWS_SESSION_TOKEN ? { sessionToken: opts.secret.AWS_SESSION_TOKEN } : {}),
  };
  const fallbackAddress = `https://monitoring.${region}.amazonaws.com`;
  const backend = backendOf(opts, { name: 'CloudWatch', fallbackAddress });
  const target = new URL(backend.address);
  const windowS = Math.max(60, Math.round(lookbackMs(opts.spec) / 1000));
  const log = opts.log.child({ provider: 'cloudwatch', address: backend.address });
  return {
    type: 'cloudwatch',
    name: 'CloudWatch',
    async query(query: string): Promise<number> {
      const end = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({
        StartTime: end - windowS,
        EndTime: end,
        MetricDataQueries: metricDataQueries(query),
        ScanBy: 'TimestampDescending',
      });
      const signed = aws4.sign(
        {
          host: target.host,
          path: target.pathname || '/',
          method: 'POST',
          service: 'monitoring',
          region,
          body,
          headers: { 'Content-Type': CONTENT_TYPE, 'X-Amz-Target': GET_METRIC_DATA },
        },
        credentials,
      );
      const headers = signed.headers as Record<string, string>;
      const answer = await send(backend, { method: 'POST', url: backend.address, headers, data: body });
      log.debug({ status: answer.status }, 'cloudwatch query');
      return newestValue(backend, answer);
    },
  };
};

/** The query as AWS' MetricDataQueries: a non-empty JSON list of objects, keys in PascalCase. */
export function metricDataQueries(query: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(query);
  } catch (err) {
    throw new WeirError(
      'METRIC_QUERY',
      `a cloudwatch query must be a JSON list of MetricDataQuery: ${(err as Error).message}`,
    );
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(isObject)) {
    throw new WeirError(
      'METRIC_QUERY',
      'a cloudwatch query must be a non-empty JSON list of MetricDataQuery objects',
    );
  }
  return parsed.map(pascalKeys) as unknown[];
}

/** Argo's `metricStat.metric.dimensions[].name` and AWS' `MetricStat.Metric.Dimensions[].Name` are one field. */
function pascalKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(pascalKeys);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k.charAt(0).toUpperCase() + k.slice(1), pascalKeys(x)]),
  );
}

interface MetricDataResult {
  Id?: unknown;
  Timestamps?: unknown;
  Values?: unknown;
  StatusCode?: unknown;
}

function newestValue(b: Backend, a: Answer): number {
  const body = a.json;
  if (a.status < 200 || a.status > 299) throw awsError(b, a);
  if (!isObject(body) || !Array.isArray(body.MetricDataResults)) {
    throw shapeError(b, a, 'a CloudWatch GetMetricData response');
  }
  const results = body.MetricDataResults as MetricDataResult[];
  if (results.length !== 1) {
    const ids = results.map((r) => String(r.Id)).join(', ');
    throw new WeirError(
      'METRIC_QUERY',
      `the query returned ${results.length} results (${ids}), expected 1: set "ReturnData": false on the others`,
    );
  }
  const values = Array.isArray(results[0]!.Values) ? (results[0]!.Values as unknown[]) : [];
  const stamps = Array.isArray(results[0]!.Timestamps) ? (results[0]!.Timestamps as unknown[]) : [];
  if (values.length === 0)
    throw new WeirError('METRIC_NO_DATA', 'the query returned no datapoints in the window');
  // Asked for newest first; still pick by timestamp, in case a proxy or a future default reorders.
  let newest = 0;
  for (let i = 1; i < values.length; i++) if (Number(stamps[i]) > Number(stamps[newest])) newest = i;
  return finiteValue(values[newest], 'the datapoint');
}

/** AWS JSON errors: `{"__type": "…#InvalidParameterValueException", "message": "…"}`. */
function awsError(b: Backend, a: Answer): WeirError {
  const body = a.json;
  if (!isObject(body) || typeof body.__type !== 'string') return httpStatusError(b, a);
  const type = body.__type.split('#').pop()!;
  const message = snippet(String(body.message ?? body.Message ?? ''), b.secrets);
  // Only a malformed request is the query's fault; credentials, throttling and outages are not.
  const queryFault =
    /^(InvalidParameter|MissingRequiredParameter|Validation|InvalidParameterCombination)/.test(type);
  return new WeirError(
    queryFault ? 'METRIC_QUERY' : 'METRIC_HTTP',
    queryFault
      ? `CloudWatch rejected the query: ${type}: ${message}`
      : `HTTP ${a.status} from CloudWatch at ${b.address}: ${type}: ${message}`,
  );
}
