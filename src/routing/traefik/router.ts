// Provider `traefik`: a TraefikService (traefik.io/v1alpha1) named after the apex Service whose
// spec.weighted.services split between `<svc>-primary` and `<svc>-canary`, as Flagger writes it: the
// canary entry is present only while it has weight (Traefik's weights are relative, so a single
// primary entry is 100/0). The user's IngressRoute points at the TraefikService; Weir never touches it.
import type { Obj } from '../../kube/client.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';
import { alreadyStored, refuseNoWeight } from '../weighted-object.ts';

export const TRAEFIK_SERVICE: ResourceType = {
  apiVersion: 'traefik.io/v1alpha1',
  kind: 'TraefikService',
  plural: 'traefikservices',
};

type Weighted = { name: string; namespace?: string; port?: number | string; weight?: number };

export function desiredTraefikService(t: RouteTarget, traffic: Traffic): Obj {
  const entry = (name: string, weight: number): Weighted => ({
    name,
    namespace: t.namespace,
    port: t.spec.service.port,
    weight,
  });
  const services = [entry(t.primary, traffic.primary)];
  if (traffic.canary > 0) services.push(entry(t.canary, traffic.canary));
  const meta = managedMeta(t);
  const apex = t.spec.service.apex;
  return {
    apiVersion: TRAEFIK_SERVICE.apiVersion,
    kind: TRAEFIK_SERVICE.kind,
    metadata: {
      name: t.apex,
      namespace: t.namespace,
      // Flagger copies spec.service.apex's metadata onto the TraefikService; Weir's own keys win.
      labels: { ...apex?.labels, ...meta.labels },
      annotations: { ...apex?.annotations, ...meta.annotations },
      ownerReferences: [t.owner],
    },
    spec: { weighted: { services } },
  };
}

/** Weights as stored: a missing entry has no traffic (Traefik drops it from the rotation). */
export function readTraefikTraffic(obj: Obj | undefined, t: RouteTarget): Traffic {
  const services = ((obj?.spec as { weighted?: { services?: Weighted[] } } | undefined)?.weighted?.services ??
    []) as Weighted[];
  const weight = (name: string) => services.find((s) => s.name === name)?.weight ?? 0;
  return { primary: weight(t.primary), canary: weight(t.canary) };
}

export const createTraefikRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(TRAEFIK_SERVICE, t.namespace, t.apex);
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    refuseNoWeight(`TraefikService ${t.namespace}/${t.apex}`, traffic);
    const desired = desiredTraefikService(t, traffic);
    const now = current(t);
    const stored = now && readTraefikTraffic(now, t);
    if (alreadyStored(now, stored, desired, traffic)) return false;
    await kube.apply(desired);
    return true;
  };
  const router: Router = {
    async reconcile(t) {
      const now = current(t);
      const stored = now ? readTraefikTraffic(now, t) : undefined;
      // A new object starts at 100/0; an existing one keeps its weights (0/0 is no weights at all).
      const keep = stored && stored.primary + stored.canary > 0 ? stored : { primary: 100, canary: 0 };
      return apply(t, keep);
    },
    async setRoutes(t, traffic) {
      // Traefik has no A/B or mirroring (the descriptor refuses both), so only the weights are written.
      await apply(t, { primary: traffic.primary, canary: traffic.canary });
    },
    getRoutes(t) {
      const obj = current(t);
      return obj ? readTraefikTraffic(obj, t) : undefined;
    },
    objects: (t) => [{ type: TRAEFIK_SERVICE, name: t.apex }],
    async finalize(t) {
      // revertOnDeletion (as Weir does for every provider, where Flagger's traefik Finalize does
      // nothing): the primary goes with the Canary, so the TraefikService the user's IngressRoute
      // names sends everything to the apex Service (now selecting the target's pods) and is
      // detached from the Canary so garbage collection keeps it.
      const obj = desiredTraefikService(t, { primary: 100, canary: 0 });
      delete obj.metadata!.ownerReferences;
      (obj.spec as { weighted: { services: Weighted[] } }).weighted.services = [
        { name: t.apex, namespace: t.namespace, port: t.spec.service.port, weight: 1 },
      ];
      await kube.apply(obj);
    },
  };
  return router;
};
