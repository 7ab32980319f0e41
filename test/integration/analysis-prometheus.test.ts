// runAnalysis against a REAL Prometheus scraping REAL app exporters on loopback. Two "pods" of one
// app in namespace prod: the canary `app-<hash>-<id>` (20% errors, ~30 ms latency) and the primary
// `app-primary-<hash>-<id>` (healthy, more traffic), plus a scraped pod that never gets traffic. The
// built-in queries must measure the canary alone, and every failure mode must be a clear result.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { ProviderName } from '../../src/api/canary.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricResult } from '../../src/canary/model.ts';
import { driveLoad, startAppExporter, type AppExporter } from '../cluster/app-exporter.ts';
import { startPrometheus, type PrometheusInstance, type PromSample } from '../cluster/prometheus.ts';
import { analysisCanarySpec, builtinAnalysisDeps } from './analysis-kit.ts';

const CANARY_POD = 'app-7d9f8c6b5-x2k4q';
const PRIMARY_POD = 'app-primary-5c4b7f9d8-m3n7p';
const IDLE_POD = 'idle-6f7d8c9b4-q1w2e';
const ERROR_RATE = 0.2;

let prom: PrometheusInstance;
let promStopped = false;
let canary: AppExporter;
let primary: AppExporter;
let idle: AppExporter;

const sum = (s: PromSample[]): number => s.reduce((n, x) => n + Number(x.value[1]), 0);

/** Waits until Prometheus has scraped every request the app has served so far. */
async function scrapedAll(app: AppExporter): Promise<void> {
  const served = app.counts().total;
  await prom.waitForSeries(
    `http_request_duration_seconds_count{pod="${app.pod}"}`,
    15_000,
    (s) => sum(s) === served,
  );
}

before(async () => {
  canary = await startAppExporter({
    pod: CANARY_POD,
    namespace: 'prod',
    errorRate: ERROR_RATE,
    latencyMs: 30,
  });
  primary = await startAppExporter({ pod: PRIMARY_POD, namespace: 'prod' });
  idle = await startAppExporter({ pod: IDLE_POD, namespace: 'prod' });
  prom = await startPrometheus({
    targets: [canary.target('app'), primary.target('app'), idle.target('idle')],
    scrapeInterval: '1s',
  });
  await Promise.all([canary, primary, idle].map((a) => prom.waitForTargetUp(a.address, 20_000)));

  // rate() counts increases between samples, so every series (200 and 500) must exist in a scrape
  // before the measured load: prime both apps, wait for that scrape, then send the real load.
  await Promise.all([
    driveLoad(canary.address, { requests: 10, concurrency: 5, timeoutMs: 10_000 }),
    driveLoad(primary.address, { requests: 10, concurrency: 5, timeoutMs: 10_000 }),
  ]);
  await Promise.all([scrapedAll(canary), scrapedAll(primary)]);
  const [c, p] = await Promise.all([
    driveLoad(canary.address, { requests: 200, concurrency: 8, timeoutMs: 15_000 }),
    driveLoad(primary.address, { requests: 600, concurrency: 8, timeoutMs: 15_000 }),
  ]);
  assert.deepEqual(c.byStatus, { 200: 160, 500: 40 }, 'the canary fails exactly 1 in 5');
  assert.deepEqual(p.byStatus, { 200: 600 });
  await Promise.all([scrapedAll(canary), scrapedAll(primary)]);
});

after(async () => {
  if (!promStopped) await prom?.stop();
  await Promise.all([canary, primary, idle].map((a) => a?.stop()));
});

async function analyse(
  target: string,
  metrics: unknown[],
  provider: ProviderName = 'gatewayapi',
): Promise<MetricResult[]> {
  return runAnalysis(
    { spec: analysisCanarySpec(target, metrics), name: target, namespace: 'prod', provider },
    builtinAnalysisDeps(prom.url),
  );
}

