// Analysis: query rendering, built-in queries, thresholds, runAnalysis with fake providers, and the
// Prometheus client's parsing and classification against a tiny local HTTP server with canned answers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CanarySpec, ProviderName } from '../../src/api/canary.ts';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { validateObject } from '../../src/api/validate.ts';
import { builtinQuery } from '../../src/analysis/builtin.ts';
import { checkThreshold, runAnalysis, type AnalysisDeps } from '../../src/analysis/evaluate.ts';
import { createPrometheusProvider } from '../../src/analysis/prometheus.ts';
import type {
  MetricProviderFactory,
  MetricProviderOptions,
  QueryContext,
} from '../../src/analysis/provider.ts';
import { METRIC_PROVIDERS } from '../../src/analysis/registry.ts';
import { escapeQuoted, renderQuery } from '../../src/analysis/render.ts';
import { isWeirError, WeirError, type ErrorCode } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';

/** A provider without a descriptor (Flagger's appmesh, which Weir's schema does not take). */
const UNROUTED = 'appmesh' as ProviderName;

const CTX: QueryContext = {
  name: 'web',
  namespace: 'prod',
  target: 'app',
  primary: 'app-primary',
  service: 'app-svc',
  interval: '2m',
  variables: { route: '/api', 'some-key_2': 'x' },
};

function throwsCode(fn: () => unknown, code: ErrorCode, text?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isWeirError(err, code), `expected WeirError ${code}, got ${String(err)}`);
    if (text) assert.match(err.message, text);
    return true;
  });
}

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, text?: RegExp): Promise<WeirError> {
  let caught: unknown;
  await p.then(
    (v) => assert.fail(`expected ${code}, got value ${String(v)}`),
    (err: unknown) => (caught = err),
  );
  assert.ok(isWeirError(caught, code), `expected WeirError ${code}, got ${String(caught)}`);
  if (text) assert.match(caught.message, text);
  return caught;
}

describe('renderQuery', () => {
  const ok: Array<[string, string]> = [
    ['{{ name }}', 'web'],
    ['{{namespace}}', 'prod'],
    ['{{   target   }}', 'app'],
    ['{{ service }}/{{ interval }}', 'app-svc/2m'],
    ['x{path="{{ variables.route }}"}[{{interval}}]', 'x{path="/api"}[2m]'],
    ['{{ variables.some-key_2 }}', 'x'],
    ['{{\tname\n}}', 'web'],
    ['no placeholders {a="b"}', 'no placeholders {a="b"}'],
    ['sum(rate(m{a=~"x{2}"}[1m]))', 'sum(rate(m{a=~"x{2}"}[1m]))'],
  ];
  for (const [tpl, want] of ok) {
    test(`renders ${JSON.stringify(tpl)}`, () => assert.equal(renderQuery(tpl, CTX), want));
  }

  test('inserts values literally, once: no re-rendering, no replacement patterns', () => {
    const ctx = { ...CTX, variables: { a: '{{ name }}', b: '$& $1 $$' } };
    assert.equal(renderQuery('"{{ variables.a }}|{{ variables.b }}"', ctx), '"{{ name }}|$& $1 $$"');
  });

  const rejected: Array<[string, RegExp]> = [
    ['{{ foo }}', /unknown variable \{\{ foo \}\}/],
    ['{{ constructor }}', /unknown variable \{\{ constructor \}\}/],
    ['{{ __proto__ }}', /unknown variable/],
    ['{{ toString }}', /unknown variable/],
    ['{{ name.constructor }}', /unknown variable/],
    ['{{ process.exit(1) }}', /unknown variable/],
    ['{{ this.name }}', /unknown variable/],
    ['{{ variables }}', /unknown variable/],
    ['{{ .Name }}', /unknown variable/],
    ['{{ name | upper }}', /unknown variable/],
    ['{{ variables.missing }}', /variables\.missing.*no "missing"/],
    ['{{ variables.__proto__ }}', /variables\.__proto__/],
    ['{{ variables.constructor }}', /variables\.constructor/],
    ['{{ variables.hasOwnProperty }}', /variables\.hasOwnProperty/],
    ['{{ variables.a.b }}', /unknown variable/],
    ['up{a="{{ name }"}', /unterminated/],
    ['{{ name', /unterminated/],
  ];
  for (const [tpl, msg] of rejected) {
    test(`rejects ${JSON.stringify(tpl)} with a TEMPLATE error`, () =>
      throwsCode(() => renderQuery(tpl, CTX), 'TEMPLATE', msg));
  }
});

