// Provider `gatewayapi`: an HTTPRoute (gateway.networking.k8s.io/v1) named after the apex Service,
// attached to spec.service.gatewayRefs, splitting between `<svc>-primary` and `<svc>-canary` by
// backendRefs weights; A/B adds a rule with the header/query matches that goes to the canary;
// mirroring adds a RequestMirror filter; session affinity adds cookie rules (session-affinity.ts);
// setHeaderRoute/setMirrorRoute steps add named rules (step-routes.ts).
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import { isSubset } from '../../kube/compare.ts';
import type { ResourceType } from '../../kube/resources.ts';
import { sameTraffic, type Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';
import { AFFINITY_RULE_NAMES, cookieAnnotations, cookiesFor, type Cookies } from '../session-affinity.ts';
import { affinityRules, type Rule } from './session-affinity.ts';
import { isStepRuleName, stepRoutesAnnotation, storedStepRoutes } from '../step-routes.ts';
import { headerMatch, stepRouteRules } from './step-routes.ts';

export const HTTP_ROUTE: ResourceType = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  plural: 'httproutes',
};

function matches(spec: CanarySpec): unknown[] {
  return (spec.analysis.match ?? []).map((m) => {
    const out: Record<string, unknown> = {};
    const headers = Object.entries(m.headers ?? {}).map(([name, v]) => headerMatch(name, v));
    const query = Object.entries(m.queryParams ?? {}).map(([name, v]) => headerMatch(name, v));
    if (headers.length) out.headers = headers;
    if (query.length) out.queryParams = query;
    return out;
  });
}

function backends(t: RouteTarget, traffic: { primary: number; canary: number }) {
  const port = t.spec.service.port;
  return [
    { group: '', kind: 'Service', name: t.primary, port, weight: traffic.primary },
    { group: '', kind: 'Service', name: t.canary, port, weight: traffic.canary },
  ];
}

export function desiredRoute(t: RouteTarget, traffic: Traffic, cookies: Cookies = {}): Obj {
  const { spec } = t;
  const common: Record<string, unknown> = {};
  if (spec.service.timeout) common.timeouts = { request: spec.service.timeout };
  const filters: unknown[] = [];
  const h = spec.service.headers?.request;
  if (h) {
    filters.push({
      type: 'RequestHeaderModifier',
      requestHeaderModifier: {
        ...(h.add ? { add: Object.entries(h.add).map(([name, value]) => ({ name, value })) } : {}),
        ...(h.set ? { set: Object.entries(h.set).map(([name, value]) => ({ name, value })) } : {}),
        ...(h.remove ? { remove: h.remove } : {}),
      },
    });
  }
  if (traffic.mirror) {
    filters.push({
      type: 'RequestMirror',
      requestMirror: {
        backendRef: { group: '', kind: 'Service', name: t.canary, port: spec.service.port },
        percent: spec.analysis.mirrorWeight ?? 100,
      },
    });
  }
  const defaultRule: Rule = {
    ...common,
    ...(filters.length ? { filters } : {}),
    backendRefs: backends(t, traffic),
  };
  const routes = traffic.routes ?? [];
  const rules: Rule[] = stepRouteRules(t, routes, defaultRule, (split) => backends(t, split), traffic);
  if (traffic.match) {
    for (const m of matches(spec))
      rules.push({ ...common, matches: [m], backendRefs: backends(t, { primary: 0, canary: 100 }) });
  }
  rules.push(...affinityRules(t, defaultRule, cookies, (split) => backends(t, split)));
  const meta = managedMeta(t);
  return {
    apiVersion: HTTP_ROUTE.apiVersion,
    kind: 'HTTPRoute',
    metadata: {
      name: t.apex,
      namespace: t.namespace,
      labels: meta.labels,
      annotations: { ...meta.annotations, ...cookieAnnotations(cookies), ...stepRoutesAnnotation(routes) },
      ownerReferences: [t.owner],
    },
    spec: {
      parentRefs: (spec.service.gatewayRefs ?? []).map((g) => ({ ...g })),
      ...(spec.service.hosts?.length ? { hostnames: spec.service.hosts } : {}),
      rules,
    },
  };
}

