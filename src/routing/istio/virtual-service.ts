// The objects of provider `istio`, as Flagger's istio router writes them: DestinationRules
// `<svc>-primary` and `<svc>-canary` (no subsets: each names its own Service as host and carries
// spec.service.trafficPolicy) and a VirtualService `<svc>` whose last rule splits between the two
// hosts by weight. Every http rule carries spec.service's match, rewrite, timeout, retries,
// corsPolicy and headers. A/B puts a rule before the weighted one whose matches (analysis.match
// within the service matches) send requests to the canary; session affinity puts its cookie rules
// there (session-affinity.ts); mirroring sets mirror/mirrorPercentage on the weighted rule;
// setHeaderRoute/setMirrorRoute steps put their named rules first (step-routes.ts).
// appProtocol tcp writes one tcp route instead (L4 matches on the ports of spec.service.match).
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget } from '../router.ts';
import { dropUndefined, httpMatches, l4Matches, mergeMatches, serviceMatches, stringMatch } from './match.ts';
import {
  AFFINITY_RULE_NAMES,
  AFFINITY_RULES,
  canaryMaxAge,
  cookieAnnotations,
  expiredCookie,
  primaryMaxAge,
  setCookie,
  type Cookies,
} from '../session-affinity.ts';
import { cookieMatch, withSetCookie } from './session-affinity.ts';
import { isStepRuleName, stepRoutesAnnotation, storedStepRoutes } from '../step-routes.ts';
import { stepHttpRules } from './step-routes.ts';

// v1beta1 as Flagger v1.44 writes them; Istio ≥ 1.22 stores v1 and serves both.
export const VIRTUAL_SERVICE: ResourceType = {
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'VirtualService',
  plural: 'virtualservices',
};
export const DESTINATION_RULE: ResourceType = {
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'DestinationRule',
  plural: 'destinationrules',
};

export type Destination = {
  destination: { host: string };
  weight?: number;
  headers?: Record<string, unknown>;
};
export type HttpRule = Record<string, unknown> & {
  name?: string;
  route?: Destination[];
  mirror?: { host: string };
};
type VsSpec = { http?: HttpRule[]; tcp?: HttpRule[] };

export function isTcp(spec: CanarySpec): boolean {
  return spec.service.appProtocol?.toLowerCase() === 'tcp';
}

/** What every http rule carries from spec.service (Flagger: match, rewrite, timeout, retries, CORS, headers). */
export function ruleCommon(spec: CanarySpec): HttpRule {
  const s = spec.service;
  return dropUndefined({
    match: serviceMatches(spec),
    rewrite: s.rewrite && Object.keys(s.rewrite).length ? s.rewrite : undefined,
    timeout: s.timeout,
    retries: s.retries && dropUndefined({ ...s.retries }),
    corsPolicy: s.corsPolicy && corsPolicy(s.corsPolicy),
    headers: s.headers,
  });
}

function corsPolicy(c: NonNullable<CanarySpec['service']['corsPolicy']>): Record<string, unknown> {
  return dropUndefined({
    ...c,
    allowOrigins: c.allowOrigins?.map(stringMatch),
  });
}

function route(t: RouteTarget, w: { primary: number; canary: number }): Destination[] {
  return [
    { destination: { host: t.primary }, weight: w.primary },
    { destination: { host: t.canary }, weight: w.canary },
  ];
}

/** Flagger's hosts: spec.service.hosts plus the apex, unless it or `*` is there already. */
function hostsOf(t: RouteTarget): string[] {
  const hosts = [...(t.spec.service.hosts ?? [])];
  if (!hosts.includes(t.apex) && !hosts.includes('*')) hosts.push(t.apex);
  return hosts;
}

/** hosts and gateways; none at all for a delegate VirtualService (its parent has them). */
function attachment(t: RouteTarget): { hosts?: string[]; gateways?: string[] } {
  if (t.spec.service.delegation) return {};
  const gateways = t.spec.service.gateways;
  return { hosts: hostsOf(t), gateways: gateways?.length ? gateways : ['mesh'] };
}

function metadata(
  t: RouteTarget,
  name: string,
  extra?: { labels?: Record<string, string>; annotations?: Record<string, string> },
) {
  const meta = managedMeta(t);
  return {
    name,
    namespace: t.namespace,
    labels: { ...extra?.labels, ...meta.labels },
    annotations: { ...extra?.annotations, ...meta.annotations },
    ownerReferences: [t.owner],
  };
}

/** The session-affinity rules before the weighted rule, and the weighted rule's Set-Cookie routes. */
function affinity(t: RouteTarget, traffic: Traffic, cookies: Cookies, common: HttpRule) {
  const sa = t.spec.analysis.sessionAffinity;
  const weighted = route(t, traffic);
  const before: HttpRule[] = [];
  if (!sa) return { before, weighted };
  const svc = serviceMatches(t.spec);
  const sticky = (name: string, cookie: string, w: { primary: number; canary: number }): HttpRule => ({
    ...common,
    name,
    match: mergeMatches([cookieMatch(cookie)], svc),
    route: route(t, w),
  });
  if (cookies.canary) {
    before.push(sticky(AFFINITY_RULES.canary, cookies.canary, { primary: 0, canary: 100 }));
    weighted[1]!.headers = withSetCookie(undefined, setCookie(sa, cookies.canary, canaryMaxAge(sa)));
  }
  if (cookies.primary) {
    before.push(sticky(AFFINITY_RULES.primary, cookies.primary, { primary: 100, canary: 0 }));
    weighted[0]!.headers = withSetCookie(undefined, setCookie(sa, cookies.primary, primaryMaxAge(t.spec)));
  }
  if (!cookies.canary && cookies.previous) {
    const expire = sticky(AFFINITY_RULES.expire, cookies.previous, { primary: 100, canary: 0 });
    expire.headers = withSetCookie(
      common.headers as Record<string, unknown>,
      expiredCookie(cookies.previous),
    );
    before.push(expire);
  }
  return { before, weighted };
}

