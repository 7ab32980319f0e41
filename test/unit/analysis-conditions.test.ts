// Argo's successCondition / failureCondition in CEL over `result`: the verdict table, the checks
// that weir lint and the controller run, and runAnalysis judging a measured value by them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { conditionProblem, judgeConditions } from '../../src/analysis/conditions.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricProviderFactory } from '../../src/analysis/provider.ts';
import type { MetricResult } from '../../src/vocab/metric-result.ts';
import { analysisSpec, fakeAnalysisDeps, validatedAnalysis } from './analysis-spec-kit.ts';

describe('judgeConditions: Argo rules', () => {
  const S = 'result >= 0.95';
  const F = 'result < 0.5';
  const cases: Array<
    [string, { successCondition?: string; failureCondition?: string }, number, MetricResult['result']]
  > = [
    ['only success, holds', { successCondition: S }, 0.99, 'Successful'],
    ['only success, does not hold: Failed', { successCondition: S }, 0.9, 'Failed'],
    ['only failure, holds', { failureCondition: F }, 0.1, 'Failed'],
    ['only failure, does not hold: Successful', { failureCondition: F }, 0.9, 'Successful'],
    ['both, success holds', { successCondition: S, failureCondition: F }, 0.99, 'Successful'],
    ['both, failure holds', { successCondition: S, failureCondition: F }, 0.1, 'Failed'],
    ['both, neither holds: Inconclusive', { successCondition: S, failureCondition: F }, 0.7, 'Inconclusive'],
    [
      'failure is looked at first',
      { successCondition: 'result > 0.0', failureCondition: 'result > 0.5' },
      0.9,
      'Failed',
    ],
    ['an int literal compares with the double', { successCondition: 'result > 5' }, 7, 'Successful'],
  ];
  for (const [what, conditions, value, expected] of cases) {
    test(what, () => {
      const r = judgeConditions({ name: 'm', ...conditions }, value);
      assert.equal(r.result, expected, r.message);
      assert.equal(r.value, value);
      assert.match(r.message, /^m \S+: /);
    });
  }

  test('the message names the condition that decided', () => {
    const r = judgeConditions({ name: 'errors', successCondition: S }, 0.9);
    assert.equal(r.message, 'errors 0.9: successCondition result >= 0.95 does not hold');
  });
});

describe('conditionProblem and validation', () => {
  for (const good of ['result >= 0.95', 'result < 1.0 && result > 0.5', 'result == 0.0 || result > 3']) {
    test(`accepts ${good}`, () => assert.equal(conditionProblem(good), undefined));
  }
  const bad: Array<[string, RegExp]> = [
    ['result >', /not a valid CEL condition/],
    ['error_rate > 1', /Unknown variable: error_rate/],
    ['result + 1.0', /must be a bool/],
    ['"yes"', /must be a bool/],
  ];
  for (const [expression, why] of bad) {
    test(`refuses ${expression}`, () => assert.match(conditionProblem(expression) ?? '', why));
  }

  test('weir lint and the controller name the field of a bad condition', () => {
    const { problems } = validatedAnalysis({
      metrics: [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        {
          name: 'errors',
          templateRef: { name: 'errors' },
          successCondition: 'result >',
          failureCondition: 'result > 1.0',
        },
      ],
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['spec.analysis.metrics[1].successCondition'],
    );
  });

  test('a condition alone is enough for a metric; judge cannot take one', () => {
    const alone = validatedAnalysis({
      metrics: [{ name: 'e', templateRef: { name: 'e' }, failureCondition: 'result > 1.0' }],
    });
    assert.deepEqual(alone.problems, []);
    const none = validatedAnalysis({ metrics: [{ name: 'e', templateRef: { name: 'e' } }] });
    assert.ok(
      none.problems.some((p) => /successCondition or failureCondition/.test(p.message)),
      JSON.stringify(none.problems),
    );
    const judged = validatedAnalysis({
      metrics: [
        {
          name: 'e',
          templateRef: { name: 'e' },
          judge: { mannWhitney: { direction: 'increase' } },
          successCondition: 'result > 1.0',
        },
      ],
    });
    assert.ok(
      judged.problems.some((p) => p.path === 'spec.analysis.metrics[0].judge'),
      JSON.stringify(judged.problems),
    );
  });
});

describe('runAnalysis with conditions', () => {
  const answering =
    (value: number): MetricProviderFactory =>
    () => ({
      type: 'prometheus',
      name: 'Prometheus',
      query: async () => value,
    });
  const analyse = async (metric: Record<string, unknown>, value: number) => {
    const deps = fakeAnalysisDeps(
      { 'prod/errors': { provider: { type: 'prometheus' }, query: 'errors' } },
      { prometheus: answering(value) },
    );
    const spec = analysisSpec({ metrics: [{ name: 'errors', templateRef: { name: 'errors' }, ...metric }] });
    const [r] = await runAnalysis({ spec, name: 'web', namespace: 'prod', provider: 'kubernetes' }, deps);
    return r!;
  };
  const both = { successCondition: 'result < 1.0', failureCondition: 'result > 5.0' };

  test('conditions alone judge the measured value', async () => {
    assert.equal((await analyse(both, 0.5)).result, 'Successful');
    assert.equal((await analyse(both, 9)).result, 'Failed');
    const between = await analyse(both, 3);
    assert.equal(between.result, 'Inconclusive');
    assert.equal(between.value, 3);
  });

  test('with thresholdRange both must pass; a failing bound speaks first', async () => {
    const withRange = { ...both, thresholdRange: { max: 2 } };
    assert.equal((await analyse(withRange, 0.5)).result, 'Successful');
    const overMax = await analyse(withRange, 3);
    assert.equal(overMax.result, 'Failed');
    assert.match(overMax.message, /> max 2/);
    const inconclusive = await analyse({ ...both, thresholdRange: { max: 4 } }, 3);
    assert.equal(inconclusive.result, 'Inconclusive');
    assert.equal(inconclusive.max, 4);
  });
});