/**
 * Weights of the default (last) rule; a rule before it other than the session-affinity and step
 * route rules means A/B routing is on; the step routes are those of the annotation still ruled.
 */
export function readTraffic(route: Obj | undefined, t: RouteTarget): Traffic {
  const rules = ((route?.spec as { rules?: Rule[] })?.rules ?? []) as Rule[];
  const last = rules[rules.length - 1];
  const weight = (name: string) => last?.backendRefs?.find((b) => b.name === name)?.weight ?? 0;
  const traffic: Traffic = { primary: last ? weight(t.primary) : 100, canary: last ? weight(t.canary) : 0 };
  const ab = (r: Rule) => !AFFINITY_RULE_NAMES.includes(r.name ?? '') && !isStepRuleName(r.name);
  if (rules.slice(0, -1).some(ab)) traffic.match = true;
  const routes = storedStepRoutes(
    route,
    rules.map((r) => r.name),
  );
  if (routes) traffic.routes = routes;
  if (JSON.stringify(last?.filters ?? []).includes('RequestMirror')) traffic.mirror = true;
  return traffic;
}

interface ParentStatus {
  parentRef?: { name?: string; namespace?: string };
  conditions?: Array<{ type?: string; status?: string; reason?: string; observedGeneration?: number }>;
}

/**
 * Weight verification: a parent (Gateway) that reports status on this route and has not accepted
 * its current generation holds the step. No parent status at all (no gateway controller, as on a
 * bare API server) verifies nothing and holds nothing.
 */
export function routeNotTaken(route: Obj | undefined): string | undefined {
  if (!route) return undefined;
  const generation = route.metadata?.generation ?? 0;
  const parents = ((route.status as { parents?: ParentStatus[] } | undefined)?.parents ??
    []) as ParentStatus[];
  for (const p of parents) {
    const name = `${p.parentRef?.namespace ? `${p.parentRef.namespace}/` : ''}${p.parentRef?.name ?? '?'}`;
    const accepted = p.conditions?.find((c) => c.type === 'Accepted');
    if (!accepted) continue;
    if (accepted.status !== 'True')
      return `parent ${name} reports Accepted=${accepted.status ?? '?'} (${accepted.reason ?? 'no reason'})`;
    if ((accepted.observedGeneration ?? generation) < generation)
      return `parent ${name} accepted generation ${accepted.observedGeneration}, not the current ${generation}`;
  }
  return undefined;
}

export const createGatewayApiRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(HTTP_ROUTE, t.namespace, t.apex);
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    const now = current(t);
    const desired = desiredRoute(t, traffic, cookiesFor(t, now, traffic));
    // The subset test alone would keep a filter or rule Weir no longer wants (a mirror after
    // promotion): the routes read back must say the same too.
    if (
      now &&
      isSubset(desired.spec, now.spec) &&
      isSubset(desired.metadata?.labels, now.metadata?.labels) &&
      sameTraffic(readTraffic(now, t), traffic)
    )
      return false;
    await kube.apply(desired);
    return true;
  };
  const router: Router = {
    async reconcile(t) {
      return apply(t, current(t) ? readTraffic(current(t), t) : { primary: 100, canary: 0 });
    },
    async setRoutes(t, traffic) {
      await apply(t, traffic);
    },
    getRoutes(t) {
      const route = current(t);
      return route ? readTraffic(route, t) : undefined;
    },
    pendingRoutes: (t) => routeNotTaken(current(t)),
    objects: (t) => [{ type: HTTP_ROUTE, name: t.apex }],
    async finalize(t) {
      // revertOnDeletion: all traffic to the apex Service (now selecting the target's pods), and the
      // route detached from the Canary so garbage collection keeps it.
      const route = desiredRoute(t, { primary: 100, canary: 0 });
      delete route.metadata!.ownerReferences;
      (route.spec as { rules: Rule[] }).rules = [
        { backendRefs: [{ name: t.apex, port: t.spec.service.port, weight: 1 } as never] },
      ];
      await kube.apply(route);
    },
  };
  return router;
};
