// A loopback stand-in for a Slack incoming webhook, so alert tests see exactly what Weir posted.
//
// It answers like hooks.slack.com does: POST a JSON body (or form-encoded `payload=<json>`, the legacy
// form) to the webhook path -> 200 `ok`; a body that is not a JSON object -> 400 `invalid_payload`;
// a JSON object with no `text`, `blocks` or `attachments` -> 400 `no_text` (what Slack really
// answers for that); any other path -> 404 `no_service`. `failNext` makes the next accepted posts
// fail instead (e.g. 429 `rate_limited` with Retry-After, or 500) to exercise retry paths.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WAIT_SCALE } from './proc.ts';

export interface SlackPayload {
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  username?: string;
  channel?: string;
  icon_emoji?: string;
  icon_url?: string;
  [key: string]: unknown;
}

/** An accepted post. */
export interface SlackMessage {
  receivedAt: Date;
  payload: SlackPayload;
  /** payload.text, or '' when the message is blocks/attachments only */
  text: string;
  contentType: string;
}

/** Every request, accepted or not, with the answer it got. */
export interface SlackRequestRecord {
  receivedAt: Date;
  method: string;
  path: string;
  status: number;
  response: string;
  body: string;
}

export interface SlackCapture {
  /** the webhook URL to configure, http://127.0.0.1:port/services/T000/B000/XXXX */
  url: string;
  messages: SlackMessage[];
  requests: SlackRequestRecord[];
  /** First message (already received or future) matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (m: SlackMessage) => boolean, timeoutMs?: number, what?: string): Promise<SlackMessage>;
  /** The next `times` otherwise-valid posts get `status` (body defaults to Slack's word for it). */
  failNext(status: number, times?: number, body?: string): void;
  stop(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
const FAILURE_BODIES: Record<number, string> = {
  400: 'invalid_payload',
  403: 'action_prohibited',
  404: 'channel_not_found',
  410: 'channel_is_archived',
  429: 'rate_limited',
};

export async function startSlackCapture(opts: { path?: string } = {}): Promise<SlackCapture> {
  const hookPath = opts.path ?? '/services/T000/B000/XXXX';
  const messages: SlackMessage[] = [];
  const requests: SlackRequestRecord[] = [];
  const waiters = new Set<(m: SlackMessage) => void>();
  const failures: Array<{ status: number; body: string }> = [];

  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const answer = (status: number, text: string, headers: Record<string, string> = {}): void => {
        requests.push({
          receivedAt: new Date(),
          method: req.method ?? '',
          path: req.url ?? '',
          status,
          response: text,
          body: body ?? '',
        });
        res.writeHead(status, { 'content-type': 'text/html', ...headers }).end(text);
      };
      if (new URL(req.url ?? '/', 'http://x').pathname !== hookPath) return answer(404, 'no_service');
      if (req.method !== 'POST') return answer(405, 'invalid_method');
      if (body === undefined) return answer(413, 'request_too_large');
      const contentType = req.headers['content-type'] ?? '';
      const parsed = parsePayload(body, contentType);
      if (parsed === 'invalid') return answer(400, 'invalid_payload');
      if (!hasContent(parsed)) return answer(400, 'no_text');
      const failure = failures.shift();
      if (failure)
        return answer(failure.status, failure.body, failure.status === 429 ? { 'retry-after': '1' } : {});
      const message: SlackMessage = {
        receivedAt: new Date(),
        payload: parsed,
        text: typeof parsed.text === 'string' ? parsed.text : '',
        contentType,
      };
      messages.push(message);
      answer(200, 'ok');
      for (const w of waiters) w(message);
    });
  });
  const port = await listen(server);

  return {
    url: `http://127.0.0.1:${port}${hookPath}`,
    messages,
    requests,
    waitFor(pred, timeoutMs = 10_000, what = 'a matching Slack message') {
      const already = messages.find(pred);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const onMessage = (m: SlackMessage): void => {
          if (!pred(m)) return;
          done();
          resolve(m);
        };
        const timer = setTimeout(() => {
          done();
          const seen = messages.map((m) => JSON.stringify(m.text)).join(', ') || 'none';
          reject(
            new Error(
              `timed out after ${timeoutMs * WAIT_SCALE} ms waiting for ${what}; messages so far: ${seen}`,
            ),
          );
        }, timeoutMs * WAIT_SCALE);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(onMessage);
        };
        waiters.add(onMessage);
      });
    },
    failNext(status, times = 1, body) {
      const text = body ?? FAILURE_BODIES[status] ?? (status >= 500 ? 'internal_error' : 'error');
      for (let i = 0; i < times; i++) failures.push({ status, body: text });
    },
    stop: () => closeServer(server),
  };
}

/** The body as text, or undefined when it exceeds MAX_BODY (the rest is drained, not kept). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

/** JSON body, or the legacy `payload=<json>` form; 'invalid' unless it yields a JSON object. */
function parsePayload(body: string, contentType: string): SlackPayload | 'invalid' {
  let json = body;
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    json = new URLSearchParams(body).get('payload') ?? '';
  }
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as SlackPayload) : 'invalid';
  } catch {
    return 'invalid';
  }
}

function hasContent(p: SlackPayload): boolean {
  const nonEmpty = (a: unknown): boolean => Array.isArray(a) && a.length > 0;
  return (
    (typeof p.text === 'string' && p.text.trim() !== '') || nonEmpty(p.blocks) || nonEmpty(p.attachments)
  );
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
