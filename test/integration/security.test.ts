// The canary side's security model, end to end with real components:
// - a real Prometheus behind HTTP basic auth (its own --web.config.file), queried through addresses
//   that carry `user:password@`: the credentials are used, and appear in no status, Event, alert or
//   log line, on success or failure;
// - PromQL injection through templateVariables against that real Prometheus: a value that tries to
//   close its label matcher finds nothing, while a label value full of quotes still matches;
// - with --no-cross-namespace-refs a Canary naming another namespace's MetricTemplate/AlertProvider
//   is Ready=False naming the field, with a Warning Event, and nothing is applied;
// - with --receiver-listen the GitSync receivers answer on their own port only, and /metrics only on
//   the main one.
import assert from 'node:assert/strict';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { validateObject } from '../../src/api/validate.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricResult } from '../../src/canary/model.ts';
import { parseConfig } from '../../src/config.ts';
import { runController } from '../../src/controller-main.ts';
import { createKube } from '../../src/kube/client.ts';
import { createLogger } from '../../src/log.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { createNamespace, projectRoot, sharedCluster } from '../cluster/cluster.ts';
import { githubSignature } from '../cluster/gitsync-kit.ts';
import { freePort } from '../cluster/ports.ts';
import { startProcess, waitFor, type Managed } from '../cluster/proc.ts';

const USER = 'weir';
const PASSWORD = 'Pr0m:p@ss/w0rd';
// bcrypt (cost 4) of PASSWORD, as Prometheus' web config wants it.
const PASSWORD_BCRYPT = '$2b$04$YCg/GC6qgYKOveB3RD6XkeA1Kx2xcvZIbJ.142zmI6tBSn0OyznHy';
const WRONG = 'Wr0ng-pa55';
// A label value full of the characters escaping must get right.
const TRICKY = 'a"b\\c\'d`e';

interface AuthPrometheus {
  port: number;
  /** The address with `user:password@` (percent-encoded, as a URL needs). */
  address(password?: string): string;
  stop(): Promise<void>;
}

/** A real Prometheus that answers only with basic auth, scraping itself (label team=TRICKY). */
async function startAuthPrometheus(): Promise<AuthPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-prom-auth-'));
  const port = await freePort();
  await writeFile(join(dir, 'web.yml'), JSON.stringify({ basic_auth_users: { [USER]: PASSWORD_BCRYPT } }));
  await writeFile(
    join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [
        {
          job_name: 'self',
          basic_auth: { username: USER, password: PASSWORD },
          static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { team: TRICKY } }],
        },
      ],
    }),
  );
  const proc: Managed = startProcess(
    'prometheus-auth',
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--web.config.file=${join(dir, 'web.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
    ],
    { logDir: dir },
  );
  const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Up once it has scraped itself: the `up` series the tests query exists.
    await waitFor(
      'the authenticated Prometheus has scraped itself',
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`, {
          headers: { authorization },
          signal: AbortSignal.timeout(2000),
        });
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        return (body.data?.result?.length ?? 0) > 0;
      },
      60_000,
      200,
    );
  } catch (err) {
    const tail = proc.tail();
    await stop();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  return {
    port,
    address: (password = PASSWORD) => `http://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    stop,
  };
}

/** Everything that must never show a password: its plain and percent-encoded forms. */
const secretsIn = (text: string): string[] =>
  [PASSWORD, encodeURIComponent(PASSWORD), WRONG].filter((s) => text.includes(s));

let prom: AuthPrometheus;
before(async () => {
  prom = await startAuthPrometheus();
});
after(async () => prom?.stop());

function canarySpec(metrics: unknown[]): CanarySpec {
  const { object, problems } = validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'web' },
      service: { port: 80 },
      analysis: { interval: '1m', iterations: 3, metrics },
    },
  });
  assert.deepEqual(problems, []);
  return object.spec as CanarySpec;
}

/** runAnalysis of one templated metric (min 1) against the authenticated Prometheus. */
async function analyse(
  query: string,
  variables: Record<string, string>,
  address = prom.address(),
): Promise<{ result: MetricResult; log: string }> {
  let log = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      log += chunk.toString();
      cb();
    },
  });
  const template: MetricTemplateSpec = { provider: { type: 'prometheus', address }, query };
  const [result] = await runAnalysis(
    {
      spec: canarySpec([
        {
          name: 'probe',
          templateRef: { name: 't' },
          templateVariables: variables,
          thresholdRange: { min: 1 },
        },
      ]),
      name: 'web',
      namespace: 'team-a',
      provider: 'gatewayapi',
    },
    {
      getTemplate: () => template,
      getSecret: () => undefined,
      defaultTimeoutMs: 15_000,
      log: createLogger('trace', sink),
    },
  );
  return { result: result!, log };
}

