// How requests are split between the primary and the canary: what the engine asks a router for and
// what a router reads back from its stored objects.

/** One of exact, prefix or regex (Argo Rollouts' StringMatch). */
export type RouteStringMatch = { exact?: string; prefix?: string; regex?: string };

/** A request matched by a setMirrorRoute route: all the given parts must match. */
export type RequestMatch = {
  method?: RouteStringMatch;
  path?: RouteStringMatch;
  headers?: Record<string, RouteStringMatch>;
};

/**
 * A named route added by an Argo-style step (docs/steps.md): `headers` (setHeaderRoute) sends the
 * requests matching every header to the canary; `mirror` (setMirrorRoute) copies `percentage`% of the
 * requests matching any of `match` to the canary while they are served as the others are.
 */
export type StepRoute = {
  name: string;
  headers?: Array<{ headerName: string; headerValue: RouteStringMatch }>;
  mirror?: { percentage: number; match: RequestMatch[] };
};

/**
 * Weights in percent; `match`: an A/B route sends matching requests to the canary; `mirror`: copies;
 * `routes`: the step routes in force, in precedence order (absent: none).
 */
export type Traffic = {
  primary: number;
  canary: number;
  match?: boolean;
  mirror?: boolean;
  routes?: StepRoute[];
};

/** Whether two Traffic say the same, step routes included (absent and empty alike). */
export function sameTraffic(a: Traffic, b: Traffic): boolean {
  return (
    a.primary === b.primary &&
    a.canary === b.canary &&
    !!a.match === !!b.match &&
    !!a.mirror === !!b.mirror &&
    sameStepRoutes(a.routes, b.routes)
  );
}

export function sameStepRoutes(a: StepRoute[] = [], b: StepRoute[] = []): boolean {
  return a.length === b.length && a.every((r, i) => canonical(r) === canonical(b[i]));
}

/** A route as a string whose key order does not matter. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y)))
      : v,
  );
}
