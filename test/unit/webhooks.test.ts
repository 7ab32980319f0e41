// Flagger-compatible webhooks against a real HTTP peer on 127.0.0.1.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Webhook } from '../../src/api/canary.ts';
import { callWebhook, fireAndForget, runGate } from '../../src/hooks/webhooks.ts';
import { createLogger, silentLogger } from '../../src/log.ts';

interface Seen {
  path: string;
  method: string;
  contentType: string;
  body: unknown;
}

type Reply = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

// Each path answers through a scripted reply; every request is recorded.
const replies = new Map<string, Reply>();
const seen: Seen[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    const s: Seen = {
      path,
      method: req.method ?? '',
      contentType: req.headers['content-type'] ?? '',
      body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown,
    };
    seen.push(s);
    const reply = replies.get(new URL(path, 'http://x').pathname) ?? status(200);
    reply(req, res, s);
  });
});
let base = '';

function status(code: number, body = ''): Reply {
  return (_req, res) => res.writeHead(code, { 'content-type': 'text/plain' }).end(body);
}

/** Answers `failures` times with 500, then 200. */
function flaky(failures: number): Reply {
  let n = 0;
  return (req, res, s) => (n++ < failures ? status(500, 'boom')(req, res, s) : status(200)(req, res, s));
}

const calls = (path: string): number => seen.filter((s) => s.path.startsWith(path)).length;

function hook(name: string, path: string, extra: Partial<Webhook> = {}): Webhook {
  return { name, type: 'rollout', url: `${base}${path}`, ...extra };
}

const payload = { name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: 'abc123' };
const opts = { log: silentLogger(), backoffMs: 10 };

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  replies.clear();
  seen.length = 0;
});

describe('callWebhook', () => {
  test('POSTs exactly {name, namespace, phase, checksum, metadata} as JSON', async () => {
    const r = await callWebhook(hook('load', '/load', { metadata: { cmd: 'hey -z 1m' } }), payload, opts);
    assert.deepEqual(r, { ok: true });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'POST');
    assert.match(seen[0]!.contentType, /^application\/json/);
    assert.deepEqual(seen[0]!.body, { ...payload, metadata: { cmd: 'hey -z 1m' } });
    assert.deepEqual(Object.keys(seen[0]!.body as object), [
      'name',
      'namespace',
      'phase',
      'checksum',
      'metadata',
    ]);
  });

  test('metadata is {} without hook metadata; payload metadata is merged over the hook', async () => {
    await callWebhook(hook('a', '/a'), payload, opts);
    assert.deepEqual((seen[0]!.body as { metadata: unknown }).metadata, {});
    await callWebhook(
      hook('b', '/b', { metadata: { team: 'x', eventType: 'old' } }),
      { ...payload, metadata: { eventType: 'Normal', eventMessage: 'hi' } },
      opts,
    );
    assert.deepEqual((seen[1]!.body as { metadata: unknown }).metadata, {
      team: 'x',
      eventType: 'Normal',
      eventMessage: 'hi',
    });
  });

  for (const code of [200, 201, 202]) {
    test(`HTTP ${code} passes`, async () => {
      replies.set('/s', status(code));
      assert.deepEqual(await callWebhook(hook('s', '/s'), payload, opts), { ok: true });
    });
  }

  for (const code of [203, 204, 302, 403, 500]) {
    test(`HTTP ${code} fails, naming the hook, URL and status`, async () => {
      replies.set('/f', status(code, code === 204 ? '' : `  denied\n  by gate ${code} `));
      const r = await callWebhook(hook('gate', '/f'), payload, opts);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.match(r.message, /webhook "gate"/);
      assert.ok(r.message.includes(`${base}/f`), r.message);
      assert.match(r.message, new RegExp(`HTTP ${code}`));
      if (code !== 204) assert.match(r.message, new RegExp(`denied by gate ${code}$`));
    });
  }

  test('a long body is cut to a short excerpt', async () => {
    replies.set('/long', status(500, 'x'.repeat(5000)));
    const r = await callWebhook(hook('long', '/long'), payload, opts);
    assert.ok(!r.ok && r.message.length < 400 && r.message.endsWith('…'));
  });

  test('credentials in the URL (user info, query) never reach the message', async () => {
    replies.set('/q', status(500));
    const url = `http://user:s3cret@127.0.0.1:${new URL(base).port}/q?token=s3cret`;
    const r = await callWebhook({ name: 'q', type: 'rollout', url }, payload, opts);
    assert.ok(!r.ok);
    assert.ok(!r.message.includes('s3cret'), r.message);
    assert.ok(r.message.includes(`${base}/q`), r.message);
  });

  test('times out after hook.timeout', async () => {
    replies.set('/slow', (_req, res) => setTimeout(() => res.end(), 10_000).unref());
    const t0 = Date.now();
    const r = await callWebhook(hook('slow', '/slow', { timeout: '200ms' }), payload, opts);
    assert.ok(Date.now() - t0 < 5000, 'cut at the timeout, not waited for');
    assert.deepEqual(r, { ok: false, message: `webhook "slow" (${base}/slow) timed out after 200 ms` });
  });

  test('defaultTimeoutMs applies when the hook has no timeout', async () => {
    replies.set('/slow', (_req, res) => setTimeout(() => res.end(), 2000).unref());
    const r = await callWebhook(hook('slow', '/slow'), payload, { ...opts, defaultTimeoutMs: 150 });
    assert.ok(!r.ok && r.message.endsWith('timed out after 150 ms'), JSON.stringify(r));
  });

  test('connection refused is a failure, not a throw', async () => {
    const r = await callWebhook(
      { name: 'down', type: 'rollout', url: 'http://127.0.0.1:1/x' },
      payload,
      opts,
    );
    assert.ok(!r.ok && /webhook "down" .* failed: ECONNREFUSED/.test(r.message), JSON.stringify(r));
  });

  test('fails twice then ok: retries 2 passes after 3 calls', async () => {
    replies.set('/flaky', flaky(2));
    const r = await callWebhook(hook('flaky', '/flaky', { retries: 2 }), payload, opts);
    assert.deepEqual(r, { ok: true });
    assert.equal(calls('/flaky'), 3);
  });

  test('fails twice then ok: retries 1 fails after 2 calls', async () => {
    replies.set('/flaky', flaky(2));
    const r = await callWebhook(hook('flaky', '/flaky', { retries: 1 }), payload, opts);
    assert.ok(!r.ok && /HTTP 500: boom \(after 2 attempts\)$/.test(r.message), JSON.stringify(r));
    assert.equal(calls('/flaky'), 2);
  });

  test('a definite answer (403, closed gate) is not retried', async () => {
    replies.set('/closed', status(403, 'Forbidden'));
    const r = await callWebhook(hook('closed', '/closed', { retries: 3 }), payload, opts);
    assert.equal(r.ok, false);
    assert.equal(calls('/closed'), 1);
  });

  test('metadata values are never logged', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    replies.set('/err', status(500));
    const log = createLogger('trace', sink);
    const hooks = [hook('e', '/err', { type: 'event', metadata: { token: 'TOPSECRET' } })];
    await fireAndForget(hooks, 'event', payload, { log, backoffMs: 10 });
    assert.ok(lines.length > 0);
    assert.ok(!lines.join('').includes('TOPSECRET'));
  });
});

