// Provider `skipper`: a copy of the user's Ingress (spec.ingressRef) named `<ingress>-canary`, as
// Flagger v1.44 writes it: in each rule, every path to the apex Service `<svc>` goes to
// `<svc>-primary` instead, and a copy of that path to `<svc>-canary` is appended. Skipper splits
// between the two by `zalando.org/backend-weights`; `zalando.org/skipper-predicate` starts with
// `Weight(100)` so the copy's routes win over the user's Ingress, or with `False()` at canary weight
// 0, which switches the copy off and leaves the host to the user's Ingress (the apex Service, the
// primary). The user's Ingress is never modified.
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

export const BACKEND_WEIGHTS = 'zalando.org/backend-weights';
export const PREDICATE = 'zalando.org/skipper-predicate';
const ROUTE_WEIGHT = 'Weight(100)';
const ROUTE_OFF = 'False()';

/** `first` and then the user's predicates (`&&`-joined), without an earlier Weight(100) or False(). */
export function predicateWith(first: string, user: string | undefined): string {
  const rest = (user ?? '')
    .split('&&')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p !== ROUTE_WEIGHT && p !== ROUTE_OFF);
  return [first, ...rest].join(' && ');
}

/** The user's spec with each apex path switched to `<svc>-primary` plus a copy to `<svc>-canary`. */
export function skipperSpecOf(user: Obj, t: RouteTarget): IngressSpec {
  const { spec, apex } = apexPathsOf(user, t);
  for (const { path, paths } of apex) {
    path.backend.service.name = t.primary;
    const copy = structuredClone(path);
    copy.backend.service.name = t.canary;
    paths.push(copy);
  }
  return spec;
}

export function desiredSkipperIngress(user: Obj, t: RouteTarget, traffic: Traffic): Obj {
  const metadata = cloneMetadata(user, t, canaryIngressName(t.spec));
  // Keys sorted as Go's json.Marshal writes Flagger's map: `<svc>-canary` before `<svc>-primary`.
  const weights = JSON.stringify({ [t.canary]: traffic.canary, [t.primary]: traffic.primary });
  metadata.annotations = {
    ...metadata.annotations,
    [BACKEND_WEIGHTS]: weights,
    [PREDICATE]: predicateWith(
      traffic.canary === 0 ? ROUTE_OFF : ROUTE_WEIGHT,
      user.metadata?.annotations?.[PREDICATE],
    ),
  };
  return {
    apiVersion: INGRESS.apiVersion,
    kind: INGRESS.kind,
    metadata,
    spec: skipperSpecOf(user, t) as Record<string, unknown>,
  };
}

/** The weights of `zalando.org/backend-weights`; a missing or unreadable key has no routes (0/0). */
export function readSkipperTraffic(obj: Obj, t: RouteTarget): Traffic {
  let weights: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(obj.metadata?.annotations?.[BACKEND_WEIGHTS] ?? '{}');
    if (parsed && typeof parsed === 'object') weights = parsed as Record<string, unknown>;
  } catch {
    // Edited by hand into something else: no weights, which drift repair puts back.
  }
  const weight = (name: string) => {
    const w = Number(weights[name] ?? 0);
    return Number.isFinite(w) ? Math.min(100, Math.max(0, Math.round(w))) : 0;
  };
  return { primary: weight(t.primary), canary: weight(t.canary) };
}

export const createSkipperRouter = createCloneRouter({
  type: INGRESS,
  field: 'spec.ingressRef',
  source: userIngressName,
  name: (t) => canaryIngressName(t.spec),
  desired: desiredSkipperIngress,
  read: readSkipperTraffic,
});
