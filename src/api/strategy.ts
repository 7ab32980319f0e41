// Which strategy a Canary spec describes, and how many steps its run has: read from the spec alone,
// so the engine, the CLI and the dashboard share one answer without the CLI importing the engine.
import type { CanarySpec } from './canary.ts';

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
