// Alert providers: what each one puts on the wire, severity routing, and failure isolation.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ALERT_PROVIDERS } from '../../src/api/alert-provider.ts';
import { isWeirError } from '../../src/errors.ts';
import { freePort } from '../cluster/ports.ts';
import { createLogger, silentLogger } from '../../src/log.ts';
import { dispatch, type AlertTarget } from '../../src/notify/dispatch.ts';
import { discordNotifier } from '../../src/notify/discord.ts';
import { msteamsNotifier } from '../../src/notify/msteams.ts';
import type { Notification, Notifier, Severity } from '../../src/notify/notifier.ts';
import { createNotifier, NOTIFIERS } from '../../src/notify/registry.ts';
import { slackNotifier } from '../../src/notify/slack.ts';
import { webhookNotifier } from '../../src/notify/webhook.ts';

interface Captured {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

// A capture server: records every POST; `answer` scripts the status per path.
const captured: Captured[] = [];
const answer = new Map<string, { status: number; body?: string; delayMs?: number }>();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    captured.push({
      path,
      headers: req.headers,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
    });
    const a = answer.get(path) ?? { status: 200, body: 'ok' };
    const reply = (): void => void res.writeHead(a.status).end(a.body ?? '');
    if (a.delayMs) setTimeout(reply, a.delayMs).unref();
    else reply();
  });
});
let base = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  captured.length = 0;
  answer.clear();
});

const n = (severity: Severity = 'error', message = 'Failed checks threshold reached 2'): Notification => ({
  canary: 'podinfo',
  namespace: 'test',
  severity,
  kind: 'rolled-back',
  message,
  fields: {
    phase: 'Failed',
    revision: 'ghcr.io/acme/podinfo:6.1.0',
    weight: 20,
    failedChecks: 2,
    threshold: 2,
  },
});
const opts = (path: string, extra: { channel?: string; username?: string; token?: string } = {}) => ({
  address: `${base}${path}`,
  timeoutMs: 2000,
  log: silentLogger(),
  ...extra,
});

function logSink(): { log: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger('debug', sink), text: () => lines.join('') };
}

