// The no-data diagnosis as runAnalysis runs it through the Prometheus provider, against a local HTTP
// server that answers the metric's query and the diagnosis' count queries differently: when the
// diagnosis runs (empty or NaN results only), that its answer reaches the NoData message, and that a
// failing or slow diagnosis leaves the plain message within the provider's timeout.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { validateObject } from '../../src/api/validate.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricResult } from '../../src/canary/model.ts';
import { silentLogger } from '../../src/log.ts';

interface Answer {
  status?: number;
  body: unknown;
  delayMs?: number;
}

/** Answers the metric's own query with `main`, every diagnosis query (count…) with `diagnosis`. */
class SplitPrometheus {
  server!: Server;
  url = '';
  main: Answer = { body: vector() };
  diagnosis: (q: string) => Answer = () => ({ body: vector() });
  queries: string[] = [];
  authorizations: Array<string | undefined> = [];

  private handle = (req: IncomingMessage, res: ServerResponse): void => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
    this.queries.push(q);
    this.authorizations.push(req.headers.authorization);
    const a = isDiagnosis(q) ? this.diagnosis(q) : this.main;
    const timer = setTimeout(() => {
      if (!res.destroyed) res.writeHead(a.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    }, a.delayMs ?? 0); // prettier-ignore
    res.on('close', () => clearTimeout(timer));
  };

  async start(): Promise<void> {
    this.server = createServer(this.handle);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  diagnosisQueries(): string[] {
    return this.queries.filter(isDiagnosis);
  }
}

const isDiagnosis = (q: string): boolean => /^(count|max)[ (]/.test(q);

function vector(...values: Array<[Record<string, string>, string]>) {
  return {
    status: 'success',
    data: { resultType: 'vector', result: values.map(([metric, v]) => ({ metric, value: [1767225600, v] })) },
  };
}

function spec(metrics: unknown[]): CanarySpec {
  const { object, problems } = validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'app', namespace: 'prod' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'app' },
      service: { port: 80 },
      analysis: { interval: '1m', iterations: 3, metrics },
    },
  });
  assert.deepEqual(problems, []);
  return object.spec as CanarySpec;
}

async function analyse(address: string, timeoutMs = 5000): Promise<MetricResult> {
  const [r] = await runAnalysis(
    {
      spec: spec([{ name: 'request-success-rate', thresholdRange: { min: 99 } }]),
      name: 'app',
      namespace: 'prod',
      provider: 'kubernetes',
    },
    {
      getTemplate: () => undefined,
      getSecret: () => undefined,
      defaultAddress: address,
      defaultTimeoutMs: timeoutMs,
      log: silentLogger(),
    },
  );
  assert.ok(r);
  return r;
}

const PLAIN =
  /^metric request-success-rate returned no data for query 100 \* .*: the canary may be receiving no traffic$/;

describe('no-data diagnosis through the Prometheus provider', () => {
  const prom = new SplitPrometheus();
  before(() => prom.start());
  after(() => prom.stop());
  beforeEach(() => {
    prom.queries = [];
    prom.authorizations = [];
    prom.main = { body: vector() };
    prom.diagnosis = () => ({ body: vector() });
  });

  test('an empty result is diagnosed and the cause leads the NoData message', async () => {
    const r = await analyse(prom.url);
    assert.equal(r.result, 'NoData');
    assert.equal(
      r.message.replace(/; query: .*/, ''),
      'metric request-success-rate returned no data (metric not found): Prometheus has no series of ' +
        'http_request_duration_seconds_count in the last 1h: check the metric name and that Prometheus scrapes the app',
    );
    assert.match(
      r.message,
      /; query: 100 \* \(1 - \(sum\(rate\(http_request_duration_seconds_count\{namespace="prod"/,
    );
    assert.deepEqual(prom.diagnosisQueries(), [
      'count(last_over_time(http_request_duration_seconds_count[1h]))',
    ]);
  });

  test('a NaN result is diagnosed too: series with samples mean no traffic', async () => {
    prom.main = { body: vector([{}, 'NaN']) };
    prom.diagnosis = (q) => ({ body: q.startsWith('count by') ? vector() : vector([{}, '3']) });
    const r = await analyse(prom.url);
    assert.equal(r.result, 'NoData');
    assert.match(
      r.message,
      /^metric request-success-rate returned no data \(no traffic\): its series exist and carry samples, so the canary may be receiving no traffic; query: 100 \* /,
    );
  });

  test('an infinite value or a failed query is not diagnosed', async () => {
    prom.main = { body: vector([{}, '+Inf']) };
    assert.equal((await analyse(prom.url)).result, 'NoData');
    prom.main = { status: 500, body: { status: 'error', errorType: 'internal', error: 'boom' } };
    assert.equal((await analyse(prom.url)).result, 'Error');
    assert.deepEqual(prom.diagnosisQueries(), []);
  });

  test('a failing diagnosis leaves the plain message, never an Error', async () => {
    prom.diagnosis = () => ({ status: 503, body: 'unavailable' });
    const r = await analyse(prom.url);
    assert.equal(r.result, 'NoData');
    assert.match(r.message, PLAIN);
    assert.ok(prom.diagnosisQueries().length > 0, 'the diagnosis was tried');
  });

  test('a slow diagnosis is cut at the provider timeout, counted from the query', async () => {
    // The query itself takes most of the 1 s timeout: the diagnosis gets only what is left, so the
    // metric as a whole still fits the time the controller allows it.
    prom.main = { body: vector(), delayMs: 600 };
    prom.diagnosis = () => ({ body: vector(), delayMs: 10_000 });
    const started = Date.now();
    const r = await analyse(prom.url, 1000);
    const elapsed = Date.now() - started;
    assert.equal(r.result, 'NoData');
    assert.match(r.message, PLAIN);
    assert.ok(prom.diagnosisQueries().length > 0, 'the diagnosis was tried');
    // Not waited for: the diagnosis server answers after 10 s (the bound leaves room for a loaded machine).
    assert.ok(elapsed < 5000, `query and diagnosis took ${elapsed} ms with a 1000 ms timeout`);
  });

  test('diagnosis queries carry the address credentials; the message never does', async () => {
    const withUser = prom.url.replace('http://', 'http://weir:s3cret-pw@');
    const r = await analyse(withUser);
    assert.equal(r.result, 'NoData');
    const basic = `Basic ${Buffer.from('weir:s3cret-pw').toString('base64')}`;
    assert.deepEqual(new Set(prom.authorizations), new Set([basic]));
    assert.doesNotMatch(r.message, /s3cret/);
  });
});