describe('a real Prometheus behind basic auth', () => {
  test('it refuses queries without credentials (so a success below proves they were sent)', async () => {
    const res = await fetch(`http://127.0.0.1:${prom.port}/api/v1/query?query=up`);
    assert.equal(res.status, 401);
  });

  test('an address with user:password@ is queried with them, and nothing logged shows them', async () => {
    const { result, log } = await analyse('max(up{job="self"})', {});
    assert.equal(result.result, 'Successful', result.message);
    assert.equal(result.value, 1);
    assert.deepEqual(secretsIn(log), []);
    assert.match(log, new RegExp(`"address":"http://127\\.0\\.0\\.1:${prom.port}"`));
  });

  test('a wrong password: Error naming the address without the password, in status and log', async () => {
    const { result, log } = await analyse('max(up{job="self"})', {}, prom.address(WRONG));
    assert.equal(result.result, 'Error', result.message);
    assert.match(
      result.message,
      new RegExp(`HTTP 401 from Prometheus at http://127\\.0\\.0\\.1:${prom.port}`),
    );
    assert.deepEqual(secretsIn(result.message + log), []);
  });
});

describe('PromQL injection through templateVariables (real Prometheus)', () => {
  const cases: Array<[string, string]> = [
    ['max(up{job="self", team="{{ variables.team }}"})', '"'],
    ["max(up{job='self', team='{{ variables.team }}'})", "'"],
  ];
  for (const [query, quote] of cases) {
    test(`${quote}-quoted matcher: a label value with quotes and backslashes matches exactly`, async () => {
      const { result } = await analyse(query, { team: TRICKY });
      assert.equal(result.result, 'Successful', result.message);
      assert.equal(result.value, 1);
    });

    for (const attack of [
      `x${quote}}) or vector(1) #`,
      `x${quote}}) or vector(1) or max(up{team=${quote}`,
      `x\\${quote}}) or vector(1) #`,
      `x${quote}}\n) or vector(1) #`,
    ]) {
      test(`${quote}-quoted matcher: ${JSON.stringify(attack)} stays inside the string (no data, not 1)`, async () => {
        const { result } = await analyse(query, { team: attack });
        // Unescaped, each of these turns the query into `... or vector(1)`: Successful with value 1.
        assert.equal(result.result, 'NoData', result.message);
        assert.equal(result.value, undefined);
      });
    }
  }

  test('a backtick in a raw string, or PromQL outside a string, is refused before any query', async () => {
    for (const [query, value] of [
      ['max(up{team=`{{ variables.team }}`})', '`}) or vector(1) #'],
      ['max(up{job="self"}) > {{ variables.team }}', '0 or vector(1)'],
    ] as const) {
      const { result } = await analyse(query, { team: value });
      assert.equal(result.result, 'Error', result.message);
      assert.match(result.message, /^metric probe failed \(template error\): \{\{ variables\.team \}\}/);
    }
  });
});

