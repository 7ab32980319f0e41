// Session affinity in Istio's terms: the cookie match of a sticky rule and the Set-Cookie response
// header operation (the cookies themselves: ../session-affinity.ts).
import { cookieRegex } from '../session-affinity.ts';
import type { HttpMatch } from './match.ts';

/**
 * Requests carrying `name=value` in their cookie header (Envoy matches header names without regard
 * to case; Istio asks for lower case).
 */
export function cookieMatch(cookie: string): HttpMatch {
  return { headers: { cookie: { regex: cookieRegex(cookie) } } };
}

/** A response header operation adding Set-Cookie, merged into `headers` (a rule's or a route's). */
export function withSetCookie(
  headers: Record<string, unknown> | undefined,
  value: string,
): Record<string, unknown> {
  const response = (headers?.response ?? {}) as Record<string, unknown>;
  const add = (response.add ?? {}) as Record<string, string>;
  return { ...headers, response: { ...response, add: { ...add, 'Set-Cookie': value } } };
}
