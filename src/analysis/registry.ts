// Metric providers by MetricTemplate `spec.provider.type`. A new backend is one file and one line here
// (and one row in test/unit/metric-providers.test.ts).
import { createCloudWatchProvider } from './cloudwatch.ts';
import { createDatadogProvider } from './datadog.ts';
import { createGraphiteProvider } from './graphite.ts';
import { createInfluxDBProvider } from './influxdb.ts';
import { createNewRelicProvider } from './newrelic.ts';
import { createPrometheusProvider } from './prometheus.ts';
import type { MetricProviderFactory } from './provider.ts';
import { createVictoriaMetricsProvider } from './victoriametrics.ts';
import { createWebProvider } from './web.ts';

export const METRIC_PROVIDERS: Record<string, MetricProviderFactory> = {
  prometheus: createPrometheusProvider,
  victoriametrics: createVictoriaMetricsProvider,
  graphite: createGraphiteProvider,
  influxdb: createInfluxDBProvider,
  web: createWebProvider,
  datadog: createDatadogProvider,
  newrelic: createNewRelicProvider,
  cloudwatch: createCloudWatchProvider,
};
