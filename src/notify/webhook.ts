// Generic JSON alerts: the Notification itself is the body (Flagger #1769 asked for this), with
// `token` sent as `Authorization: Bearer`. postJson is shared by the Teams and Discord notifiers.
import axios from 'axios';
import { WeirError } from '../errors.ts';
import type { Notification, NotifierFactory } from './notifier.ts';

const MAX_BODY_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 200;

/**
 * POSTs JSON and throws WeirError('ALERT') on a transport error, a timeout or a status >= 300.
 * Messages name the provider type, never the URL: alert URLs are secrets (Slack, Teams, Discord).
 */
export async function postJson(
  type: string,
  url: string,
  body: unknown,
  opts: { timeoutMs: number; headers?: Record<string, string> },
): Promise<void> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let status: number;
  let data: unknown;
  try {
    const res = await axios.post<string>(url, body, {
      timeout: opts.timeoutMs,
      signal,
      headers: { 'content-type': 'application/json', ...opts.headers },
      responseType: 'text',
      transformResponse: (d: unknown) => d,
      validateStatus: () => true,
      maxRedirects: 0,
      maxContentLength: MAX_BODY_BYTES,
    });
    ({ status, data } = res);
  } catch (err) {
    // No `cause`: axios errors carry the request config, URL and Authorization header included.
    const code = axios.isAxiosError(err) ? err.code : undefined;
    if (signal.aborted || code === 'ECONNABORTED' || code === 'ETIMEDOUT')
      throw new WeirError('ALERT', `${type} alert timed out after ${opts.timeoutMs} ms`);
    throw new WeirError('ALERT', `${type} alert failed: ${code ?? 'request error'}`);
  }
  if (status >= 300) {
    const text = excerpt(typeof data === 'string' ? data : '');
    throw new WeirError('ALERT', `${type} alert answered HTTP ${status}${text ? `: ${text}` : ''}`);
  }
}

export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

export const webhookNotifier: NotifierFactory = (opts) => ({
  type: 'webhook',
  send: (n: Notification) =>
    postJson('webhook', opts.address, n, {
      timeoutMs: opts.timeoutMs,
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    }),
});

/** Title and the facts every provider shows, in one place so all providers agree. */
export function summary(n: Notification): { title: string; facts: Array<[string, string]> } {
  const f = n.fields;
  return {
    title: `${n.canary}.${n.namespace}`,
    facts: [
      ['Canary', n.canary],
      ['Namespace', n.namespace],
      ['Phase', f.phase],
      ['Revision', f.revision || '-'],
      ['Weight', `${f.weight}%`],
      ['Failed checks', `${f.failedChecks}/${f.threshold}`],
    ],
  };
}
