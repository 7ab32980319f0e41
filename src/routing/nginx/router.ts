// Provider `nginx`: a copy of the user's Ingress (spec.ingressRef) named `<ingress>-canary`, whose
// backends point at `<svc>-canary` instead of `<svc>`, marked as an ingress-nginx canary by the
// `nginx.ingress.kubernetes.io/canary*` annotations: `canary-weight` for the split, `canary-by-header`
// (+ `-value` or `-pattern`) and `canary-by-cookie` for A/B. The user's Ingress is never modified;
// ingress-nginx sends the rest of the host's traffic through it to the apex Service (the primary).
import type { CanarySpec } from '../../api/canary.ts';
import type { Obj } from '../../kube/client.ts';
import type { Traffic } from '../../vocab/traffic.ts';
import type { RouteTarget } from '../router.ts';
import {
  apexPathsOf,
  canaryIngressName,
  cloneMetadata,
  createCloneRouter,
  INGRESS,
  type IngressSpec,
  userIngressName,
} from '../clone-router.ts';

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
  const { spec, apex } = apexPathsOf(user, t);
  for (const { path } of apex) path.backend.service.name = t.canary;
  return spec;
}

export function desiredCanaryIngress(user: Obj, t: RouteTarget, traffic: Traffic): Obj {
  // The user's annotations minus their own canary keys.
  const metadata = cloneMetadata(user, t, canaryIngressName(t.spec), (k) => k.startsWith(`${PREFIX}/canary`));
  metadata.annotations = {
    ...metadata.annotations,
    [A.canary]: 'true',
    [A.weight]: String(traffic.canary),
    ...(traffic.match ? matchAnnotations(t.spec) : {}),
  };
  return {
    apiVersion: INGRESS.apiVersion,
    kind: INGRESS.kind,
    metadata,
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

// Without the canary Ingress (revertOnDeletion deletes it; Flagger leaves it at weight 0),
// ingress-nginx sends everything through the user's Ingress to the apex Service.
export const createNginxRouter = createCloneRouter({
  type: INGRESS,
  field: 'spec.ingressRef',
  source: userIngressName,
  name: (t) => canaryIngressName(t.spec),
  desired: desiredCanaryIngress,
  read: readIngressTraffic,
});