async function rejectsAlert(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isWeirError(err, 'ALERT'), String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('dispatch', () => {
  // [target severity, notification severity, delivered?]
  const table: Array<[Severity, Severity, boolean]> = [
    ['info', 'info', true],
    ['info', 'warn', true],
    ['info', 'error', true],
    ['warn', 'info', false],
    ['warn', 'warn', true],
    ['warn', 'error', true],
    ['error', 'info', false],
    ['error', 'warn', false],
    ['error', 'error', true],
  ];

  test('severity filtering: info gets all, warn gets warn+error, error gets error', async () => {
    for (const [min, sev, expected] of table) {
      const got: Notification[] = [];
      const notifier: Notifier = { type: 'fake', send: async (x) => void got.push(x) };
      await dispatch(n(sev), [{ name: 'a', severity: min, notifier }], silentLogger());
      assert.equal(got.length, expected ? 1 : 0, `target ${min}, notification ${sev}`);
    }
  });

  test('a failing target does not block the others; the failure is logged by name, not URL', async () => {
    answer.set('/services/T0/B0/SECRETPATH', { status: 500, body: 'internal_error' });
    answer.set('/slow-but-fine', { status: 200, delayMs: 100 });
    const { log, text } = logSink();
    const targets: AlertTarget[] = [
      { name: 'team-slack', severity: 'info', notifier: slackNotifier(opts('/services/T0/B0/SECRETPATH')) },
      {
        name: 'throws',
        severity: 'info',
        notifier: { type: 'x', send: () => Promise.reject(new Error(base)) },
      },
      { name: 'ops-hook', severity: 'warn', notifier: webhookNotifier(opts('/slow-but-fine')) },
      { name: 'teams', severity: 'error', notifier: msteamsNotifier(opts('/teams')) },
    ];
    await dispatch(n('error'), targets, log);
    assert.deepEqual(captured.map((c) => c.path).sort(), [
      '/services/T0/B0/SECRETPATH',
      '/slow-but-fine',
      '/teams',
    ]);
    const logs = text();
    assert.match(logs, /"alert":"team-slack"/);
    assert.match(logs, /slack alert answered HTTP 500: internal_error/);
    assert.match(logs, /"alert":"throws"/);
    assert.ok(!logs.includes('SECRETPATH') && !logs.includes(base), logs);
  });

  test('no targets is a no-op', async () => {
    await dispatch(n(), [], silentLogger());
    assert.equal(captured.length, 0);
  });
});

describe('notifiers', () => {
  test('slack: text, coloured attachment with fields, channel and username', async () => {
    await slackNotifier(opts('/slack', { channel: '#deploys', username: 'weir' })).send(
      n('error', 'metric <request-success-rate> & co'),
    );
    const body = captured[0]!.body;
    assert.equal(body.text, 'podinfo.test: metric &lt;request-success-rate&gt; &amp; co');
    assert.equal(body.channel, '#deploys');
    assert.equal(body.username, 'weir');
    const [att] = body.attachments as Array<Record<string, unknown>>;
    assert.equal(att!.color, 'danger');
    assert.deepEqual(att!.fields, [
      { title: 'Canary', value: 'podinfo', short: true },
      { title: 'Namespace', value: 'test', short: true },
      { title: 'Phase', value: 'Failed', short: true },
      { title: 'Revision', value: 'ghcr.io/acme/podinfo:6.1.0', short: true },
      { title: 'Weight', value: '20%', short: true },
      { title: 'Failed checks', value: '2/2', short: true },
    ]);
  });

  test('slack: colours by severity, no channel/username unless set', async () => {
    const s = slackNotifier(opts('/slack'));
    for (const sev of ['info', 'warn'] as const) await s.send(n(sev));
    assert.deepEqual(
      captured.map((c) => (c.body.attachments as Array<{ color: string }>)[0]!.color),
      ['good', 'warning'],
    );
    assert.ok(!('channel' in captured[0]!.body) && !('username' in captured[0]!.body));
  });

  test('msteams: an Adaptive Card in a message envelope', async () => {
    await msteamsNotifier(opts('/teams')).send(n('warn', 'Canary is waiting for approval.'));
    const body = captured[0]!.body as {
      type: string;
      attachments: Array<{
        contentType: string;
        content: { type: string; body: Array<Record<string, unknown>> };
      }>;
    };
    assert.equal(body.type, 'message');
    const card = body.attachments[0]!;
    assert.equal(card.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(card.content.type, 'AdaptiveCard');
    const [title, text, facts] = card.content.body;
    assert.deepEqual(title, {
      type: 'TextBlock',
      text: 'podinfo.test',
      weight: 'Bolder',
      size: 'Medium',
      color: 'Warning',
    });
    assert.equal(text!.text, 'Canary is waiting for approval.');
    assert.deepEqual(
      (facts!.facts as Array<{ title: string }>).map((f) => f.title),
      ['Canary', 'Namespace', 'Phase', 'Revision', 'Weight', 'Failed checks'],
    );
  });

  test('discord: content, one embed with colour and inline fields, username, no mentions', async () => {
    await discordNotifier(opts('/discord', { username: 'weir', channel: 'ignored' })).send(
      n('info', 'New revision detected, progressing canary analysis. @everyone'),
    );
    const body = captured[0]!.body as {
      username: string;
      content: string;
      allowed_mentions: unknown;
      embeds: Array<{
        title: string;
        description: string;
        color: number;
        fields: Array<Record<string, unknown>>;
      }>;
    };
    assert.equal(body.username, 'weir');
    assert.equal(
      body.content,
      '**podinfo.test**: New revision detected, progressing canary analysis. @everyone',
    );
    assert.deepEqual(body.allowed_mentions, { parse: [] });
    assert.equal(body.embeds[0]!.title, 'podinfo.test');
    assert.equal(body.embeds[0]!.color, 0x2eb886);
    assert.deepEqual(body.embeds[0]!.fields[5], { name: 'Failed checks', value: '2/2', inline: true });
    assert.ok(!('channel' in body));
  });

  test('discord: long messages are clipped to Discord limits', async () => {
    await discordNotifier(opts('/discord')).send(n('error', 'x'.repeat(5000)));
    const body = captured[0]!.body as { content: string; embeds: Array<{ description: string }> };
    assert.equal(body.content.length, 2000);
    assert.equal(body.embeds[0]!.description.length, 4096);
  });

  test('webhook: the Notification itself, with a bearer token when set', async () => {
    await webhookNotifier(opts('/generic', { token: 'tok-123' })).send(n());
    await webhookNotifier(opts('/generic')).send(n('info'));
    assert.deepEqual(captured[0]!.body, n());
    assert.equal(captured[0]!.headers.authorization, 'Bearer tok-123');
    assert.match(String(captured[0]!.headers['content-type']), /^application\/json/);
    assert.equal(captured[1]!.headers.authorization, undefined);
  });

  for (const [type, make] of [
    ['slack', slackNotifier],
    ['msteams', msteamsNotifier],
    ['discord', discordNotifier],
    ['webhook', webhookNotifier],
  ] as const) {
    test(`${type}: HTTP errors, timeouts and refused connections are WeirError('ALERT') without the URL`, async () => {
      answer.set('/secret-path', { status: 400, body: 'invalid_payload' });
      await rejectsAlert(
        make(opts('/secret-path')).send(n()),
        new RegExp(`^${type} alert answered HTTP 400: invalid_payload$`),
      );
      answer.set('/secret-path', { status: 200, delayMs: 1000 });
      await rejectsAlert(
        make({ ...opts('/secret-path'), timeoutMs: 100 }).send(n()),
        /timed out after 100 ms/,
      );
      const closed = await freePort(); // fetch refuses "bad ports" such as 1 before connecting
      const refused = make({ ...opts(''), address: `http://127.0.0.1:${closed}/secret-path` }).send(n());
      await assert.rejects(refused, (err: unknown) => {
        assert.ok(isWeirError(err, 'ALERT'));
        assert.match(err.message, /failed: ECONNREFUSED/);
        assert.ok(!err.message.includes('secret-path') && err.cause === undefined);
        return true;
      });
    });
  }
});

describe('registry', () => {
  test('one factory per AlertProvider type', () => {
    assert.deepEqual(Object.keys(NOTIFIERS).sort(), [...ALERT_PROVIDERS].sort());
  });

  test('address and token come from the Secret', async () => {
    const notifier = createNotifier(
      { type: 'webhook', secretRef: { name: 'alerts' } },
      { address: `${base}/from-secret`, token: 't0k' },
      { log: silentLogger(), timeoutMs: 1000 },
    );
    assert.equal(notifier.type, 'webhook');
    await notifier.send(n());
    assert.equal(captured[0]!.path, '/from-secret');
    assert.equal(captured[0]!.headers.authorization, 'Bearer t0k');
  });

  test("the Secret's address wins over spec.address (as in Flagger); spec.address alone works", async () => {
    const both = createNotifier(
      { type: 'slack', address: `${base}/spec`, secretRef: { name: 'alerts' } },
      { address: `${base}/secret` },
      { log: silentLogger(), timeoutMs: 1000 },
    );
    await both.send(n());
    const spec = createNotifier({ type: 'discord', address: `${base}/spec` }, undefined, {
      log: silentLogger(),
      timeoutMs: 1000,
    });
    await spec.send(n());
    assert.deepEqual(
      captured.map((c) => c.path),
      ['/secret', '/spec'],
    );
  });

  test('no address anywhere is a CONFIG error naming the field', () => {
    const o = { log: silentLogger(), timeoutMs: 1000 };
    assert.throws(
      () => createNotifier({ type: 'slack', secretRef: { name: 'slack-url' } }, { token: 'x' }, o),
      (err: unknown) =>
        isWeirError(err, 'CONFIG') &&
        /spec\.secretRef: Secret "slack-url" has no key "address"/.test(err.message),
    );
    assert.throws(
      () => createNotifier({ type: 'slack' }, undefined, o),
      (err: unknown) => isWeirError(err, 'CONFIG') && /spec\.address or spec\.secretRef/.test(err.message),
    );
  });

  test('a non-http address from a Secret is rejected without echoing it', () => {
    assert.throws(
      () =>
        createNotifier(
          { type: 'msteams', secretRef: { name: 's' } },
          { address: 'file:///etc/passwd' },
          {
            log: silentLogger(),
            timeoutMs: 1000,
          },
        ),
      (err: unknown) => isWeirError(err, 'CONFIG') && !err.message.includes('passwd'),
    );
  });
});
