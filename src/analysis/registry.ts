// Metric providers by MetricTemplate `spec.provider.type`. A new backend is one file and one line here.
import { createPrometheusProvider } from './prometheus.ts';
import type { MetricProviderFactory } from './provider.ts';

export const METRIC_PROVIDERS: Record<string, MetricProviderFactory> = {
  prometheus: createPrometheusProvider,
};
