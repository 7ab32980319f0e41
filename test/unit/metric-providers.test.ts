// Metric-provider conformance: every backend in the registry has one row here and passes the same
// checks: the request it sends matches the backend's documented API (metric-api-shapes.ts), a value
// comes back as that number, an empty answer is METRIC_NO_DATA, a refused query METRIC_QUERY, an
// error page METRIC_HTTP naming the backend, a slow answer METRIC_TIMEOUT, and no secret or URL
// credential ever reaches a message. A MetricTemplate of each type passes the schema and runs through
// runAnalysis with its secretRef.
//
// Datadog, New Relic and CloudWatch are only ever tested here (they cannot be reached from the test
// environment); Graphite, InfluxDB and VictoriaMetrics are also tested against the real servers in
// test/integration/metric-providers.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { METRIC_PROVIDERS as SCHEMA_TYPES, type MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { validateObject } from '../../src/api/validate.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricProvider } from '../../src/analysis/provider.ts';
import { METRIC_PROVIDERS } from '../../src/analysis/registry.ts';
import { isWeirError, type ErrorCode } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import {
  checkCloudWatch,
  checkDatadog,
  checkNewRelic,
  ShapeServer,
  type Captured,
  type Reply,
} from './metric-api-shapes.ts';

type Spec = MetricTemplateSpec['provider'];

export interface Row {
  type: string;
  /** How messages name the backend. */
  name: string;
  spec(address: string): Spec;
  secret: Record<string, string>;
  query(address: string): string;
  /** Asserts the request is what the backend's API documents. */
  check(req: Captured): void;
  value(v: number): Reply;
  empty: Reply;
  rejected: Reply;
}

const now = () => Math.floor(Date.now() / 1000);
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const TOKEN = 'tok-5ecret-b3arer';
const USER = { username: 'reader', password: 'pa55-w0rd-secret' };

function promRow(type: string, name: string): Row {
  return {
    type,
    name,
    spec: (address) => ({ type: type as Spec['type'], address, secretRef: { name: 'creds' } }),
    secret: { token: TOKEN },
    query: () => 'sum(rate(http_requests_total{namespace="prod"}[1m]))',
    check(req) {
      assert.equal(req.method, 'GET');
      assert.equal(req.path, '/api/v1/query');
      assert.equal(req.params.get('query'), 'sum(rate(http_requests_total{namespace="prod"}[1m]))');
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
    },
    value: (v) => ({
      body: {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [now(), String(v)] }] },
      },
    }),
    empty: { body: { status: 'success', data: { resultType: 'vector', result: [] } } },
    rejected: { status: 400, body: { status: 'error', errorType: 'bad_data', error: '1:5: parse error' } },
  };
}

const DD = { api: 'dd-api-k3y-secret', app: 'dd-app-k3y-secret' };
const NR = { key: 'NRAK-secret-user-key', account: 1234567 };
const AWS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'sess-t0ken-secret',
};

