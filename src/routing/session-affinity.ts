// Flagger's cookie-based session affinity (analysis.sessionAffinity), shared by the routers that pin
// sessions (istio, gatewayapi). While the canary has weight, responses from the canary set
// `<cookieName>=<random>` and a rule before the weighted one sends requests carrying it to the
// canary, so a user who reached the canary once stays there; with primaryCookieName the primary's
// responses set a cookie for one analysis interval that keeps such users on the primary. At weight 0
// (promotion, rollback) a rule expires the run's cookie.
//
// Flagger keeps the cookie values in the Canary's status; Weir's routers do not write status, so
// they live on the route object itself (annotations below), read back from the informer cache:
// a reconcile keeps them, and a route deleted by hand gets new ones.
import { randomInt } from 'node:crypto';
import type { CanarySpec } from '../api/canary.ts';
import type { Obj } from '../kube/client.ts';
import type { Traffic } from '../vocab/traffic.ts';
import type { RouteTarget } from './router.ts';
import { parseDuration } from '../vocab/duration.ts';
import { escapeRegex } from './string-match.ts';

export type SessionAffinity = NonNullable<CanarySpec['analysis']['sessionAffinity']>;

/** `name=value` of each cookie in play. */
export interface Cookies {
  canary?: string;
  primary?: string;
  /** The cookie of the run that ended, expired by a rule while the canary has no weight. */
  previous?: string;
}

export const COOKIE_ANNOTATIONS: Record<keyof Cookies, string> = {
  canary: 'weir.dev/session-affinity-cookie',
  primary: 'weir.dev/primary-session-affinity-cookie',
  previous: 'weir.dev/previous-session-affinity-cookie',
};

/** Rule names, so that the routes read back tell these rules from an A/B rule. */
export const AFFINITY_RULES = {
  canary: 'weir-sticky-canary',
  primary: 'weir-sticky-primary',
  expire: 'weir-expire-cookie',
} as const;
export const AFFINITY_RULE_NAMES: readonly string[] = Object.values(AFFINITY_RULES);

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Ten random letters, as Flagger's cookie values. */
export function randomCookieValue(): string {
  return Array.from({ length: 10 }, () => LETTERS[randomInt(LETTERS.length)]).join('');
}

export function storedCookies(vs: Obj | undefined): Cookies {
  const annotations = vs?.metadata?.annotations ?? {};
  const out: Cookies = {};
  for (const key of Object.keys(COOKIE_ANNOTATIONS) as Array<keyof Cookies>) {
    const v = annotations[COOKIE_ANNOTATIONS[key]];
    if (v && /^[^=;\s]+=[A-Za-z]+$/.test(v)) out[key] = v;
  }
  return out;
}

const named = (cookie: string | undefined, name: string | undefined) =>
  cookie !== undefined && name !== undefined && cookie.startsWith(`${name}=`) ? cookie : undefined;

/**
 * The cookies for `traffic`: a run with canary weight keeps the stored cookie (a new one when there
 * is none or its name changed); at weight 0 the run's cookie becomes the previous one.
 */
export function nextCookies(
  sa: SessionAffinity,
  stored: Cookies,
  traffic: Traffic,
  random: () => string = randomCookieValue,
): Cookies {
  if (traffic.canary > 0 && !traffic.match) {
    const primaryName = sa.primaryCookieName;
    return {
      canary: named(stored.canary, sa.cookieName) ?? `${sa.cookieName}=${random()}`,
      ...(primaryName ? { primary: named(stored.primary, primaryName) ?? `${primaryName}=${random()}` } : {}),
      ...(stored.previous ? { previous: stored.previous } : {}),
    };
  }
  const previous = stored.canary ?? stored.previous;
  return previous ? { previous } : {};
}

export function cookieAnnotations(c: Cookies): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(c) as Array<keyof Cookies>) {
    const v = c[key];
    if (v) out[COOKIE_ANNOTATIONS[key]] = v;
  }
  return out;
}

/** A Set-Cookie value with the attributes of analysis.sessionAffinity (Flagger's order). */
export function setCookie(sa: SessionAffinity, cookie: string, maxAge: number): string {
  const parts = [cookie, `Max-Age=${maxAge}`];
  if (sa.domain) parts.push(`Domain=${sa.domain}`);
  if (sa.httpOnly) parts.push('HttpOnly');
  if (sa.partitioned) parts.push('Partitioned');
  if (sa.path) parts.push(`Path=${sa.path}`);
  if (sa.sameSite) parts.push(`SameSite=${sa.sameSite}`);
  if (sa.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Max-Age of the canary cookie (Flagger's default: a day) and of the primary's (one interval). */
export function canaryMaxAge(sa: SessionAffinity): number {
  return sa.maxAge ?? 86_400;
}
export function primaryMaxAge(spec: CanarySpec): number {
  return Math.floor(parseDuration(spec.analysis.interval) / 1000);
}

/** An RE2 regex for a Cookie header carrying `name=value` (Flagger's, for Envoy and the gateways). */
export function cookieRegex(cookie: string): string {
  const [name, value] = cookie.split('=') as [string, string];
  return `.*${escapeRegex(name)}.*${escapeRegex(value)}.*`;
}

/** The Set-Cookie value that makes a browser drop the ended run's cookie. */
export function expiredCookie(cookie: string): string {
  return `${cookie}; Max-Age=-1`;
}

/**
 * The cookies a router writes for `traffic`: none without analysis.sessionAffinity, else those
 * stored on `route` (the live routing object) continued for this weight.
 */
export function cookiesFor(t: RouteTarget, route: Obj | undefined, traffic: Traffic): Cookies {
  const sa = t.spec.analysis.sessionAffinity;
  return sa ? nextCookies(sa, storedCookies(route), traffic) : {};
}