function httpRules(t: RouteTarget, traffic: Traffic, cookies: Cookies): HttpRule[] {
  const { spec } = t;
  const common = ruleCommon(spec);
  const http: HttpRule[] = stepHttpRules(t, traffic.routes ?? [], common, (w) => route(t, w), traffic);
  if (traffic.match)
    http.push({
      ...common,
      match: mergeMatches(httpMatches(spec), serviceMatches(spec)),
      route: route(t, { primary: 0, canary: 100 }),
    });
  const { before, weighted } = affinity(t, traffic, cookies, common);
  http.push(...before);
  const last: HttpRule = { ...common, route: weighted };
  if (traffic.mirror) {
    last.mirror = { host: t.canary };
    const pct = spec.analysis.mirrorWeight;
    if (pct && pct > 0) last.mirrorPercentage = { value: pct };
  }
  http.push(last);
  return http;
}

export function desiredVirtualService(t: RouteTarget, traffic: Traffic, cookies: Cookies = {}): Obj {
  const { spec } = t;
  const routes = isTcp(spec)
    ? { tcp: [dropUndefined({ match: l4Matches(spec), route: route(t, traffic) })] }
    : { http: httpRules(t, traffic, cookies) };
  const apex = spec.service.apex;
  return {
    apiVersion: VIRTUAL_SERVICE.apiVersion,
    kind: VIRTUAL_SERVICE.kind,
    metadata: metadata(t, t.apex, {
      labels: apex?.labels,
      annotations: {
        ...apex?.annotations,
        ...cookieAnnotations(cookies),
        ...(isTcp(spec) ? {} : stepRoutesAnnotation(traffic.routes)),
      },
    }),
    spec: { ...attachment(t), ...routes },
  };
}

export function desiredDestinationRule(t: RouteTarget, host: string): Obj {
  const trafficPolicy = t.spec.service.trafficPolicy;
  return {
    apiVersion: DESTINATION_RULE.apiVersion,
    kind: DESTINATION_RULE.kind,
    metadata: metadata(t, host),
    spec: { host, ...(trafficPolicy ? { trafficPolicy } : {}) },
  };
}

/**
 * Weights of the last (weighted) rule; an A/B rule before it (any other than the session-affinity
 * and step route rules) means match, `mirror` on it mirroring; the step routes are those of the
 * annotation whose rule is still there.
 */
export function readVirtualServiceTraffic(vs: Obj | undefined, t: RouteTarget): Traffic {
  const spec = vs?.spec as VsSpec | undefined;
  const rules = (isTcp(t.spec) ? spec?.tcp : spec?.http) ?? [];
  const last = rules[rules.length - 1];
  const weight = (host: string) => last?.route?.find((d) => d.destination?.host === host)?.weight ?? 0;
  const traffic: Traffic = { primary: last ? weight(t.primary) : 100, canary: last ? weight(t.canary) : 0 };
  const ab = (r: HttpRule) => !AFFINITY_RULE_NAMES.includes(r.name ?? '') && !isStepRuleName(r.name);
  if (rules.slice(0, -1).some(ab)) traffic.match = true;
  if (last?.mirror?.host) traffic.mirror = true;
  const routes = isTcp(t.spec)
    ? undefined
    : storedStepRoutes(
        vs,
        rules.map((r) => r.name),
      );
  if (routes) traffic.routes = routes;
  return traffic;
}

/** The VirtualService with every route going to the apex Service (revertOnDeletion). */
export function apexVirtualService(t: RouteTarget): Obj {
  const vs = desiredVirtualService(t, { primary: 100, canary: 0 });
  delete vs.metadata!.ownerReferences;
  const to = [{ destination: { host: t.apex }, weight: 100 }];
  const spec = vs.spec as VsSpec;
  if (spec.tcp) spec.tcp = [dropUndefined({ match: l4Matches(t.spec), route: to })];
  else spec.http = [{ ...ruleCommon(t.spec), route: to }];
  return vs;
}

const VS_KEYS = ['hosts', 'gateways', 'http', 'tcp'];
const RULE_KEYS = [
  'name',
  'match',
  'rewrite',
  'timeout',
  'retries',
  'corsPolicy',
  'headers',
  'route',
  'mirror',
  'mirrorPercentage',
];
const DEST_KEYS = ['destination', 'weight', 'headers'];

function pick(o: unknown, keys: string[]): Record<string, unknown> {
  const src = (o ?? {}) as Record<string, unknown>;
  return Object.fromEntries(keys.filter((k) => src[k] !== undefined).map((k) => [k, src[k]]));
}

const pickRules = (rules: unknown) =>
  Array.isArray(rules)
    ? rules.map((r) => {
        const rule = pick(r, RULE_KEYS);
        if (Array.isArray(rule.route)) rule.route = rule.route.map((d) => pick(d, DEST_KEYS));
        return rule;
      })
    : rules;

/**
 * The part of a stored spec Weir writes: compared whole with the desired spec, so that a field
 * Weir no longer wants (a CORS policy removed from the Canary) counts as a difference, while
 * fields others add beside Weir's (exportTo) do not.
 */
export function managedVirtualServiceSpec(spec: unknown): Record<string, unknown> {
  const out = pick(spec, VS_KEYS);
  for (const k of ['http', 'tcp']) if (out[k] !== undefined) out[k] = pickRules(out[k]);
  return out;
}

export function managedDestinationRuleSpec(spec: unknown): Record<string, unknown> {
  return pick(spec, ['host', 'trafficPolicy']);
}
