// No-data diagnosis against a REAL Prometheus scraping REAL app exporters on loopback, one scenario
// per cause, each through runAnalysis as the controller runs it. Namespace `prod` holds:
//   web-<hash>-<id> and web-primary-<hash>-<id>  served requests, scraped every second
//   idle-<hash>-<id>                             scraped, never served a request: a labelled
//                                                histogram has no series before its first observation
//   slow-<hash>-<id>                             served requests, scraped only every 15 s
// and the four causes are:
//   metric not found     provider istio's built-ins: this Prometheus has no istio_requests_total
//   namespace            a Canary in `staging`, whose metrics Prometheus only has in `prod`
//   pod selector         target `idle`: prod has series, none from an idle-… pod
//   too few samples      target `slow` with a 5 s interval: rate() over [5s] never sees two samples
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { ProviderName } from '../../src/api/canary.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricResult } from '../../src/canary/model.ts';
import { driveLoad, startAppExporter, type AppExporter } from '../cluster/app-exporter.ts';
import { startPrometheus, type PrometheusInstance } from '../cluster/prometheus.ts';
import { analysisCanarySpec, builtinAnalysisDeps } from './analysis-kit.ts';

const WEB_POD = 'web-7d9f8c6b5-x2k4q';
const PRIMARY_POD = 'web-primary-5c4b7f9d8-m3n7p';
const IDLE_POD = 'idle-6f7d8c9b4-q1w2e';
const SLOW_POD = 'slow-8b7c6d5e4-r5t6y';
const COUNT = 'http_request_duration_seconds_count';
const POD_REGEX = '[0-9a-zA-Z]+(-[0-9a-zA-Z]+)';

let prom: PrometheusInstance;
let apps: AppExporter[] = [];

before(async () => {
  const start = (pod: string) => startAppExporter({ pod, namespace: 'prod' });
  const [web, primary, idle, slow] = await Promise.all([WEB_POD, PRIMARY_POD, IDLE_POD, SLOW_POD].map(start));
  apps = [web!, primary!, idle!, slow!];
  prom = await startPrometheus({
    targets: [
      web!.target('web'),
      primary!.target('web'),
      idle!.target('idle'),
      // A per-target scrape interval (Prometheus reads it from the target's labels).
      slow!.target('slow', { __scrape_interval__: '15s', __scrape_timeout__: '1s' }),
    ],
    scrapeInterval: '1s',
  });
  await Promise.all(
    [web, primary, slow].map((a) => driveLoad(a!.address, { requests: 20, timeoutMs: 10_000 })),
  );
  // Every series the scenarios rely on is in Prometheus (the slow pod's within one 15 s scrape).
  for (const a of [web!, primary!, slow!]) {
    await prom.waitForSeries(`${COUNT}{pod="${a.pod}"}`, 40_000, (s) => Number(s[0]?.value[1]) === 20);
  }
  await prom.waitForTargetUp(idle!.address, 20_000);
});

after(async () => {
  await prom?.stop();
  await Promise.all(apps.map((a) => a.stop()));
});

async function analyse(
  t: TestContext,
  at: { target: string; namespace?: string; provider?: ProviderName; interval?: string },
): Promise<MetricResult[]> {
  const metrics = [
    {
      name: 'request-success-rate',
      thresholdRange: { min: 99 },
      ...(at.interval ? { interval: at.interval } : {}),
    },
    {
      name: 'request-duration',
      thresholdRange: { max: 500 },
      ...(at.interval ? { interval: at.interval } : {}),
    },
  ];
  const results = await runAnalysis(
    {
      spec: analysisCanarySpec(at.target, metrics),
      name: at.target,
      namespace: at.namespace ?? 'prod',
      provider: at.provider ?? 'kubernetes',
    },
    builtinAnalysisDeps(prom.url),
  );
  for (const r of results) {
    t.diagnostic(r.message);
    assert.equal(r.result, 'NoData', r.message);
  }
  return results;
}

