// Datadog metric provider: the v1 timeseries query API, `GET /api/v1/query?from=<s>&to=<s>&query=…`,
// over the lookback window ending now. The query must yield one series (aggregate with `sum:`/`avg:`
// and no `by {…}`); the newest non-null point of its pointlist is the value.
//
// Credentials: secretRef with the API key and the application key, under Argo's names (`api-key`,
// `app-key`) or Flagger's (`datadog_api_key`, `datadog_application_key`), sent as the DD-API-KEY and
// DD-APPLICATION-KEY headers. The address defaults to https://api.datadoghq.com; other sites
// (api.datadoghq.eu, api.us5.datadoghq.com…) go in spec.provider.address.
//
// Datadog cannot be reached from Weir's test environment: the provider is tested against a local
// server that checks each request against the documented API (docs/metrics.md).
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

export const DATADOG_ADDRESS = 'https://api.datadoghq.com';

export const createDatadogProvider: MetricProviderFactory = (opts) => {
  const auth = {
    'DD-API-KEY': secretValue(opts.secret, ['api-key', 'datadog_api_key'], 'the Datadog API key'),
    'DD-APPLICATION-KEY': secretValue(
      opts.secret,
      ['app-key', 'datadog_application_key'],
      'the Datadog application key',
    ),
  };
  const backend = backendOf(opts, { name: 'Datadog', fallbackAddress: DATADOG_ADDRESS, auth });
  const windowS = Math.max(1, Math.round(lookbackMs(opts.spec) / 1000));
  const log = opts.log.child({ provider: 'datadog', address: backend.address });
  return {
    type: 'datadog',
    name: 'Datadog',
    async query(query: string): Promise<number> {
      const to = Math.floor(Date.now() / 1000);
      const params = new URLSearchParams({ from: String(to - windowS), to: String(to), query });
      const answer = await send(backend, { method: 'GET', url: `${backend.address}/api/v1/query?${params}` });
      log.debug({ status: answer.status }, 'datadog query');
      return newestPoint(backend, answer);
    },
  };
};

function newestPoint(b: Backend, a: Answer): number {
  const body = a.json;
  const problem = errorText(body);
  // 400 names a bad query; 401/403 a bad key, which is the backend refusing us, not the query.
  if (problem !== undefined && (a.status === 400 || (a.status >= 200 && a.status < 300))) {
    throw new WeirError('METRIC_QUERY', `Datadog rejected the query: ${snippet(problem, b.secrets)}`);
  }
  if (a.status < 200 || a.status > 299) throw httpStatusError(b, a);
  if (!isObject(body) || !Array.isArray(body.series)) throw shapeError(b, a, 'a Datadog query response');
  const series = body.series as unknown[];
  if (series.length === 0) throw new WeirError('METRIC_NO_DATA', 'the query returned no series');
  if (series.length > 1) {
    throw new WeirError(
      'METRIC_QUERY',
      `the query returned ${series.length} series, expected 1: aggregate them (no "by {…}")`,
    );
  }
  const first = series[0];
  const points = isObject(first) && Array.isArray(first.pointlist) ? (first.pointlist as unknown[]) : [];
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i];
    // A point is [timestamp ms, value]; the value is null where the series has a gap.
    if (Array.isArray(p) && p[1] !== null && p[1] !== undefined) return finiteValue(p[1], 'the point');
  }
  throw new WeirError('METRIC_NO_DATA', 'the series has no non-null point in the window');
}

/** `{"status":"error","error":"…"}` (200) or `{"errors":["…"]}` (4xx), as Datadog words failures. */
function errorText(body: unknown): string | undefined {
  if (!isObject(body)) return undefined;
  if (body.status === 'error') return typeof body.error === 'string' ? body.error : '(no message)';
  if (Array.isArray(body.errors) && body.errors.length > 0) return body.errors.map(String).join('; ');
  return undefined;
}
