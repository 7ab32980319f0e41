// New Relic metric provider: an NRQL query through NerdGraph, `POST /graphql` with
// `actor { account(id) { nrql(query) { results } } }`, the NRQL passed as a GraphQL variable (never
// spliced into the GraphQL text). The NRQL must return one row with one value, e.g.
// `SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = '{{ target }}'
// SINCE 5 minutes ago`; a function with a keyed answer (`percentile(duration, 99)` gives
// `{"99": 0.12}`) counts as one value when it has one key.
//
// Credentials: secretRef with a User API key (`personal-api-key` as in Argo, or `api-key`) sent as
// the API-Key header, and the account id (`account-id`). The address defaults to the US endpoint;
// a Secret with `region: eu` picks the EU one, and spec.provider.address overrides both.
//
// New Relic cannot be reached from Weir's test environment: the provider is tested against a local
// server that checks each request against the documented API (docs/metrics.md).
import { WeirError } from '../errors.ts';
import {
  backendOf,
  finiteValue,
  httpStatusError,
  isObject,
  secretValue,
  send,
  shapeError,
  snippet,
  type Answer,
  type Backend,
} from './http.ts';
import type { MetricProviderFactory } from './provider.ts';

export const NERDGRAPH_US = 'https://api.newrelic.com/graphql';
export const NERDGRAPH_EU = 'https://api.eu.newrelic.com/graphql';

export const NRQL_DOCUMENT =
  'query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }';

// Rows of a timeseries or a comparison carry these next to the value.
const ROW_METADATA = new Set(['beginTimeSeconds', 'endTimeSeconds', 'timestamp', 'facet', 'comparison']);

export const createNewRelicProvider: MetricProviderFactory = (opts) => {
  const key = secretValue(opts.secret, ['personal-api-key', 'api-key'], 'a New Relic User API key');
  const accountId = Number(secretValue(opts.secret, ['account-id'], 'the New Relic account id'));
  if (!Number.isSafeInteger(accountId) || accountId <= 0) {
    throw new WeirError(
      'CONFIG',
      'the MetricTemplate secret `account-id` is not a New Relic account id (a number)',
    );
  }
  const fallback = opts.secret?.region?.toLowerCase() === 'eu' ? NERDGRAPH_EU : NERDGRAPH_US;
  const backend = backendOf(opts, { name: 'New Relic', fallbackAddress: fallback, auth: { 'API-Key': key } });
  const log = opts.log.child({ provider: 'newrelic', address: backend.address });
  return {
    type: 'newrelic',
    name: 'New Relic',
    async query(query: string): Promise<number> {
      const answer = await send(backend, {
        method: 'POST',
        url: backend.address,
        headers: { 'Content-Type': 'application/json' },
        data: JSON.stringify({ query: NRQL_DOCUMENT, variables: { accountId, nrql: query } }),
      });
      log.debug({ status: answer.status }, 'newrelic query');
      return singleValue(backend, answer);
    },
  };
};

function singleValue(b: Backend, a: Answer): number {
  const body = a.json;
  if (a.status < 200 || a.status > 299) throw httpStatusError(b, a);
  if (!isObject(body)) throw shapeError(b, a, 'a NerdGraph response');
  const errors = Array.isArray(body.errors) ? body.errors : [];
  if (errors.length > 0) {
    const text = errors.map((e) => (isObject(e) ? String(e.message) : String(e))).join('; ');
    throw new WeirError('METRIC_QUERY', `New Relic rejected the query: ${snippet(text, b.secrets)}`);
  }
  const nrql = path(body, ['data', 'actor', 'account', 'nrql']);
  if (!isObject(nrql) || !Array.isArray(nrql.results)) throw shapeError(b, a, 'a NerdGraph NRQL response');
  const rows = nrql.results as unknown[];
  if (rows.length === 0) throw new WeirError('METRIC_NO_DATA', 'the NRQL query returned no rows');
  if (rows.length > 1) {
    throw new WeirError(
      'METRIC_QUERY',
      `the NRQL query returned ${rows.length} rows, expected 1: drop FACET and TIMESERIES`,
    );
  }
  return rowValue(rows[0]);
}

function rowValue(row: unknown): number {
  const fields = isObject(row) ? Object.entries(row).filter(([k]) => !ROW_METADATA.has(k)) : [];
  if (fields.length !== 1) {
    const names = fields.map(([k]) => k).join(', ');
    throw new WeirError('METRIC_QUERY', `the NRQL row has ${fields.length} values (${names}), expected 1`);
  }
  const [name, value] = fields[0]!;
  // percentile(x, 99) answers {"99": 0.12}: one key, one number.
  if (isObject(value)) {
    const inner = Object.values(value);
    if (inner.length !== 1) {
      throw new WeirError('METRIC_QUERY', `the NRQL value ${name} has ${inner.length} parts, expected 1`);
    }
    return finiteValue(inner[0], `the NRQL value ${name}`);
  }
  return finiteValue(value, `the NRQL value ${name}`);
}

function path(v: unknown, keys: string[]): unknown {
  let cur = v;
  for (const k of keys) cur = isObject(cur) ? cur[k] : undefined;
  return cur;
}