describe('controller: --no-cross-namespace-refs and credentials in Prometheus addresses', () => {
  let w: World;
  let other: string;
  before(async () => {
    w = await startWorld('security', {
      env: {
        WEIR_NO_CROSS_NAMESPACE_REFS: 'true',
        // The default Prometheus, with a wrong password: the built-in metrics get a 401.
        WEIR_PROMETHEUS_ADDRESS: prom.address(WRONG),
      },
    });
    other = await createNamespace(w.cluster, 'security-other');
  });
  after(async () => w?.stop());

  const template = (namespace: string) => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'MetricTemplate',
    metadata: { name: 'always-up', namespace },
    spec: { provider: { type: 'prometheus', address: prom.address() }, query: 'max(up{job="self"}) * 100' },
  });
  const alertProvider = (namespace: string) => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'AlertProvider',
    metadata: { name: 'chat', namespace },
    spec: { type: 'slack', address: w.slack.url },
  });

  test('a reference to another namespace is refused naming the field; nothing applied until it is local', async () => {
    const name = 'xref';
    await w.kube.apply(template(other) as never, 'weir-test');
    await w.kube.apply(alertProvider(other) as never, 'weir-test');
    await w.apply(template(w.ns));
    await w.apply(alertProvider(w.ns));
    await w.deploy(name, 'example.com/xref:1.0.0');
    const metrics = [
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      { name: 'up', templateRef: { name: 'always-up', namespace: other }, thresholdRange: { min: 99 } },
    ];
    const alerts = [{ name: 'chat', severity: 'info', providerRef: { name: 'chat', namespace: other } }];
    await w.apply(gatewayCanary(name, { metrics, alerts, stepWeight: 25, maxWeight: 50 }));

    const ready = await waitFor(
      'Ready=False InvalidSpec',
      async () => {
        const c = (await w.canary(name)).status?.conditions?.find((x) => x.type === 'Ready');
        return c?.status === 'False' && c.reason === 'InvalidSpec' ? c : undefined;
      },
      60_000,
      250,
    );
    assert.equal(
      ready.message,
      `Canary ${w.ns}/${name}: ` +
        `spec.analysis.metrics[1].templateRef.namespace: cross-namespace references are disabled (--no-cross-namespace-refs): MetricTemplate ${other}/always-up is not in namespace ${w.ns}; ` +
        `spec.analysis.alerts[0].providerRef.namespace: cross-namespace references are disabled (--no-cross-namespace-refs): AlertProvider ${other}/chat is not in namespace ${w.ns}`,
    );
    const event = await waitFor(
      'the InvalidSpec Warning Event',
      async () => (await w.events(name)).find((e) => e.reason === 'InvalidSpec'),
      30_000,
      250,
    );
    assert.equal(event.type, 'Warning');
    assert.match(
      event.message,
      /metrics\[1\]\.templateRef\.namespace: cross-namespace references are disabled/,
    );
    // Nothing applied: no primary, no route, the target untouched.
    assert.equal(await w.deployment(`${name}-primary`), undefined);
    assert.equal(await w.routeWeights(name), undefined);
    assert.equal((await w.deployment(name))?.spec.replicas, 2);
    assert.equal((await w.canary(name)).status?.phase, undefined);

    // The same Canary with namespace-local references goes ahead.
    const local = (refs: Array<Record<string, unknown>>, key: string) =>
      refs.map((r) => (r[key] ? { ...r, [key]: { name: (r[key] as { name: string }).name } } : r));
    await w.apply(
      gatewayCanary(name, {
        metrics: local(metrics, 'templateRef'),
        alerts: local(alerts, 'providerRef'),
        stepWeight: 25,
        maxWeight: 50,
      }),
    );
    await w.waitPhase(name, 'Initialized', 60_000);
    assert.ok(await w.deployment(`${name}-primary`), 'the primary now exists');
  });

  test('credentials in addresses: used for the query, absent from status, Events, alerts and logs', async () => {
    // `good` queries through the template's address with the right password; `bad` through the
    // controller's --prometheus-address with a wrong one.
    await w.apply(template(w.ns));
    const up = [{ name: 'up', templateRef: { name: 'always-up' }, thresholdRange: { min: 99 } }];
    await w.deploy('good', 'example.com/good:1.0.0');
    await w.deploy('bad', 'example.com/bad:1.0.0');
    await w.apply(gatewayCanary('good', { metrics: up, maxWeight: 50, stepWeight: 25 }));
    await w.apply(gatewayCanary('bad', { threshold: 1, maxWeight: 50, stepWeight: 25 }));
    await Promise.all([
      w.waitPhase('good', 'Initialized', 60_000),
      w.waitPhase('bad', 'Initialized', 60_000),
    ]);
    await w.setImage('good', 'example.com/good:2.0.0');
    await w.setImage('bad', 'example.com/bad:2.0.0');

    const measured = await waitFor(
      'a Successful check of `good` through the credentialed address',
      async () => {
        const c = await w.canary('good');
        return c.status?.metrics?.find((m) => m.name === 'up' && m.result === 'Successful');
      },
      90_000,
      250,
    );
    assert.equal(measured.value, 100);

    const failed = await w.waitPhase('bad', 'Failed', 90_000);
    const entry = failed.status?.metrics?.find((m) => m.name === 'request-success-rate');
    assert.equal(entry?.result, 'Error', JSON.stringify(entry));
    assert.match(
      entry?.message ?? '',
      new RegExp(`HTTP 401 from Prometheus at http://127\\.0\\.0\\.1:${prom.port}`),
    );
    const alert = await w.slack.waitFor(
      (m) => /rolled back/i.test(JSON.stringify(m.payload)),
      30_000,
      'rollback alert',
    );
    assert.match(JSON.stringify(alert.payload), /HTTP 401/);
    const events = await waitFor(
      'the FailedCheck Event of `bad`',
      async () => {
        const all = await w.events('bad');
        return all.some((e) => e.reason === 'FailedCheck' && /HTTP 401/.test(e.message)) && all;
      },
      30_000,
      250,
    );

    // The log is written through a stream: wait until it holds the failed query's line.
    const log = await waitFor(
      'the 401 in the controller log',
      () => {
        const text = readFileSync(w.logFile, 'utf8');
        return /HTTP 401 from Prometheus at http:\/\/127\.0\.0\.1/.test(text) && text;
      },
      30_000,
      250,
    );
    const everywhere = [
      ['status of good', JSON.stringify((await w.canary('good')).status)],
      ['status of bad', JSON.stringify(failed.status)],
      ['events', JSON.stringify([...events, ...(await w.events('good'))])],
      ['alerts', JSON.stringify(w.slack.requests)],
      ['controller log', log],
    ];
    for (const [where, text] of everywhere)
      assert.deepEqual(secretsIn(text!), [], `a password in the ${where}`);
  });
});