export const ROWS: Row[] = [
  promRow('prometheus', 'Prometheus'),
  promRow('victoriametrics', 'VictoriaMetrics'),
  {
    type: 'graphite',
    name: 'Graphite',
    spec: (address) => ({ type: 'graphite', address, secretRef: { name: 'creds' }, lookback: '2m' }),
    secret: USER,
    query: () => 'sumSeries(app.prod.*.errors)',
    check(req) {
      assert.equal(req.method, 'GET');
      assert.equal(req.path, '/render');
      assert.equal(req.params.get('target'), 'sumSeries(app.prod.*.errors)');
      assert.equal(req.params.get('from'), '-120s');
      assert.equal(req.params.get('until'), 'now');
      assert.equal(req.params.get('format'), 'json');
      assert.equal(req.headers.authorization, basic(USER.username, USER.password));
    },
    value: (v) => ({
      body: [
        {
          target: 't',
          datapoints: [
            [1, now() - 20],
            [v, now() - 10],
            [null, now()],
          ],
        },
      ],
    }),
    empty: { body: [] },
    rejected: { status: 400, body: 'Bad Request: unknown function sumSerie' },
  },
  {
    type: 'influxdb',
    name: 'InfluxDB',
    spec: (address) => ({ type: 'influxdb', address, database: 'telegraf', secretRef: { name: 'creds' } }),
    secret: USER,
    query: () => `SELECT mean("value") FROM "errors" WHERE "ns" = 'prod' AND time > now() - 1m`,
    check(req) {
      assert.equal(req.method, 'GET');
      assert.equal(req.path, '/query');
      assert.equal(req.params.get('db'), 'telegraf');
      assert.equal(
        req.params.get('q'),
        `SELECT mean("value") FROM "errors" WHERE "ns" = 'prod' AND time > now() - 1m`,
      );
      assert.equal(req.params.get('epoch'), 'ms');
      assert.equal(req.params.get('p'), null, 'the password is not in the URL');
      assert.equal(req.headers.authorization, basic(USER.username, USER.password));
    },
    value: (v) => ({
      body: {
        results: [
          {
            statement_id: 0,
            series: [
              {
                name: 'errors',
                columns: ['time', 'mean'],
                values: [
                  [1, 3],
                  [2, v],
                  [3, null],
                ],
              },
            ],
          },
        ],
      },
    }),
    empty: { body: { results: [{ statement_id: 0 }] } },
    rejected: { status: 400, body: { error: 'error parsing query: found EOF, expected FROM' } },
  },
  {
    type: 'web',
    name: 'the web endpoint',
    spec: () => ({ type: 'web', jsonPath: '{$.data.errorRate}', secretRef: { name: 'creds' } }),
    secret: { token: TOKEN },
    query: (address) => `${address}/api/slo?service=app&window=5m`,
    check(req) {
      assert.equal(req.method, 'GET');
      assert.equal(req.path, '/api/slo');
      assert.equal(req.params.get('service'), 'app');
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
    },
    value: (v) => ({ body: { data: { errorRate: v } } }),
    empty: { body: { data: {} } },
    rejected: { body: { data: { errorRate: [1, 2] } } },
  },
  {
    type: 'datadog',
    name: 'Datadog',
    spec: (address) => ({ type: 'datadog', address, secretRef: { name: 'creds' }, lookback: '10m' }),
    secret: { 'api-key': DD.api, 'app-key': DD.app },
    query: () => 'sum:trace.http.request.errors{service:app}.as_count()',
    check: (req) => checkDatadog(req, DD, 600),
    value: (v) => ({
      body: {
        status: 'ok',
        series: [
          {
            pointlist: [
              [1e12, 1],
              [1e12 + 1, v],
              [1e12 + 2, null],
            ],
          },
        ],
      },
    }),
    empty: { body: { status: 'ok', series: [] } },
    rejected: { status: 400, body: { errors: ['Error parsing query: unexpected token'] } },
  },
  {
    type: 'newrelic',
    name: 'New Relic',
    spec: (address) => ({ type: 'newrelic', address: `${address}/graphql`, secretRef: { name: 'creds' } }),
    secret: { 'personal-api-key': NR.key, 'account-id': String(NR.account) },
    query: () =>
      `SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = 'app' SINCE 5 minutes ago`,
    check(req) {
      const { nrql } = checkNewRelic(req, NR.key, NR.account);
      assert.match(nrql, /^SELECT percentage/);
    },
    value: (v) => ({ body: { data: { actor: { account: { nrql: { results: [{ percentage: v }] } } } } } }),
    empty: { body: { data: { actor: { account: { nrql: { results: [] } } } } } },
    rejected: {
      body: {
        errors: [{ message: 'NRQL Syntax Error: Error at line 1' }],
        data: { actor: { account: { nrql: null } } },
      },
    },
  },
  {
    type: 'cloudwatch',
    name: 'CloudWatch',
    spec: (address) => ({ type: 'cloudwatch', address, region: 'eu-west-1', secretRef: { name: 'creds' } }),
    secret: {
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
      AWS_SESSION_TOKEN: AWS.sessionToken,
    },
    query: () =>
      JSON.stringify([
        {
          id: 'errors',
          metricStat: {
            metric: {
              namespace: 'AWS/ApplicationELB',
              metricName: 'HTTPCode_Target_5XX_Count',
              dimensions: [{ name: 'LoadBalancer', value: 'app/prod' }],
            },
            period: 60,
            stat: 'Sum',
          },
          returnData: false,
        },
        { Id: 'rate', Expression: 'errors / 60' },
      ]),
    check(req) {
      const body = checkCloudWatch(req, AWS, 'eu-west-1', 300);
      // Argo's camelCase keys arrive as AWS' PascalCase; values are untouched.
      assert.deepEqual(body.MetricDataQueries[0], {
        Id: 'errors',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'HTTPCode_Target_5XX_Count',
            Dimensions: [{ Name: 'LoadBalancer', Value: 'app/prod' }],
          },
          Period: 60,
          Stat: 'Sum',
        },
        ReturnData: false,
      });
    },
    value: (v) => ({
      body: {
        MetricDataResults: [
          { Id: 'rate', Timestamps: [now() - 60, now() - 120], Values: [v, 1], StatusCode: 'Complete' },
        ],
        Messages: [],
      },
    }),
    empty: {
      body: { MetricDataResults: [{ Id: 'rate', Timestamps: [], Values: [], StatusCode: 'Complete' }] },
    },
    rejected: {
      status: 400,
      body: {
        __type: 'InvalidParameterValueException',
        message: 'The value errors / for parameter Expression is not valid.',
      },
    },
  },
];

