// Provider `kubernetes`: blue/green through Services alone. The apex Service selects the primary's
// pods; during a run testers reach the canary through `<svc>-canary`; no weights exist, so only
// 100/0 and 0/100 are valid routes.
import type { V1Service } from '@kubernetes/client-node';
import { WeirError } from '../../errors.ts';
import { RESOURCES } from '../../kube/resources.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import type { RouteTarget, Router, RouterFactory } from '../router.ts';

export const createKubernetesRouter: RouterFactory = ({ kube, cached }) => {
  const apexSelectsCanary = (t: RouteTarget): boolean => {
    const svc = cached(RESOURCES.service, t.namespace, t.apex) as V1Service | undefined;
    return svc?.spec?.selector?.[t.selector.key] === t.selector.value;
  };
  const point = async (t: RouteTarget, toCanary: boolean) => {
    const value = toCanary ? t.selector.value : `${t.selector.value}-primary`;
    if (
      (apexSelectsCanary(t) ? t.selector.value : `${t.selector.value}-primary`) === value &&
      cached(RESOURCES.service, t.namespace, t.apex)
    )
      return;
    await kube.mergePatch(
      { ...RESOURCES.service, namespace: t.namespace, name: t.apex },
      { spec: { selector: { [t.selector.key]: value } } },
    );
  };
  const router: Router = {
    async reconcile() {
      // The apex Service itself is created (and repaired) with the primary objects (targets.ts).
      return false;
    },
    async setRoutes(t, traffic: Traffic) {
      if (traffic.canary !== 0 && traffic.canary !== 100) {
        throw new WeirError(
          'ROUTING',
          `provider kubernetes cannot split traffic ${traffic.primary}/${traffic.canary}; use analysis.iterations (blue/green)`,
        );
      }
      await point(t, traffic.canary === 100);
    },
    getRoutes(t) {
      if (!cached(RESOURCES.service, t.namespace, t.apex)) return undefined;
      return apexSelectsCanary(t) ? { primary: 0, canary: 100 } : { primary: 100, canary: 0 };
    },
    objects: () => [],
    async finalize() {
      // The apex Service is handed back to the target by the Canary's finalizer (finalize.ts).
    },
  };
  return router;
};