describe('controller: --receiver-listen', () => {
  let stop: (() => Promise<void>) | undefined;
  let cacheDir: string | undefined;
  after(async () => {
    await stop?.();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  test('receivers on their own port only; /metrics and probes on the main port only', async () => {
    const cluster = await sharedCluster();
    const ns = await createNamespace(cluster, 'receiver-listen');
    const kubeconfig = cluster.kubeconfigPath;
    const logFile = join(
      process.env.WEIR_TEST_LOG_DIR ?? join(projectRoot, '.weir', 'test-logs'),
      `${ns}.log`,
    );
    const config = parseConfig(
      { kubeconfig },
      {
        WEIR_NAMESPACE: ns,
        WEIR_LISTEN: '127.0.0.1:0',
        WEIR_RECEIVER_LISTEN: '127.0.0.1:0',
        WEIR_GIT_CACHE_DIR: (cacheDir = await mkdtemp(join(tmpdir(), 'weir-receiver-'))),
      },
    );
    const ctl = await runController(
      config,
      createLogger('debug', createWriteStream(logFile, { flags: 'a' })),
    );
    stop = () => ctl.stop();
    assert.ok(ctl.receiverPort && ctl.receiverPort !== ctl.port, `ports ${ctl.port} / ${ctl.receiverPort}`);
    const main = `http://127.0.0.1:${ctl.port}`;
    const receiver = `http://127.0.0.1:${ctl.receiverPort}`;

    const kube = createKube(cluster.kc);
    await kube.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hook', namespace: ns },
        stringData: { token: 'hook-s3cret' },
      } as never,
      'weir-test',
    );
    await kube.apply(
      {
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'GitSync',
        metadata: { name: 'repo', namespace: ns },
        spec: {
          url: 'https://git.example.invalid/repo.git',
          interval: '1h',
          webhookSecretRef: { name: 'hook' },
        },
      } as never,
      'weir-test',
    );
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const post = (base: string, token = 'hook-s3cret') =>
      fetch(`${base}/hooks/gitsync/${ns}/repo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(body, token) },
        body,
      });
    // The receiver knows the GitSync once its informer has it: a signed POST is then accepted.
    await waitFor(
      'the receiver accepts a signed push',
      async () => (await post(receiver)).status === 202,
      60_000,
      250,
    );
    assert.equal((await post(receiver, 'forged')).status, 401, 'it is the real receiver: forged is 401');
    assert.equal((await post(main)).status, 404, 'no receiver on the metrics port');

    for (const path of ['/metrics', '/healthz', '/readyz']) {
      assert.equal((await fetch(`${receiver}${path}`)).status, 404, `${path} on the receiver port`);
      assert.notEqual((await fetch(`${main}${path}`)).status, 404, `${path} on the main port`);
    }
    assert.match(await (await fetch(`${main}/metrics`)).text(), /weir_/);
  });
});
