// InfluxDB 1.x metric provider: one InfluxQL statement through `GET /query?db=<database>&q=…&epoch=ms`.
// The statement must select one field and yield one series (aggregate and leave out GROUP BY tags);
// the value of its last non-null row is the value, so `SELECT mean("value") FROM … WHERE time > now() - 5m`
// gives one row and a GROUP BY time(…) query gives its newest bucket.
//
// Credentials: secretRef `username` + `password` (sent as Basic auth, which InfluxDB 1.x accepts in
// place of its u/p parameters, keeping the password out of the URL) or `token` (a JWT as Bearer, for
// servers with a shared secret).
import { WeirError } from '../errors.ts';
import {
  backendOf,
  finiteValue,
  httpStatusError,
  isObject,
  send,
  shapeError,
  snippet,
  tokenOrBasic,
  type Answer,
  type Backend,
} from './http.ts';
import type { MetricProviderFactory } from './provider.ts';

export const createInfluxDBProvider: MetricProviderFactory = (opts) => {
  const backend = backendOf(opts, { name: 'InfluxDB', auth: tokenOrBasic(opts.secret) });
  const log = opts.log.child({ provider: 'influxdb', address: backend.address });
  return {
    type: 'influxdb',
    name: 'InfluxDB',
    async query(query: string): Promise<number> {
      const params = new URLSearchParams({ q: query, epoch: 'ms' });
      if (opts.spec.database) params.set('db', opts.spec.database);
      const answer = await send(backend, { method: 'GET', url: `${backend.address}/query?${params}` });
      log.debug({ status: answer.status }, 'influxdb query');
      return lastRow(backend, answer);
    },
  };
};

interface Series {
  columns?: unknown;
  values?: unknown;
}

function lastRow(b: Backend, a: Answer): number {
  const body = a.json;
  // A parse error is a 400 with a top-level error; a statement that fails is a 200 with results[].error.
  if (isObject(body) && typeof body.error === 'string') throw rejected(b, a.status, body.error);
  if (a.status < 200 || a.status > 299) throw httpStatusError(b, a);
  if (!isObject(body) || !Array.isArray(body.results))
    throw shapeError(b, a, 'an InfluxDB 1.x query response');
  if (body.results.length !== 1) {
    throw new WeirError('METRIC_QUERY', `the query has ${body.results.length} statements, expected 1`);
  }
  const result: unknown = body.results[0];
  if (isObject(result) && typeof result.error === 'string') throw rejected(b, a.status, result.error);
  const series = isObject(result) && Array.isArray(result.series) ? (result.series as Series[]) : [];
  if (series.length === 0) throw new WeirError('METRIC_NO_DATA', 'the query returned no series');
  if (series.length > 1) {
    throw new WeirError(
      'METRIC_QUERY',
      `the query returned ${series.length} series, expected 1: drop GROUP BY tags or aggregate`,
    );
  }
  return valueOf(series[0]!);
}

function valueOf(s: Series): number {
  const columns = Array.isArray(s.columns) ? (s.columns as unknown[]) : [];
  const fields = columns.filter((c) => c !== 'time');
  if (fields.length !== 1) {
    throw new WeirError(
      'METRIC_QUERY',
      `the query selects ${fields.length} fields (${fields.join(', ')}), expected 1`,
    );
  }
  const at = columns.indexOf(fields[0]);
  const rows = Array.isArray(s.values) ? (s.values as unknown[]) : [];
  // GROUP BY time(…) fills empty buckets with null; the newest bucket with a value counts.
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i];
    if (Array.isArray(row) && row[at] !== null) return finiteValue(row[at], `field ${String(fields[0])}`);
  }
  throw new WeirError('METRIC_NO_DATA', 'the query returned no non-null value');
}

function rejected(b: Backend, status: number, error: string): WeirError {
  // Authentication failures arrive as {"error": "authorization failed"} with 401/403: not the query.
  const code = status === 401 || status === 403 ? 'METRIC_HTTP' : 'METRIC_QUERY';
  const what =
    code === 'METRIC_HTTP' ? `HTTP ${status} from InfluxDB at ${b.address}` : 'InfluxDB rejected the query';
  return new WeirError(code, `${what}: ${snippet(error, b.secrets)}`);
}