function create(row: Row, address: string, extra: Partial<Spec> = {}, secret = row.secret): MetricProvider {
  const factory = METRIC_PROVIDERS[row.type];
  assert.ok(factory, `${row.type} is registered`);
  return factory({
    spec: { ...row.spec(address), ...extra },
    secret,
    defaultTimeoutMs: 5000,
    log: silentLogger(),
  });
}

async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<string> {
  const err = await p.then(
    (v) => assert.fail(`expected ${code}, got ${String(v)}`),
    (e: unknown) => e,
  );
  assert.ok(isWeirError(err, code), `expected ${code}, got ${String(err)}`);
  return err.message;
}

function assertNoSecret(row: Row, text: string): void {
  for (const v of Object.values(row.secret))
    assert.ok(!text.includes(v), `message carries a secret: ${text}`);
}

test('the registry, the schema and this table list the same provider types', () => {
  assert.deepEqual(Object.keys(METRIC_PROVIDERS).sort(), [...SCHEMA_TYPES].sort());
  assert.deepEqual(ROWS.map((r) => r.type).sort(), [...SCHEMA_TYPES].sort());
});

for (const row of ROWS) {
  describe(`${row.type} provider conformance`, () => {
    const server = new ShapeServer();
    before(() => server.start());
    after(() => server.stop());
    const run = (reply: Reply, extra: Partial<Spec> = {}) => {
      server.problems = [];
      server.check = row.check;
      server.reply = reply;
      return create(row, server.url, extra).query(row.query(server.url));
    };

    test('sends the documented request and returns the value', async () => {
      assert.equal(await run(row.value(42.5)), 42.5);
      assert.deepEqual(server.problems, []);
    });

    test('an answer without data is METRIC_NO_DATA', async () => {
      await rejects(run(row.empty), 'METRIC_NO_DATA');
    });

    test('a refused query is METRIC_QUERY', async () => {
      await rejects(run(row.rejected), 'METRIC_QUERY');
    });

    test('an error page is METRIC_HTTP naming the backend, with secrets masked', async () => {
      // A misbehaving proxy echoes every credential it saw.
      const page = `<html>upstream down; got ${Object.values(row.secret).join(' ')}</html>`;
      const msg = await rejects(run({ status: 503, body: page }), 'METRIC_HTTP');
      assert.ok(msg.includes(row.name) || msg.includes(server.url), msg);
      assert.match(msg, /503/);
      assertNoSecret(row, msg);
    });

    test('a slow answer is METRIC_TIMEOUT after spec.timeout', async () => {
      const started = Date.now();
      await rejects(run({ ...row.value(1), delayMs: 6000 }, { timeout: '200ms' }), 'METRIC_TIMEOUT');
      assert.ok(Date.now() - started < 4000, 'cut at the timeout, not waited for');
    });

    test('an unreachable backend is METRIC_HTTP, and URL credentials stay out of the message', async () => {
      const dead = 'http://someone:url-pa55word@127.0.0.1:9';
      const provider = row.type === 'web' ? create(row, '') : create(row, dead);
      const msg = await rejects(
        provider.query(row.type === 'web' ? `${dead}/x` : row.query(dead)),
        'METRIC_HTTP',
      );
      assert.ok(!msg.includes('url-pa55word'), msg);
      assertNoSecret(row, msg);
    });

    test('a MetricTemplate of this type passes the schema and runs with its secretRef', async () => {
      const template = { provider: row.spec(server.url), query: row.query(server.url) };
      const { problems } = validateObject({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'MetricTemplate',
        metadata: { name: 't', namespace: 'prod' },
        spec: template,
      });
      assert.deepEqual(problems, []);
      server.problems = [];
      server.check = row.check;
      server.reply = row.value(7);
      const spec = {
        targetRef: { kind: 'Deployment', name: 'app' },
        service: { port: 80 },
        analysis: {
          interval: '1m',
          metrics: [{ name: 'm', templateRef: { name: 't' }, thresholdRange: { max: 10 } }],
        },
      } as unknown as CanarySpec;
      const [result] = await runAnalysis(
        { spec, name: 'app', namespace: 'prod', provider: 'gatewayapi' },
        {
          getTemplate: (ns, name) =>
            ns === 'prod' && name === 't' ? (template as MetricTemplateSpec) : undefined,
          getSecret: (ns, name) => (ns === 'prod' && name === 'creds' ? row.secret : undefined),
          defaultTimeoutMs: 5000,
          log: silentLogger(),
        },
      );
      assert.equal(result?.result, 'Successful', result?.message);
      assert.equal(result?.value, 7);
      assert.deepEqual(server.problems, []);
    });
  });
}

