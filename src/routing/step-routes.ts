// The step routes (setHeaderRoute/setMirrorRoute, docs/steps.md) as routers store them: one named
// rule or http route per step route, and the routes themselves, as asked, in an annotation of the
// routing object. Reading back takes the annotation's routes whose rule is still there, so a deleted
// rule reads as drift; an edited rule is put back by the router's reconcile (the desired object is
// rendered from the annotation).
import type { Obj } from '../kube/client.ts';
import type { StepRoute } from '../vocab/traffic.ts';

export const STEP_ROUTES_ANNOTATION = 'weir.dev/step-routes';

const PREFIX = 'weir-step-';

/** The name of the rule (HTTPRoute) or http route (VirtualService) of a step route. */
export const stepRuleName = (r: StepRoute): string => `${PREFIX}${r.name}`;

export const isStepRuleName = (name: string | undefined): boolean => !!name?.startsWith(PREFIX);

/** The annotation recording `routes` (none when there are no routes). */
export function stepRoutesAnnotation(routes: StepRoute[] = []): Record<string, string> {
  return routes.length ? { [STEP_ROUTES_ANNOTATION]: JSON.stringify(routes) } : {};
}

/** The step routes stored on `obj` whose rule `ruleNames` still holds; undefined when none. */
export function storedStepRoutes(
  obj: Obj | undefined,
  ruleNames: Array<string | undefined>,
): StepRoute[] | undefined {
  const raw = obj?.metadata?.annotations?.[STEP_ROUTES_ANNOTATION];
  if (!raw) return undefined;
  let routes: StepRoute[];
  try {
    routes = JSON.parse(raw) as StepRoute[];
  } catch {
    return undefined;
  }
  if (!Array.isArray(routes)) return undefined;
  const present = routes.filter((r) => r && ruleNames.includes(stepRuleName(r)));
  return present.length ? present : undefined;
}
