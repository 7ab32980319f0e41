// A metric provider runs one rendered query and returns one number (and, if its backend can, the
// values over a time range), or throws a WeirError whose code says what went wrong: METRIC_NO_DATA (empty result or NaN), METRIC_QUERY (the backend rejected the
// query), METRIC_HTTP (transport or HTTP status), METRIC_TIMEOUT.
import type { MetricTemplateSpec } from '../api/metric-template.ts';
import type { Logger } from '../log.ts';
import type { NoDataDiagnosis, NoDataHints } from './no-data.ts';

export interface MetricProvider {
  readonly type: string;
  /** The backend as users know it ("Prometheus", "Datadog"), for status messages. */
  readonly name?: string;
  query(query: string): Promise<number>;
  /**
   * Why `query` returned no data, for backends that can be asked (Prometheus' query API). Bounded
   * by the provider's timeout counted from `startedAt`, when the query was sent, so that query and
   * diagnosis together fit the time the controller allows a metric. Resolves undefined when it
   * cannot tell; never rejects.
   */
  diagnoseNoData?(query: string, ctx: NoDataContext): Promise<NoDataDiagnosis | undefined>;
  /**
   * The values of `query` over a time range, one per step, for the statistical judge; only backends
   * with a range query API have it (Prometheus' `/api/v1/query_range`). The query must yield one
   * series; NaN and infinite points (no traffic at that step) are left out. Throws METRIC_NO_DATA
   * when no point is left.
   */
  queryRange?(query: string, range: QueryRange): Promise<number[]>;
  /**
   * The same range query with each point's time, for charts (the dashboard's metric history); NaN
   * and infinite points are left out. An empty result is an empty array, not an error.
   */
  querySeries?(query: string, range: QueryRange): Promise<SeriesPoint[]>;
}

/** One point of a range query: unix seconds and the value. */
export type SeriesPoint = [number, number];

/** A range of a range query, in ms since the epoch; one point every stepMs from startMs to endMs. */
export interface QueryRange {
  startMs: number;
  endMs: number;
  stepMs: number;
}

export interface NoDataContext extends NoDataHints {
  /** Date.now() when the query that returned no data was sent. */
  startedAt: number;
}

export interface MetricProviderOptions {
  spec: MetricTemplateSpec['provider'];
  /** Data of spec.secretRef, decoded: `token`, or `username` + `password`. */
  secret?: Record<string, string>;
  /** Controller defaults: --prometheus-address and the query timeout. */
  defaultAddress?: string;
  defaultTimeoutMs: number;
  log: Logger;
}

export type MetricProviderFactory = (opts: MetricProviderOptions) => MetricProvider;

/** Variables available to templates and built-in queries. */
export interface QueryContext {
  name: string; // canary name
  namespace: string;
  /**
   * Whose pods the query measures: targetRef.name for the canary; `<target>-primary` when a metric
   * with `compare` is rendered a second time for the primary.
   */
  target: string;
  /** The primary's workload, `<target>-primary`, in both renderings. */
  primary: string;
  service: string; // apex service name
  interval: string; // Go duration, e.g. 1m
  variables: Record<string, string>;
  /** Variables the routing provider adds (its descriptor's templateVariables), e.g. `route`. */
  provider?: Record<string, string>;
}
