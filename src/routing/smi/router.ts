// Providers `smi` and `linkerd`: an SMI TrafficSplit (split.smi-spec.io/v1alpha1, what Flagger
// writes for `linkerd` and `smi:v1alpha1`) named after the apex Service, whose root service is
// `service.hosts[0]` or the apex, with the backends `<svc>-canary` and `<svc>-primary` and their
// weights (canary first, as Flagger lists them). No match, no mirroring: SMI has neither here.
import type { Obj } from '../../kube/client.ts';
import { isSubset } from '../../kube/compare.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';

export const TRAFFIC_SPLIT: ResourceType = {
  apiVersion: 'split.smi-spec.io/v1alpha1',
  kind: 'TrafficSplit',
  plural: 'trafficsplits',
};

type Backend = { service: string; weight?: number | string };

export function desiredTrafficSplit(t: RouteTarget, traffic: Traffic): Obj {
  const meta = managedMeta(t);
  return {
    apiVersion: TRAFFIC_SPLIT.apiVersion,
    kind: TRAFFIC_SPLIT.kind,
    metadata: {
      name: t.apex,
      namespace: t.namespace,
      labels: { ...t.spec.service.apex?.labels, ...meta.labels },
      annotations: { ...t.spec.service.apex?.annotations, ...meta.annotations },
      ownerReferences: [t.owner],
    },
    spec: {
      service: t.spec.service.hosts?.[0] ?? t.apex,
      backends: [
        { service: t.canary, weight: traffic.canary },
        { service: t.primary, weight: traffic.primary },
      ],
    },
  };
}

/** v1alpha1 weights are Quantities: an integer, or a string of one ("100"). */
export function readSplitTraffic(split: Obj | undefined, t: RouteTarget): Traffic {
  const backends = ((split?.spec as { backends?: Backend[] } | undefined)?.backends ?? []) as Backend[];
  const weight = (name: string) => Number(backends.find((b) => b.service === name)?.weight ?? 0) || 0;
  return { primary: weight(t.primary), canary: weight(t.canary) };
}

export const createSmiRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(TRAFFIC_SPLIT, t.namespace, t.apex);
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    if (traffic.primary === 0 && traffic.canary === 0)
      throw new Error(`TrafficSplit ${t.namespace}/${t.apex}: refusing to route 0/0`);
    const desired = desiredTrafficSplit(t, traffic);
    const now = current(t);
    const stored = now && readSplitTraffic(now, t);
    if (
      now &&
      stored &&
      stored.primary === traffic.primary &&
      stored.canary === traffic.canary &&
      (now.spec as { service?: string }).service === (desired.spec as { service: string }).service &&
      ((now.spec as { backends?: unknown[] }).backends ?? []).length === 2 &&
      isSubset(desired.metadata?.labels, now.metadata?.labels)
    )
      return false;
    await kube.apply(desired);
    return true;
  };
  const router: Router = {
    async reconcile(t) {
      const now = current(t);
      const stored = now ? readSplitTraffic(now, t) : undefined;
      return apply(t, stored && stored.primary + stored.canary > 0 ? stored : { primary: 100, canary: 0 });
    },
    async setRoutes(t, traffic) {
      // SMI has no match and no mirroring (the descriptors refuse both): weights only.
      await apply(t, { primary: traffic.primary, canary: traffic.canary });
    },
    getRoutes(t) {
      const split = current(t);
      return split ? readSplitTraffic(split, t) : undefined;
    },
    objects: (t) => [{ type: TRAFFIC_SPLIT, name: t.apex }],
    async finalize() {
      // revertOnDeletion: nothing to do (as Flagger's SMI Finalize). The TrafficSplit is owned by
      // the Canary and goes with it; without it, requests to the apex Service reach the pods it
      // selects, the target's. Nothing else refers to it, so there is nothing to keep working.
    },
  };
  return router;
};
