// Weir's Prometheus metrics (prom-client, own registry). Names follow Flagger's so dashboards port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly info = new Gauge({
    name: 'weir_info',
    help: 'Weir version',
    labelNames: ['version'],
    registers: [this.registry],
  });
  readonly canaryStatus = new Gauge({
    name: 'weir_canary_status',
    help: 'Canary status: 0 progressing, 1 succeeded or idle, 2 failed',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });
  readonly canaryWeight = new Gauge({
    name: 'weir_canary_weight',
    help: 'Traffic weight of the canary and the primary',
    labelNames: ['workload', 'namespace'],
    registers: [this.registry],
  });
  readonly canaryDuration = new Histogram({
    name: 'weir_canary_duration_seconds',
    help: 'Duration of canary runs',
    labelNames: ['name', 'namespace'],
    buckets: [30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
    registers: [this.registry],
  });
  readonly metricAnalysis = new Gauge({
    name: 'weir_canary_metric_analysis',
    help: 'Last value of each analysis metric',
    labelNames: ['name', 'namespace', 'metric'],
    registers: [this.registry],
  });
  readonly canaryTotal = new Gauge({
    name: 'weir_canary_total',
    help: 'Canaries per namespace',
    labelNames: ['namespace'],
    registers: [this.registry],
  });
  readonly successes = new Counter({
    name: 'weir_canary_successes_total',
    help: 'Promotions',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'weir_canary_failures_total',
    help: 'Rollbacks',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'weir_reconcile_duration_seconds',
    help: 'Duration of one reconcile',
    labelNames: ['kind', 'result'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'weir_workqueue_depth',
    help: 'Keys waiting in the work queue',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly gitsyncDuration = new Histogram({
    name: 'weir_gitsync_reconcile_duration_seconds',
    help: 'Duration of a GitSync reconcile',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });
  readonly gitsyncLastApplied = new Gauge({
    name: 'weir_gitsync_last_applied_timestamp_seconds',
    help: 'When a GitSync last applied',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });
  readonly gitsyncReady = new Gauge({
    name: 'weir_gitsync_ready',
    help: '1 when the GitSync is Ready',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });

  constructor(version: string, processMetrics = true) {
    this.info.set({ version }, 1);
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
