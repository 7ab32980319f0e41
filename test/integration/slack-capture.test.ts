// The Slack incoming-webhook stand-in answers like Slack: `ok` for a message, Slack's error words otherwise.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSlackCapture, type SlackCapture } from '../cluster/slack-capture.ts';

let slack: SlackCapture | undefined;

before(async () => {
  slack = await startSlackCapture();
});

after(async () => {
  await slack?.stop();
});

function post(url: string, body: string, contentType = 'application/json'): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
}

test('a message with text is recorded and answered ok', async () => {
  const s = slack!;
  const waiting = s.waitFor((m) => m.text.startsWith('New revision'), 5_000);
  const payload = {
    text: 'New revision detected, progressing canary analysis.',
    username: 'weir',
    channel: '#deploys',
  };
  const res = await post(s.url, JSON.stringify(payload));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok');
  const m = await waiting;
  assert.deepEqual(m.payload, payload);
  assert.ok(m.receivedAt instanceof Date);
  assert.equal(s.messages.length, 1);
});

test('invalid payloads get Slack errors and are not recorded', async () => {
  const s = slack!;
  const before = s.messages.length;
  const notJson = await post(s.url, '{"text": "unterminated');
  assert.equal(notJson.status, 400);
  assert.equal(await notJson.text(), 'invalid_payload');

  const empty = await post(s.url, JSON.stringify({ username: 'weir' }));
  assert.equal(empty.status, 400);
  assert.equal(await empty.text(), 'no_text');

  const wrongPath = await post(s.url.replace(/XXXX$/, 'YYYY'), JSON.stringify({ text: 'x' }));
  assert.equal(wrongPath.status, 404);
  assert.equal(await wrongPath.text(), 'no_service');
  assert.equal(s.messages.length, before);
});

test('failNext makes the next posts fail, then delivery resumes', async () => {
  const s = slack!;
  s.failNext(429, 1);
  const limited = await post(
    s.url,
    JSON.stringify({ blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }] }),
  );
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.equal(await limited.text(), 'rate_limited');
  const ok = await post(
    s.url,
    JSON.stringify({ blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }] }),
  );
  assert.equal(await ok.text(), 'ok');
  assert.equal(s.messages.at(-1)?.text, '', 'blocks-only message has empty text');
  await assert.rejects(
    s.waitFor((m) => m.text === 'never', 200, 'a message that never comes'),
    /a message that never comes/,
  );
});
