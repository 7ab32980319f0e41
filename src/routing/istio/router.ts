// Provider `istio`, as Flagger's istio router writes it: DestinationRules `<svc>-primary` and
// `<svc>-canary` (no subsets: each names its own Service as host, routing is by host) and a
// VirtualService `<svc>` whose last http rule splits between the two hosts by weight. A/B puts a
// rule before it whose matches (headers, cookie, query, sourceLabels) send requests to the canary;
// mirroring sets `mirror`/`mirrorPercentage` on the weighted rule. spec.service.hosts, .gateways,
// .headers, .timeout and .retries go onto the VirtualService as Flagger maps them.
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import { isSubset } from '../../kube/compare.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../canary/model.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';

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

type Destination = { destination: { host: string }; weight?: number };
type HttpRule = Record<string, unknown> & { route?: Destination[]; mirror?: { host: string } };
type StringMatch = { exact?: string; prefix?: string; suffix?: string; regex?: string };

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Istio's StringMatch has exact, prefix and regex (RE2, whole value); a suffix becomes a regex. */
function stringMatch(v: StringMatch): Record<string, string> {
  if (v.regex !== undefined) return { regex: v.regex };
  if (v.prefix !== undefined) return { prefix: v.prefix };
  if (v.suffix !== undefined) return { regex: `.*${escapeRegex(v.suffix)}` };
  return { exact: v.exact ?? '' };
}

function convert(entries: Record<string, StringMatch> | undefined): Record<string, unknown> | undefined {
  const out = Object.entries(entries ?? {}).map(([name, v]) => [name, stringMatch(v)] as const);
  return out.length ? Object.fromEntries(out) : undefined;
}

/** analysis.match as Istio HTTPMatchRequests (entries OR'ed, fields within one entry AND'ed). */
export function httpMatches(spec: CanarySpec): unknown[] {
  return (spec.analysis.match ?? []).map((m) => {
    const headers = convert(m.headers);
    const queryParams = convert(m.queryParams);
    return {
      ...(headers ? { headers } : {}),
      ...(queryParams ? { queryParams } : {}),
      ...(m.sourceLabels && Object.keys(m.sourceLabels).length ? { sourceLabels: m.sourceLabels } : {}),
    };
  });
}

