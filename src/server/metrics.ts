// Weir's Prometheus metrics (prom-client, own registry). Names follow Flagger's so dashboards port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop delay is sampled (nodejs_eventloop_lag_* metrics). prom-client's default
 * of 10 ms wakes the loop 100 times a second: about 7 ms of CPU per second on an idle controller,
 * a quarter of its CPU over a 20-Canary rollout (docs/performance.md). A block of the loop still
 * shows as the delay of the sample it overlaps.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

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
  readonly queueWait = new Histogram({
    name: 'weir_workqueue_wait_seconds',
    help: 'Time a key waited in the work queue for a worker',
    labelNames: ['kind'],
    buckets: [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30],
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

  /** Label values each Canary has been recorded with, so forgetCanary() can remove them all. */
  private readonly canaries = new Map<string, { workloads: Set<string>; metrics: Set<string> }>();

  /** Sets a Canary's status, the weight of each workload and the latest value of each metric check. */
  recordCanary(
    namespace: string,
    name: string,
    values: { status: number; weights: Record<string, number>; analysis: Record<string, number> },
  ): void {
    const key = `${namespace}/${name}`;
    const seen = this.canaries.get(key) ?? { workloads: new Set<string>(), metrics: new Set<string>() };
    this.canaries.set(key, seen);
    this.canaryStatus.set({ name, namespace }, values.status);
    for (const [workload, weight] of Object.entries(values.weights)) {
      seen.workloads.add(workload);
      this.canaryWeight.set({ workload, namespace }, weight);
    }
    for (const [metric, value] of Object.entries(values.analysis)) {
      seen.metrics.add(metric);
      this.metricAnalysis.set({ name, namespace, metric }, value);
    }
  }

  /**
   * Removes every series of a deleted Canary (a dashboard must not show it forever) and sets its
   * namespace's count to `remaining` (removed at 0).
   */
  forgetCanary(namespace: string, name: string, remaining: number): void {
    const seen = this.canaries.get(`${namespace}/${name}`);
    this.canaries.delete(`${namespace}/${name}`);
    for (const m of [this.canaryStatus, this.canaryDuration, this.successes, this.failures])
      m.remove({ name, namespace });
    for (const workload of seen?.workloads ?? []) this.canaryWeight.remove({ workload, namespace });
    for (const metric of seen?.metrics ?? []) this.metricAnalysis.remove({ name, namespace, metric });
    if (remaining > 0) this.canaryTotal.set({ namespace }, remaining);
    else this.canaryTotal.remove({ namespace });
  }

  constructor(version: string, processMetrics = true) {
    this.info.set({ version }, 1);
    if (processMetrics)
      collectDefaultMetrics({
        register: this.registry,
        eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
      });
  }
}
