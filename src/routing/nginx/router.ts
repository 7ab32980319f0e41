// Provider `nginx`: a copy of the user's Ingress (spec.ingressRef) named `<ingress>-canary`, whose
// backends point at `<svc>-canary` instead of `<svc>`, marked as an ingress-nginx canary by the
// `nginx.ingress.kubernetes.io/canary*` annotations: `canary-weight` for the split, `canary-by-header`
// (+ `-value` or `-pattern`) and `canary-by-cookie` for A/B. The user's Ingress is never modified;
// ingress-nginx sends the rest of the host's traffic through it to the apex Service (the primary).
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import { isSubset } from '../../kube/compare.ts';
import type { ResourceType } from '../../kube/resources.ts';
import type { Traffic } from '../../canary/model.ts';
import { managedMeta, type RouteTarget, type Router, type RouterFactory } from '../router.ts';

export const INGRESS: ResourceType = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  plural: 'ingresses',
};

/** Flagger's default `-ingress-annotations-prefix`. */
export const PREFIX = 'nginx.ingress.kubernetes.io';
const A = {
  canary: `${PREFIX}/canary`,
  weight: `${PREFIX}/canary-weight`,
  byHeader: `${PREFIX}/canary-by-header`,
  byHeaderValue: `${PREFIX}/canary-by-header-value`,
  byHeaderPattern: `${PREFIX}/canary-by-header-pattern`,
  byCookie: `${PREFIX}/canary-by-cookie`,
};

type StringMatch = { exact?: string; regex?: string; prefix?: string; suffix?: string };
type Backend = { service?: { name?: string } };
type IngressSpec = { rules?: Array<{ http?: { paths?: Array<{ backend?: Backend }> } }> };

/** The user's Ingress name (spec.ingressRef, required for nginx by the schema). */
export function userIngressName(spec: CanarySpec): string {
  return spec.ingressRef?.name ?? spec.targetRef.name;
}

export const canaryIngressName = (spec: CanarySpec) => `${userIngressName(spec)}-canary`;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The A/B annotations: one header (exact value, else a pattern) and one cookie (its exact value is
 * the cookie *name*; ingress-nginx routes when that cookie is `always`). The descriptor refuses
 * specs that ask for more, so nothing here picks a winner.
 */
export function matchAnnotations(spec: CanarySpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of spec.analysis.match ?? []) {
    for (const [name, v] of Object.entries((m.headers ?? {}) as Record<string, StringMatch>)) {
      if (name.toLowerCase() === 'cookie') {
        out[A.byCookie] = v.exact ?? '';
        continue;
      }
      out[A.byHeader] = name;
      if (v.exact !== undefined) out[A.byHeaderValue] = v.exact;
      else
        out[A.byHeaderPattern] =
          v.regex ??
          (v.prefix !== undefined ? `^${escapeRegex(v.prefix)}.*` : `.*${escapeRegex(v.suffix ?? '')}$`);
    }
  }
  return out;
}

/** The user's spec with every backend naming the apex Service switched to `<svc>-canary`. */
export function canarySpecOf(user: Obj, t: RouteTarget): IngressSpec {
  const spec = structuredClone((user.spec ?? {}) as IngressSpec);
  let found = false;
  for (const rule of spec.rules ?? [])
    for (const path of rule.http?.paths ?? [])
      if (path.backend?.service?.name === t.apex) {
        path.backend.service.name = t.canary;
        found = true;
      }
  if (!found)
    throw new Error(
      `Ingress ${t.namespace}/${user.metadata?.name} (spec.ingressRef) has no backend for Service ${t.apex}`,
    );
  return spec;
}

export function desiredCanaryIngress(user: Obj, t: RouteTarget, traffic: Traffic): Obj {
  const meta = managedMeta(t);
  // The user's annotations minus their own canary keys and kubectl's copy of the whole object.
  const kept = Object.fromEntries(
    Object.entries(user.metadata?.annotations ?? {}).filter(
      ([k]) => !k.startsWith(`${PREFIX}/canary`) && k !== 'kubectl.kubernetes.io/last-applied-configuration',
    ),
  );
  return {
    apiVersion: INGRESS.apiVersion,
    kind: INGRESS.kind,
    metadata: {
      name: canaryIngressName(t.spec),
      namespace: t.namespace,
      labels: { ...user.metadata?.labels, ...meta.labels },
      annotations: {
        ...kept,
        ...meta.annotations,
        [A.canary]: 'true',
        [A.weight]: String(traffic.canary),
        ...(traffic.match ? matchAnnotations(t.spec) : {}),
      },
      ownerReferences: [t.owner],
    },
    spec: canarySpecOf(user, t) as Record<string, unknown>,
  };
}

/** Weights from `canary-weight` (absent is 0); A/B is on when a by-header/by-cookie key is present. */
export function readIngressTraffic(obj: Obj): Traffic {
  const a = obj.metadata?.annotations ?? {};
  const w = Number(a[A.weight] ?? '0');
  const canary = Number.isFinite(w) ? Math.min(100, Math.max(0, Math.round(w))) : 0;
  const traffic: Traffic = { primary: 100 - canary, canary };
  if (a[A.byHeader] !== undefined || a[A.byCookie] !== undefined) traffic.match = true;
  return traffic;
}

export const createNginxRouter: RouterFactory = ({ kube, cached }) => {
  const current = (t: RouteTarget) => cached(INGRESS, t.namespace, canaryIngressName(t.spec));
  const user = (t: RouteTarget): Obj => {
    const name = userIngressName(t.spec);
    const obj = cached(INGRESS, t.namespace, name);
    if (!obj) throw new Error(`Ingress ${t.namespace}/${name} (spec.ingressRef) not found`);
    return obj;
  };
  const apply = async (t: RouteTarget, traffic: Traffic): Promise<boolean> => {
    const desired = desiredCanaryIngress(user(t), t, traffic);
    const now = current(t);
    const stored = now && readIngressTraffic(now);
    if (
      now &&
      stored &&
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
      return apply(t, now ? readIngressTraffic(now) : { primary: 100, canary: 0 });
    },
    async setRoutes(t, traffic) {
      // ingress-nginx has no mirroring (the descriptor refuses it): weights and A/B only.
      await apply(t, {
        primary: traffic.primary,
        canary: traffic.canary,
        ...(traffic.match ? { match: true } : {}),
      });
    },
    getRoutes(t) {
      const obj = current(t);
      return obj ? readIngressTraffic(obj) : undefined;
    },
    objects: (t) => [{ type: INGRESS, name: canaryIngressName(t.spec) }],
    async finalize(t) {
      // revertOnDeletion: without the canary Ingress, ingress-nginx sends everything through the
      // user's Ingress to the apex Service (now selecting the target's pods). Flagger leaves it in
      // place at weight 0; it is owned by the Canary and would go with it anyway.
      await kube.remove({
        apiVersion: INGRESS.apiVersion,
        kind: INGRESS.kind,
        namespace: t.namespace,
        name: canaryIngressName(t.spec),
      });
    },
  };
  return router;
};