/** What every http rule carries from spec.service (Flagger: timeout, retries, headers). */
function ruleCommon(spec: CanarySpec): Record<string, unknown> {
  const s = spec.service;
  const out: Record<string, unknown> = {};
  if (s.headers) out.headers = s.headers;
  if (s.timeout) out.timeout = s.timeout;
  if (s.retries)
    out.retries = {
      attempts: s.retries.attempts,
      ...(s.retries.perTryTimeout ? { perTryTimeout: s.retries.perTryTimeout } : {}),
      ...(s.retries.retryOn ? { retryOn: s.retries.retryOn } : {}),
    };
  return out;
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

export function desiredVirtualService(t: RouteTarget, traffic: Traffic): Obj {
  const { spec } = t;
  const common = ruleCommon(spec);
  const http: HttpRule[] = [];
  if (traffic.match)
    http.push({ ...common, match: httpMatches(spec), route: route(t, { primary: 0, canary: 100 }) });
  const weighted: HttpRule = { ...common, route: route(t, traffic) };
  if (traffic.mirror) {
    weighted.mirror = { host: t.canary };
    const pct = spec.analysis.mirrorWeight;
    if (pct && pct > 0) weighted.mirrorPercentage = { value: pct };
  }
  http.push(weighted);
  return {
    apiVersion: VIRTUAL_SERVICE.apiVersion,
    kind: VIRTUAL_SERVICE.kind,
    metadata: metadata(t, t.apex, spec.service.apex),
    spec: {
      hosts: hostsOf(t),
      gateways: spec.service.gateways?.length ? spec.service.gateways : ['mesh'],
      http,
    },
  };
}

export function desiredDestinationRule(t: RouteTarget, host: string): Obj {
  return {
    apiVersion: DESTINATION_RULE.apiVersion,
    kind: DESTINATION_RULE.kind,
    metadata: metadata(t, host),
    spec: { host },
  };
}

/** Weights of the last (weighted) http rule; a rule before it means A/B, `mirror` on it mirroring. */
export function readVirtualServiceTraffic(vs: Obj | undefined, t: RouteTarget): Traffic {
  const http = ((vs?.spec as { http?: HttpRule[] } | undefined)?.http ?? []) as HttpRule[];
  const last = http[http.length - 1];
  const weight = (host: string) => last?.route?.find((d) => d.destination?.host === host)?.weight ?? 0;
  const traffic: Traffic = { primary: last ? weight(t.primary) : 100, canary: last ? weight(t.canary) : 0 };
  if (http.length > 1) traffic.match = true;
  if (last?.mirror?.host) traffic.mirror = true;
  return traffic;
}

function sameTraffic(a: Traffic, b: Traffic): boolean {
  return (
    a.primary === b.primary && a.canary === b.canary && !!a.match === !!b.match && !!a.mirror === !!b.mirror
  );
}

function upToDate(desired: Obj, now: Obj | undefined): boolean {
  return (
    !!now &&
    isSubset(desired.spec, now.spec) &&
    isSubset(desired.metadata?.labels, now.metadata?.labels) &&
    isSubset(desired.metadata?.annotations, now.metadata?.annotations)
  );
}

interface IstioStatus {
  observedGeneration?: number | string;
  conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
}

/**
 * Weight verification where istiod reports it (PILOT_ENABLE_STATUS: `status.conditions[Reconciled]`
 * with `status.observedGeneration`): not Reconciled, or reconciled at an older generation, holds the
 * step. Without that status (the default, or no istiod) nothing is held.
 */
export function virtualServiceNotTaken(vs: Obj | undefined): string | undefined {
  const status = vs?.status as IstioStatus | undefined;
  const reconciled = status?.conditions?.find((c) => c.type === 'Reconciled');
  if (!vs || !reconciled) return undefined;
  const name = `VirtualService ${vs.metadata?.namespace}/${vs.metadata?.name}`;
  const generation = vs.metadata?.generation ?? 0;
  const seen = Number(status?.observedGeneration ?? generation);
  if (seen < generation) return `${name}: istiod has seen generation ${seen}, not the current ${generation}`;
  if (reconciled.status !== 'True')
    return `${name} is not reconciled by istiod (${reconciled.message ?? reconciled.reason ?? 'no reason'})`;
  return undefined;
}

export const createIstioRouter: RouterFactory = ({ kube, cached }) => {
  const vsOf = (t: RouteTarget) => cached(VIRTUAL_SERVICE, t.namespace, t.apex);
  const drOf = (t: RouteTarget, host: string) => cached(DESTINATION_RULE, t.namespace, host);
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    if (traffic.primary === 0 && traffic.canary === 0)
      throw new Error(`VirtualService ${t.namespace}/${t.apex}: refusing to route 0/0`);
    let wrote = false;
    // DestinationRules first: the VirtualService's hosts resolve through them.
    for (const host of [t.primary, t.canary]) {
      const desired = desiredDestinationRule(t, host);
      if (upToDate(desired, drOf(t, host))) continue;
      await kube.apply(desired);
      wrote = true;
    }
    const desired = desiredVirtualService(t, traffic);
    const now = vsOf(t);
    // The subset test alone would keep a rule or mirror Weir no longer wants (after promotion):
    // the routes read back must say the same too.
    if (!(upToDate(desired, now) && sameTraffic(readVirtualServiceTraffic(now, t), traffic))) {
      await kube.apply(desired);
      wrote = true;
    }
    return wrote;
  };
  const router: Router = {
    async reconcile(t) {
      const now = vsOf(t);
      const stored = now ? readVirtualServiceTraffic(now, t) : undefined;
      return apply(t, stored && stored.primary + stored.canary > 0 ? stored : { primary: 100, canary: 0 });
    },
    async setRoutes(t, traffic) {
      await apply(t, traffic);
    },
    getRoutes(t) {
      const vs = vsOf(t);
      if (!vs || !drOf(t, t.primary) || !drOf(t, t.canary)) return undefined;
      return readVirtualServiceTraffic(vs, t);
    },
    pendingRoutes: (t) => virtualServiceNotTaken(vsOf(t)),
    objects: (t) => [
      { type: VIRTUAL_SERVICE, name: t.apex },
      { type: DESTINATION_RULE, name: t.primary },
      { type: DESTINATION_RULE, name: t.canary },
    ],
    async finalize(t) {
      // revertOnDeletion: Flagger restores the VirtualService spec it found; Weir created this one,
      // so everything goes to the apex Service (now selecting the target's pods), and the
      // VirtualService is detached from the Canary so garbage collection keeps it.
      const vs = desiredVirtualService(t, { primary: 100, canary: 0 });
      delete vs.metadata!.ownerReferences;
      (vs.spec as { http: HttpRule[] }).http = [
        { ...ruleCommon(t.spec), route: [{ destination: { host: t.apex }, weight: 100 }] },
      ];
      await kube.apply(vs);
    },
  };
  return router;
};