/** The message up to the query, which every NoData message ends with. */
const cause = (r: MetricResult): string => r.message.replace(/; query: .*$/, '');

test('a metric name Prometheus does not have: "metric not found", naming the metric', async (t) => {
  const [sr, dur] = await analyse(t, { target: 'web', provider: 'istio' });
  assert.equal(
    cause(sr!),
    'metric request-success-rate returned no data (metric not found): Prometheus has no series of ' +
      'istio_requests_total in the last 1h: check the metric name and that Prometheus scrapes the app',
  );
  assert.match(
    cause(dur!),
    /\(metric not found\): Prometheus has no series of istio_request_duration_milliseconds_bucket /,
  );
  assert.match(sr!.message, /; query: sum\(rate\(istio_requests_total\{/);
});

test('series only in another namespace: "no series in the namespace", listing where they are', async (t) => {
  const [sr, dur] = await analyse(t, { target: 'web', namespace: 'staging' });
  assert.equal(
    cause(sr!),
    `metric request-success-rate returned no data (no series in the namespace): ${COUNT} exists, but no ` +
      `series has namespace="staging" (namespace values there: prod): check the namespace label that ` +
      `Prometheus's scrape config attaches`,
  );
  assert.match(
    cause(dur!),
    /\(no series in the namespace\): http_request_duration_seconds_bucket exists, but no series has namespace="staging"/,
  );
});

test('no series from the canary pods: "pod selector matches no series", with the pods that are there', async (t) => {
  const [sr, dur] = await analyse(t, { target: 'idle' });
  assert.equal(
    cause(sr!),
    `metric request-success-rate returned no data (pod selector matches no series): no series of ` +
      `${COUNT}{namespace="prod"} has pod=~"idle-${POD_REGEX}", the canary's pods (pod values there: ` +
      `${SLOW_POD}, ${WEB_POD}, ${PRIMARY_POD}): check that Prometheus scrapes those pods with that ` +
      `label and that they have served requests`,
  );
  assert.match(
    cause(dur!),
    /\(pod selector matches no series\): no series of http_request_duration_seconds_bucket\{namespace="prod"\} has pod=~"idle-/,
  );
});

test('a scrape interval longer than the analysis interval: "too few samples in the interval"', async (t) => {
  // Scraped every 15 s, analysed over 5 s: a window holds one sample at most, and rate() needs two.
  const [sr, dur] = await analyse(t, { target: 'slow', interval: '5s' });
  for (const r of [sr!, dur!]) {
    assert.match(
      cause(r),
      new RegExp(
        `^metric ${r.name} returned no data \\(too few samples in the interval\\): the series of ` +
          `http_request_duration_seconds_(count|bucket)\\{namespace="prod", pod=~"slow-.*"\\} exist but carry ` +
          `(no sample|only 1 sample) in the last 5s, and rate\\(\\) needs 2: the scrape interval is too long ` +
          `for the analysis interval; scrape at least twice per interval or lengthen the interval$`,
      ),
    );
  }
});

test('with samples and no traffic in the window, the message says the series are there', async (t) => {
  // The web pods' load ended before the tests; over a 10 s window their counters have not moved, so
  // the rates are 0 and the success rate is 0/0 (NaN). Scraped every second, the window holds enough
  // samples for rate() once Prometheus has caught up, which a loaded machine can delay: wait for it.
  const window = `${COUNT}{pod="${WEB_POD}"}[10s]`;
  await prom.waitForSeries(`max(changes(${window})) == 0 and min(count_over_time(${window})) >= 3`, 30_000);
  const [sr] = await analyse(t, { target: 'web', interval: '10s' });
  assert.match(
    sr!.message,
    /^metric request-success-rate returned no data \(no traffic\): its series exist and carry samples, so the canary may be receiving no traffic; query: 100 \* /,
  );
});
