// A bounded history of each metric's measurements in this run (status.metrics[].history), so
// `weir get canary` can show a trend and why a measurement limit was reached, not only the latest.
import { METRIC_HISTORY_LENGTH, type MetricStatus } from '../api/canary.ts';

/** `latest` with each metric's history from `previous` extended by its new measurement. */
export function withHistory(
  previous: readonly MetricStatus[],
  latest: readonly MetricStatus[],
): MetricStatus[] {
  return latest.map((m) => {
    const before = previous.find((p) => p.name === m.name)?.history ?? [];
    const entry = { ...(m.value !== undefined ? { value: m.value } : {}), result: m.result, time: m.time };
    return { ...m, history: [...before, entry].slice(-METRIC_HISTORY_LENGTH) };
  });
}
