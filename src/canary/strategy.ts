// How a run moves traffic, per strategy. Pure: given the spec and the run's counters, what comes next.
import type { Analysis, CanarySpec, MetricCheck } from '../api/canary.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { StepRoute, Traffic } from '../vocab/traffic.ts';
import { stepRouteChange, strategyOf, type StepRouteChange } from '../api/strategy.ts';

// Kept for the engine's own modules; other layers import it from src/vocab/duration.ts.
export { parseDuration };

/**
 * Traffic while analysing at `weight` (weighted) or during iterations (A/B, blue/green); `routes`:
 * the step routes in force (status.stepRoutes).
 */
export function trafficDuringRun(spec: CanarySpec, weight: number, routes: StepRoute[] = []): Traffic {
  switch (strategyOf(spec)) {
    case 'ab':
      return { primary: 100, canary: 0, match: true };
    case 'bluegreen':
      // Blue/green keeps users on primary; testers reach the canary through <svc>-canary.
      return { primary: 100, canary: 0, ...(spec.analysis.mirror ? { mirror: true } : {}) };
    default:
      return { primary: 100 - weight, canary: weight, ...(routes.length ? { routes } : {}) };
  }
}

export type Next =
  | { kind: 'weight'; weight: number; stepIndex: number }
  | { kind: 'pause'; stepIndex: number; durationMs?: number }
  /** setCanaryScale: `scale` undefined is matchTrafficWeight (the canary's usual size again). */
  | { kind: 'scale'; stepIndex: number; scale?: { replicas: number } | { weight: number } }
  /** setHeaderRoute/setMirrorRoute: adds, replaces or removes a named step route. */
  | { kind: 'route'; stepIndex: number; change: StepRouteChange }
  /** An analysis step: holds until its stepOnly metrics pass at one tick. */
  | { kind: 'analysis'; stepIndex: number; metrics: string[] }
  | { kind: 'iteration'; iterations: number }
  | { kind: 'promote' };

/** The next move of a passing tick, from the counters in status. */
export function nextMove(spec: CanarySpec, weight: number, stepIndex: number, iterations: number): Next {
  const a: Analysis = spec.analysis;
  switch (strategyOf(spec)) {
    case 'canary': {
      if (a.stepWeights?.length) {
        const w = a.stepWeights[stepIndex];
        return w === undefined
          ? { kind: 'promote' }
          : { kind: 'weight', weight: w, stepIndex: stepIndex + 1 };
      }
      const max = a.maxWeight ?? 100;
      if (weight >= max) return { kind: 'promote' };
      return {
        kind: 'weight',
        weight: Math.min(weight + (a.stepWeight ?? max), max),
        stepIndex: stepIndex + 1,
      };
    }
    case 'steps': {
      const step = a.steps?.[stepIndex];
      if (!step) return { kind: 'promote' };
      if (step.setWeight !== undefined)
        return { kind: 'weight', weight: step.setWeight, stepIndex: stepIndex + 1 };
      const scale = step.setCanaryScale;
      if (scale) {
        const to =
          scale.replicas !== undefined
            ? { replicas: scale.replicas }
            : scale.weight !== undefined
              ? { weight: scale.weight }
              : undefined;
        return { kind: 'scale', stepIndex, ...(to ? { scale: to } : {}) };
      }
      const change = stepRouteChange(step);
      if (change) return { kind: 'route', stepIndex, change };
      if (step.analysis) return { kind: 'analysis', stepIndex, metrics: step.analysis.metrics };
      const d = step.pause?.duration;
      return { kind: 'pause', stepIndex, ...(d ? { durationMs: parseDuration(d) } : {}) };
    }
    default:
      return iterations >= (a.iterations ?? 1)
        ? { kind: 'promote' }
        : { kind: 'iteration', iterations: iterations + 1 };
  }
}

/**
 * The metrics a tick at `stepIndex` measures: every metric but the stepOnly ones, which run only at
 * the analysis steps that name them.
 */
export function activeMetrics(spec: CanarySpec, stepIndex: number): MetricCheck[] {
  const step = strategyOf(spec) === 'steps' ? spec.analysis.steps?.[stepIndex] : undefined;
  const named = new Set(step?.analysis?.metrics ?? []);
  return (spec.analysis.metrics ?? []).filter((m) => !m.stepOnly || named.has(m.name));
}
