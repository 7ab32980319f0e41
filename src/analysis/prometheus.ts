// Prometheus metric provider: one instant query (`GET /api/v1/query`) that must yield one number.
// Every failure becomes a WeirError whose code tells the user where to look: METRIC_TIMEOUT (no answer
// in time), METRIC_HTTP (unreachable, HTTP status, not Prometheus), METRIC_QUERY (Prometheus rejected
// the query, or it returned the wrong shape) and METRIC_NO_DATA (empty, NaN or infinite result).
//
// An address may carry credentials (`https://user:password@prometheus:9090`). They are taken out of
// the URL at once and sent as HTTP Basic auth; every message and log line shows the address without
// them, so they never reach a status, an Event, a log or an alert.
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { parseDuration } from '../canary/strategy.ts';
import { WeirError } from '../errors.ts';
import { redactCredentials } from '../redact.ts';
import type { MetricProviderFactory, MetricProviderOptions } from './provider.ts';

// A single-number answer is tiny; a cap keeps a runaway matrix query from eating the controller.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** An address split into the URL queried (no userinfo) and that userinfo as a Basic auth header. */
export interface PrometheusAddress {
  address: string;
  auth: Record<string, string>;
}

export function parseAddress(raw: string, source: string): PrometheusAddress {
  const invalid = (): never => {
    // Not echoed: an address that does not parse may still hold a password.
    throw new WeirError('CONFIG', `${source} is not a valid http(s) URL`);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return invalid();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return invalid();
  let user = '';
  let password = '';
  try {
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    return invalid();
  }
  url.username = '';
  url.password = '';
  const address = url.toString().replace(/\/+$/, '');
  if (!user && !password) return { address, auth: {} };
  const basic = Buffer.from(`${user}:${password}`).toString('base64');
  return { address, auth: { Authorization: `Basic ${basic}` } };
}

export const createPrometheusProvider: MetricProviderFactory = (opts) => {
  const raw = opts.spec.address ?? opts.defaultAddress;
  if (!raw) {
    throw new WeirError(
      'CONFIG',
      'no Prometheus address: set spec.provider.address in the MetricTemplate or --prometheus-address on the controller',
    );
  }
  const source = opts.spec.address
    ? 'the MetricTemplate spec.provider.address'
    : 'the controller --prometheus-address';
  const { address, auth } = parseAddress(raw, source);
  const timeoutMs = opts.spec.timeout ? parseDuration(opts.spec.timeout) : opts.defaultTimeoutMs;
  const http = createClient(opts, auth, timeoutMs);
  const log = opts.log.child({ provider: 'prometheus', address });

  return {
    type: 'prometheus',
    async query(query: string): Promise<number> {
      // URLSearchParams encodes every reserved character (axios' own serializer leaves [ ] unescaped).
      const url = `${address}/api/v1/query?${new URLSearchParams({ query })}`;
      const started = Date.now();
      let status: number;
      let body: string;
      try {
        // The signal bounds the whole exchange; axios' `timeout` alone is a socket idle timeout.
        const res = await http.get<string>(url, { signal: AbortSignal.timeout(timeoutMs) });
        status = res.status;
        body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
      } catch (err) {
        throw transportError(err, address, timeoutMs);
      }
      log.debug({ status, ms: Date.now() - started }, 'prometheus query');
      return parseAnswer(status, body, address);
    },
  };
};

function createClient(
  opts: MetricProviderOptions,
  addressAuth: Record<string, string>,
  timeoutMs: number,
): AxiosInstance {
  return axios.create({
    // Precedence: the secretRef, then an explicit header, then the address' userinfo.
    headers: {
      Accept: 'application/json',
      ...addressAuth,
      ...opts.spec.headers,
      ...authHeader(opts.secret),
    },
    timeout: timeoutMs,
    maxContentLength: MAX_BODY_BYTES,
    // Raw text, so that non-JSON answers (a proxy's HTML page) can be quoted in the error.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    // Every status is classified here, not thrown by axios.
    validateStatus: () => true,
    transitional: { clarifyTimeoutError: true },
    ...(opts.spec.insecureSkipVerify ? { httpsAgent: new HttpsAgent({ rejectUnauthorized: false }) } : {}),
  });
}

function authHeader(secret: Record<string, string> | undefined): Record<string, string> {
  if (!secret) return {};
  if (secret.token) return { Authorization: `Bearer ${secret.token}` };
  if (secret.username !== undefined && secret.password !== undefined) {
    const basic = Buffer.from(`${secret.username}:${secret.password}`).toString('base64');
    return { Authorization: `Basic ${basic}` };
  }
  throw new WeirError(
    'CONFIG',
    'the MetricTemplate secret has neither `token` nor both `username` and `password`',
  );
}

function transportError(err: unknown, address: string, timeoutMs: number): WeirError {
  const code = (err as { code?: unknown }).code;
  // ETIMEDOUT: axios' idle timeout (clarifyTimeoutError) or the OS' connect timeout; a cancel is
  // only ever our AbortSignal.timeout.
  const timedOut = code === 'ETIMEDOUT' || axios.isCancel(err);
  // The cause is a plain description: an axios error holds the request config, headers included.
  const detail = describeTransport(err);
  const cause = new Error(detail);
  if (timedOut) {
    return new WeirError('METRIC_TIMEOUT', `no answer from Prometheus at ${address} within ${timeoutMs} ms`, {
      cause,
    });
  }
  return new WeirError('METRIC_HTTP', `cannot reach Prometheus at ${address}: ${detail}`, { cause });
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9` style text; Node's AggregateError has no message. */
function describeTransport(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const message = err.message || (err.cause instanceof Error ? err.cause.message : '');
  const text = [typeof code === 'string' ? code : '', message].filter(Boolean).join(' ');
  return redactCredentials(text) || 'request failed';
}

interface PromError {
  status: 'error';
  errorType?: string;
  error?: string;
}
interface PromSuccess {
  status: 'success';
  data: { resultType: string; result: unknown };
}

function parseAnswer(status: number, text: string, address: string): number {
  const body = parseJson(text);
  if (isObject(body) && body.status === 'error') return promError(status, body as unknown as PromError);
  if (status < 200 || status > 299) {
    throw new WeirError('METRIC_HTTP', `HTTP ${status} from Prometheus at ${address}: ${snippet(text)}`);
  }
  if (!isObject(body) || body.status !== 'success' || !isObject(body.data)) {
    throw new WeirError(
      'METRIC_HTTP',
      `the answer from ${address} is not a Prometheus API response (is the address right?): ${snippet(text)}`,
    );
  }
  return singleValue((body as unknown as PromSuccess).data);
}

function promError(status: number, body: PromError): never {
  const what = `HTTP ${status} ${body.errorType ?? 'error'}: ${body.error ?? '(no message)'}`;
  // Prometheus' own query timeout (--query.timeout) is a timeout, not a bad query.
  if (body.errorType === 'timeout') throw new WeirError('METRIC_TIMEOUT', `Prometheus timed out: ${what}`);
  throw new WeirError('METRIC_QUERY', `Prometheus rejected the query: ${what}`);
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
    throw new WeirError(
      'METRIC_QUERY',
      `query returned ${result.length} series, expected 1: aggregate them, e.g. with sum(...)`,
    );
  }
  return toNumber(result[0]!.value?.[1]);
}

/** Prometheus sends sample values as strings: "1.5", "NaN", "+Inf", "-Inf". */
function toNumber(raw: unknown): number {
  if (raw === 'NaN') throw new WeirError('METRIC_NO_DATA', 'query returned NaN');
  if (raw === '+Inf' || raw === '-Inf') throw new WeirError('METRIC_NO_DATA', `query returned ${raw}`);
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(value)) {
    throw new WeirError('METRIC_QUERY', `query returned a sample value that is not a number: ${String(raw)}`);
  }
  return value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function snippet(text: string): string {
  // A proxy's error page may echo the URL it was asked for.
  const oneLine = redactCredentials(text.replace(/\s+/g, ' ').trim());
  if (!oneLine) return '(empty body)';
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}
