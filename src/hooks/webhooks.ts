// Flagger-compatible analysis webhooks: POST `{name, namespace, phase, checksum, metadata}` as JSON,
// and any status above 202 is a failure, so Flagger's load tester and gates work unchanged.
import axios from 'axios';
import type { Webhook, WebhookType } from '../api/canary.ts';
import type { GateResult } from '../canary/model.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { Logger } from '../log.ts';

export interface WebhookPayload {
  name: string;
  namespace: string;
  phase: string;
  /** The revision under analysis (status.lastAppliedSpec), Flagger's `checksum`. */
  checksum: string;
  /** Merged over hook.metadata, e.g. `eventMessage`, `eventType`, `timestamp` for `event` hooks. */
  metadata?: Record<string, string>;
}

export interface WebhookOptions {
  log: Logger;
  /** When the hook has no `timeout`; Flagger's default is 10s. */
  defaultTimeoutMs?: number;
  /** First delay between retries, doubled each time up to MAX_BACKOFF_MS. */
  backoffMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 2_000;
const MAX_BODY_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 200;
const OK: GateResult = { ok: true };

type Attempt = { ok: true } | { ok: false; message: string; retryable: boolean };

/**
 * Calls one webhook, with `hook.retries` extra attempts on network errors, timeouts, 408, 429 and 5xx
 * (other statuses are answers, e.g. a closed gate's 403, and are not retried). Never throws.
 */
export async function callWebhook(
  hook: Webhook,
  payload: WebhookPayload,
  opts: WebhookOptions,
): Promise<GateResult> {
  const timeoutMs = hook.timeout
    ? parseDuration(hook.timeout)
    : (opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  const attempts = 1 + Math.max(0, hook.retries ?? 0);
  const body = {
    name: payload.name,
    namespace: payload.namespace,
    phase: payload.phase,
    checksum: payload.checksum,
    metadata: { ...hook.metadata, ...payload.metadata },
  };
  const where = `webhook "${hook.name}" (${safeUrl(hook.url)})`;
  let last: Attempt = { ok: false, message: 'not called', retryable: false };
  for (let i = 1; i <= attempts; i++) {
    if (i > 1) await sleep(Math.min((opts.backoffMs ?? DEFAULT_BACKOFF_MS) * 2 ** (i - 2), MAX_BACKOFF_MS));
    last = await attempt(hook.url, body, timeoutMs);
    // Metadata values may hold secrets (tokens for the load tester): never log them or the body.
    opts.log.debug(
      { webhook: hook.name, type: hook.type, url: safeUrl(hook.url), attempt: i, ok: last.ok },
      'webhook called',
    );
    if (last.ok) return OK;
    if (!last.retryable) break;
  }
  if (last.ok) return OK;
  const tries = attempts > 1 && last.retryable ? ` (after ${attempts} attempts)` : '';
  return { ok: false, message: `${where} ${last.message}${tries}` };
}

async function attempt(url: string, body: object, timeoutMs: number): Promise<Attempt> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await axios.post<string>(url, body, {
      timeout: timeoutMs,
      signal,
      headers: { 'content-type': 'application/json' },
      responseType: 'text',
      transformResponse: (d: unknown) => d, // keep the raw text for the excerpt
      validateStatus: () => true,
      maxRedirects: 0, // a redirect is a status > 202, i.e. a failure, as in Flagger
      maxContentLength: MAX_BODY_BYTES,
    });
    if (res.status <= 202) return { ok: true };
    const text = excerpt(typeof res.data === 'string' ? res.data : '');
    return {
      ok: false,
      message: `answered HTTP ${res.status}${text ? `: ${text}` : ''}`,
      retryable: res.status === 408 || res.status === 429 || res.status >= 500,
    };
  } catch (err) {
    const code = axios.isAxiosError(err) ? err.code : undefined;
    if (signal.aborted || code === 'ECONNABORTED' || code === 'ETIMEDOUT')
      return { ok: false, message: `timed out after ${timeoutMs} ms`, retryable: true };
    // Only the error code or message: axios errors carry the request config (URL, headers).
    const why = code ?? (err instanceof Error ? err.message : String(err));
    return { ok: false, message: `failed: ${why}`, retryable: true };
  }
}

/**
 * Runs every hook of `type` concurrently; all must answer <= 202 for `{ok: true}`. No hook of that
 * type is `{ok: true}`, except for `rollback`.
 *
 * `rollback` is inverted, as in Flagger: `{ok: true}` means "rollback requested", which happens
 * when ANY rollback hook answers <= 202; with no rollback hook, or none succeeding, the result is
 * `{ok: false}` (no rollback). An unreachable rollback hook therefore never rolls a canary back.
 */
export async function runGate(
  hooks: Webhook[] | undefined,
  type: WebhookType,
  payload: WebhookPayload,
  opts: WebhookOptions,
): Promise<GateResult> {
  const selected = ofType(hooks, type);
  const results = await Promise.all(selected.map((h) => callWebhook(h, payload, opts)));
  if (type === 'rollback') {
    const by = selected.filter((_, i) => results[i]?.ok).map((h) => h.name);
    if (by.length === 0) return { ok: false, message: 'no rollback webhook requested a rollback' };
    opts.log.info({ webhooks: by }, 'rollback requested by webhook');
    return OK;
  }
  const failures = results.flatMap((r) => (r.ok ? [] : [r.message]));
  return failures.length === 0 ? OK : { ok: false, message: failures.join('; ') };
}

/** Notification hooks (`event`, `post-rollout`, ...): failures are logged, never returned or thrown. */
export async function fireAndForget(
  hooks: Webhook[] | undefined,
  type: WebhookType,
  payload: WebhookPayload,
  opts: WebhookOptions,
): Promise<void> {
  await Promise.all(
    ofType(hooks, type).map(async (h) => {
      const r = await callWebhook(h, payload, opts);
      if (!r.ok) opts.log.warn({ webhook: h.name, type }, r.message);
    }),
  );
}

function ofType(hooks: Webhook[] | undefined, type: WebhookType): Webhook[] {
  // `type` defaults to `rollout` in the schema; tolerate objects that skipped defaulting.
  return (hooks ?? []).filter((h) => (h.type ?? 'rollout') === type);
}

/** Scheme, host and path only: user info and query strings may carry credentials. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
