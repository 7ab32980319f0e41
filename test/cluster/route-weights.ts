// Reads the weights of an HTTPRoute's default (last) rule as Weir wrote them: used by end-to-end
// tests to assert each step.
import type { Kube } from '../../src/kube/client.ts';

type Rule = {
  name?: string;
  backendRefs?: Array<{ name: string; weight?: number }>;
  filters?: Array<{ type: string }>;
};

/** The HTTPRoute's rules and the weights of its default (last) rule; undefined without rules. */
async function defaultRule(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<{ rules: Rule[]; last: Rule; primary: number; canary: number } | undefined> {
  const r = await kube.get<{ spec?: { rules?: Rule[] } } & Record<string, never>>({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    namespace,
    name,
  });
  const rules = r?.spec?.rules ?? [];
  const last = rules[rules.length - 1];
  if (!last) return undefined;
  const w = (n: string) => last.backendRefs?.find((b) => b.name === n)?.weight ?? 0;
  return { rules, last, primary: w(`${name}-primary`), canary: w(`${name}-canary`) };
}

export async function httpRouteWeights(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<{ primary: number; canary: number } | undefined> {
  const d = await defaultRule(kube, namespace, name);
  return d && { primary: d.primary, canary: d.canary };
}

/** Routes as a string read from the stored objects: `90/10`, `100/0 match`, `100/0 mirror`. */
export type StoredRoutes = string;

/**
 * The HTTPRoute `<name>` (gatewayapi): default rule weights, `match` when A/B rules precede it (any
 * rule other than the session-affinity cookie rules, named `weir-…`).
 */
export async function httpRouteRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  const d = await defaultRule(kube, namespace, name);
  if (!d) return undefined;
  const extra = [
    ...(d.rules.slice(0, -1).some((r) => !r.name?.startsWith('weir-')) ? ['match'] : []),
    ...(d.last.filters?.some((f) => f.type === 'RequestMirror') ? ['mirror'] : []),
  ];
  return [`${d.primary}/${d.canary}`, ...extra].join(' ');
}

/** The apex Service `<name>` (kubernetes): selecting the primary's pods is 100/0, the target's 0/100. */
export async function apexServiceRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  const svc = await kube.get<{ spec?: { selector?: Record<string, string> } } & Record<string, never>>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace,
    name,
  });
  const app = svc?.spec?.selector?.app;
  if (!app) return undefined;
  return app === `${name}-primary` ? '100/0' : app === name ? '0/100' : `selector ${app}`;
}

/**
 * The VirtualService `<name>` (istio): last http rule's weights by host, `match`/`mirror` as stored
 * (`match`: a rule before it other than the session-affinity cookie rules, named `weir-…`).
 */
export async function virtualServiceRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  type Rule = {
    name?: string;
    route?: Array<{ destination?: { host?: string }; weight?: number }>;
    mirror?: unknown;
  };
  const vs = await kube.get<{ spec?: { http?: Rule[] } } & Record<string, never>>({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    namespace,
    name,
  });
  const http = vs?.spec?.http ?? [];
  const last = http[http.length - 1];
  if (!last) return undefined;
  const w = (host: string) => last.route?.find((d) => d.destination?.host === host)?.weight ?? 0;
  const ab = http.slice(0, -1).some((r) => !r.name?.startsWith('weir-'));
  const extra = [...(ab ? ['match'] : []), ...(last.mirror ? ['mirror'] : [])];
  return [`${w(`${name}-primary`)}/${w(`${name}-canary`)}`, ...extra].join(' ');
}

/** The TraefikService `<name>` (traefik): weights of its weighted services (a missing entry is 0). */
export async function traefikServiceRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  type Ts = { spec?: { weighted?: { services?: Array<{ name: string; weight?: number }> } } };
  const r = await kube.get<Ts & Record<string, never>>({
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'TraefikService',
    namespace,
    name,
  });
  const services = r?.spec?.weighted?.services;
  if (!services) return undefined;
  const w = (n: string) => services.find((s) => s.name === n)?.weight ?? 0;
  return `${w(`${name}-primary`)}/${w(`${name}-canary`)}`;
}

