// Which strategy a Canary spec describes, how many steps its run has and how its steps change the
// step routes: read from the spec alone, so the engine, the CLI, the dashboard and the providers'
// lint share one answer without importing the engine.
import type { StepRoute } from '../vocab/traffic.ts';
import type { CanarySpec, Step } from './canary.ts';

export type Strategy = 'canary' | 'steps' | 'ab' | 'bluegreen';

export function strategyOf(spec: CanarySpec): Strategy {
  const a = spec.analysis;
  if (a.steps?.length) return 'steps';
  if (a.match?.length) return 'ab';
  if (a.stepWeight !== undefined || a.stepWeights?.length) return 'canary';
  return 'bluegreen';
}

/** Steps in the run, for display (`STEP n/m`). */
export function totalSteps(spec: CanarySpec): number {
  const a = spec.analysis;
  switch (strategyOf(spec)) {
    case 'steps':
      return a.steps?.length ?? 0;
    case 'canary':
      return a.stepWeights?.length ?? Math.ceil((a.maxWeight ?? 100) / (a.stepWeight ?? 100));
    default:
      return a.iterations ?? 1;
  }
}

/** A change of the step routes: a route added or replaced by name, or the named one removed. */
export type StepRouteChange = { route: StepRoute } | { remove: string };

/** The route change a setHeaderRoute/setMirrorRoute step asks for; undefined for other steps. */
export function stepRouteChange(step: Step): StepRouteChange | undefined {
  const header = step.setHeaderRoute;
  if (header)
    return header.match ? { route: { name: header.name, headers: header.match } } : { remove: header.name };
  const mirror = step.setMirrorRoute;
  if (!mirror) return undefined;
  if (!mirror.match) return { remove: mirror.name };
  return {
    route: { name: mirror.name, mirror: { percentage: mirror.percentage ?? 100, match: mirror.match } },
  };
}

/**
 * The step routes after a setHeaderRoute/setMirrorRoute step: a route replaces the one of its name
 * in place (keeping its precedence) or comes last; `remove` takes the named route out.
 */
export function withStepRoute(routes: StepRoute[] = [], change: StepRouteChange): StepRoute[] {
  if ('remove' in change) return routes.filter((r) => r.name !== change.remove);
  const at = routes.findIndex((r) => r.name === change.route.name);
  return at < 0 ? [...routes, change.route] : routes.map((r, i) => (i === at ? change.route : r));
}
