// Request-shape checks for the metric backends Weir cannot reach from its test environment (Datadog,
// New Relic, CloudWatch) and for the request side of the others. Each check asserts what the
// provider's documented API requires of a request: method, path, parameters, headers, credentials,
// body, and for CloudWatch a Signature Version 4 recomputed here from AWS' published algorithm.
//   Datadog:    GET /api/v1/query?from&to&query, DD-API-KEY and DD-APPLICATION-KEY headers
//   New Relic:  POST /graphql, API-Key header, GraphQL `actor.account(id).nrql(query)` with variables
//   CloudWatch: POST /, X-Amz-Target GraniteServiceVersion20100801.GetMetricData, AWS JSON 1.0 body
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Captured {
  method: string;
  path: string;
  params: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Reply {
  status?: number;
  body: unknown;
  /** Milliseconds to wait before answering. */
  delayMs?: number;
}

/** A loopback server that checks each request and answers what the test queued. */
export class ShapeServer {
  url = '';
  requests: Captured[] = [];
  /** Request-shape failures; a test asserts this is empty. */
  problems: string[] = [];
  check: (req: Captured) => void = () => {};
  reply: Reply = { body: {} };
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const captured: Captured = {
      method: req.method ?? '',
      path: url.pathname,
      params: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(captured);
    try {
      this.check(captured);
    } catch (err) {
      this.problems.push((err as Error).message);
    }
    const { status = 200, body, delayMs = 0 } = this.reply;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/html' : 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

export function checkDatadog(req: Captured, keys: { api: string; app: string }, lookbackS: number): void {
  assert.equal(req.method, 'GET');
  assert.equal(req.path, '/api/v1/query');
  assert.equal(req.headers['dd-api-key'], keys.api);
  assert.equal(req.headers['dd-application-key'], keys.app);
  const from = Number(req.params.get('from'));
  const to = Number(req.params.get('to'));
  assert.ok(Number.isInteger(from) && Number.isInteger(to), 'from and to are POSIX seconds');
  assert.ok(Math.abs(to - Date.now() / 1000) < 10, 'to is now');
  assert.equal(to - from, lookbackS);
  assert.ok(req.params.get('query'), 'query parameter');
}

export function checkNewRelic(req: Captured, apiKey: string, accountId: number): { nrql: string } {
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/graphql');
  assert.equal(req.headers['api-key'], apiKey);
  assert.match(String(req.headers['content-type']), /^application\/json/);
  const body = JSON.parse(req.body) as { query: string; variables: { accountId: unknown; nrql: unknown } };
  // The documented NRQL field: actor { account(id: …) { nrql(query: …) { results } } }.
  const gql = body.query.replace(/\s+/g, ' ');
  assert.match(gql, /^query\s*\(\$accountId: Int!, \$nrql: Nrql!\)/);
  assert.match(gql, /actor \{ account\(id: \$accountId\) \{ nrql\(query: \$nrql\) \{ results \} \} \}/);
  assert.equal(body.variables.accountId, accountId);
  assert.equal(typeof body.variables.nrql, 'string');
  return { nrql: body.variables.nrql as string };
}

export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Checks a GetMetricData call and returns its parsed body. */
export function checkCloudWatch(
  req: Captured,
  keys: AwsKeys,
  region: string,
  lookbackS: number,
): { MetricDataQueries: unknown[] } {
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/');
  assert.equal(req.headers['x-amz-target'], 'GraniteServiceVersion20100801.GetMetricData');
  assert.equal(req.headers['content-type'], 'application/x-amz-json-1.0');
  if (keys.sessionToken) assert.equal(req.headers['x-amz-security-token'], keys.sessionToken);
  verifySigV4(req, keys, region, 'monitoring');
  const body = JSON.parse(req.body) as Record<string, unknown>;
  // AWS JSON 1.0 timestamps are epoch seconds.
  assert.equal(typeof body.StartTime, 'number');
  assert.equal(typeof body.EndTime, 'number');
  assert.ok(Math.abs((body.EndTime as number) - Date.now() / 1000) < 10, 'EndTime is now');
  assert.equal((body.EndTime as number) - (body.StartTime as number), lookbackS);
  assert.ok(Array.isArray(body.MetricDataQueries) && body.MetricDataQueries.length > 0);
  for (const q of body.MetricDataQueries as Array<Record<string, unknown>>) {
    assert.equal(typeof q.Id, 'string', 'every MetricDataQuery has an Id');
    assert.ok(q.MetricStat !== undefined || q.Expression !== undefined, 'MetricStat or Expression');
  }
  return body as { MetricDataQueries: unknown[] };
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string): Buffer =>
  createHmac('sha256', key).update(s, 'utf8').digest();

/** AWS Signature Version 4 (the published algorithm), recomputed from the request as received. */
export function verifySigV4(req: Captured, keys: AwsKeys, region: string, service: string): void {
  const auth = String(req.headers.authorization ?? '');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  assert.ok(m, `Authorization is a SigV4 header: ${auth.replace(/Signature=\w+/, 'Signature=…')}`);
  const [, keyId, date, scopeRegion, scopeService, signedHeaders, signature] = m;
  assert.equal(keyId, keys.accessKeyId);
  assert.equal(scopeRegion, region);
  assert.equal(scopeService, service);
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  assert.match(amzDate, /^\d{8}T\d{6}Z$/);
  assert.equal(amzDate.slice(0, 8), date);
  const names = signedHeaders!.split(';');
  for (const h of ['host', 'x-amz-date', 'x-amz-target', 'content-type'])
    assert.ok(names.includes(h), `${h} is signed`);
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const query = [...req.params.entries()]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join('&');
  const canonical = [req.method, req.path, query, canonicalHeaders, signedHeaders, sha256(req.body)].join(
    '\n',
  );
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const kDate = hmac(`AWS4${keys.secretAccessKey}`, date!);
  const kSigning = hmac(hmac(hmac(kDate, region), service), 'aws4_request');
  assert.equal(
    signature,
    createHmac('sha256', kSigning).update(toSign, 'utf8').digest('hex'),
    'SigV4 signature',
  );
}
