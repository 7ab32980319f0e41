// Helpers of the dashboard tests: ServiceAccount tokens (TokenRequest) with chosen rights on
// Canaries, an HTTP client that logs in and keeps the session cookie and CSRF token, and a reader
// of the Server-Sent Events stream.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { serviceAccountCredentials, type ApiCredentials } from './api-credentials.ts';

export interface SaToken {
  token: string;
  user: string;
  revoke(): Promise<void>;
}

/** A ServiceAccount bound to a ClusterRole with these verbs on canaries.weir.dev (or `resources`), and its token. */
export async function canaryToken(
  kc: KubeConfig,
  namespace: string,
  name: string,
  verbs: string[],
  resources = ['canaries'],
): Promise<SaToken> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-dash-'));
  try {
    const creds: ApiCredentials = await serviceAccountCredentials(kc, {
      name,
      namespace,
      dir,
      rules: [{ apiGroups: ['weir.dev'], resources, verbs }],
    });
    return { token: readFileSync(creds.tokenFile, 'utf8'), user: creds.user, revoke: creds.revoke };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request (node:http, so Origin and Sec-Fetch-Site can be set as a browser would). */
export function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface Client {
  cookie: string;
  csrf: string;
  get(path: string): Promise<Reply>;
  action(namespace: string, name: string, kind: string, headers?: Record<string, string>): Promise<Reply>;
}

/** Logs in through the login form with `token`; rejects when no session cookie comes back. */
export async function login(base: string, token: string): Promise<Client> {
  const r = await http(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  const set = [r.headers['set-cookie'] ?? []].flat()[0];
  if (r.status !== 303 || !set) throw new Error(`login: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
  const cookie = set.split(';')[0]!;
  const page = await http(`${base}/`, { headers: { cookie } });
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(page.body)?.[1];
  if (!csrf) throw new Error(`no CSRF token on the list page: ${page.body.slice(0, 300)}`);
  return {
    cookie,
    csrf,
    get: (path) => http(`${base}${path}`, { headers: { cookie } }),
    action: (namespace, name, kind, headers = {}) =>
      http(`${base}/canaries/${namespace}/${name}/actions/${kind}`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrf, origin: base, 'sec-fetch-site': 'same-origin', ...headers },
      }),
  };
}

export interface EventStream {
  /** Resolves with the first event's data (parsed JSON) that `ok` accepts, seen or still to come. */
  waitFor<T>(what: string, ok: (event: string, data: T) => boolean, timeoutMs: number): Promise<T>;
  close(): void;
}

export function openEvents(url: string, cookie: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const seen: Array<{ event: string; data: unknown }> = [];
    const waiters = new Set<() => void>();
    const req = request(url, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) seen.push({ event, data: JSON.parse(data) });
        }
        for (const w of waiters) w();
      });
      resolve({
        waitFor<T>(what: string, ok: (event: string, data: T) => boolean, timeoutMs: number) {
          return new Promise<T>((done, fail) => {
            const check = () => {
              const hit = seen.find((e) => ok(e.event, e.data as T));
              if (!hit) return;
              waiters.delete(check);
              clearTimeout(timer);
              done(hit.data as T);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`events: no ${what} within ${timeoutMs} ms; seen ${seen.length} events`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => reject(err));
    req.end();
  });
}
