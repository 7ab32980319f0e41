// Provider `gloo`: as Flagger v1.44, two Gloo Upstreams (gloo.solo.io/v1)
// `<ns>-<svc>-primaryupstream-<port>` and `<ns>-<svc>-canaryupstream-<port>` for the `-primary` and
// `-canary` Services, and a RouteTable (gateway.solo.io/v1) `<svc>`, which the user's Gloo
// VirtualService delegates to, splitting between them by weight. spec.upstreamRef names a Gloo
// Upstream whose connection settings both Upstreams copy.
// A/B: one matcher per analysis.match entry (headers and query parameters) on a route to the canary,
// followed by a route that sends every other request to the primary. Flagger ANDs every entry into
// one matcher and has no such fallback (requests that match nothing get no route, a 404).
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import { isSubset } from '../../kube/compare.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';
import { valueOrRegex } from '../string-match.ts';
import { alreadyStored, refuseNoWeight, routesToKeep } from '../weighted-object.ts';

export const UPSTREAM: ResourceType = {
  apiVersion: 'gloo.solo.io/v1',
  kind: 'Upstream',
  plural: 'upstreams',
};
export const ROUTE_TABLE: ResourceType = {
  apiVersion: 'gateway.solo.io/v1',
  kind: 'RouteTable',
  plural: 'routetables',
};

/** Fields of spec.upstreamRef's Upstream the generated Upstreams copy (Flagger's list). */
const COPIED = [
  'sslConfig',
  'circuitBreakers',
  'connectionConfig',
  'loadBalancerConfig',
  'useHttp2',
  'initialStreamWindowSize',
  'initialConnectionWindowSize',
  'httpProxyHostname',
] as const;

type Destination = { destination?: { upstream?: { name?: string; namespace?: string } }; weight?: number };
type Route = Record<string, unknown> & {
  matchers?: unknown[];
  routeAction?: { multi?: { destinations?: Destination[] }; single?: unknown };
};

export function upstreamNames(t: RouteTarget): { primary: string; canary: string } {
  const at = (role: string) => `${t.namespace}-${t.apex}-${role}upstream-${t.spec.service.port}`;
  return { primary: at('primary'), canary: at('canary') };
}

/** The namespace/name of spec.upstreamRef (its namespace defaults to the Canary's). */
export function upstreamRefOf(t: RouteTarget): { namespace: string; name: string } | undefined {
  const ref = t.spec.upstreamRef;
  return ref && { namespace: ref.namespace ?? t.namespace, name: ref.name };
}

/**
 * The `-primary` (role primary) or `-canary` Upstream: Gloo's kube upstream of that Service, with the
 * settings and labels of spec.upstreamRef's Upstream (`base`) when there is one.
 */
export function desiredUpstream(t: RouteTarget, role: 'primary' | 'canary', base: Obj | undefined): Obj {
  const baseSpec = (base?.spec ?? {}) as Record<string, unknown>;
  const copied = Object.fromEntries(
    COPIED.filter((k) => baseSpec[k] !== undefined && baseSpec[k] !== null).map((k) => [k, baseSpec[k]]),
  );
  const meta = managedMeta(t);
  const { key, value } = t.selector;
  return {
    apiVersion: UPSTREAM.apiVersion,
    kind: UPSTREAM.kind,
    metadata: {
      name: upstreamNames(t)[role],
      namespace: t.namespace,
      labels: { ...base?.metadata?.labels, ...meta.labels },
      annotations: meta.annotations,
      ownerReferences: [t.owner],
    },
    spec: {
      ...copied,
      kube: {
        serviceName: role === 'primary' ? t.primary : t.canary,
        serviceNamespace: t.namespace,
        servicePort: t.spec.service.port,
        // The selectors Weir gives the two Services (the primary's value is suffixed -primary).
        selector: { [key]: role === 'primary' ? `${value}-primary` : value },
      },
    },
  };
}

type MatchEntry = NonNullable<CanarySpec['analysis']['match']>[number];

/** One Gloo matcher per analysis.match entry: its headers and query parameters must all match. */
export function matcherOf(m: MatchEntry): Record<string, unknown> {
  const pairs = (o: MatchEntry['headers']) =>
    Object.entries(o ?? {}).map(([name, v]) => ({ name, ...valueOrRegex(v) }));
  const headers = pairs(m.headers);
  const queryParameters = pairs(m.queryParams);
  return {
    ...(headers.length ? { headers } : {}),
    ...(queryParameters.length ? { queryParameters } : {}),
  };
}

function weightedRoute(t: RouteTarget, w: { primary: number; canary: number }, matchers?: unknown[]): Route {
  const names = upstreamNames(t);
  const to = (name: string, weight: number): Destination => ({
    destination: { upstream: { name, namespace: t.namespace } },
    weight,
  });
  return {
    inheritablePathMatchers: true,
    ...(matchers ? { matchers } : {}),
    routeAction: { multi: { destinations: [to(names.primary, w.primary), to(names.canary, w.canary)] } },
  };
}