describe('runGate', () => {
  const mixed = (): Webhook[] => [
    hook('gate-1', '/g1', { type: 'confirm-promotion' }),
    hook('gate-2', '/g2', { type: 'confirm-promotion' }),
    hook('load', '/load', { type: 'rollout' }),
    hook('pre', '/pre', { type: 'pre-rollout' }),
    hook('rb', '/rb', { type: 'rollback' }),
  ];

  test('calls only hooks of the requested type, all must pass', async () => {
    assert.deepEqual(await runGate(mixed(), 'confirm-promotion', payload, opts), { ok: true });
    assert.deepEqual(seen.map((s) => s.path).sort(), ['/g1', '/g2']);
  });

  test('one failing hook fails the gate, and its message names it', async () => {
    replies.set('/g2', status(403, 'closed'));
    const r = await runGate(mixed(), 'confirm-promotion', payload, opts);
    assert.ok(!r.ok && r.message.includes('webhook "gate-2"') && !r.message.includes('gate-1'));
    assert.equal(seen.length, 2); // both ran
  });

  test('no hook of that type (or no hooks) is ok', async () => {
    assert.deepEqual(await runGate(mixed(), 'confirm-traffic-increase', payload, opts), { ok: true });
    assert.deepEqual(await runGate(undefined, 'rollout', payload, opts), { ok: true });
    assert.equal(seen.length, 0);
  });

  test('hooks run concurrently', async () => {
    // Both requests are in flight at once (counted by the server, not timed).
    let inFlight = 0;
    let most = 0;
    const slow: Reply = (_req, res) => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.end();
      }, 300).unref();
    };
    replies.set('/g1', slow);
    replies.set('/g2', slow);
    await runGate(mixed(), 'confirm-promotion', payload, opts);
    assert.equal(most, 2, 'both gates were asked before either answered');
  });

  test('rollback: ok means "rollback requested"; none configured or none succeeding is not ok', async () => {
    assert.equal((await runGate(undefined, 'rollback', payload, opts)).ok, false);
    replies.set('/rb', status(404));
    assert.equal((await runGate(mixed(), 'rollback', payload, opts)).ok, false);
    replies.set('/rb', status(200));
    const two = [...mixed(), hook('rb-down', '/rb-down', { type: 'rollback' })];
    replies.set('/rb-down', status(500));
    assert.deepEqual(await runGate(two, 'rollback', payload, opts), { ok: true });
  });
});

describe('fireAndForget', () => {
  test('calls every hook of the type and never rejects on failures', async () => {
    replies.set('/p1', status(500));
    const hooks = [
      hook('p1', '/p1', { type: 'post-rollout' }),
      hook('p2', '/p2', { type: 'post-rollout' }),
      hook('ev', '/ev', { type: 'event' }),
      { name: 'down', type: 'post-rollout' as const, url: 'http://127.0.0.1:1/' },
    ];
    await fireAndForget(hooks, 'post-rollout', payload, opts);
    assert.deepEqual(seen.map((s) => s.path).sort(), ['/p1', '/p2']);
  });
});
