// The Slack notifier through the real @slack/webhook client against the Slack stand-in, including
// Slack's own failure answers, and through the registry and dispatch() as the controller uses them.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { isWeirError } from '../../src/errors.ts';
import { createLogger, silentLogger } from '../../src/log.ts';
import { dispatch } from '../../src/notify/dispatch.ts';
import type { Notification } from '../../src/notify/notifier.ts';
import { createNotifier } from '../../src/notify/registry.ts';
import { slackNotifier } from '../../src/notify/slack.ts';
import { startSlackCapture, type SlackCapture } from '../cluster/slack-capture.ts';

let slack: SlackCapture | undefined;

before(async () => {
  slack = await startSlackCapture();
});
after(async () => {
  await slack?.stop();
});

const rolledBack: Notification = {
  canary: 'podinfo',
  namespace: 'test',
  severity: 'error',
  kind: 'rolled-back',
  message: 'Failed checks threshold reached 2: request-success-rate 91.2 < 99',
  fields: {
    phase: 'Failed',
    revision: 'ghcr.io/acme/podinfo:6.1.0',
    weight: 20,
    failedChecks: 2,
    threshold: 2,
  },
};

test('the captured message carries the text, the fields, channel and username', async () => {
  const s = slack!;
  const notifier = slackNotifier({
    address: s.url,
    channel: '#deploys',
    username: 'weir',
    timeoutMs: 5000,
    log: silentLogger(),
  });
  await notifier.send(rolledBack);
  const m = await s.waitFor((x) => x.text.includes('Failed checks threshold reached 2'), 5000);
  assert.equal(m.text, 'podinfo.test: Failed checks threshold reached 2: request-success-rate 91.2 &lt; 99');
  assert.match(m.contentType, /^application\/json/);
  assert.equal(m.payload.channel, '#deploys');
  assert.equal(m.payload.username, 'weir');
  const [att] = m.payload.attachments as Array<{
    color: string;
    fields: Array<{ title: string; value: string }>;
  }>;
  assert.equal(att!.color, 'danger');
  const fields = Object.fromEntries(att!.fields.map((f) => [f.title, f.value]));
  assert.deepEqual(fields, {
    Canary: 'podinfo',
    Namespace: 'test',
    Phase: 'Failed',
    Revision: 'ghcr.io/acme/podinfo:6.1.0',
    Weight: '20%',
    'Failed checks': '2/2',
  });
});

test("Slack's failure answers become WeirError('ALERT') without the webhook URL", async () => {
  const s = slack!;
  const notifier = slackNotifier({ address: s.url, timeoutMs: 5000, log: silentLogger() });
  for (const status of [500, 429, 404]) {
    s.failNext(status);
    const count = s.messages.length;
    await assert.rejects(notifier.send(rolledBack), (err: unknown) => {
      assert.ok(isWeirError(err, 'ALERT'), String(err));
      assert.match(err.message, new RegExp(`^slack alert answered HTTP ${status}: \\w+`));
      assert.ok(!err.message.includes(s.url) && !err.message.includes('/services/'), err.message);
      return true;
    });
    assert.equal(s.messages.length, count, 'a failed post is not recorded as a message');
  }
  // The next post goes through again.
  await notifier.send({ ...rolledBack, severity: 'info', message: 'recovered' });
  await s.waitFor((m) => m.text.endsWith('recovered'), 5000);
});

test('registry + dispatch: a Secret address reaches Slack; a Slack failure is logged without the URL', async () => {
  const s = slack!;
  const lines: string[] = [];
  const log = createLogger(
    'debug',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  const notifier = createNotifier(
    { type: 'slack', secretRef: { name: 'slack-url' } },
    { address: s.url },
    {
      log,
      timeoutMs: 5000,
    },
  );
  const target = { name: 'deploys', severity: 'warn' as const, notifier };
  await dispatch({ ...rolledBack, severity: 'info', message: 'filtered out' }, [target], log);
  await dispatch({ ...rolledBack, message: 'Progress deadline exceeded' }, [target], log);
  await s.waitFor((m) => m.text.endsWith('Progress deadline exceeded'), 5000);
  assert.ok(!s.messages.some((m) => m.text.endsWith('filtered out')));

  s.failNext(500);
  await dispatch(rolledBack, [target], log);
  const logs = lines.join('');
  assert.match(logs, /"alert":"deploys".*slack alert answered HTTP 500/);
  assert.ok(!logs.includes('/services/'), logs);
});