describe('renderQuery escapes values for their PromQL context (no injection)', () => {
  const render = (tpl: string, value: string) => renderQuery(tpl, { ...CTX, variables: { v: value } });

  // [template, value, rendered]: each value tries to close the string it stands in and add PromQL.
  const escaped: Array<[string, string, string]> = [
    ['up{job="{{ variables.v }}"}', '"} or vector(1) #', 'up{job="\\"} or vector(1) #"}'],
    ['up{job="{{ variables.v }}"}', 'a\\"} or vector(1) #', 'up{job="a\\\\\\"} or vector(1) #"}'],
    ['up{job="{{ variables.v }}"}', 'x"}\nor vector(1)', 'up{job="x\\"}\\nor vector(1)"}'],
    ["up{job='{{ variables.v }}'}", "'} or vector(1) #", "up{job='\\'} or vector(1) #'}"],
    // Another quote character is harmless in a string and left alone (PromQL rejects \' inside "…").
    ['up{job="{{ variables.v }}"}', "it's `x`", 'up{job="it\'s `x`"}'],
    ["up{job='{{ variables.v }}'}", 'say "hi"', 'up{job=\'say "hi"\'}'],
    ['up{job="{{ variables.v }}"}', 'tab\tcr\rnul\u0000del\u007f', 'up{job="tab\\tcr\\rnul\\x00del\\x7f"}'],
    // A raw string takes everything but a backtick literally.
    ['up{job=`{{ variables.v }}`}', 'a\\b"c\'d', 'up{job=`a\\b"c\'d`}'],
    // Quotes inside a string are not openers: the lexer knows the first string ended.
    ['up{a="x\\"y", b="{{ variables.v }}"}', '"', 'up{a="x\\"y", b="\\""}'],
    ['up{a="#", b="{{ variables.v }}"}', '"', 'up{a="#", b="\\""}'],
    ['up{a=`\\`, b="{{ variables.v }}"}', '"', 'up{a=`\\`, b="\\""}'],
    ['# "\nup{b="{{ variables.v }}"}', '"', '# "\nup{b="\\""}'],
    // Outside a string: names, numbers and durations only.
    ['rate(x[{{ variables.v }}])', '5m', 'rate(x[5m])'],
    ['histogram_quantile({{ variables.v }}, x)', '0.99', 'histogram_quantile(0.99, x)'],
    ['sum({{ variables.v }})', 'http_requests_total:rate5m', 'sum(http_requests_total:rate5m)'],
    ['x # note: {{ variables.v }}', 'a "quoted" word', 'x # note: a "quoted" word'],
  ];
  for (const [tpl, value, want] of escaped) {
    test(`${JSON.stringify(value)} in ${tpl}`, () => assert.equal(render(tpl, value), want));
  }

  const refused: Array<[string, string, RegExp]> = [
    ['up{job=`{{ variables.v }}`}', '`} or vector(1) #', /raw \(backtick\) string/],
    ['x # {{ variables.v }}', 'a\nor vector(1)', /# comment.*line break/],
    ['x # {{ variables.v }}', 'a\ror vector(1)', /line break/],
    ['up{job="a\\{{ variables.v }}"}', '"', /follows a backslash/],
    [
      'sum(x) > {{ variables.v }}',
      '0 or vector(1)',
      /outside a quoted string.*"0 or vector\(1\)".*path="\{\{ variables\.v \}\}"/,
    ],
    ['rate(x[{{ variables.v }}])', '5m]) or vector(1', /outside a quoted string/],
    ['up{ {{ variables.v }} }', 'job="x"} or vector(1) #', /outside a quoted string/],
    ['x{{ variables.v }}', '', /outside a quoted string/],
  ];
  for (const [tpl, value, msg] of refused) {
    test(`refuses ${JSON.stringify(value)} in ${tpl}`, () =>
      throwsCode(() => render(tpl, value), 'TEMPLATE', msg));
  }

  test('the five plain variables are schema-restricted names and go in unchanged', () => {
    assert.equal(
      renderQuery('x{n="{{ namespace }}"}[{{ interval }}] {{ target }}', CTX),
      'x{n="prod"}[2m] app',
    );
  });

  test('escapeQuoted round-trips through a Go-syntax unquote (JSON is a subset for double quotes)', () => {
    for (const v of ['"} or vector(1) #', 'a\\b', 'line\nbreak', 'ctl\u0001', 'ünïcødé ✓']) {
      const q = escapeQuoted(v, '"').replace(/\\x([0-9a-f]{2})/g, '\\u00$1');
      assert.equal(JSON.parse(`"${q}"`), v);
    }
  });
});

describe('built-in queries', () => {
  // PromQL regex matchers are fully anchored; emulate that to check which pods the selector takes.
  function podSelector(query: string): RegExp {
    const m = /pod=~"([^"]+)"/.exec(query);
    assert.ok(m, 'query selects pods by regex');
    return new RegExp(`^(?:${m[1]})$`);
  }

  for (const provider of ['kubernetes', 'gatewayapi']) {
    for (const metric of ['request-success-rate', 'request-duration']) {
      test(`${provider} ${metric}: canary pods of the namespace over the interval`, () => {
        const q = renderQuery(builtinQuery(provider, metric), { ...CTX, interval: '1m' });
        assert.doesNotMatch(q, /\{\{/);
        assert.match(q, /http_request_duration_seconds_(count|bucket)\{/);
        assert.match(q, /namespace="prod"/);
        assert.match(q, /\[1m\]/);
        const pods = podSelector(q);
        for (const pod of ['app-7d9f8c6b5-x2k4q', 'app-abc-1']) assert.match(pod, pods);
        for (const pod of ['app-primary-7d9f8c6b5-x2k4q', 'app', 'app-x', 'other-7d9f8-x2k4q', 'myapp-1-2'])
          assert.doesNotMatch(pod, pods);
      });
    }
  }

  test('success rate is a percentage of non-5xx; duration is p99 in milliseconds', () => {
    const sr = builtinQuery('gatewayapi', 'request-success-rate');
    assert.match(sr, /status=~"5\.\*"/);
    assert.match(sr, /^100 \*/);
    const d = builtinQuery('kubernetes', 'request-duration');
    assert.match(d, /histogram_quantile\(0\.99/);
    assert.match(d, /^1000 \*/);
  });

  test('unknown metric or provider is INVALID_SPEC', () => {
    throwsCode(() => builtinQuery('gatewayapi', 'error-rate'), 'INVALID_SPEC', /not a built-in.*templateRef/);
    throwsCode(() => builtinQuery(UNROUTED, 'request-success-rate'), 'INVALID_SPEC', /provider appmesh/);
    throwsCode(() => builtinQuery('__proto__', 'request-duration'), 'INVALID_SPEC');
    throwsCode(() => builtinQuery('gatewayapi', 'constructor'), 'INVALID_SPEC');
  });
});

describe('checkThreshold', () => {
  const cases: Array<{
    v: number;
    range: { min?: number; max?: number };
    unit?: string;
    result: 'Successful' | 'Failed';
    message: string;
  }> = [
    { v: 80.1234, range: { min: 99 }, result: 'Failed', message: 'm 80.12 < min 99' },
    { v: 740, range: { max: 500 }, unit: 'ms', result: 'Failed', message: 'm 740ms > max 500' },
    { v: 99, range: { min: 99 }, result: 'Successful', message: 'm 99 >= min 99' },
    { v: 500, range: { max: 500 }, unit: 'ms', result: 'Successful', message: 'm 500ms <= max 500' },
    { v: 5, range: { min: 1, max: 10 }, result: 'Successful', message: 'm 5 >= min 1 and <= max 10' },
    { v: 0.5, range: { min: 1, max: 10 }, result: 'Failed', message: 'm 0.5 < min 1' },
    { v: 11, range: { min: 1, max: 10 }, result: 'Failed', message: 'm 11 > max 10' },
    { v: 0.0012346, range: { max: 0.001 }, result: 'Failed', message: 'm 0.001235 > max 0.001' },
    { v: 98.99996, range: { min: 99 }, result: 'Failed', message: 'm 98.99996 < min 99' },
    { v: -3, range: { min: 0 }, result: 'Failed', message: 'm -3 < min 0' },
  ];
  for (const c of cases) {
    test(`${c.v} with ${JSON.stringify(c.range)} -> ${c.result}`, () => {
      const r = checkThreshold('m', c.v, c.range, c.unit);
      assert.equal(r.result, c.result);
      assert.equal(r.message, c.message);
      assert.equal(r.value, c.v);
      assert.equal(r.min, c.range.min);
      assert.equal(r.max, c.range.max);
    });
  }
});

// ---- A canned Prometheus API on 127.0.0.1 ----

interface Canned {
  status?: number;
  body: unknown; // objects are sent as JSON, strings as text
  delayMs?: number;
}

interface Seen {
  url: string;
  headers: IncomingMessage['headers'];
}

class FakePrometheus {
  server!: Server;
  url = '';
  next: Canned = { body: '' };
  seen: Seen[] = [];

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.seen.push({ url: req.url ?? '', headers: req.headers });
    const c = this.next;
    const text = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    const type = typeof c.body === 'string' ? 'text/plain' : 'application/json';
    const timer = setTimeout(() => {
      if (!res.destroyed) res.writeHead(c.status ?? 200, { 'content-type': type }).end(text);
    }, c.delayMs ?? 0);
    res.on('close', () => clearTimeout(timer));
  };

  async start(server: Server = createServer(this.handle), scheme = 'http'): Promise<this> {
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  lastQuery(): string | null {
    return new URL(this.seen.at(-1)!.url, 'http://x').searchParams.get('query');
  }
}

const vector = (...values: string[]) => ({
  status: 'success',
  data: {
    resultType: 'vector',
    result: values.map((v, i) => ({ metric: { pod: `p${i}` }, value: [1767225600.123, v] })),
  },
});

function provider(
  address: string,
  spec: Partial<MetricProviderOptions['spec']> = {},
  secret?: Record<string, string>,
) {
  return createPrometheusProvider({
    spec: { type: 'prometheus', address, ...spec },
    ...(secret ? { secret } : {}),
    defaultTimeoutMs: 5000,
    log: silentLogger(),
  });
}

describe('Prometheus provider', () => {
  const prom = new FakePrometheus();
  before(() => prom.start());
  after(() => prom.stop());

  const values: Array<[string, Canned, number]> = [
    ['a one-sample vector', { body: vector('99.5') }, 99.5],
    ['a scalar', { body: { status: 'success', data: { resultType: 'scalar', result: [1, '42'] } } }, 42],
    ['an exponent', { body: vector('1.5e-3') }, 0.0015],
    ['a success with warnings', { body: { ...vector('7'), warnings: ['slow'] } }, 7],
  ];
  for (const [what, canned, want] of values) {
    test(`returns the value of ${what}`, async () => {
      prom.next = canned;
      assert.equal(await provider(prom.url).query('up'), want);
    });
  }

  const failures: Array<[string, Canned, ErrorCode, RegExp]> = [
    ['an empty vector', { body: vector() }, 'METRIC_NO_DATA', /empty/],
    ['NaN', { body: vector('NaN') }, 'METRIC_NO_DATA', /NaN/],
    ['+Inf', { body: vector('+Inf') }, 'METRIC_NO_DATA', /\+Inf/],
    [
      'a scalar NaN',
      { body: { status: 'success', data: { resultType: 'scalar', result: [1, 'NaN'] } } },
      'METRIC_NO_DATA',
      /NaN/,
    ],
    ['two series', { body: vector('1', '2') }, 'METRIC_QUERY', /returned 2 series, expected 1/],
    [
      'a matrix',
      { body: { status: 'success', data: { resultType: 'matrix', result: [] } } },
      'METRIC_QUERY',
      /matrix/,
    ],
    ['a non-numeric value', { body: vector('abc') }, 'METRIC_QUERY', /not a number: "abc"/],
    [
      '400 bad_data',
      {
        status: 400,
        body: { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected "}"' },
      },
      'METRIC_QUERY',
      /HTTP 400 bad_data: 1:5: parse error: unexpected "}"/,
    ],
    [
      '422 execution',
      { status: 422, body: { status: 'error', errorType: 'execution', error: 'many-to-many matching' } },
      'METRIC_QUERY',
      /422 execution: many-to-many/,
    ],
    [
      "Prometheus' own query timeout",
      {
        status: 503,
        body: { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' },
      },
      'METRIC_TIMEOUT',
      /timeout: query timed out/,
    ],
    [
      'a plain 503',
      { status: 503, body: 'upstream connect error' },
      'METRIC_HTTP',
      /HTTP 503 .*upstream connect error/,
    ],
    ['a 401', { status: 401, body: 'Unauthorized' }, 'METRIC_HTTP', /HTTP 401/],
    [
      'an HTML page',
      { body: '<html><body>Grafana</body></html>' },
      'METRIC_HTTP',
      /not a Prometheus API response.*Grafana/,
    ],
    [
      'JSON that is not the API',
      { body: { hello: 'world' } },
      'METRIC_HTTP',
      /not a Prometheus API response/,
    ],
  ];
  for (const [what, canned, code, msg] of failures) {
    test(`${what} -> ${code}`, async () => {
      prom.next = canned;
      await rejectsCode(provider(prom.url).query('up'), code, msg);
    });
  }

  test('a slow answer is METRIC_TIMEOUT after spec.timeout', async () => {
    prom.next = { body: vector('1'), delayMs: 10_000 };
    const t0 = Date.now();
    await rejectsCode(
      provider(prom.url, { timeout: '300ms' }).query('up'),
      'METRIC_TIMEOUT',
      /within 300 ms/,
    );
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 5000, `gave up after ${took} ms`);
  });

  test('defaultTimeoutMs applies without spec.timeout', async () => {
    prom.next = { body: vector('1'), delayMs: 10_000 };
    const p = createPrometheusProvider({
      spec: { type: 'prometheus', address: prom.url },
      defaultTimeoutMs: 200,
      log: silentLogger(),
    });
    await rejectsCode(p.query('up'), 'METRIC_TIMEOUT', /within 200 ms/);
  });

  test('a closed port is METRIC_HTTP naming the address', async () => {
    const dead = new FakePrometheus();
    await dead.start();
    await dead.stop();
    await rejectsCode(provider(dead.url).query('up'), 'METRIC_HTTP', new RegExp(`${dead.url}.*ECONNREFUSED`));
  });

  test('sends the query as the `query` parameter of GET /api/v1/query, under a path prefix', async () => {
    prom.next = { body: vector('1') };
    const q = 'sum(rate(x{a=~"b.+", c!="d&e"}[1m])) / 2 + 1 # é';
    await provider(`${prom.url}/prom/`).query(q);
    const seen = prom.seen.at(-1)!;
    assert.match(seen.url, /^\/prom\/api\/v1\/query\?query=/);
    assert.equal(prom.lastQuery(), q);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['accept-encoding'], 'identity', 'the answer is not compressed');
  });

  test('the controller default address is used when the template has none', async () => {
    prom.next = { body: vector('3') };
    const p = createPrometheusProvider({
      spec: { type: 'prometheus' },
      defaultAddress: prom.url,
      defaultTimeoutMs: 5000,
      log: silentLogger(),
    });
    assert.equal(await p.query('up'), 3);
  });

  test('no address at all is a CONFIG error', () => {
    throwsCode(
      () =>
        createPrometheusProvider({ spec: { type: 'prometheus' }, defaultTimeoutMs: 1, log: silentLogger() }),
      'CONFIG',
      /address/,
    );
  });

  test('bearer token, basic auth and custom headers are sent', async () => {
    prom.next = { body: vector('1') };
    await provider(prom.url, { headers: { 'X-Scope-OrgID': 'tenant-a' } }, { token: 's3cret' }).query('up');
    let h = prom.seen.at(-1)!.headers;
    assert.equal(h.authorization, 'Bearer s3cret');
    assert.equal(h['x-scope-orgid'], 'tenant-a');

    await provider(prom.url, {}, { username: 'ann', password: 'p:w' }).query('up');
    h = prom.seen.at(-1)!.headers;
    assert.equal(h.authorization, `Basic ${Buffer.from('ann:p:w').toString('base64')}`);
  });

  test('a secret without token or username+password is a CONFIG error', () => {
    throwsCode(() => provider(prom.url, {}, { user: 'x' }), 'CONFIG', /token.*username.*password/);
    throwsCode(() => provider(prom.url, {}, { username: 'x' }), 'CONFIG');
  });

  test('is registered as "prometheus"', () => {
    assert.equal(METRIC_PROVIDERS.prometheus, createPrometheusProvider);
  });
});

describe('Prometheus provider over HTTPS with a self-signed certificate', () => {
  let dir = '';
  const prom = new FakePrometheus();
  let skip: string | false = false;
  let tlsConnections = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weir-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-keyout',
          'key.pem',
          '-out',
          'cert.pem',
        ],
        { cwd: dir, stdio: 'ignore' },
      );
    } catch {
      skip = 'openssl is not available';
      return;
    }
    const server = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      prom.handle,
    );
    server.on('secureConnection', () => tlsConnections++);
    await prom.start(server, 'https');
    prom.next = { body: vector('5') };
  });
  after(async () => {
    if (prom.url) await prom.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is refused without insecureSkipVerify (METRIC_HTTP)', async (t) => {
    if (skip) return t.skip(skip);
    await rejectsCode(provider(prom.url).query('up'), 'METRIC_HTTP', /self[- ]signed|certificate/i);
  });

  test('is accepted with insecureSkipVerify', async (t) => {
    if (skip) return t.skip(skip);
    assert.equal(await provider(prom.url, { insecureSkipVerify: true }).query('up'), 5);
  });

  test('providers built for successive runs share one client and its TLS connection', async (t) => {
    if (skip) return t.skip(skip);
    const sessions = tlsConnections;
    for (let i = 0; i < 3; i++) {
      assert.equal(await provider(prom.url, { insecureSkipVerify: true }).query('up'), 5);
    }
    // A client (and https agent) per provider would handshake for every query.
    assert.ok(tlsConnections - sessions <= 1, `${tlsConnections - sessions} TLS connections for 3 queries`);
  });
});

