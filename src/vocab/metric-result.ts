// One metric check's outcome, as analysis produces it and the engine, status and alerts read it.

/**
 * Successful: within range, or no significant difference. Failed: out of range, or a significant
 * difference beyond the tolerance. NoData: empty/NaN. Error: the query failed. Inconclusive: a judge
 * had too few samples to tell (the tick holds its weight).
 */
export const METRIC_RESULTS = ['Successful', 'Failed', 'NoData', 'Error', 'Inconclusive'] as const;

export interface MetricResult {
  name: string;
  result: (typeof METRIC_RESULTS)[number];
  value?: number;
  /** The primary's value, for a metric judged against the primary (`compare`, `judge`). */
  primaryValue?: number;
  min?: number;
  max?: number;
  /** judge: the test's p-value. */
  pValue?: number;
  /** judge: the canary's mean over the primary's. */
  effectSize?: number;
  message: string;
}