describe('provider specifics', () => {
  const server = new ShapeServer();
  before(() => server.start());
  after(() => server.stop());
  const row = (type: string) => ROWS.find((r) => r.type === type)!;
  const ask = (
    type: string,
    reply: Reply,
    query?: string,
    extra: Partial<Spec> = {},
    secret?: Record<string, string>,
  ) => {
    server.check = () => {};
    server.reply = reply;
    const r = row(type);
    return create(r, server.url, extra, secret ?? r.secret).query(query ?? r.query(server.url));
  };
  const last = () => server.requests[server.requests.length - 1]!;

  test("graphite: Flagger's and Argo's `target=…` form keeps its own from, spread over lines", async () => {
    const q = "target=summarize(\n  sumSeries(app.*.errors),\n  '1min', 'sum')&from=-10min";
    assert.equal(await ask('graphite', row('graphite').value(3), q), 3);
    assert.equal(last().params.get('target'), "summarize(sumSeries(app.*.errors),'1min', 'sum')");
    assert.equal(last().params.get('from'), '-10min');
  });

  test('graphite, influxdb, datadog: more than one series is METRIC_QUERY asking to aggregate', async () => {
    const two = [
      { target: 'a', datapoints: [[1, 1]] },
      { target: 'b', datapoints: [[1, 1]] },
    ];
    assert.match(await rejects(ask('graphite', { body: two }), 'METRIC_QUERY'), /2 series.*sumSeries/);
    const s = { columns: ['time', 'v'], values: [[1, 1]] };
    const influx = { results: [{ statement_id: 0, series: [s, s] }] };
    assert.match(await rejects(ask('influxdb', { body: influx }), 'METRIC_QUERY'), /2 series/);
    const dd = { status: 'ok', series: [{ pointlist: [[1, 1]] }, { pointlist: [[1, 2]] }] };
    assert.match(await rejects(ask('datadog', { body: dd }), 'METRIC_QUERY'), /2 series/);
  });

  test('influxdb: a statement error is METRIC_QUERY, two fields are refused, 401 is METRIC_HTTP', async () => {
    const failed = { results: [{ statement_id: 0, error: 'database not found: telegraf' }] };
    assert.match(await rejects(ask('influxdb', { body: failed }), 'METRIC_QUERY'), /database not found/);
    const wide = { results: [{ series: [{ columns: ['time', 'a', 'b'], values: [[1, 1, 2]] }] }] };
    assert.match(await rejects(ask('influxdb', { body: wide }), 'METRIC_QUERY'), /2 fields \(a, b\)/);
    await rejects(ask('influxdb', { status: 401, body: { error: 'authorization failed' } }), 'METRIC_HTTP');
  });

  test('web: POST with a JSON body, a plain JSONPath, and a boolean answer', async () => {
    const extra = { method: 'POST' as const, body: '{"window":"5m"}', jsonPath: '$.healthy' };
    assert.equal(await ask('web', { body: { healthy: true } }, undefined, extra), 1);
    assert.equal(last().method, 'POST');
    assert.equal(last().body, '{"window":"5m"}');
    assert.equal(last().headers['content-type'], 'application/json');
  });

  test('web: without jsonPath the body is the number; otherwise METRIC_QUERY', async () => {
    assert.equal(await ask('web', { body: '12.5' }, undefined, { jsonPath: undefined }), 12.5);
    await rejects(
      ask('web', { body: '<html>ok</html>' }, undefined, { jsonPath: undefined }),
      'METRIC_QUERY',
    );
  });

  test('web: a filter expression is refused, never evaluated', async () => {
    const extra = { jsonPath: '$.items[?(@.v > 1)].v' };
    const msg = await rejects(ask('web', { body: { items: [{ v: 2 }] } }, undefined, extra), 'CONFIG');
    assert.match(msg, /jsonPath.*cannot be evaluated/);
  });

  test("web: messages show the URL's origin and path, not its query string", async () => {
    const q = `${server.url}/api/slo?api_key=k3y-in-query`;
    const msg = await rejects(ask('web', { status: 500, body: 'down' }, q), 'METRIC_HTTP');
    assert.ok(msg.includes(`${server.url}/api/slo`) && !msg.includes('k3y-in-query'), msg);
  });

  test('newrelic: a keyed function answer with one key is one value; two keys are refused', async () => {
    const nrql = (row: unknown) => ({ body: { data: { actor: { account: { nrql: { results: [row] } } } } } });
    assert.equal(await ask('newrelic', nrql({ 'percentile.duration': { '99': 0.25 } })), 0.25);
    await rejects(ask('newrelic', nrql({ a: 1, b: 2 })), 'METRIC_QUERY');
  });

  test('cloudwatch: a query that is not a JSON list is METRIC_QUERY; two results ask for ReturnData false', async () => {
    await rejects(
      ask('cloudwatch', row('cloudwatch').value(1), 'SELECT AVG(CPUUtilization)'),
      'METRIC_QUERY',
    );
    const two = {
      MetricDataResults: [
        { Id: 'a', Values: [1] },
        { Id: 'b', Values: [2] },
      ],
    };
    assert.match(await rejects(ask('cloudwatch', { body: two }), 'METRIC_QUERY'), /\(a, b\).*ReturnData/);
    const denied = { __type: 'com.amazon.coral.service#AccessDeniedException', message: 'not authorized' };
    assert.match(
      await rejects(ask('cloudwatch', { status: 403, body: denied }), 'METRIC_HTTP'),
      /AccessDenied/,
    );
  });

  const missing: Array<[string, Record<string, string>, RegExp]> = [
    ['datadog', { 'api-key': 'k' }, /application key under `app-key` or `datadog_application_key`/],
    ['newrelic', { 'account-id': '1' }, /User API key under `personal-api-key` or `api-key`/],
    ['newrelic', { 'api-key': 'k', 'account-id': 'acme' }, /account-id.*not a New Relic account id/],
    ['cloudwatch', { AWS_ACCESS_KEY_ID: 'AKID' }, /AWS_SECRET_ACCESS_KEY/],
  ];
  for (const [type, secret, msg] of missing) {
    test(`${type}: secret ${Object.keys(secret).join('+')} is a CONFIG error naming what is missing`, () => {
      assert.throws(
        () => create(row(type), server.url, {}, secret),
        (e: unknown) => isWeirError(e, 'CONFIG') && msg.test(e.message),
      );
    });
  }
});

