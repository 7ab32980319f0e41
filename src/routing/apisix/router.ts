// Provider `apisix`: a copy of the user's ApisixRoute (spec.routeRef) named
// `<route>-<svc>-canary`, as Flagger v1.44 writes it: the user's labels, annotations and spec with
// `http` reduced to the entry whose backend is the apex Service `<svc>`, at `priority: 10000` (so it
// wins over the user's route for the same match), and its backends `<svc>-primary` and `<svc>-canary`
// (port, resolveGranularity and subset of the user's backend) with their weights. APISIX's ingress
// controller splits between them with its traffic-split plugin. The user's route is never modified.
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import type { RouteTarget } from '../router.ts';
import { cloneMetadata, createCloneRouter } from '../clone-router.ts';

export const APISIX_ROUTE: ResourceType = {
  apiVersion: 'apisix.apache.org/v2',
  kind: 'ApisixRoute',
  plural: 'apisixroutes',
};

/** Flagger's priority of the canary route (above any the user is likely to set). */
const PRIORITY = 10000;

type Backend = {
  serviceName: string;
  servicePort?: number | string;
  resolveGranularity?: string;
  subset?: string;
  weight?: number;
};
type Http = { name: string; priority?: number; backends?: Backend[] };

/** The user's ApisixRoute name (spec.routeRef, required for apisix by the schema). */
export function userRouteName(spec: CanarySpec): string {
  return spec.routeRef?.name ?? spec.targetRef.name;
}

export const canaryRouteName = (t: RouteTarget) => `${userRouteName(t.spec)}-${t.apex}-canary`;

/** The user's `http` entry that sends to the apex Service; it must have that one backend only. */
function apexHttp(user: Obj, t: RouteTarget): Http {
  const name = `ApisixRoute ${t.namespace}/${user.metadata?.name} (spec.routeRef)`;
  const http = ((user.spec as { http?: Http[] } | undefined)?.http ?? []).find((h) =>
    (h.backends ?? []).some((b) => b.serviceName === t.apex),
  );
  if (!http) throw new Error(`${name} has no http backend for Service ${t.apex}`);
  if (http.backends!.length !== 1)
    throw new Error(
      `${name}: http ${http.name} has ${http.backends!.length} backends; only one (Service ${t.apex}) is supported`,
    );
  return http;
}

export function desiredApisixRoute(user: Obj, t: RouteTarget, traffic: Traffic): Obj {
  const http = structuredClone(apexHttp(user, t));
  const { serviceName: _apex, weight: _weight, ...rest } = http.backends![0]!;
  http.priority = PRIORITY;
  http.backends = [
    { ...rest, serviceName: t.primary, weight: traffic.primary },
    { ...rest, serviceName: t.canary, weight: traffic.canary },
  ];
  return {
    apiVersion: APISIX_ROUTE.apiVersion,
    kind: APISIX_ROUTE.kind,
    metadata: cloneMetadata(user, t, canaryRouteName(t)),
    spec: { ...structuredClone(user.spec ?? {}), http: [http] },
  };
}

/** Weights of the `<svc>-primary` and `<svc>-canary` backends as stored (a missing one is 0). */
export function readApisixTraffic(obj: Obj, t: RouteTarget): Traffic {
  const backends = ((obj.spec as { http?: Http[] } | undefined)?.http ?? []).flatMap((h) => h.backends ?? []);
  const weight = (name: string) => backends.find((b) => b.serviceName === name)?.weight ?? 0;
  return { primary: weight(t.primary), canary: weight(t.canary) };
}

export const createApisixRouter = createCloneRouter({
  type: APISIX_ROUTE,
  field: 'spec.routeRef',
  source: userRouteName,
  name: canaryRouteName,
  desired: desiredApisixRoute,
  read: readApisixTraffic,
});
