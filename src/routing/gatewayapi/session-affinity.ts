// Session affinity in Gateway API terms, as Flagger's gatewayapi router writes it: sticky rules
// before the weighted one match the run's cookie in the Cookie header (RE2 regex, Extended support)
// and send it to one side; the weighted rule's backendRefs carry ResponseHeaderModifier filters that
// hand out the cookies (per-backend filters, Extended support). At weight 0 a rule expires the
// ended run's cookie. The cookie values themselves: ../session-affinity.ts.
import type { RouteTarget } from '../router.ts';
import {
  AFFINITY_RULES,
  canaryMaxAge,
  cookieRegex,
  expiredCookie,
  primaryMaxAge,
  setCookie,
  type Cookies,
} from '../session-affinity.ts';

export type Backend = Record<string, unknown> & { name: string; weight?: number; filters?: unknown[] };
export type Rule = Record<string, unknown> & { name?: string; backendRefs?: Backend[]; filters?: unknown[] };
type Split = { primary: number; canary: number };

const cookieMatch = (cookie: string) => ({
  headers: [{ type: 'RegularExpression', name: 'Cookie', value: cookieRegex(cookie) }],
});

const addSetCookie = (value: string) => ({
  type: 'ResponseHeaderModifier',
  responseHeaderModifier: { add: [{ name: 'Set-Cookie', value }] },
});

/**
 * The rules for `weighted` under analysis.sessionAffinity: sticky (and expiry) rules first, then
 * `weighted` whose backends set the run's cookies. Sticky rules keep the weighted rule's timeouts
 * and request filters, so a pinned request is treated like any other.
 */
export function affinityRules(
  t: RouteTarget,
  weighted: Rule,
  cookies: Cookies,
  backends: (split: Split) => Backend[],
): Rule[] {
  const sa = t.spec.analysis.sessionAffinity;
  if (!sa) return [weighted];
  const { backendRefs, filters, ...common } = weighted;
  const kept = (filters ?? []).filter((f) => (f as { type?: string }).type !== 'RequestMirror');
  const sticky = (name: string, cookie: string, split: Split, extra: unknown[] = []): Rule => {
    const all = [...kept, ...extra];
    return {
      ...common,
      name,
      matches: [cookieMatch(cookie)],
      ...(all.length ? { filters: all } : {}),
      backendRefs: backends(split),
    };
  };
  const setOn = (name: string, value: string) => (b: Backend) =>
    b.name === name ? { ...b, filters: [...(b.filters ?? []), addSetCookie(value)] } : b;
  const before: Rule[] = [];
  let refs = backendRefs ?? [];
  if (cookies.canary) {
    before.push(sticky(AFFINITY_RULES.canary, cookies.canary, { primary: 0, canary: 100 }));
    refs = refs.map(setOn(t.canary, setCookie(sa, cookies.canary, canaryMaxAge(sa))));
  }
  if (cookies.primary) {
    before.push(sticky(AFFINITY_RULES.primary, cookies.primary, { primary: 100, canary: 0 }));
    refs = refs.map(setOn(t.primary, setCookie(sa, cookies.primary, primaryMaxAge(t.spec))));
  }
  if (!cookies.canary && cookies.previous) {
    const expire = addSetCookie(expiredCookie(cookies.previous));
    before.push(sticky(AFFINITY_RULES.expire, cookies.previous, { primary: 100, canary: 0 }, [expire]));
  }
  return [...before, { ...weighted, backendRefs: refs }];
}