describe('range queries (the statistical judge)', () => {
  const server = new ShapeServer();
  before(() => server.start());
  after(() => server.stop());
  const matrix = (...series: Array<Array<[number, string]>>): Reply => ({
    body: {
      status: 'success',
      data: { resultType: 'matrix', result: series.map((values) => ({ metric: {}, values })) },
    },
  });
  const range = { startMs: 1_700_000_000_000, endMs: 1_700_000_600_000, stepMs: 60_000 };
  const ranged = (type: string, reply: Reply) => {
    server.reply = reply;
    server.check = () => {};
    const provider = create(
      ROWS.find((r) => r.type === type)!,
      server.url,
    );
    assert.ok(provider.queryRange, `${type} offers range queries`);
    return provider.queryRange('sum(rate(x[1m]))', range);
  };

  for (const type of ['prometheus', 'victoriametrics']) {
    test(`${type}: GET /api/v1/query_range with start, end and step; NaN points are left out`, async () => {
      const reply = matrix([
        [1_700_000_000, '1.5'],
        [1_700_000_060, 'NaN'],
        [1_700_000_120, '2'],
      ]);
      assert.deepEqual(await ranged(type, reply), [1.5, 2]);
      const req = server.requests[server.requests.length - 1]!;
      assert.equal(req.path, '/api/v1/query_range');
      assert.equal(req.params.get('query'), 'sum(rate(x[1m]))');
      assert.equal(req.params.get('start'), '1700000000');
      assert.equal(req.params.get('end'), '1700000600');
      assert.equal(req.params.get('step'), '60s');
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
    });
  }

  test('no series or only NaN is METRIC_NO_DATA; two series are METRIC_QUERY', async () => {
    await rejects(ranged('prometheus', matrix()), 'METRIC_NO_DATA');
    await rejects(ranged('prometheus', matrix([[1, 'NaN']])), 'METRIC_NO_DATA');
    const two = matrix([[1, '1']], [[1, '2']]);
    assert.match(await rejects(ranged('prometheus', two), 'METRIC_QUERY'), /2 series, expected 1/);
  });

  test('querySeries: the points with their times, NaN left out; an empty matrix is no points, not an error', async () => {
    server.reply = matrix([
      [1_700_000_000, '1.5'],
      [1_700_000_060, 'NaN'],
      [1_700_000_120, '2'],
    ]);
    server.check = () => {};
    const provider = create(
      ROWS.find((r) => r.type === 'prometheus')!,
      server.url,
    );
    assert.ok(provider.querySeries);
    assert.deepEqual(await provider.querySeries('sum(rate(x[1m]))', range), [
      [1_700_000_000, 1.5],
      [1_700_000_120, 2],
    ]);
    assert.equal(server.requests[server.requests.length - 1]!.path, '/api/v1/query_range');
    server.reply = matrix();
    assert.deepEqual(await provider.querySeries('sum(rate(x[1m]))', range), []);
  });

  test('only the backends with a range query API offer queryRange', () => {
    const offering = ROWS.filter((r) => create(r, 'http://127.0.0.1:9').queryRange).map((r) => r.type);
    assert.deepEqual(offering, ['prometheus', 'victoriametrics']);
  });
});
