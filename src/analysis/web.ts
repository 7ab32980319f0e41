// Web metric provider, as Argo's: the query is the URL of any HTTP endpoint that answers JSON, and
// spec.provider.jsonPath (`$.data.errorRate`, or Argo's `{$.data.errorRate}`) picks the value out of
// the answer. Without a jsonPath the whole body must be the number. The path must match exactly one
// value: a number, a numeric string, or a boolean (true is 1, false is 0, for pass/fail endpoints).
//
// JSONPath is evaluated by jsonpath-plus with script evaluation off: filter and script expressions
// (`[?(…)]`, `[(…)]`) are refused, so a template can never run code in the controller.
//
// Credentials: secretRef `token` (Bearer) or `username` + `password` (Basic); userinfo in the URL is
// taken out and sent as Basic auth. Messages show the URL's origin and path only: a query string
// may carry keys.
import { JSONPath } from 'jsonpath-plus';
import { WeirError } from '../errors.ts';
import {
  finiteValue,
  httpClient,
  parseAddress,
  send,
  shapeError,
  httpStatusError,
  snippet,
  tokenOrBasic,
  type Answer,
  type Backend,
} from './http.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { MetricProviderFactory } from './provider.ts';

export const createWebProvider: MetricProviderFactory = (opts) => {
  const spec = opts.spec;
  const timeoutMs = spec.timeout ? parseDuration(spec.timeout) : opts.defaultTimeoutMs;
  const auth = tokenOrBasic(opts.secret);
  const path = spec.jsonPath ? jsonPathOf(spec.jsonPath) : undefined;
  const secrets = Object.values(opts.secret ?? {}).filter((v) => v.length >= 4);
  const log = opts.log.child({ provider: 'web' });
  return {
    type: 'web',
    name: 'the web endpoint',
    async query(query: string): Promise<number> {
      const parsed = parseAddress(query.trim(), 'the web query');
      const shown = withoutSearch(parsed.address);
      // Precedence as elsewhere: the secret, then an explicit header, then the URL's userinfo.
      const headers = { Accept: 'application/json', ...parsed.auth, ...spec.headers, ...auth };
      const http = httpClient(headers, timeoutMs, spec.insecureSkipVerify);
      const backend: Backend = { name: 'the web endpoint', address: shown, timeoutMs, http, secrets };
      const answer = await send(backend, {
        method: spec.method ?? 'GET',
        url: parsed.address,
        ...(spec.body !== undefined ? { data: spec.body, headers: bodyHeaders(spec.body, headers) } : {}),
      });
      log.debug({ status: answer.status, url: shown }, 'web query');
      return valueOf(backend, answer, path);
    },
  };
};

/** Argo writes `{$.a.b}`; jsonpath-plus wants `$.a.b`. */
function jsonPathOf(raw: string): string {
  const path = raw
    .trim()
    .replace(/^\{(.*)\}$/s, '$1')
    .trim();
  if (!path.startsWith('$')) {
    throw new WeirError(
      'CONFIG',
      `spec.provider.jsonPath must start with $ (or {$), got ${JSON.stringify(raw)}`,
    );
  }
  return path;
}

function bodyHeaders(body: string, headers: Record<string, string>): Record<string, string> {
  if (Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) return {};
  let json = true;
  try {
    JSON.parse(body);
  } catch {
    json = false;
  }
  return { 'Content-Type': json ? 'application/json' : 'text/plain' };
}

function valueOf(b: Backend, a: Answer, path: string | undefined): number {
  if (a.status < 200 || a.status > 299) throw httpStatusError(b, a);
  if (path === undefined) return bareNumber(b, a);
  if (a.json === undefined) throw shapeError(b, a, 'JSON');
  let matches: unknown[];
  try {
    matches = JSONPath({ path, json: a.json as object, wrap: true, eval: false }) as unknown[];
  } catch (err) {
    throw new WeirError(
      'CONFIG',
      `spec.provider.jsonPath ${path} cannot be evaluated: ${(err as Error).message}`,
    );
  }
  if (matches.length === 0) throw new WeirError('METRIC_NO_DATA', `jsonPath ${path} matched nothing`);
  if (matches.length > 1) {
    throw new WeirError('METRIC_QUERY', `jsonPath ${path} matched ${matches.length} values, expected 1`);
  }
  const value = matches[0];
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object' && value !== null) {
    throw new WeirError(
      'METRIC_QUERY',
      `jsonPath ${path} matched ${Array.isArray(value) ? 'a list' : 'an object'}, expected a number`,
    );
  }
  return finiteValue(value, `the value at ${path}`);
}

function bareNumber(b: Backend, a: Answer): number {
  if (typeof a.json === 'boolean') return a.json ? 1 : 0;
  const text = a.text.trim();
  if (text === '' || !Number.isFinite(Number(text))) {
    throw new WeirError(
      'METRIC_QUERY',
      `the answer from ${b.address} is not a number (set spec.provider.jsonPath): ${snippet(text, b.secrets)}`,
    );
  }
  return Number(text);
}

function withoutSearch(address: string): string {
  const u = new URL(address);
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}