// ---- runAnalysis with injected providers ----

function spec(metrics: unknown[], extra: Record<string, unknown> = {}): CanarySpec {
  const { object, problems } = validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'prod' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'app' },
      service: { port: 80, name: 'app-svc' },
      analysis: { interval: '30s', iterations: 3, metrics },
      ...extra,
    },
  });
  assert.deepEqual(problems, []);
  return object.spec as CanarySpec;
}

/** A provider factory that answers from a function of the query and records what it was given. */
function fakeProviders(answer: (q: string) => Promise<number> | number) {
  const calls: Array<{ opts: MetricProviderOptions; query: string }> = [];
  const factory: MetricProviderFactory = (opts) => ({
    type: 'fake',
    async query(query) {
      calls.push({ opts, query });
      return answer(query);
    },
  });
  return { calls, providers: { prometheus: factory, fake: factory } };
}

// Only `prometheus` exists in the schema; the registry is open to more types, which these stand for.
const FAKE = 'fake' as 'prometheus';
const TEMPLATES: Record<string, MetricTemplateSpec> = {
  'prod/errors': {
    provider: { type: 'prometheus', address: 'http://prom:9090', secretRef: { name: 'prom-auth' } },
    query: 'errors{ns="{{ namespace }}",route="{{ variables.route }}"}[{{ interval }}]',
  },
  'shared/latency': {
    provider: { type: FAKE },
    query: 'latency{svc="{{ service }}",canary="{{ name }}"}',
  },
  'prod/bad-template': { provider: { type: FAKE }, query: 'x{a="{{ nope }}"}' },
  'prod/other-backend': { provider: { type: 'datadog' as typeof FAKE }, query: 'x' },
};
const SECRETS: Record<string, Record<string, string>> = { 'prod/prom-auth': { token: 't0k' } };

