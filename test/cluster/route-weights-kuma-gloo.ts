// Reads the routes of the kuma and gloo providers' stored objects, as route-weights.ts does for the
// others: `90/10`, `100/0 match`.
import type { Kube } from '../../src/kube/client.ts';
import type { StoredRoutes } from './route-weights.ts';

/** The MeshHTTPRoute `<name>` (kuma): its one rule's backend weights, by MeshService display name. */
export async function meshHttpRouteRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  type Ref = { labels?: Record<string, string>; weight?: number };
  type R = { spec?: { to?: Array<{ rules?: Array<{ default?: { backendRefs?: Ref[] } }> }> } };
  const r = await kube.get<R & Record<string, never>>({
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'MeshHTTPRoute',
    namespace,
    name,
  });
  const refs = r?.spec?.to?.[0]?.rules?.[0]?.default?.backendRefs;
  if (!refs) return undefined;
  const w = (n: string) => refs.find((b) => b.labels?.['kuma.io/display-name'] === n)?.weight ?? 0;
  return `${w(`${name}-primary`)}/${w(`${name}-canary`)}`;
}

/** The RouteTable `<name>` (gloo): the last route's Upstream weights, `match` when routes precede it. */
export async function routeTableRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  type Dest = { destination?: { upstream?: { name?: string } }; weight?: number };
  type R = { spec?: { routes?: Array<{ routeAction?: { multi?: { destinations?: Dest[] } } }> } };
  const r = await kube.get<R & Record<string, never>>({
    apiVersion: 'gateway.solo.io/v1',
    kind: 'RouteTable',
    namespace,
    name,
  });
  const routes = r?.spec?.routes ?? [];
  const last = routes[routes.length - 1];
  if (!last) return undefined;
  const w = (role: string) =>
    last.routeAction?.multi?.destinations?.find((d) =>
      d.destination?.upstream?.name?.startsWith(`${namespace}-${name}-${role}upstream-`),
    )?.weight ?? 0;
  return [`${w('primary')}/${w('canary')}`, ...(routes.length > 1 ? ['match'] : [])].join(' ');
}
