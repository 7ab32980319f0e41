// Security items of the canary side: cross-namespace references refused by flag, credentials in a
// Prometheus address (used as Basic auth, never shown), secretRefs read from their owner's namespace,
// the controller flags, and the receiver listener serving nothing but the receivers.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { validateObject } from '../../src/api/validate.ts';
import { runAnalysis, type AnalysisDeps } from '../../src/analysis/evaluate.ts';
import { createPrometheusProvider, parseAddress } from '../../src/analysis/prometheus.ts';
import type { MetricProviderOptions } from '../../src/analysis/provider.ts';
import { buildContext, type CanaryObject } from '../../src/canary/context.ts';
import { refusedReferences } from '../../src/canary/references.ts';
import { parseConfig } from '../../src/config.ts';
import { isWeirError, type WeirError } from '../../src/errors.ts';
import { registerReceiver } from '../../src/gitsync/receiver.ts';
import { createLogger, silentLogger } from '../../src/log.ts';
import { redactCredentials } from '../../src/redact.ts';
import { buildApp, buildReceiverApp } from '../../src/server/app.ts';
import { Metrics } from '../../src/server/metrics.ts';

function canarySpec(analysis: Record<string, unknown>): CanarySpec {
  const { object, problems } = validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'web' },
      service: { port: 80 },
      analysis: { interval: '30s', iterations: 3, ...analysis },
    },
  });
  assert.deepEqual(problems, []);
  return object.spec as CanarySpec;
}

const CROSS = canarySpec({
  metrics: [
    { name: 'request-success-rate', thresholdRange: { min: 99 } },
    { name: 'errors', templateRef: { name: 'errors', namespace: 'team-b' }, thresholdRange: { max: 1 } },
    { name: 'own', templateRef: { name: 'own', namespace: 'team-a' }, thresholdRange: { max: 1 } },
  ],
  alerts: [
    { name: 'local', severity: 'info', providerRef: { name: 'slack' } },
    { name: 'theirs', severity: 'error', providerRef: { name: 'pager', namespace: 'ops' } },
  ],
});

describe('cross-namespace references', () => {
  test('allowed by default (as in Flux): nothing refused', () => {
    assert.deepEqual(refusedReferences(CROSS, 'team-a', { crossNamespaceRefs: true }), []);
  });

  test('with --no-cross-namespace-refs each foreign reference is refused by its field', () => {
    const refused = refusedReferences(CROSS, 'team-a', { crossNamespaceRefs: false });
    assert.deepEqual(
      refused.map((r) => r.field),
      ['spec.analysis.metrics[1].templateRef.namespace', 'spec.analysis.alerts[1].providerRef.namespace'],
    );
    assert.equal(
      refused[0]!.message,
      'spec.analysis.metrics[1].templateRef.namespace: cross-namespace references are disabled (--no-cross-namespace-refs): MetricTemplate team-b/errors is not in namespace team-a',
    );
    assert.match(refused[1]!.message, /AlertProvider ops\/pager is not in namespace team-a$/);
  });

  const obj = (spec: CanarySpec): CanaryObject => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'team-a', uid: 'u1', generation: 1 },
    spec,
  });
  const routerDeps = { kube: undefined as never, cached: () => undefined, log: silentLogger() };

  test('buildContext refuses before anything else (INVALID_SPEC naming the fields), allows with the flag off', () => {
    assert.throws(
      () => buildContext(obj(CROSS), {}, 'gatewayapi', routerDeps, { crossNamespaceRefs: false }),
      (err: unknown) => {
        assert.ok(isWeirError(err, 'INVALID_SPEC'), String(err));
        assert.match(
          err.message,
          /^Canary team-a\/web: spec\.analysis\.metrics\[1\]\.templateRef\.namespace: cross-namespace references are disabled \(--no-cross-namespace-refs\): .*; spec\.analysis\.alerts\[1\]\.providerRef\.namespace: /,
        );
        return true;
      },
    );
    // Allowed, the same Canary goes on to its next check (its target is not in the empty caches).
    assert.throws(
      () => buildContext(obj(CROSS), {}, 'gatewayapi', routerDeps, { crossNamespaceRefs: true }),
      (err: unknown) => isWeirError(err, 'NOT_FOUND'),
    );
  });

  test("a MetricTemplate's secretRef is read from the template's namespace, never the Canary's", async () => {
    const templates: Record<string, MetricTemplateSpec> = {
      'team-b/errors': {
        provider: { type: 'prometheus', address: 'http://prom-b:9090', secretRef: { name: 'auth' } },
        query: 'x',
      },
    };
    const reads: string[] = [];
    const seen: MetricProviderOptions[] = [];
    const deps: AnalysisDeps = {
      getTemplate: (ns, name) => templates[`${ns}/${name}`],
      getSecret: (ns, name) => {
        reads.push(`${ns}/${name}`);
        return ns === 'team-b' ? { token: 'b-token' } : { token: 'a-token' };
      },
      defaultTimeoutMs: 1000,
      log: silentLogger(),
      providers: {
        prometheus: (opts) => {
          seen.push(opts);
          return { type: 'prometheus', query: async () => 0 };
        },
      },
    };
    const spec = canarySpec({
      metrics: [
        { name: 'errors', templateRef: { name: 'errors', namespace: 'team-b' }, thresholdRange: { max: 1 } },
      ],
    });
    await runAnalysis({ spec, name: 'web', namespace: 'team-a', provider: 'gatewayapi' }, deps);
    assert.deepEqual(reads, ['team-b/auth']);
    assert.deepEqual(seen[0]?.secret, { token: 'b-token' });
  });

  test('secretRef has no namespace field: MetricTemplate and AlertProvider refuse one', () => {
    for (const [kind, spec] of [
      [
        'MetricTemplate',
        { provider: { type: 'prometheus', secretRef: { name: 's', namespace: 'x' } }, query: 'up' },
      ],
      ['AlertProvider', { type: 'slack', secretRef: { name: 's', namespace: 'x' } }],
    ] as const) {
      const { problems } = validateObject({
        apiVersion: 'weir.dev/v1alpha1',
        kind,
        metadata: { name: 'n', namespace: 'team-b' },
        spec,
      });
      assert.ok(
        problems.some((p) => /secretRef/.test(JSON.stringify(p)) && /namespace/.test(JSON.stringify(p))),
        `${kind}: ${JSON.stringify(problems)}`,
      );
    }
  });
});

