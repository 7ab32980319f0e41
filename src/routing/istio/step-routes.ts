// setHeaderRoute/setMirrorRoute (docs/steps.md) as VirtualService http routes, as Argo Rollouts'
// istio support writes them: each named route comes before the other routes, in the routes'
// precedence order (Istio takes the first route that matches). A header route's one match carries
// every header and goes to the canary; a mirror route carries its matches, the weighted split, and
// `mirror` with `mirrorPercentage`. Every route keeps spec.service's fields and lies within its
// matches.
import type { StepRoute } from '../../vocab/traffic.ts';
import type { RouteTarget } from '../router.ts';
import { stepRuleName } from '../step-routes.ts';
import { mergeMatches, serviceMatches, stringMatch, type HttpMatch } from './match.ts';

type Split = { primary: number; canary: number };
type Rule = Record<string, unknown>;

function headerRouteMatch(r: StepRoute): HttpMatch {
  const headers = Object.fromEntries(
    (r.headers ?? []).map((h) => [h.headerName, stringMatch(h.headerValue)]),
  );
  return { headers };
}

/** One mirror route match within each service match; its path and method win over the service's. */
function mirrorRouteMatches(r: StepRoute, t: RouteTarget): HttpMatch[] {
  return (r.mirror?.match ?? []).flatMap((m) => {
    const own = {
      ...(m.path ? { uri: stringMatch(m.path) } : {}),
      ...(m.method ? { method: stringMatch(m.method) } : {}),
    };
    const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, stringMatch(v)]));
    const narrow: HttpMatch = Object.keys(headers).length ? { headers } : {};
    return mergeMatches([narrow], serviceMatches(t.spec)).map((x) => ({ ...x, ...own }));
  });
}

/** The http routes of the step routes, before the others; `route` renders a split. */
export function stepHttpRules(
  t: RouteTarget,
  routes: StepRoute[],
  common: Rule,
  route: (split: Split) => unknown[],
  split: Split,
): Rule[] {
  return routes.map((r) =>
    r.mirror
      ? {
          ...common,
          name: stepRuleName(r),
          match: mirrorRouteMatches(r, t),
          route: route(split),
          mirror: { host: t.canary },
          mirrorPercentage: { value: r.mirror.percentage },
        }
      : {
          ...common,
          name: stepRuleName(r),
          match: mergeMatches([headerRouteMatch(r)], serviceMatches(t.spec)),
          route: route({ primary: 0, canary: 100 }),
        },
  );
}