function deps(providers: AnalysisDeps['providers']): AnalysisDeps {
  return {
    getTemplate: (ns, name) => TEMPLATES[`${ns}/${name}`],
    getSecret: (ns, name) => SECRETS[`${ns}/${name}`],
    defaultAddress: 'http://default-prom:9090',
    defaultTimeoutMs: 5000,
    log: silentLogger(),
    providers,
  };
}

const input = (s: CanarySpec, provider: ProviderName = 'gatewayapi') => ({
  spec: s,
  name: 'web',
  namespace: 'prod',
  provider,
});

describe('runAnalysis', () => {
  test('one result per metric, in order; built-ins, templates, variables, intervals and secrets', async () => {
    const { calls, providers } = fakeProviders((q) =>
      q.startsWith('100 *') ? 99.5 : q.startsWith('1000') ? 740 : 3,
    );
    const s = spec([
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      { name: 'request-duration', interval: '1m', thresholdRange: { max: 500 } },
      {
        name: 'errors',
        templateRef: { name: 'errors' },
        templateVariables: { route: '/api' },
        thresholdRange: { max: 5 },
      },
      { name: 'latency', templateRef: { name: 'latency', namespace: 'shared' }, thresholdRange: { min: 10 } },
    ]);
    const results = await runAnalysis(input(s), deps(providers));
    assert.deepEqual(
      results.map((r) => [r.name, r.result, r.message]),
      [
        ['request-success-rate', 'Successful', 'request-success-rate 99.5 >= min 99'],
        ['request-duration', 'Failed', 'request-duration 740ms > max 500'],
        ['errors', 'Successful', 'errors 3 <= max 5'],
        ['latency', 'Failed', 'latency 3 < min 10'],
      ],
    );
    const byQuery = (re: RegExp) => calls.find((c) => re.test(c.query))!;
    assert.match(byQuery(/^100 \*/).query, /\[30s\]/, 'analysis.interval by default');
    assert.match(byQuery(/^1000/).query, /\[1m\]/, 'metric.interval wins');
    assert.equal(byQuery(/^100 \*/).opts.defaultAddress, 'http://default-prom:9090');
    assert.deepEqual(byQuery(/^100 \*/).opts.spec, { type: 'prometheus' });
    const errors = byQuery(/^errors/);
    assert.equal(errors.query, 'errors{ns="prod",route="/api"}[30s]');
    assert.deepEqual(errors.opts.secret, { token: 't0k' });
    assert.equal(errors.opts.spec.address, 'http://prom:9090');
    assert.equal(byQuery(/^latency/).query, 'latency{svc="app-svc",canary="web"}');
  });

  test('metrics run concurrently', async () => {
    let inFlight = 0;
    let peak = 0;
    const { providers } = fakeProviders(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
      return 100;
    });
    const s = spec([
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      { name: 'request-duration', thresholdRange: { max: 500 } },
      { name: 'latency', templateRef: { name: 'latency', namespace: 'shared' }, thresholdRange: { min: 10 } },
    ]);
    await runAnalysis(input(s), deps(providers));
    assert.equal(peak, 3);
  });

  test('NoData names the metric and the query and suggests missing traffic', async () => {
    const { providers } = fakeProviders(() => {
      throw new WeirError('METRIC_NO_DATA', 'query returned an empty result');
    });
    const [r] = await runAnalysis(
      input(spec([{ name: 'request-success-rate', thresholdRange: { min: 99 } }])),
      deps(providers),
    );
    assert.equal(r!.result, 'NoData');
    assert.equal(r!.value, undefined);
    assert.equal(r!.min, 99);
    assert.match(
      r!.message,
      /^metric request-success-rate returned no data for query 100 \* \(1 - \(sum\(rate\(http_request_duration_seconds_count\{namespace="prod", pod=~"app-.*: the canary may be receiving no traffic$/,
    );
    assert.doesNotMatch(r!.message, /\n/);
  });

  test('an infinite value is reported as such, not as missing traffic', async () => {
    const { providers } = fakeProviders(() => {
      throw new WeirError('METRIC_NO_DATA', 'query returned +Inf');
    });
    const [r] = await runAnalysis(
      input(spec([{ name: 'request-duration', thresholdRange: { max: 500 } }])),
      deps(providers),
    );
    assert.equal(r!.result, 'NoData');
    assert.match(
      r!.message,
      /^metric request-duration returned no finite value \(query returned \+Inf\) for query 1000 \*/,
    );
  });

  const errors: Array<[string, Record<string, unknown>, ProviderName, () => never, RegExp]> = [
    [
      'a query error',
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      'gatewayapi',
      () => {
        throw new WeirError('METRIC_QUERY', 'Prometheus rejected the query: HTTP 400 bad_data: parse error');
      },
      /^metric request-success-rate failed \(query error\): Prometheus rejected the query: HTTP 400 bad_data: parse error for query 100 \*/,
    ],
    [
      'a timeout',
      { name: 'request-duration', thresholdRange: { max: 500 } },
      'gatewayapi',
      () => {
        throw new WeirError('METRIC_TIMEOUT', 'no answer from Prometheus at http://p within 5000 ms');
      },
      /^metric request-duration failed \(timeout\): no answer .* for query 1000 \*/,
    ],
    [
      'an unexpected exception',
      { name: 'request-duration', thresholdRange: { max: 500 } },
      'gatewayapi',
      () => {
        throw new TypeError('boom');
      },
      /^metric request-duration failed \(unexpected error\): boom for query/,
    ],
    [
      'a missing template',
      { name: 'ghost', templateRef: { name: 'ghost' }, thresholdRange: { max: 1 } },
      'gatewayapi',
      () => assert.fail('not queried'),
      /^metric ghost failed \(missing object\): MetricTemplate prod\/ghost not found$/,
    ],
    [
      'a template with an unknown variable',
      { name: 'bad', templateRef: { name: 'bad-template' }, thresholdRange: { max: 1 } },
      'gatewayapi',
      () => assert.fail('not queried'),
      /^metric bad failed \(template error\): unknown variable \{\{ nope \}\}/,
    ],
    [
      'a missing template variable',
      { name: 'errors', templateRef: { name: 'errors' }, thresholdRange: { max: 1 } },
      'gatewayapi',
      () => assert.fail('not queried'),
      /^metric errors failed \(template error\): .*variables\.route/,
    ],
    [
      'an unknown metric provider type',
      { name: 'dd', templateRef: { name: 'other-backend' }, thresholdRange: { max: 1 } },
      'gatewayapi',
      () => assert.fail('not queried'),
      /^metric dd failed \(configuration error\): no metric provider of type datadog for query x$/,
    ],
    [
      'a built-in without a query for the routing provider',
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      UNROUTED,
      () => assert.fail('not queried'),
      /^metric request-success-rate failed \(invalid spec\): built-in metric request-success-rate is not available for provider appmesh/,
    ],
  ];
  for (const [what, metric, routing, answer, msg] of errors) {
    test(`${what} gives an Error result`, async () => {
      const { providers } = fakeProviders(answer);
      const [r] = await runAnalysis(input(spec([metric]), routing), deps(providers));
      assert.equal(r!.result, 'Error');
      assert.match(r!.message, msg);
    });
  }

  test('a missing secret gives an Error naming it', async () => {
    const { providers } = fakeProviders(() => 1);
    const d = { ...deps(providers), getSecret: () => undefined };
    const s = spec([
      {
        name: 'errors',
        templateRef: { name: 'errors' },
        templateVariables: { route: '/' },
        thresholdRange: { max: 1 },
      },
    ]);
    const [r] = await runAnalysis(input(s), d);
    assert.equal(r!.result, 'Error');
    assert.match(r!.message, /Secret prod\/prom-auth of MetricTemplate prod\/errors not found/);
  });

  test('no metrics, no results', async () => {
    const s = spec([]);
    assert.deepEqual(await runAnalysis(input(s), deps(fakeProviders(() => 1).providers)), []);
  });

  test('end to end with the real Prometheus client against a canned server', async () => {
    const prom = await new FakePrometheus().start();
    try {
      prom.next = { body: vector('97.25') };
      const d: AnalysisDeps = { ...deps(undefined), defaultAddress: prom.url };
      delete d.providers;
      const [r] = await runAnalysis(
        input(spec([{ name: 'request-success-rate', thresholdRange: { min: 99 } }])),
        d,
      );
      assert.deepEqual(r, {
        name: 'request-success-rate',
        result: 'Failed',
        value: 97.25,
        min: 99,
        message: 'request-success-rate 97.25 < min 99',
      });
      assert.match(prom.lastQuery()!, /pod=~"app-\[0-9a-zA-Z\]\+\(-\[0-9a-zA-Z\]\+\)"/);
    } finally {
      await prom.stop();
    }
  });
});
