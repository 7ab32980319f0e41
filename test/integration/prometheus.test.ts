// Real Prometheus scraping real prom-client exporters on loopback: values and target labels arrive
// intact, targets can be added at runtime (file_sd), and a malformed query yields Prometheus' error.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { driveLoad, startAppExporter, type AppExporter } from '../cluster/app-exporter.ts';
import { startPrometheus, type PrometheusInstance, type PromSample } from '../cluster/prometheus.ts';

let prom: PrometheusInstance | undefined;
const apps: AppExporter[] = [];

before(async () => {
  const app = await startAppExporter({ pod: 'podinfo-7d9f8-abcde', namespace: 'test', errorRate: 0.25 });
  apps.push(app);
  prom = await startPrometheus({ targets: [app.target('podinfo')] });
});

after(async () => {
  await prom?.stop();
  await Promise.all(apps.map((a) => a.stop()));
});

/** The exporter's own counter values keyed by status label, read from its registry. */
async function exportedRequestsByStatus(app: AppExporter): Promise<Record<string, number>> {
  const metric = app.registry.getSingleMetric('http_requests_total');
  assert.ok(metric, 'exporter has http_requests_total');
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) out[String(v.labels.status)] = v.value;
  return out;
}

test('an instant query returns the value the exporter exposed, with the target labels', async () => {
  const p = prom!;
  const app = apps[0]!;
  const load = await driveLoad(app.address, { requests: 40, concurrency: 4, timeoutMs: 15_000 });
  assert.deepEqual(load.byStatus, { 200: 30, 500: 10 }, 'errorRate 0.25 fails exactly 1 in 4');

  const exported = await exportedRequestsByStatus(app);
  assert.deepEqual(exported, { '200': 30, '500': 10 });

  const promql = 'http_requests_total{job="podinfo"}';
  // Wait for a scrape taken after the load finished (an earlier one may hold partial counts).
  const total = (s: PromSample[]): number => s.reduce((n, x) => n + Number(x.value[1]), 0);
  const samples = await p.waitForSeries(promql, 20_000, (s) => total(s) === load.sent);
  const byStatus = Object.fromEntries(samples.map((s) => [s.metric.status, Number(s.value[1])]));
  assert.deepEqual(byStatus, { '200': exported['200'], '500': exported['500'] });
  for (const s of samples) {
    assert.equal(s.metric.pod, 'podinfo-7d9f8-abcde');
    assert.equal(s.metric.namespace, 'test');
    assert.equal(s.metric.instance, app.address);
    assert.equal(s.metric.method, 'GET');
    assert.equal(s.metric.path, '/');
  }

  // The histogram counted every request too.
  const [count] = await p.queryVector('sum(http_request_duration_seconds_count{pod="podinfo-7d9f8-abcde"})');
  assert.equal(count?.value[1], '40');
});

test('a target added after start is scraped, with background traffic from the exporter', async () => {
  const p = prom!;
  const canary = await startAppExporter({ pod: 'podinfo-canary-xyz12', namespace: 'test' });
  apps.push(canary);
  await p.addTarget(canary.target('podinfo-canary'));
  await p.waitForTargetUp(canary.address, 20_000);

  canary.startTraffic({ perTick: 2, tickMs: 100, maxRequests: 200, maxDurationMs: 20_000 });
  try {
    const [s] = await p.waitForSeries(
      'sum by (pod, namespace) (http_requests_total{job="podinfo-canary", status="200"})',
      20_000,
      (v) => Number(v[0]?.value[1]) > 0,
    );
    assert.deepEqual(s?.metric, { pod: 'podinfo-canary-xyz12', namespace: 'test' });
  } finally {
    canary.stopTraffic();
  }
  assert.equal(canary.counts().errors, 0);
  assert.ok(canary.counts().total <= 200, 'traffic loop honours maxRequests');
});

test('a malformed query returns Prometheus error bad_data', async () => {
  const res = await prom!.query('sum(rate(http_requests_total[1m])');
  assert.equal(res.status, 'error');
  assert.equal(res.httpStatus, 400);
  if (res.status === 'error') {
    assert.equal(res.errorType, 'bad_data');
    assert.match(res.error, /parse error/);
  }
});
