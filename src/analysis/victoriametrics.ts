// VictoriaMetrics metric provider: VictoriaMetrics (single-node `/api/v1/query`, or vmselect's
// `/select/<tenant>/prometheus` as the address) answers Prometheus' query API with MetricsQL, so the
// Prometheus reader serves it under its own name; only the address never defaults to the
// controller's --prometheus-address.
import { promApiProvider } from './prometheus.ts';

export const createVictoriaMetricsProvider = promApiProvider('VictoriaMetrics', 'victoriametrics');
