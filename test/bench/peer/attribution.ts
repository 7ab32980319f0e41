// Who asked what: API requests from the API server's audit log (every request, one user per
// controller) and metric queries from each Prometheus' query log, counted in time windows.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { WRITE_VERBS, type AuditEvent } from '../../cluster/audit.ts';

export interface ApiRequest {
  user: string;
  /** ms since the epoch, when the API server received it */
  at: number;
  verb: string;
  /** resource[/subresource] */
  resource: string;
  userAgent: string;
}

export const isWrite = (r: ApiRequest): boolean => WRITE_VERBS.has(r.verb);

/**
 * Every request of `users`, once each (a watch is logged when it starts and when it ends). Streamed:
 * at a thousand Canaries the log of every request runs to hundreds of megabytes.
 */
export async function readAudit(path: string, users: ReadonlySet<string>): Promise<ApiRequest[]> {
  const seen = new Set<string>();
  const out: ApiRequest[] = [];
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (!line) continue;
    const e = JSON.parse(line) as AuditEvent;
    const user = e.user?.username ?? '';
    if (!users.has(user) || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const ref = e.objectRef ?? {};
    out.push({
      user,
      at: Date.parse(e.requestReceivedTimestamp),
      verb: e.verb,
      resource: `${ref.resource ?? '?'}${ref.subresource ? `/${ref.subresource}` : ''}`,
      userAgent: e.userAgent ?? '',
    });
  }
  return out;
}

/** Times (ms since the epoch) of the queries a Prometheus answered, from its query log. */
export async function readQueryLog(path: string): Promise<number[]> {
  if (!existsSync(path)) return [];
  const out: number[] = [];
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (!line) continue;
    const ts = (JSON.parse(line) as { ts?: string }).ts;
    if (ts) out.push(Date.parse(ts));
  }
  return out;
}

export interface Window {
  from: number;
  to: number;
}

export const inWindow = (at: number, w: Window): boolean => at >= w.from && at < w.to;

/** `verb resource` → count, largest first. */
export function breakdown(reqs: ApiRequest[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of reqs)
    counts.set(`${r.verb} ${r.resource}`, (counts.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
}