export function desiredRouteTable(t: RouteTarget, traffic: Traffic): Obj {
  const routes: Route[] = [];
  const matchers = (t.spec.analysis.match ?? []).map(matcherOf);
  // A/B: matching requests go to the canary; the weighted route after it takes every other one
  // (Weir's fallback, which Flagger's single route lacks).
  if (traffic.match && matchers.length) routes.push(weightedRoute(t, { primary: 0, canary: 100 }, matchers));
  routes.push(weightedRoute(t, traffic));
  const meta = managedMeta(t);
  return {
    apiVersion: ROUTE_TABLE.apiVersion,
    kind: ROUTE_TABLE.kind,
    metadata: {
      name: t.apex,
      namespace: t.namespace,
      labels: meta.labels,
      annotations: meta.annotations,
      ownerReferences: [t.owner],
    },
    spec: { routes },
  };
}

/** The last (weighted) route's weights; an A/B route before it means match is on. */
export function readRouteTableTraffic(obj: Obj | undefined, t: RouteTarget): Traffic {
  const routes = ((obj?.spec as { routes?: Route[] } | undefined)?.routes ?? []) as Route[];
  const names = upstreamNames(t);
  const destinations = routes[routes.length - 1]?.routeAction?.multi?.destinations ?? [];
  const weight = (name: string) =>
    destinations.find((d) => d.destination?.upstream?.name === name)?.weight ?? 0;
  const traffic: Traffic = { primary: weight(names.primary), canary: weight(names.canary) };
  if (routes.length > 1) traffic.match = true;
  return traffic;
}

export const createGlooRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(ROUTE_TABLE, t.namespace, t.apex);
  const baseOf = (t: RouteTarget): Obj | undefined => {
    const ref = upstreamRefOf(t);
    if (!ref) return undefined;
    const base = cached(UPSTREAM, ref.namespace, ref.name);
    if (!base)
      throw new Error(
        `spec.upstreamRef: Upstream ${ref.namespace}/${ref.name} not found (or not in a namespace the controller watches)`,
      );
    return base;
  };
  /** Writes the Upstreams that differ from what they should be; true when it wrote one. */
  const applyUpstreams = async (t: RouteTarget): Promise<boolean> => {
    const base = baseOf(t);
    let wrote = false;
    for (const role of ['primary', 'canary'] as const) {
      const desired = desiredUpstream(t, role, base);
      const now = cached(UPSTREAM, t.namespace, desired.metadata!.name!);
      if (now && isSubset(desired.spec, now.spec) && isSubset(desired.metadata?.labels, now.metadata?.labels))
        continue;
      await kube.apply(desired);
      wrote = true;
    }
    return wrote;
  };
  const applyTable = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    refuseNoWeight(`RouteTable ${t.namespace}/${t.apex}`, traffic);
    const desired = desiredRouteTable(t, traffic);
    const now = current(t);
    if (alreadyStored(now, now && readRouteTableTraffic(now, t), desired, traffic)) return false;
    await kube.apply(desired);
    return true;
  };
  const router: Router = {
    async reconcile(t) {
      const upstreams = await applyUpstreams(t);
      const now = current(t);
      const table = await applyTable(t, routesToKeep(now ? readRouteTableTraffic(now, t) : undefined));
      return upstreams || table;
    },
    async setRoutes(t, traffic) {
      // No mirroring on gloo (the descriptor refuses it): weights and A/B only.
      await applyTable(t, { primary: traffic.primary, canary: traffic.canary, match: traffic.match });
    },
    getRoutes(t) {
      const obj = current(t);
      return obj ? readRouteTableTraffic(obj, t) : undefined;
    },
    objects: (t) => {
      const names = upstreamNames(t);
      return [
        { type: ROUTE_TABLE, name: t.apex },
        { type: UPSTREAM, name: names.primary },
        { type: UPSTREAM, name: names.canary },
      ];
    },
    async finalize(t) {
      // revertOnDeletion (Weir's; Flagger's gloo Finalize does nothing): the primary goes with the
      // Canary, so the RouteTable the user's VirtualService delegates to sends everything to an
      // Upstream `<ns>-<svc>-upstream-<port>` of the apex Service (now selecting the target's pods);
      // both are detached from the Canary so garbage collection keeps them.
      const upstream = desiredUpstream(t, 'canary', baseOf(t));
      const name = `${t.namespace}-${t.apex}-upstream-${t.spec.service.port}`;
      upstream.metadata!.name = name;
      delete upstream.metadata!.ownerReferences;
      (upstream.spec as { kube: { serviceName: string } }).kube.serviceName = t.apex;
      await kube.apply(upstream);
      const table = desiredRouteTable(t, { primary: 100, canary: 0 });
      delete table.metadata!.ownerReferences;
      (table.spec as { routes: Route[] }).routes = [
        {
          inheritablePathMatchers: true,
          routeAction: { single: { upstream: { name, namespace: t.namespace } } },
        },
      ];
      await kube.apply(table);
    },
  };
  return router;
};
