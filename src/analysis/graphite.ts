// Graphite metric provider: graphite-web's render API, `GET /render?target=…&from=-<lookback>&format=json`.
// The query is a target expression (`sumSeries(app.{{ target }}.errors)`), or Flagger's and Argo's
// parameter form `target=…[&from=…&until=…]` whose own from/until win over the lookback. The target
// must yield one series; its newest non-null datapoint is the value (Graphite pads a window with nulls
// up to "now", so the last point is often null).
//
// Credentials: secretRef `username` + `password` (Basic, as graphite-web behind a proxy expects) or
// `token` (Bearer).
import { WeirError } from '../errors.ts';
import {
  backendOf,
  finiteValue,
  httpStatusError,
  lookbackMs,
  send,
  shapeError,
  snippet,
  tokenOrBasic,
  type Answer,
  type Backend,
} from './http.ts';
import type { MetricProviderFactory } from './provider.ts';

export const createGraphiteProvider: MetricProviderFactory = (opts) => {
  const backend = backendOf(opts, { name: 'Graphite', auth: tokenOrBasic(opts.secret) });
  const from = `-${Math.max(1, Math.round(lookbackMs(opts.spec) / 1000))}s`;
  const log = opts.log.child({ provider: 'graphite', address: backend.address });
  return {
    type: 'graphite',
    name: 'Graphite',
    async query(query: string): Promise<number> {
      const params = renderParams(query, from);
      const answer = await send(backend, { method: 'GET', url: `${backend.address}/render?${params}` });
      log.debug({ status: answer.status }, 'graphite query');
      return newestPoint(backend, answer);
    },
  };
};

/** The render parameters for a bare target or a `target=…&from=…` string; format is always json. */
export function renderParams(query: string, from: string): URLSearchParams {
  // Templates spread long targets over lines; Graphite's grammar needs no line breaks.
  const flat = query.replace(/\s*[\r\n]+\s*/g, '').trim();
  const params = /^target=/.test(flat) ? new URLSearchParams(flat) : new URLSearchParams({ target: flat });
  if (params.getAll('target').length !== 1 || !params.get('target')) {
    throw new WeirError('METRIC_QUERY', 'a Graphite query needs exactly one target');
  }
  if (!params.has('from')) params.set('from', from);
  if (!params.has('until')) params.set('until', 'now');
  params.set('format', 'json');
  return params;
}

interface Series {
  target?: unknown;
  datapoints?: unknown;
}

function newestPoint(b: Backend, a: Answer): number {
  // graphite-web answers a target it cannot parse or evaluate with 400 (or 500 from older versions).
  if (a.status === 400) {
    throw new WeirError(
      'METRIC_QUERY',
      `Graphite rejected the query: HTTP 400 ${snippet(a.text, b.secrets)}`,
    );
  }
  if (a.status < 200 || a.status > 299) throw httpStatusError(b, a);
  if (!Array.isArray(a.json)) throw shapeError(b, a, 'a Graphite render response');
  const series = a.json as Series[];
  if (series.length === 0) throw new WeirError('METRIC_NO_DATA', 'the target matched no series');
  if (series.length > 1) {
    throw new WeirError(
      'METRIC_QUERY',
      `the target returned ${series.length} series, expected 1: aggregate them, e.g. with sumSeries(...)`,
    );
  }
  const points = Array.isArray(series[0]!.datapoints) ? (series[0]!.datapoints as unknown[]) : [];
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i];
    if (Array.isArray(p) && p[0] !== null && p[0] !== undefined) return finiteValue(p[0], 'the datapoint');
  }
  throw new WeirError('METRIC_NO_DATA', 'the series has no non-null datapoint in the window');
}
