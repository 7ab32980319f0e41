// Argo's successCondition / failureCondition over a metric's measured value (docs/analysis.md,
// "Conditions"), in CEL with the library that checks the CRD rules: an expression is parsed and
// type-checked, never handed to eval, and `result` (a double) is the only variable it may read.
import { Environment } from '@marcbachmann/cel-js';
import type { MetricCheck } from '../api/canary.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import { fmt } from './format.ts';

export const CONDITION_FIELDS = ['successCondition', 'failureCondition'] as const;
type ConditionField = (typeof CONDITION_FIELDS)[number];
type Conditioned = Pick<MetricCheck, 'name' | ConditionField>;

const env = new Environment().registerVariable('result', 'double');

/** Why an expression cannot be a condition (a parse or type error, or not a bool), else undefined. */
export function conditionProblem(expression: string): string | undefined {
  const checked = env.check(expression);
  if (!checked.valid) return `not a valid CEL condition over result (a double): ${firstLine(checked.error)}`;
  if (checked.type !== 'bool') return `must be a bool over result (a double), is ${String(checked.type)}`;
  return undefined;
}

export function hasConditions(m: Conditioned): boolean {
  return m.successCondition !== undefined || m.failureCondition !== undefined;
}

/**
 * Argo's rules: failureCondition true → Failed; else with successCondition: true → Successful,
 * false → Failed when it stands alone, Inconclusive when a failureCondition is set and neither holds.
 * Only a failureCondition, false → Successful. A condition that cannot be evaluated → Error.
 */
export function judgeConditions(m: Conditioned, value: number, unit = ''): MetricResult {
  const shown = `${m.name} ${fmt(value)}${unit}`;
  const outcome = (result: MetricResult['result'], why: string): MetricResult => ({
    name: m.name,
    result,
    value,
    message: `${shown}: ${why}`,
  });
  try {
    if (m.failureCondition !== undefined && holds(m.failureCondition, value))
      return outcome('Failed', `failureCondition ${m.failureCondition} holds`);
    if (m.successCondition === undefined)
      return outcome('Successful', `failureCondition ${m.failureCondition} does not hold`);
    if (holds(m.successCondition, value))
      return outcome('Successful', `successCondition ${m.successCondition} holds`);
    if (m.failureCondition === undefined)
      return outcome('Failed', `successCondition ${m.successCondition} does not hold`);
    return outcome('Inconclusive', 'neither successCondition nor failureCondition holds');
  } catch (err) {
    return outcome('Error', `cannot evaluate a condition: ${firstLine(err)}`);
  }
}

function holds(expression: string, value: number): boolean {
  const out = env.evaluate(expression, { result: value });
  if (typeof out !== 'boolean') throw new Error(`${expression} gave ${String(out)}, not a bool`);
  return out;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
