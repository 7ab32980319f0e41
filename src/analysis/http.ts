// What every HTTP metric provider shares: one bounded exchange with a backend, failures classified
// into WeirError codes (METRIC_TIMEOUT, METRIC_HTTP), credentials from the MetricTemplate's secretRef,
// and answers quoted in errors only after redaction. A provider file then only knows its API: the
// request it sends and how to read one number out of the answer.
//
// Errors name the backend and its address (never a query string, header or secret): the address is
// the base URL the user wrote, with any userinfo already taken out by parseAddress.
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { parseDuration } from '../vocab/duration.ts';
import { WeirError } from '../errors.ts';
import { REDACTED, redactCredentials } from '../redact.ts';
import type { MetricProviderOptions } from './provider.ts';

// A single-number answer is tiny; a cap keeps a runaway query from eating the controller.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** An address split into the URL queried (no userinfo) and that userinfo as a Basic auth header. */
export interface ParsedAddress {
  address: string;
  auth: Record<string, string>;
}

export function parseAddress(raw: string, source: string): ParsedAddress {
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
  return { address, auth: basicAuth(user, password) };
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A backend the provider talks to: its display name, base address and a configured client. */
export interface Backend {
  /** Shown in messages: "Prometheus", "Graphite", "Datadog"… */
  name: string;
  address: string;
  timeoutMs: number;
  http: AxiosInstance;
  /** Secret values masked in any answer text quoted in an error (a backend may echo a key). */
  secrets: string[];
}

export interface BackendOptions {
  name: string;
  /** The address when the MetricTemplate gives none (a flag, or a SaaS API's public endpoint). */
  fallbackAddress?: string | undefined;
  /** Where the fallback comes from, for messages: "the controller --prometheus-address". */
  fallbackSource?: string;
  /** Added to the "no address" error: where else an address may be set. */
  missingHint?: string;
  /** Headers the provider computes from the secret (API keys); they win over spec.provider.headers. */
  auth?: Record<string, string>;
}

/** The backend of a MetricTemplate: address from spec.provider.address, else the fallback. */
export function backendOf(opts: MetricProviderOptions, b: BackendOptions): Backend {
  const raw = opts.spec.address ?? b.fallbackAddress;
  if (!raw) {
    throw new WeirError(
      'CONFIG',
      `no ${b.name} address: set spec.provider.address in the MetricTemplate${b.missingHint ?? ''}`,
    );
  }
  const source = opts.spec.address
    ? 'the MetricTemplate spec.provider.address'
    : (b.fallbackSource ?? `the default ${b.name} address`);
  const { address, auth } = parseAddress(raw, source);
  const timeoutMs = opts.spec.timeout ? parseDuration(opts.spec.timeout) : opts.defaultTimeoutMs;
  // Precedence: credentials from the secret, then an explicit header, then the address' userinfo.
  // Answers are uncompressed unless spec.provider.headers asks otherwise: a query's answer is a few
  // hundred bytes, and inflating it cost more CPU than the rest of the query (docs/performance.md).
  const headers = {
    Accept: 'application/json',
    'Accept-Encoding': 'identity',
    ...auth,
    ...opts.spec.headers,
    ...b.auth,
  };
  const http = httpClient(headers, timeoutMs, opts.spec.insecureSkipVerify);
  const secrets = Object.values(opts.secret ?? {}).filter((v) => v.length >= 4);
  return { name: b.name, address, timeoutMs, http, secrets };
}

/**
 * Clients by configuration (headers, timeout, TLS check), most recently used last. A provider is
 * built for every analysis run, so a client per run would repeat axios' setup on every query and,
 * with insecureSkipVerify, open a new TLS connection each time through a fresh agent.
 */
const clients = new Map<string, AxiosInstance>();
const MAX_CLIENTS = 64;

/** The axios client for a backend's headers, timeout and TLS check; one per configuration. */
export function httpClient(
  headers: Record<string, string>,
  timeoutMs: number,
  insecureSkipVerify: boolean | undefined,
): AxiosInstance {
  const key = JSON.stringify([headers, timeoutMs, !!insecureSkipVerify]);
  const known = clients.get(key);
  clients.delete(key);
  const client = known ?? newClient(headers, timeoutMs, insecureSkipVerify);
  clients.set(key, client);
  if (clients.size > MAX_CLIENTS) clients.delete(clients.keys().next().value!);
  return client;
}

function newClient(
  headers: Record<string, string>,
  timeoutMs: number,
  insecureSkipVerify: boolean | undefined,
): AxiosInstance {
  return axios.create({
    headers,
    timeout: timeoutMs,
    maxContentLength: MAX_BODY_BYTES,
    // Raw text, so that non-JSON answers (a proxy's HTML page) can be quoted in the error.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    // Every status is classified by the provider, not thrown by axios.
    validateStatus: () => true,
    transitional: { clarifyTimeoutError: true },
    ...(insecureSkipVerify
      ? {
          httpsAgent: new HttpsAgent({
            rejectUnauthorized: false,
            keepAlive: true,
            timeout: 5_000,
            scheduling: 'lifo',
          }),
        }
      : {}),
  });
}

export interface Answer {
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** One request, bounded as a whole by the backend's timeout; transport failures become WeirErrors. */
export async function send(b: Backend, req: AxiosRequestConfig): Promise<Answer> {
  try {
    // The signal bounds the whole exchange; axios' `timeout` alone is a socket idle timeout. A
    // caller's own signal (a deadline shared by several requests) can only shorten it.
    const own = AbortSignal.timeout(b.timeoutMs);
    const signal = req.signal ? AbortSignal.any([own, req.signal as AbortSignal]) : own;
    const res = await b.http.request<string>({ ...req, signal });
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    return { status: res.status, text, json: parseJson(text) };
  } catch (err) {
    throw transportError(err, b);
  }
}

/** Headers from secret keys; a missing key is a CONFIG error naming the keys accepted. */
export function secretValue(
  secret: Record<string, string> | undefined,
  keys: readonly string[],
  what: string,
): string {
  for (const k of keys) if (secret?.[k]) return secret[k];
  throw new WeirError(
    'CONFIG',
    `the MetricTemplate needs a secretRef whose Secret holds ${what} under ${keys.map((k) => `\`${k}\``).join(' or ')}`,
  );
}

/** `Authorization` from a secret with `token` (Bearer) or `username` + `password` (Basic). */
export function tokenOrBasic(secret: Record<string, string> | undefined): Record<string, string> {
  if (!secret) return {};
  if (secret.token) return { Authorization: `Bearer ${secret.token}` };
  if (secret.username !== undefined && secret.password !== undefined) {
    return basicAuth(secret.username, secret.password);
  }
  throw new WeirError(
    'CONFIG',
    'the MetricTemplate secret has neither `token` nor both `username` and `password`',
  );
}

export function transportError(err: unknown, b: Pick<Backend, 'name' | 'address' | 'timeoutMs'>): WeirError {
  const code = (err as { code?: unknown }).code;
  // ETIMEDOUT: axios' idle timeout (clarifyTimeoutError) or the OS' connect timeout; a cancel is
  // only ever our AbortSignal.timeout.
  const timedOut = code === 'ETIMEDOUT' || axios.isCancel(err);
  // The cause is a plain description: an axios error holds the request config, headers included.
  const detail = describeTransport(err);
  const cause = new Error(detail);
  if (timedOut) {
    return new WeirError(
      'METRIC_TIMEOUT',
      `no answer from ${b.name} at ${b.address} within ${b.timeoutMs} ms`,
      {
        cause,
      },
    );
  }
  return new WeirError('METRIC_HTTP', `cannot reach ${b.name} at ${b.address}: ${detail}`, { cause });
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9` style text; Node's AggregateError has no message. */
function describeTransport(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const message = err.message || (err.cause instanceof Error ? err.cause.message : '');
  const text = [typeof code === 'string' ? code : '', message].filter(Boolean).join(' ');
  return redactCredentials(text) || 'request failed';
}

/** A non-2xx status as METRIC_HTTP, quoting the (redacted) start of the body. */
export function httpStatusError(b: Backend, a: Answer): WeirError {
  return new WeirError(
    'METRIC_HTTP',
    `HTTP ${a.status} from ${b.name} at ${b.address}: ${snippet(a.text, b.secrets)}`,
  );
}

/** A 2xx answer that is not the API's shape: most often a wrong address. */
export function shapeError(b: Backend, a: Answer, expected: string): WeirError {
  return new WeirError(
    'METRIC_HTTP',
    `the answer from ${b.address} is not ${expected} (is the address right?): ${snippet(a.text, b.secrets)}`,
  );
}

/** A measured value as a finite number; null, NaN and infinities are "no data". */
export function finiteValue(raw: unknown, what: string): number {
  if (raw === null || raw === undefined) throw new WeirError('METRIC_NO_DATA', `${what} is null`);
  if (raw === 'NaN' || (typeof raw === 'number' && Number.isNaN(raw))) {
    throw new WeirError('METRIC_NO_DATA', `${what} is NaN`);
  }
  if (raw === '+Inf' || raw === '-Inf' || raw === Infinity || raw === -Infinity) {
    const sign = raw === '-Inf' || raw === -Infinity ? '-' : '+';
    throw new WeirError('METRIC_NO_DATA', `query returned ${sign}Inf`);
  }
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(value)) {
    throw new WeirError('METRIC_QUERY', `${what} is not a number: ${snippet(JSON.stringify(raw) ?? '')}`);
  }
  return value;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function snippet(text: string, secrets: readonly string[] = []): string {
  // A proxy's error page may echo the URL it was asked for, a backend the key it was sent.
  let oneLine = redactCredentials(text.replace(/\s+/g, ' ').trim());
  for (const s of secrets) oneLine = oneLine.split(s).join(REDACTED);
  if (!oneLine) return '(empty body)';
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

/** The window a windowed provider (graphite, datadog, cloudwatch) asks for, ending now: spec.lookback or 5m. */
export function lookbackMs(spec: MetricProviderOptions['spec']): number {
  return parseDuration(spec.lookback ?? '5m');
}
