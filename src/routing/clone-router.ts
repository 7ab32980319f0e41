// Routers whose routing object is a copy of an object the user owns and names in the Canary (an
// Ingress by spec.ingressRef for nginx and skipper, an ApisixRoute by spec.routeRef for apisix):
// Weir reads the user's object, writes `<copy>` with the routes in it, and never edits the original.
// What differs between them is how the copy is built and how its routes are read back; the read of
// the user's object, the write-when-changed, reconcile, drift reads and finalize are this file's.
import type { CanarySpec } from '../api/canary.ts';
import type { Obj } from '../kube/client.ts';
import { isSubset } from '../kube/compare.ts';
import type { ResourceType } from '../kube/resources.ts';
import type { Traffic } from '../vocab/traffic.ts';
import type { ProviderResource } from './provider.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from './router.ts';

export const INGRESS: ResourceType = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  plural: 'ingresses',
};

/** The user's Ingress name (spec.ingressRef, required for nginx and skipper by the schema). */
export function userIngressName(spec: CanarySpec): string {
  return spec.ingressRef?.name ?? spec.targetRef.name;
}

export const canaryIngressName = (spec: CanarySpec) => `${userIngressName(spec)}-canary`;

/** What nginx and skipper do with Ingresses (the same rule in the chart). */
export const CANARY_INGRESS_RESOURCE: ProviderResource = {
  type: INGRESS,
  verbs: ['get', 'create', 'patch', 'delete'],
  why: 'reads the Ingress of spec.ingressRef, writes the Ingress <ingress>-canary (server-side apply)',
};

export type IngressPath = { backend?: { service?: { name?: string } } };
export type IngressSpec = { rules?: Array<{ http?: { paths?: IngressPath[] } }> };

/**
 * A deep copy of the user's Ingress spec and, in it, every path whose backend is the apex Service
 * with the path list of its rule (for the caller to rewrite). No such path is an error naming both.
 */
export function apexPathsOf(
  user: Obj,
  t: RouteTarget,
): {
  spec: IngressSpec;
  apex: Array<{ path: IngressPath & { backend: { service: { name: string } } }; paths: IngressPath[] }>;
} {
  const spec = structuredClone((user.spec ?? {}) as IngressSpec);
  const apex = [];
  for (const rule of spec.rules ?? []) {
    const paths = rule.http?.paths ?? [];
    for (const path of paths)
      if (path.backend?.service?.name === t.apex)
        apex.push({ path: path as IngressPath & { backend: { service: { name: string } } }, paths });
  }
  if (!apex.length)
    throw new Error(
      `Ingress ${t.namespace}/${user.metadata?.name} (spec.ingressRef) has no backend for Service ${t.apex}`,
    );
  return { spec, apex };
}

export interface Clone {
  type: ResourceType;
  /** The field naming the user's object, for messages (`spec.ingressRef`). */
  field: string;
  /** The user's object's name. */
  source(spec: CanarySpec): string;
  /** The copy's name. */
  name(t: RouteTarget): string;
  /** The copy Weir wants, from the user's object and the routes. */
  desired(user: Obj, t: RouteTarget, traffic: Traffic): Obj;
  /** The routes the stored copy says. */
  read(copy: Obj, t: RouteTarget): Traffic;
}

/**
 * The copy's metadata: the user's labels and annotations (minus kubectl's copy of the whole object
 * and the keys `drop` names, which the copy sets itself), Weir's own keys, the Canary as owner.
 */
export function cloneMetadata(
  user: Obj,
  t: RouteTarget,
  name: string,
  drop: (key: string) => boolean = () => false,
): NonNullable<Obj['metadata']> {
  const meta = managedMeta(t);
  const kept = Object.fromEntries(
    Object.entries(user.metadata?.annotations ?? {}).filter(
      ([k]) => !drop(k) && k !== 'kubectl.kubernetes.io/last-applied-configuration',
    ),
  );
  return {
    name,
    namespace: t.namespace,
    labels: { ...user.metadata?.labels, ...meta.labels },
    annotations: { ...kept, ...meta.annotations },
    ownerReferences: [t.owner],
  };
}

export function createCloneRouter(c: Clone): RouterFactory {
  return ({ kube, cached }) => {
    const current = (t: RouteTarget) => cached(c.type, t.namespace, c.name(t));
    const user = (t: RouteTarget): Obj => {
      const name = c.source(t.spec);
      const obj = cached(c.type, t.namespace, name);
      if (!obj) throw new Error(`${c.type.kind} ${t.namespace}/${name} (${c.field}) not found`);
      return obj;
    };
    const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
      if (traffic.primary === 0 && traffic.canary === 0)
        throw new Error(`${c.type.kind} ${t.namespace}/${c.name(t)}: refusing to route 0/0`);
      const desired = c.desired(user(t), t, traffic);
      const now = current(t);
      const stored = now && c.read(now, t);
      if (
        now &&
        stored &&
        stored.primary === traffic.primary &&
        stored.canary === traffic.canary &&
        !!stored.match === !!traffic.match &&
        isSubset(desired.spec, now.spec) &&
        isSubset(desired.metadata?.annotations, now.metadata?.annotations) &&
        isSubset(desired.metadata?.labels, now.metadata?.labels)
      )
        return false;
      await kube.apply(desired);
      return true;
    };
    const router: Router = {
      async reconcile(t) {
        const now = current(t);
        const stored = now ? c.read(now, t) : undefined;
        // A new copy starts at 100/0; an existing one keeps its routes (0/0 is no routes at all).
        return apply(t, stored && stored.primary + stored.canary > 0 ? stored : { primary: 100, canary: 0 });
      },
      async setRoutes(t, traffic) {
        // None of these providers mirrors (their descriptors refuse it): weights and A/B only.
        await apply(t, {
          primary: traffic.primary,
          canary: traffic.canary,
          ...(traffic.match ? { match: true } : {}),
        });
      },
      getRoutes(t) {
        const obj = current(t);
        return obj ? c.read(obj, t) : undefined;
      },
      objects: (t) => [{ type: c.type, name: c.name(t) }],
      async finalize(t) {
        // revertOnDeletion: without the copy, the proxy routes through the user's own object to the
        // apex Service (now selecting the target's pods). It is owned by the Canary and would go
        // with it anyway; deleting it first hands traffic back before the primary goes.
        await kube.remove({
          apiVersion: c.type.apiVersion,
          kind: c.type.kind,
          namespace: t.namespace,
          name: c.name(t),
        });
      },
    };
    return router;
  };
}