test("request-success-rate is the canary's real success rate, primary pods not counted", async () => {
  const { total, errors } = canary.counts();
  const real = (100 * (total - errors)) / total;
  assert.equal(real, 100 * (1 - ERROR_RATE));
  // The primary's healthy series are in Prometheus: counting them would lift the value above 90.
  const primarySeries = await prom.queryVector(
    `sum(http_request_duration_seconds_count{pod="${PRIMARY_POD}"})`,
  );
  assert.equal(sum(primarySeries), primary.counts().total);

  for (const provider of ['gatewayapi', 'kubernetes'] as const) {
    const [r] = await analyse(
      'app',
      [{ name: 'request-success-rate', thresholdRange: { min: 70 } }],
      provider,
    );
    assert.equal(r?.result, 'Successful', r?.message);
    assert.ok(Math.abs(r.value! - real) < 2, `${provider}: measured ${r.value}, real ${real}`);
    assert.match(r.message, /^request-success-rate \d+(\.\d+)? >= min 70$/);
  }
});

test('a threshold violation is Failed with metric, value and limit in the message', async () => {
  const [sr, dur] = await analyse('app', [
    { name: 'request-success-rate', thresholdRange: { min: 99 } },
    { name: 'request-duration', thresholdRange: { max: 10 } },
  ]);
  assert.equal(sr?.result, 'Failed');
  assert.equal(sr.min, 99);
  assert.match(sr.message, /^request-success-rate (7[89]|8[01])(\.\d+)? < min 99$/);

  // ~30 ms per request lands in the (25 ms, 50 ms] bucket; on a loaded machine stragglers push p99
  // higher, so only the lower bound (what makes it exceed max 10) is asserted.
  assert.equal(dur?.result, 'Failed');
  assert.ok(dur.value! > 25, `p99 ${dur.value} ms`);
  assert.match(dur.message, /^request-duration \d+(\.\d+)?ms > max 10$/);

  const [ok] = await analyse('app', [{ name: 'request-duration', thresholdRange: { max: 500 } }]);
  assert.equal(ok?.result, 'Successful', ok?.message);
});

test('a scraped pod that never served a request gives NoData naming the pod selector', async () => {
  // A labelled histogram has no series before its first observation: the diagnosis finds none for
  // the idle pods (analysis-no-data.test.ts covers every cause).
  const results = await analyse('idle', [
    { name: 'request-success-rate', thresholdRange: { min: 99 } },
    { name: 'request-duration', thresholdRange: { max: 500 } },
  ]);
  for (const r of results) {
    assert.equal(r.result, 'NoData', r.message);
    assert.equal(r.value, undefined);
    assert.match(
      r.message,
      new RegExp(
        `^metric ${r.name} returned no data \\(pod selector matches no series\\): .* has pod=~"idle-`,
      ),
    );
    assert.match(r.message, /; query: .*pod=~"idle-/);
  }
});

test('a canary whose traffic stopped gives NoData over a short interval (0/0 is NaN)', async () => {
  // The load ended before the first test; wait until a 3 s window holds only unchanged samples.
  await scrapedAll(canary);
  await delay(4500);
  const [r] = await analyse('app', [
    { name: 'request-success-rate', interval: '3s', thresholdRange: { min: 99 } },
  ]);
  assert.equal(r?.result, 'NoData', r?.message);
  assert.match(
    r.message,
    /\(no traffic\): its series exist and carry samples, so the canary may be receiving no traffic; query: /,
  );
});

test('a stopped Prometheus gives Error, never Successful', async () => {
  await prom.stop();
  promStopped = true;
  const results = await analyse('app', [
    { name: 'request-success-rate', thresholdRange: { min: 0 } },
    { name: 'request-duration', thresholdRange: { max: 100_000 } },
  ]);
  for (const r of results) {
    assert.equal(r.result, 'Error', r.message);
    assert.match(
      r.message,
      new RegExp(`^metric ${r.name} failed \\(Prometheus unreachable or HTTP error\\): `),
    );
    assert.match(r.message, /ECONNREFUSED/);
    assert.match(r.message, /for query /);
  }
});
