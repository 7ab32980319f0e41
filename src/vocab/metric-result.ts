// One metric check's outcome, as analysis produces it and the engine, status and alerts read it.

export interface MetricResult {
  name: string;
  /** Successful: within range. Failed: out of range. NoData: empty/NaN. Error: query failed. */
  result: 'Successful' | 'Failed' | 'NoData' | 'Error';
  value?: number;
  /** The primary's value, for a metric judged against the primary (`compare`). */
  primaryValue?: number;
  min?: number;
  max?: number;
  message: string;
}
