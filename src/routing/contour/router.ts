// Provider `contour`: an HTTPProxy (projectcontour.io/v1) named after the apex Service, without a
// virtualhost: the user's root HTTPProxy includes it (as in Flagger). Its last route (prefix `/`)
// splits between `<svc>-primary` and `<svc>-canary` by weight; A/B puts one route per
// analysis.match entry before it, whose header conditions send matching requests to the canary.
// spec.service.timeout and .retries become the routes' timeoutPolicy and retryPolicy.
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';
import { alreadyStored, refuseNoWeight } from '../weighted-object.ts';

export const HTTP_PROXY: ResourceType = {
  apiVersion: 'projectcontour.io/v1',
  kind: 'HTTPProxy',
  plural: 'httpproxies',
};

type ProxyService = { name: string; port: number; weight?: number };
type Route = Record<string, unknown> & { services?: ProxyService[]; conditions?: unknown[] };

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Header conditions of one analysis.match entry (all of them must hold: Contour ANDs conditions). */
function headerConditions(m: NonNullable<CanarySpec['analysis']['match']>[number]): unknown[] {
  return Object.entries(m.headers ?? {}).map(([name, v]) => ({
    header:
      v.regex !== undefined
        ? { name, regex: v.regex }
        : v.prefix !== undefined
          ? { name, regex: `${escapeRegex(v.prefix)}.*` }
          : v.suffix !== undefined
            ? { name, regex: `.*${escapeRegex(v.suffix)}` }
            : { name, exact: v.exact ?? '' },
  }));
}

function policies(spec: CanarySpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Flagger's values: the response timeout from spec.service.timeout, idle 5m.
  if (spec.service.timeout) out.timeoutPolicy = { response: spec.service.timeout, idle: '5m' };
  const r = spec.service.retries;
  if (r)
    out.retryPolicy = {
      count: r.attempts,
      ...(r.perTryTimeout ? { perTryTimeout: r.perTryTimeout } : {}),
      ...(r.retryOn ? { retryOn: r.retryOn.split(',').map((s) => s.trim()) } : {}),
    };
  return out;
}

function services(t: RouteTarget, w: { primary: number; canary: number }) {
  const port = t.spec.service.port;
  // Flagger sets l5d-dst-override on both so Linkerd meshed upstreams get the Service's authority.
  const entry = (name: string, weight: number) => ({
    name,
    port,
    weight,
    requestHeadersPolicy: {
      set: [{ name: 'l5d-dst-override', value: `${name}.${t.namespace}.svc.cluster.local:${port}` }],
    },
  });
  return [entry(t.primary, w.primary), entry(t.canary, w.canary)];
}

export function desiredProxy(t: RouteTarget, traffic: Traffic): Obj {
  const common = { conditions: [{ prefix: '/' }], ...policies(t.spec) };
  const routes: Route[] = [];
  if (traffic.match)
    for (const m of t.spec.analysis.match ?? [])
      routes.push({
        ...common,
        conditions: [{ prefix: '/' }, ...headerConditions(m)],
        services: services(t, { primary: 0, canary: 100 }),
      });
  routes.push({ ...common, services: services(t, traffic) });
  const meta = managedMeta(t);
  return {
    apiVersion: HTTP_PROXY.apiVersion,
    kind: HTTP_PROXY.kind,
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

/** Weights of the last (prefix-only) route; routes before it mean A/B is on. */
export function readProxyTraffic(proxy: Obj | undefined, t: RouteTarget): Traffic {
  const routes = ((proxy?.spec as { routes?: Route[] } | undefined)?.routes ?? []) as Route[];
  const last = routes[routes.length - 1];
  const weight = (name: string) => last?.services?.find((s) => s.name === name)?.weight ?? 0;
  const traffic: Traffic = { primary: last ? weight(t.primary) : 100, canary: last ? weight(t.canary) : 0 };
  if (routes.length > 1) traffic.match = true;
  return traffic;
}

interface ProxyStatus {
  currentStatus?: string;
  description?: string;
  conditions?: Array<{ type?: string; status?: string; reason?: string; observedGeneration?: number }>;
}

/**
 * Weight verification from Contour's status: a Valid condition for the current generation that is
 * not True (an orphaned or invalid proxy: Envoy serves none of its routes), or one for an older
 * generation, holds the step. No status at all (no Contour running) holds nothing.
 */
export function proxyNotTaken(proxy: Obj | undefined): string | undefined {
  if (!proxy) return undefined;
  const generation = proxy.metadata?.generation ?? 0;
  const status = proxy.status as ProxyStatus | undefined;
  const valid = status?.conditions?.find((c) => c.type === 'Valid');
  if (!valid) return undefined;
  const name = `HTTPProxy ${proxy.metadata?.namespace}/${proxy.metadata?.name}`;
  if ((valid.observedGeneration ?? generation) < generation)
    return `${name}: Contour has seen generation ${valid.observedGeneration}, not the current ${generation}`;
  if (valid.status !== 'True')
    return `${name} is ${status?.currentStatus ?? 'not valid'} (${status?.description ?? valid.reason ?? 'no reason'})`;
  return undefined;
}

export const createContourRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(HTTP_PROXY, t.namespace, t.apex);
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    refuseNoWeight(`HTTPProxy ${t.namespace}/${t.apex}`, traffic);
    const desired = desiredProxy(t, traffic);
    const now = current(t);
    const stored = now && readProxyTraffic(now, t);
    if (alreadyStored(now, stored, desired, traffic)) return false;
    await kube.apply(desired);
    return true;
  };
  const router: Router = {
    async reconcile(t) {
      const now = current(t);
      const stored = now ? readProxyTraffic(now, t) : undefined;
      const keep = stored && stored.primary + stored.canary > 0 ? stored : { primary: 100, canary: 0 };
      return apply(t, keep);
    },
    async setRoutes(t, traffic) {
      // No mirroring on contour (the descriptor refuses it): weights and A/B only.
      await apply(t, { primary: traffic.primary, canary: traffic.canary, match: traffic.match });
    },
    getRoutes(t) {
      const proxy = current(t);
      return proxy ? readProxyTraffic(proxy, t) : undefined;
    },
    pendingRoutes: (t) => proxyNotTaken(current(t)),
    objects: (t) => [{ type: HTTP_PROXY, name: t.apex }],
    async finalize(t) {
      // revertOnDeletion (Weir's, where Flagger's contour Finalize does nothing): the primary goes
      // with the Canary, so the HTTPProxy the user's root proxy includes sends everything to the
      // apex Service (now selecting the target's pods) and is detached from the Canary.
      const proxy = desiredProxy(t, { primary: 100, canary: 0 });
      delete proxy.metadata!.ownerReferences;
      (proxy.spec as { routes: Route[] }).routes = [
        {
          conditions: [{ prefix: '/' }],
          ...policies(t.spec),
          services: [{ name: t.apex, port: t.spec.service.port }],
        },
      ];
      await kube.apply(proxy);
    },
  };
  return router;
};