describe('redactCredentials', () => {
  const cases: Array<[string, string]> = [
    ['cannot reach http://weir:s3cret@prom:9090/x', 'cannot reach http://weir:***@prom:9090/x'],
    ['https://tok3n@prom.example', 'https://***@prom.example'],
    [
      'http://u:p%40ss@h and https://v:w@@k/ and http://plain:9090',
      'http://u:***@h and https://v:***@k/ and http://plain:9090',
    ],
    ['"http://a:b@h"', '"http://a:***@h"'],
    ['no url here: user:pass@host', 'no url here: user:pass@host'],
    ['http://host/path@not-userinfo', 'http://host/path@not-userinfo'],
  ];
  for (const [text, want] of cases)
    test(JSON.stringify(text), () => assert.equal(redactCredentials(text), want));
});

describe('Prometheus address with credentials', () => {
  let server: Server;
  let port = 0;
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  let status = 200;
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const body =
        status === 200
          ? { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '1'] }] } }
          : 'Unauthorized';
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const PASSWORD = 'p@ss:w/rd';
  const withCreds = () => `http://weir:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/`;

  test('parseAddress strips the userinfo and turns it into Basic auth (percent-decoded)', () => {
    const { address, auth } = parseAddress(withCreds(), 'x');
    assert.equal(address, `http://127.0.0.1:${port}`);
    assert.equal(auth.Authorization, `Basic ${Buffer.from(`weir:${PASSWORD}`).toString('base64')}`);
    assert.deepEqual(parseAddress('http://prom:9090/prefix/', 'x'), {
      address: 'http://prom:9090/prefix',
      auth: {},
    });
  });

  test('an address that is not a URL is a CONFIG error that does not echo it', () => {
    for (const bad of ['http://weir:hunter2@', 'ftp://weir:hunter2@h', 'http://weir:%E0%A4%A@h']) {
      assert.throws(
        () => parseAddress(bad, 'the MetricTemplate spec.provider.address'),
        (err: WeirError) =>
          isWeirError(err, 'CONFIG') &&
          !err.message.includes('hunter2') &&
          /spec\.provider\.address/.test(err.message),
      );
    }
  });

  test('the query is sent with the Basic auth and a URL without userinfo', async () => {
    status = 200;
    const p = createPrometheusProvider({
      spec: { type: 'prometheus' },
      defaultAddress: withCreds(),
      defaultTimeoutMs: 5000,
      log: silentLogger(),
    });
    assert.equal(await p.query('up'), 1);
    const last = seen.at(-1)!;
    assert.equal(last.headers.authorization, `Basic ${Buffer.from(`weir:${PASSWORD}`).toString('base64')}`);
    assert.match(last.url, /^\/api\/v1\/query\?query=up$/);
  });

  test('a secretRef wins over the userinfo', async () => {
    status = 200;
    const p = createPrometheusProvider({
      spec: { type: 'prometheus', address: withCreds() },
      secret: { token: 'tkn' },
      defaultTimeoutMs: 5000,
      log: silentLogger(),
    });
    await p.query('up');
    assert.equal(seen.at(-1)!.headers.authorization, 'Bearer tkn');
  });

  /** Everything the analysis logged at debug, as one string. */
  function capture(): { text: () => string; log: ReturnType<typeof createLogger> } {
    let buf = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        buf += chunk.toString();
        cb();
      },
    });
    return { text: () => buf, log: createLogger('trace', sink) };
  }

  for (const [what, setup] of [
    ['an HTTP 401', () => ({ address: withCreds(), status: 401 })],
    [
      'a closed port',
      () => ({ address: `http://weir:${encodeURIComponent(PASSWORD)}@127.0.0.1:9/`, status: 200 }),
    ],
  ] as const) {
    test(`${what}: the status message and the log name the address without the password`, async () => {
      const s = setup();
      status = s.status;
      const { text, log } = capture();
      const spec = canarySpec({
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      });
      const [r] = await runAnalysis(
        { spec, name: 'web', namespace: 'team-a', provider: 'gatewayapi' },
        {
          getTemplate: () => undefined,
          getSecret: () => undefined,
          defaultAddress: s.address,
          defaultTimeoutMs: 3000,
          log,
        },
      );
      assert.equal(r!.result, 'Error', r!.message);
      assert.match(r!.message, /Prometheus at http:\/\/127\.0\.0\.1:\d+/);
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 'weir:']) {
        assert.ok(!r!.message.includes(secret), `status message carries ${secret}: ${r!.message}`);
        assert.ok(!text().includes(secret), `log carries ${secret}: ${text()}`);
      }
      assert.ok(text().includes('127.0.0.1'), 'the log does name the address');
    });
  }
});

