// Provider `kuma`: a MeshHTTPRoute (kuma.io/v1alpha1) named after the apex Service, in the Canary's
// namespace, whose one rule (path prefix `/`) splits the apex MeshService's traffic between the
// `<svc>-primary` and `<svc>-canary` MeshServices by weight. Flagger v1.44 writes a cluster-scoped
// TrafficRoute instead; Kuma 2.6 stopped creating a default one, MeshHTTPRoute takes priority over it
// wherever both target a proxy, and Kuma 3.0 removes it (docs/providers.md, "kuma", says why Weir
// writes the MeshHTTPRoute). MeshServices are selected by the labels Kuma gives the ones it derives
// from Kubernetes Services (`kuma.io/display-name`, `k8s.kuma.io/namespace`).
import type { Obj } from '../../kube/client.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';
import { alreadyStored, refuseNoWeight, routesToKeep } from '../weighted-object.ts';

export const MESH_HTTP_ROUTE: ResourceType = {
  apiVersion: 'kuma.io/v1alpha1',
  kind: 'MeshHTTPRoute',
  plural: 'meshhttproutes',
};

/** Flagger's Canary annotation naming the mesh; Kuma's label of the same name places the route. */
export const MESH_ANNOTATION = 'kuma.io/mesh';

type BackendRef = { kind: string; labels?: Record<string, string>; port?: number; weight?: number };
type Rule = { matches?: unknown[]; default?: { backendRefs?: BackendRef[] } };
type To = { targetRef?: unknown; rules?: Rule[] };

/** The labels that select the MeshService Kuma derives from Service `<name>` of the namespace. */
export function meshServiceLabels(name: string, namespace: string): Record<string, string> {
  return { 'kuma.io/display-name': name, 'k8s.kuma.io/namespace': namespace };
}

export function meshOf(t: RouteTarget): string {
  return t.annotations?.[MESH_ANNOTATION] ?? 'default';
}

export function desiredMeshHttpRoute(t: RouteTarget, traffic: Traffic): Obj {
  const port = t.spec.service.port;
  const backend = (name: string, weight: number): BackendRef => ({
    kind: 'MeshService',
    labels: meshServiceLabels(name, t.namespace),
    port,
    weight,
  });
  const meta = managedMeta(t);
  return {
    apiVersion: MESH_HTTP_ROUTE.apiVersion,
    kind: MESH_HTTP_ROUTE.kind,
    metadata: {
      name: t.apex,
      namespace: t.namespace,
      labels: { ...meta.labels, [MESH_ANNOTATION]: meshOf(t) },
      annotations: meta.annotations,
      ownerReferences: [t.owner],
    },
    spec: {
      // A producer route (in the apex Service's namespace): every client in the mesh takes it.
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: { kind: 'MeshService', labels: meshServiceLabels(t.apex, t.namespace) },
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              default: {
                backendRefs: [backend(t.primary, traffic.primary), backend(t.canary, traffic.canary)],
              },
            },
          ],
        },
      ],
    },
  };
}

/** Weights of the rule's backends as stored (a missing backend has none; Kuma's default is 1). */
export function readMeshHttpRouteTraffic(obj: Obj | undefined, t: RouteTarget): Traffic {
  const to = ((obj?.spec as { to?: To[] } | undefined)?.to ?? [])[0];
  const refs = to?.rules?.[0]?.default?.backendRefs ?? [];
  const weight = (name: string) => {
    const ref = refs.find((r) => r.labels?.['kuma.io/display-name'] === name);
    return ref ? (ref.weight ?? 1) : 0;
  };
  return { primary: weight(t.primary), canary: weight(t.canary) };
}

export const createKumaRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(MESH_HTTP_ROUTE, t.namespace, t.apex);
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    refuseNoWeight(`MeshHTTPRoute ${t.namespace}/${t.apex}`, traffic);
    const desired = desiredMeshHttpRoute(t, traffic);
    const now = current(t);
    if (alreadyStored(now, now && readMeshHttpRouteTraffic(now, t), desired, traffic)) return false;
    await kube.apply(desired);
    return true;
  };
  const router: Router = {
    async reconcile(t) {
      const now = current(t);
      return apply(t, routesToKeep(now ? readMeshHttpRouteTraffic(now, t) : undefined));
    },
    async setRoutes(t, traffic) {
      // No A/B or mirroring on kuma (the descriptor refuses both, as Flagger's router has neither).
      await apply(t, { primary: traffic.primary, canary: traffic.canary });
    },
    getRoutes(t) {
      const obj = current(t);
      return obj ? readMeshHttpRouteTraffic(obj, t) : undefined;
    },
    objects: (t) => [{ type: MESH_HTTP_ROUTE, name: t.apex }],
    async finalize(t) {
      // revertOnDeletion (Weir's; Flagger's kuma Finalize does nothing): without the route Kuma
      // sends the apex MeshService's traffic to the apex Service, which now selects the target.
      await kube.remove({ ...MESH_HTTP_ROUTE, namespace: t.namespace, name: t.apex });
    },
  };
  return router;
};
