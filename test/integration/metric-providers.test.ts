// The Graphite, InfluxDB 1.x and VictoriaMetrics providers against the real servers from Debian's
// packages (test/cluster/metric-backends.ts), with credentials from a secret as the controller
// passes them: a value written to the server comes back through the provider; no data, a refused
// query and wrong credentials give METRIC_NO_DATA, METRIC_QUERY and METRIC_HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { METRIC_PROVIDERS } from '../../src/analysis/registry.ts';
import { isWeirError, type ErrorCode } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { startGraphite, startInfluxDB, startVictoriaMetrics } from '../cluster/metric-backends.ts';
import { waitFor } from '../cluster/proc.ts';

type Spec = MetricTemplateSpec['provider'];

function query(spec: Spec, q: string, secret?: Record<string, string>): Promise<number> {
  const factory = METRIC_PROVIDERS[spec.type]!;
  return factory({
    spec,
    ...(secret ? { secret } : {}),
    defaultTimeoutMs: 10_000,
    log: silentLogger(),
  }).query(q);
}

async function rejects(p: Promise<unknown>, code: ErrorCode, text?: RegExp): Promise<string> {
  const err = await p.then(
    (v) => assert.fail(`expected ${code}, got ${String(v)}`),
    (e: unknown) => e,
  );
  assert.ok(isWeirError(err, code), `expected ${code}, got ${String(err)}`);
  if (text) assert.match(err.message, text);
  return err.message;
}

const now = () => Math.floor(Date.now() / 1000);

describe('victoriametrics against victoria-metrics', () => {
  const creds = { username: 'weir', password: 'vm-pa55word' };
  let vm: Awaited<ReturnType<typeof startVictoriaMetrics>> | undefined;
  before(async () => {
    vm = await startVictoriaMetrics(creds);
    const ms = (now() - 5) * 1000;
    await vm.importProm(
      `http_errors_total{namespace="prod",pod="a"} 3 ${ms}\nhttp_errors_total{namespace="prod",pod="b"} 4.5 ${ms}\n`,
    );
  });
  after(() => vm?.stop());
  const spec = (): Spec => ({ type: 'victoriametrics', address: vm!.url, secretRef: { name: 'vm' } });

  test('a MetricsQL sum over imported series comes back with Basic auth from the secret', async () => {
    const value = await waitFor('imported series', async () =>
      query(spec(), 'sum(http_errors_total{namespace="prod"})', creds).catch(() => undefined),
    );
    assert.equal(value, 7.5);
  });

  test('a query matching nothing is METRIC_NO_DATA, a syntax error METRIC_QUERY', async () => {
    await rejects(query(spec(), 'sum(http_errors_total{namespace="staging"})', creds), 'METRIC_NO_DATA');
    await rejects(query(spec(), 'sum(', creds), 'METRIC_QUERY', /VictoriaMetrics rejected the query/);
  });

  test('no data is diagnosed through the same API: metric not found, then the namespace', async () => {
    const provider = METRIC_PROVIDERS.victoriametrics!({
      spec: spec(),
      secret: creds,
      defaultTimeoutMs: 10_000,
      log: silentLogger(),
    });
    const diagnose = (q: string) =>
      provider.diagnoseNoData!(q, { namespace: 'staging', workloads: ['web'], startedAt: Date.now() });
    assert.deepEqual(await diagnose('sum(http_errorz_total{namespace="staging"})'), {
      cause: 'metric-missing',
      detail:
        'VictoriaMetrics has no series of http_errorz_total in the last 1h: check the metric name and that VictoriaMetrics scrapes the app',
    });
    const ns = await diagnose('sum(http_errors_total{namespace="staging"})');
    assert.equal(ns?.cause, 'namespace-mismatch');
    assert.match(ns.detail, /no series has namespace="staging" \(namespace values there: prod\)/);
  });

  test('a wrong password is METRIC_HTTP 401, without the password', async () => {
    const wrong = { ...creds, password: 'not-the-pa55word' };
    const msg = await rejects(query(spec(), 'up', wrong), 'METRIC_HTTP', /^HTTP 401 from VictoriaMetrics/);
    assert.ok(!msg.includes(wrong.password), msg);
  });
});

