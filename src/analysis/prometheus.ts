// Prometheus metric provider: one instant query (`GET /api/v1/query`) that must yield one number, or
// for the statistical judge a range query (`GET /api/v1/query_range`) that must yield one series.
// Every failure becomes a WeirError whose code tells the user where to look: METRIC_TIMEOUT (no answer
// in time), METRIC_HTTP (unreachable, HTTP status, not Prometheus), METRIC_QUERY (Prometheus rejected
// the query, or it returned the wrong shape) and METRIC_NO_DATA (empty, NaN or infinite result).
//
// An address may carry credentials (`https://user:password@prometheus:9090`). They are taken out of
// the URL at once and sent as HTTP Basic auth; every message and log line shows the address without
// them, so they never reach a status, an Event, a log or an alert.
//
// When a query returns no data, diagnoseNoData asks the same backend why (no-data.ts), within what
// is left of the timeout.
//
// Anything that speaks Prometheus' query API (VictoriaMetrics, Thanos, Mimir) reuses this reader
// through promApiProvider with its own name.
import { describeError, WeirError } from '../errors.ts';
import { redactCredentials } from '../redact.ts';
import {
  backendOf,
  finiteValue,
  httpStatusError,
  isObject,
  send,
  shapeError,
  tokenOrBasic,
  type Answer,
  type Backend,
} from './http.ts';
import { diagnoseNoData, type NoDataDiagnosis, type VectorSample } from './no-data.ts';
import type { MetricProviderFactory, NoDataContext, QueryRange, SeriesPoint } from './provider.ts';

export { parseAddress, type ParsedAddress as PrometheusAddress } from './http.ts';

/** A provider for a backend with Prometheus' HTTP query API; only Prometheus itself takes the flag. */
export function promApiProvider(name: string, type: string): MetricProviderFactory {
  return (opts) => {
    const flag = type === 'prometheus';
    const backend = backendOf(opts, {
      name,
      fallbackAddress: flag ? opts.defaultAddress : undefined,
      fallbackSource: 'the controller --prometheus-address',
      ...(flag ? { missingHint: ' or --prometheus-address on the controller' } : {}),
      auth: tokenOrBasic(opts.secret),
    });
    const log = opts.log.child({ provider: type, address: backend.address });
    const rangeData = async (query: string, range: QueryRange): Promise<PromSuccess['data']> => {
      const params = new URLSearchParams({
        query,
        start: String(range.startMs / 1000),
        end: String(range.endMs / 1000),
        step: `${range.stepMs / 1000}s`,
      });
      const url = `${backend.address}/api/v1/query_range?${params}`;
      const started = Date.now();
      const answer = await send(backend, { method: 'GET', url });
      log.debug({ status: answer.status, ms: Date.now() - started }, `${type} range query`);
      return successData(backend, answer);
    };
    return {
      type,
      name,
      async query(query: string): Promise<number> {
        // URLSearchParams encodes every reserved character (axios' own serializer leaves [ ] unescaped).
        const url = `${backend.address}/api/v1/query?${new URLSearchParams({ query })}`;
        const started = Date.now();
        const answer = await send(backend, { method: 'GET', url });
        log.debug({ status: answer.status, ms: Date.now() - started }, `${type} query`);
        return singleValue(successData(backend, answer));
      },
      async queryRange(query: string, range: QueryRange): Promise<number[]> {
        const values = seriesPoints(await rangeData(query, range)).map(([, v]) => v);
        if (!values.length) throw new WeirError('METRIC_NO_DATA', 'range query returned no finite value');
        return values;
      },
      async querySeries(query: string, range: QueryRange): Promise<SeriesPoint[]> {
        return seriesPoints(await rangeData(query, range));
      },
      async diagnoseNoData(query: string, ctx: NoDataContext): Promise<NoDataDiagnosis | undefined> {
        const budgetMs = backend.timeoutMs - (Date.now() - ctx.startedAt);
        if (budgetMs < MIN_DIAGNOSIS_MS) return undefined;
        const signal = AbortSignal.timeout(budgetMs);
        const run = (promql: string): Promise<VectorSample[]> => vectorQuery(backend, promql, signal);
        try {
          return await diagnoseNoData(query, ctx, run, name);
        } catch (err) {
          // A failed diagnosis leaves the plain "no data" message; the query's result stands.
          log.debug({ err: redactCredentials(describeError(err)) }, `${type} no-data diagnosis failed`);
          return undefined;
        }
      },
    };
  };
}