describe('controller flags', () => {
  test('--no-cross-namespace-refs (commander: crossNamespaceRefs=false) or its env refuses; default allows', () => {
    assert.equal(parseConfig({}, {}).crossNamespaceRefs, true);
    assert.equal(parseConfig({ crossNamespaceRefs: true }, {}).crossNamespaceRefs, true);
    assert.equal(parseConfig({ crossNamespaceRefs: false }, {}).crossNamespaceRefs, false);
    assert.equal(parseConfig({}, { WEIR_NO_CROSS_NAMESPACE_REFS: 'true' }).crossNamespaceRefs, false);
  });

  test('--receiver-listen is parsed like --listen, and absent by default', () => {
    assert.equal(parseConfig({}, {}).receiverListen, undefined);
    assert.deepEqual(parseConfig({ receiverListen: '0.0.0.0:9292' }, {}).receiverListen, {
      host: '0.0.0.0',
      port: 9292,
    });
    assert.deepEqual(parseConfig({}, { WEIR_RECEIVER_LISTEN: '127.0.0.1:0' }).receiverListen, {
      host: '127.0.0.1',
      port: 0,
    });
    assert.throws(() => parseConfig({ receiverListen: '9292' }, {}), /--receiver-listen: expected host:port/);
  });
});

describe('listeners', () => {
  const receivers = [
    (app: Parameters<typeof registerReceiver>[0]) =>
      registerReceiver(app, {
        webhookSecretName: () => undefined,
        secretToken: async () => undefined,
        trigger: async () => undefined,
        log: silentLogger(),
      }),
  ];

  test('the receiver app serves the receivers and nothing else', async () => {
    const app = buildReceiverApp({ log: silentLogger(), register: receivers });
    const hook = await app.inject({ method: 'POST', url: '/hooks/gitsync/ns/name', payload: {} });
    assert.equal(hook.statusCode, 401, 'the receiver answers (unknown GitSync: 401)');
    for (const url of ['/metrics', '/healthz', '/readyz'])
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url);
    await app.close();
  });

  test('the main app without receivers: 404 on /hooks, /metrics served', async () => {
    const app = buildApp({ metrics: new Metrics('test', false), ready: () => true, log: silentLogger() });
    assert.equal(
      (await app.inject({ method: 'POST', url: '/hooks/gitsync/ns/name', payload: {} })).statusCode,
      404,
    );
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    await app.close();
  });
});