describe('influxdb against influxd 1.x', () => {
  const admin = { username: 'weir', password: 'influx-pa55word' };
  let influx: Awaited<ReturnType<typeof startInfluxDB>> | undefined;
  before(async () => {
    influx = await startInfluxDB(admin, 'weir');
    const t = now();
    await influx.write(
      `errors,ns=prod value=3 ${t - 30}\nerrors,ns=prod value=5 ${t - 10}\nerrors,ns=dev value=100 ${t - 10}`,
    );
  });
  after(() => influx?.stop());
  const spec = (database = 'weir'): Spec => ({
    type: 'influxdb',
    address: influx!.url,
    database,
    secretRef: { name: 'i' },
  });

  test('an InfluxQL mean over the last minute comes back with the secret credentials', async () => {
    const q = `SELECT mean("value") FROM "errors" WHERE "ns" = 'prod' AND time > now() - 1m`;
    assert.equal(await query(spec(), q, admin), 4);
  });

  test('GROUP BY time with fill(null): the newest bucket that has a value', async () => {
    const q = `SELECT max("value") FROM "errors" WHERE "ns" = 'prod' AND time > now() - 2m GROUP BY time(10s) fill(null)`;
    assert.equal(await query(spec(), q, admin), 5);
  });

  test('no data, a parse error, a GROUP BY tag, a missing database and wrong credentials', async () => {
    await rejects(
      query(spec(), `SELECT mean("value") FROM "errors" WHERE "ns" = 'qa'`, admin),
      'METRIC_NO_DATA',
    );
    await rejects(
      query(spec(), 'SELEC x', admin),
      'METRIC_QUERY',
      /InfluxDB rejected the query: error parsing query/,
    );
    await rejects(
      query(spec(), `SELECT last("value") FROM "errors" GROUP BY "ns"`, admin),
      'METRIC_QUERY',
      /2 series/,
    );
    await rejects(
      query(spec('nope'), 'SELECT last("value") FROM "errors"', admin),
      'METRIC_QUERY',
      /database not found/,
    );
    const wrong = { ...admin, password: 'not-the-pa55word' };
    await rejects(
      query(spec(), 'SELECT last("value") FROM "errors"', wrong),
      'METRIC_HTTP',
      /^HTTP 401 from InfluxDB/,
    );
  });
});

describe('graphite against carbon-cache and graphite-web', () => {
  let graphite: Awaited<ReturnType<typeof startGraphite>> | undefined;
  before(async () => {
    graphite = await startGraphite();
    const t = now();
    await graphite.send(
      `app.prod.a.errors 4.5 ${t - 25}\napp.prod.b.errors 2 ${t - 25}\napp.prod.a.errors 7.25 ${t - 12}\n`,
    );
  });
  after(() => graphite?.stop());
  const spec = (): Spec => ({ type: 'graphite', address: graphite!.url, lookback: '2m' });

  test('the newest non-null point of a target, read from carbon through graphite-web', async () => {
    // Carbon takes the plaintext lines asynchronously; graphite-web sees them through carbonlink.
    const value = await waitFor('points in graphite', async () =>
      query(spec(), 'app.prod.a.errors').catch(() => undefined),
    );
    assert.equal(value, 7.25);
  });

  test("Flagger's and Argo's `target=…` form with a function", async () => {
    const q = 'target=sumSeries(\n  app.prod.*.errors\n)&from=-3min';
    // The 10 s buckets hold a (4.5 + 2) and then 7.25.
    assert.equal(await query(spec(), q), 7.25);
    assert.equal(await query(spec(), 'summarize(sumSeries(app.prod.*.errors), "1h", "sum", true)'), 13.75);
  });

  test('an unknown metric is METRIC_NO_DATA, an unknown function METRIC_QUERY, two series METRIC_QUERY', async () => {
    await rejects(query(spec(), 'app.staging.errors'), 'METRIC_NO_DATA');
    await rejects(
      query(spec(), 'sumSerie(app.prod.*.errors)'),
      'METRIC_QUERY',
      /Graphite rejected the query/,
    );
    await rejects(query(spec(), 'app.prod.*.errors'), 'METRIC_QUERY', /2 series.*sumSeries/);
  });
});