/** Below this much of the timeout left, a diagnosis would only time out. */
const MIN_DIAGNOSIS_MS = 200;

/** An instant query whose result must be a vector (the diagnosis' count queries). */
async function vectorQuery(b: Backend, query: string, signal: AbortSignal): Promise<VectorSample[]> {
  const url = `${b.address}/api/v1/query?${new URLSearchParams({ query })}`;
  const data = successData(b, await send(b, { method: 'GET', url, signal }));
  if (data.resultType !== 'vector' || !Array.isArray(data.result)) {
    throw new WeirError('METRIC_QUERY', `query returned a ${data.resultType}, expected a vector`);
  }
  return (data.result as Array<{ metric?: Record<string, string>; value?: unknown[] }>).map((r) => ({
    labels: r.metric ?? {},
    value: Number(r.value?.[1]),
  }));
}

export const createPrometheusProvider = promApiProvider('Prometheus', 'prometheus');

interface PromError {
  status: 'error';
  errorType?: string;
  error?: string;
}
interface PromSuccess {
  status: 'success';
  data: { resultType: string; result: unknown };
}

function successData(b: Backend, a: Answer): PromSuccess['data'] {
  const body = a.json;
  if (isObject(body) && body.status === 'error')
    return promError(b.name, a.status, body as unknown as PromError);
  if (a.status < 200 || a.status > 299) throw httpStatusError(b, a);
  if (!isObject(body) || body.status !== 'success' || !isObject(body.data)) {
    throw shapeError(b, a, 'a Prometheus API response');
  }
  return (body as unknown as PromSuccess).data;
}

function promError(name: string, status: number, body: PromError): never {
  const what = `HTTP ${status} ${body.errorType ?? 'error'}: ${body.error ?? '(no message)'}`;
  // Prometheus' own query timeout (--query.timeout) is a timeout, not a bad query.
  if (body.errorType === 'timeout') throw new WeirError('METRIC_TIMEOUT', `${name} timed out: ${what}`);
  throw new WeirError('METRIC_QUERY', `${name} rejected the query: ${what}`);
}

function singleValue(data: PromSuccess['data']): number {
  if (data.resultType === 'scalar') return toNumber((data.result as unknown[])[1]);
  if (data.resultType !== 'vector') {
    throw new WeirError(
      'METRIC_QUERY',
      `query returned a ${data.resultType}, expected an instant vector or scalar (no range selector at the top level)`,
    );
  }
  const result = Array.isArray(data.result) ? (data.result as Array<{ value?: unknown[] }>) : [];
  if (result.length === 0) throw new WeirError('METRIC_NO_DATA', 'query returned an empty result');
  if (result.length > 1) {
    throw tooManySeries(result.length);
  }
  return toNumber(result[0]!.value?.[1]);
}

function tooManySeries(count: number): WeirError {
  return new WeirError(
    'METRIC_QUERY',
    `query returned ${count} series, expected 1: aggregate them, e.g. with sum(...)`,
  );
}

/** The finite points of the one series of a range query's matrix (none for an empty matrix). */
function seriesPoints(data: PromSuccess['data']): SeriesPoint[] {
  if (data.resultType !== 'matrix') {
    throw new WeirError('METRIC_QUERY', `range query returned a ${data.resultType}, expected a matrix`);
  }
  const result = Array.isArray(data.result) ? (data.result as Array<{ values?: unknown[][] }>) : [];
  if (result.length > 1) {
    throw tooManySeries(result.length);
  }
  // A NaN point is a step without traffic (0/0), not a measurement: left out, like a missing one.
  return (result[0]?.values ?? [])
    .map((point): SeriesPoint => [Number(point[0]), Number(point[1])])
    .filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
}

/** Prometheus sends sample values as strings: "1.5", "NaN", "+Inf", "-Inf". */
function toNumber(raw: unknown): number {
  if (raw === 'NaN') throw new WeirError('METRIC_NO_DATA', 'query returned NaN');
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new WeirError(
      'METRIC_QUERY',
      `the sample value is not a number: ${JSON.stringify(raw) ?? 'undefined'}`,
    );
  }
  return finiteValue(raw, 'the sample value');
}