/** The HTTPProxy `<name>` (contour): last route's weights, `match` when A/B routes precede it. */
export async function httpProxyRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  type Proxy = { spec?: { routes?: Array<{ services?: Array<{ name: string; weight?: number }> }> } };
  const r = await kube.get<Proxy & Record<string, never>>({
    apiVersion: 'projectcontour.io/v1',
    kind: 'HTTPProxy',
    namespace,
    name,
  });
  const routes = r?.spec?.routes ?? [];
  const last = routes[routes.length - 1];
  if (!last) return undefined;
  const w = (n: string) => last.services?.find((s) => s.name === n)?.weight ?? 0;
  return [`${w(`${name}-primary`)}/${w(`${name}-canary`)}`, ...(routes.length > 1 ? ['match'] : [])].join(
    ' ',
  );
}

/** The canary Ingress `<name>-canary` (nginx): `canary-weight`, `match` when by-header/cookie is set. */
export async function nginxIngressRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  const ing = await kube.get<Record<string, never>>({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    namespace,
    name: `${name}-canary`,
  });
  if (!ing) return undefined;
  const a = (ing as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations ?? {};
  const p = 'nginx.ingress.kubernetes.io';
  const w = Number(a[`${p}/canary-weight`] ?? '0');
  const match = a[`${p}/canary-by-header`] !== undefined || a[`${p}/canary-by-cookie`] !== undefined;
  return [`${100 - w}/${w}`, ...(match ? ['match'] : [])].join(' ');
}

/** The TrafficSplit `<name>` (smi, linkerd): its backends' weights (v1alpha1 Quantities). */
export async function trafficSplitRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  type Ts = { spec?: { backends?: Array<{ service: string; weight?: number | string }> } };
  const r = await kube.get<Ts & Record<string, never>>({
    apiVersion: 'split.smi-spec.io/v1alpha1',
    kind: 'TrafficSplit',
    namespace,
    name,
  });
  const backends = r?.spec?.backends;
  if (!backends) return undefined;
  const w = (n: string) => Number(backends.find((b) => b.service === n)?.weight ?? 0);
  return `${w(`${name}-primary`)}/${w(`${name}-canary`)}`;
}

/**
 * The canary Ingress `<ingress>-canary` (skipper): its `zalando.org/backend-weights` for the apex
 * Service `<service>` (default: named like the Ingress).
 */
export async function skipperIngressRoutes(
  kube: Kube,
  namespace: string,
  ingress: string,
  service = ingress,
): Promise<StoredRoutes | undefined> {
  const ing = await kube.get<{ metadata?: { annotations?: Record<string, string> } } & Record<string, never>>(
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      namespace,
      name: `${ingress}-canary`,
    },
  );
  const raw = ing?.metadata?.annotations?.['zalando.org/backend-weights'];
  if (!raw) return undefined;
  const w = JSON.parse(raw) as Record<string, number>;
  return `${w[`${service}-primary`] ?? 0}/${w[`${service}-canary`] ?? 0}`;
}

/**
 * The ApisixRoute `<route>-<service>-canary` (apisix, spec.routeRef `<route>`, apex Service
 * `<service>`, default: named like the route): its backends' weights.
 */
export async function apisixRouteRoutes(
  kube: Kube,
  namespace: string,
  route: string,
  service = route,
): Promise<StoredRoutes | undefined> {
  type Route = { spec?: { http?: Array<{ backends?: Array<{ serviceName: string; weight?: number }> }> } };
  const r = await kube.get<Route & Record<string, never>>({
    apiVersion: 'apisix.apache.org/v2',
    kind: 'ApisixRoute',
    namespace,
    name: `${route}-${service}-canary`,
  });
  const backends = r?.spec?.http?.[0]?.backends;
  if (!backends) return undefined;
  const w = (n: string) => backends.find((b) => b.serviceName === n)?.weight ?? 0;
  return `${w(`${service}-primary`)}/${w(`${service}-canary`)}`;
}
