// Provider `istio`'s router: writes the DestinationRules and the VirtualService of
// virtual-service.ts by server-side apply, reads the routes back from the informer cache, and
// takes istiod's Reconciled status (where it reports one) as weight verification.
import type { Obj } from '../../kube/client.ts';
import { isSubset } from '../../kube/compare.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import type { RouteTarget, Router, RouterFactory } from '../router.ts';
import { cookiesFor } from '../session-affinity.ts';
import {
  apexVirtualService,
  DESTINATION_RULE,
  desiredDestinationRule,
  desiredVirtualService,
  managedDestinationRuleSpec,
  managedVirtualServiceSpec,
  readVirtualServiceTraffic,
  VIRTUAL_SERVICE,
} from './virtual-service.ts';

export {
  DESTINATION_RULE,
  desiredDestinationRule,
  desiredVirtualService,
  readVirtualServiceTraffic,
  VIRTUAL_SERVICE,
} from './virtual-service.ts';
export { httpMatches } from './match.ts';

const sameJson = (a: unknown, b: unknown) => isSubset(a, b) && isSubset(b, a);

function upToDate(desired: Obj, now: Obj | undefined, managed: (spec: unknown) => unknown): boolean {
  return (
    !!now &&
    sameJson(desired.spec, managed(now.spec)) &&
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
  /**
   * Applies `desired` unless the stored object already says it; true when the API server stored a
   * change (a no-op apply keeps the resourceVersion, e.g. beside a field another manager set).
   */
  const write = async (desired: Obj, now: Obj | undefined, same: boolean): Promise<boolean> => {
    if (same) return false;
    const out = await kube.apply(desired);
    return !now || out.metadata?.resourceVersion !== now.metadata?.resourceVersion;
  };
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    if (traffic.primary === 0 && traffic.canary === 0)
      throw new Error(`VirtualService ${t.namespace}/${t.apex}: refusing to route 0/0`);
    let wrote = false;
    // DestinationRules first: the VirtualService's hosts resolve through them.
    for (const host of [t.primary, t.canary]) {
      const desired = desiredDestinationRule(t, host);
      const now = drOf(t, host);
      if (await write(desired, now, upToDate(desired, now, managedDestinationRuleSpec))) wrote = true;
    }
    const now = vsOf(t);
    const desired = desiredVirtualService(t, traffic, cookiesFor(t, now, traffic));
    if (await write(desired, now, upToDate(desired, now, managedVirtualServiceSpec))) wrote = true;
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
      await kube.apply(apexVirtualService(t));
    },
  };
  return router;
};
