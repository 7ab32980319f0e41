// Relative analysis: the comparison with the primary (each bound, both directions, the exact bound,
// a primary of 0), runAnalysis rendering each query for the primary and reporting both values, the
// primary without data, the providers whose built-ins cannot measure the primary, and the schema.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CanarySpec, PrimaryComparison, ProviderName } from '../../src/api/canary.ts';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { analysisSpec, fakeAnalysisDeps, validatedAnalysis } from './analysis-spec-kit.ts';
import { comparePrimary } from '../../src/analysis/compare.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import type { MetricProviderFactory } from '../../src/analysis/provider.ts';
import { WeirError } from '../../src/errors.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';

describe('comparePrimary', () => {
  const cases: Array<[string, number, number, PrimaryComparison, boolean, string]> = [
    // [what, canary, primary, bounds, passed, detail]
    ['error rate 2 points up', 5, 3, { maxIncrease: 1 }, false, '2 above, more than maxIncrease 1'],
    ['error rate as bad as the primary', 5, 5, { maxIncrease: 1 }, true, 'within maxIncrease 1'],
    ['error rate just within', 3.9, 3, { maxIncrease: 1 }, true, 'within maxIncrease 1'],
    ['a better canary never breaks maxIncrease', 0, 9, { maxIncrease: 0 }, true, 'within maxIncrease 0'],
    ['success rate 3.9 down', 95.2, 99.1, { maxDecrease: 1 }, false, '3.9 below, more than maxDecrease 1'],
    ['success rate exactly at the bound', 98.1, 99.1, { maxDecrease: 1 }, true, 'within maxDecrease 1'],
    ['success rate up never breaks maxDecrease', 100, 90, { maxDecrease: 0 }, true, 'within maxDecrease 0'],
    ['p99 24% up', 620, 500, { maxRatio: 1.2 }, false, '1.24× the primary, more than maxRatio 1.2'],
    ['p99 exactly 20% up', 600, 500, { maxRatio: 1.2 }, true, 'within maxRatio 1.2'],
    [
      'any rise over a primary of 0',
      0.1,
      0,
      { maxRatio: 1.2 },
      false,
      'above a primary of 0, more than maxRatio 1.2',
    ],
    ['0 over 0 holds', 0, 0, { maxRatio: 1.2 }, true, 'within maxRatio 1.2'],
    ['throughput 20% down', 80, 100, { minRatio: 0.9 }, false, '0.8× the primary, less than minRatio 0.9'],
    ['throughput 10% down', 90, 100, { minRatio: 0.9 }, true, 'within minRatio 0.9'],
    [
      'the first bound broken is reported',
      9,
      3,
      { maxIncrease: 1, maxRatio: 2 },
      false,
      '6 above, more than maxIncrease 1',
    ],
    [
      'a later bound can break alone',
      1,
      0.4,
      { maxIncrease: 1, maxRatio: 2 },
      false,
      '2.5× the primary, more than maxRatio 2',
    ],
    [
      'all bounds hold',
      3.5,
      3,
      { maxIncrease: 1, maxRatio: 1.2 },
      true,
      'within maxIncrease 1 and maxRatio 1.2',
    ],
  ];
  for (const [what, canary, primary, bounds, passed, detail] of cases) {
    test(`${what}: ${canary} vs ${primary} ${JSON.stringify(bounds)}`, () => {
      assert.deepEqual(comparePrimary(canary, primary, bounds), { passed, detail });
    });
  }

  test('differences carry the unit', () => {
    assert.equal(
      comparePrimary(740, 500, { maxIncrease: 100 }, 'ms').detail,
      '240ms above, more than maxIncrease 100',
    );
  });
});

// ---- runAnalysis with a fake provider answering per side ----

/** Schema validation of a Canary of Deployment `app` analysing `metrics`. */
const validated = (metrics: unknown[]) => validatedAnalysis({ metrics });
const spec = (metrics: unknown[]): CanarySpec => analysisSpec({ metrics });

const TEMPLATES: Record<string, MetricTemplateSpec> = {
  'prod/error-rate': {
    provider: { type: 'prometheus' },
    query: 'errors{pod=~"{{ target }}-.*"}',
  },
  'prod/both-names': {
    provider: { type: 'prometheus' },
    query: 'errors{pod=~"{{ target }}-.*", primary="{{ primary }}"}',
  },
  'prod/no-target': { provider: { type: 'prometheus' }, query: 'errors{service="{{ service }}"}' },
};

/**
 * A provider that answers `primary` for queries about `app-primary` pods and `canary` otherwise;
 * undefined is no data. Records every query.
 */
function sides(canary: number | undefined, primary: number | undefined) {
  const queries: string[] = [];
  const factory: MetricProviderFactory = () => ({
    type: 'prometheus',
    name: 'Prometheus',
    async query(q) {
      queries.push(q);
      const value = /app-primary/.test(q) ? primary : canary;
      if (value === undefined) throw new WeirError('METRIC_NO_DATA', 'empty result');
      return value;
    },
  });
  const deps = fakeAnalysisDeps(TEMPLATES, { prometheus: factory });
  return { queries, deps };
}

async function analyse(
  metric: Record<string, unknown>,
  canary?: number,
  primary?: number,
  provider: ProviderName = 'kubernetes',
) {
  const { queries, deps } = sides(canary, primary);
  const [result] = await runAnalysis(
    { spec: spec([metric]), name: 'web', namespace: 'prod', provider },
    deps,
  );
  return { result: result!, queries };
}

describe('runAnalysis with compare', () => {
  test('a built-in is rendered a second time for the primary pods, and both values are reported', async () => {
    const metric = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    const { result, queries } = await analyse(metric, 95.2, 99.1);
    assert.equal(queries.length, 2);
    assert.match(queries[0]!, /pod=~"app-\[0-9a-zA-Z\]\+\(-\[0-9a-zA-Z\]\+\)"/);
    assert.equal(queries[1], queries[0]!.replaceAll('pod=~"app-', 'pod=~"app-primary-'));
    assert.deepEqual(result, {
      name: 'request-success-rate',
      result: 'Failed',
      value: 95.2,
      primaryValue: 99.1,
      message: 'request-success-rate 95.2 vs primary 99.1: 3.9 below, more than maxDecrease 1',
    });
  });

  test('primaryTarget (weir simulate --primary-selector) names the primary pods instead of <target>-primary', async () => {
    const metric = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    const { queries, deps } = sides(95.2, 99.1);
    const input = { spec: spec([metric]), name: 'web', namespace: 'prod', provider: 'kubernetes' as const };
    await runAnalysis({ ...input, primaryTarget: 'app-stable' }, deps);
    assert.equal(queries[1], queries[0]!.replaceAll('pod=~"app-', 'pod=~"app-stable-'));
  });

  test('the same canary value passes when the primary is as bad', async () => {
    const metric = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    const { result } = await analyse(metric, 95.2, 95.6);
    assert.equal(result.result, 'Successful');
    assert.equal(result.message, 'request-success-rate 95.2 vs primary 95.6: within maxDecrease 1');
  });

  test('with thresholdRange as well: the fixed range is judged first, then the primary', async () => {
    const metric = {
      name: 'request-duration',
      thresholdRange: { max: 500 },
      compare: { primary: { maxRatio: 1.2 } },
    };
    const over = await analyse(metric, 740, 700);
    assert.equal(over.result.result, 'Failed');
    assert.equal(over.result.message, 'request-duration 740ms > max 500');
    assert.equal(over.result.primaryValue, 700);

    const slower = await analyse(metric, 480, 300);
    assert.equal(slower.result.result, 'Failed');
    assert.equal(
      slower.result.message,
      'request-duration 480ms vs primary 300ms: 1.6× the primary, more than maxRatio 1.2',
    );

    const fine = await analyse(metric, 320, 300);
    assert.deepEqual(fine.result, {
      name: 'request-duration',
      result: 'Successful',
      value: 320,
      primaryValue: 300,
      max: 500,
      message: 'request-duration 320ms <= max 500; vs primary 300ms: within maxRatio 1.2',
    });
  });

  test('without compare only the canary is queried', async () => {
    const { result, queries } = await analyse(
      { name: 'request-success-rate', thresholdRange: { min: 90 } },
      95,
    );
    assert.equal(queries.length, 1);
    assert.equal(result.primaryValue, undefined);
  });

  test('no data for the primary: NoData naming the primary, the canary is not judged', async () => {
    const metric = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    const { result } = await analyse(metric, 95.2, undefined);
    assert.equal(result.result, 'NoData');
    assert.equal(result.value, undefined);
    assert.match(
      result.message,
      /^metric request-success-rate for the primary returned no data for query .*pod=~"app-primary-.*: the primary may be receiving no traffic$/,
    );
  });

  test("no data for the canary is the canary's NoData, as without compare", async () => {
    const metric = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    const { result } = await analyse(metric, undefined, 99);
    assert.equal(result.result, 'NoData');
    assert.match(
      result.message,
      /^metric request-success-rate returned no data for query .*: the canary may be/,
    );
  });

  test('templates: {{ target }} is <target>-primary in the primary rendering, {{ primary }} in both', async () => {
    const plain = await analyse(
      { name: 'error-rate', templateRef: { name: 'error-rate' }, compare: { primary: { maxIncrease: 1 } } },
      5,
      3,
    );
    assert.deepEqual(plain.queries, ['errors{pod=~"app-.*"}', 'errors{pod=~"app-primary-.*"}']);
    assert.equal(plain.result.message, 'error-rate 5 vs primary 3: 2 above, more than maxIncrease 1');

    const both = await analyse(
      { name: 'e', templateRef: { name: 'both-names' }, compare: { primary: { maxIncrease: 1 } } },
      3,
      3,
    );
    assert.deepEqual(both.queries, [
      'errors{pod=~"app-.*", primary="app-primary"}',
      'errors{pod=~"app-primary-.*", primary="app-primary"}',
    ]);
    assert.equal(both.result.result, 'Successful');
  });

  test('a template that does not use {{ target }} is refused: it would compare the canary with itself', async () => {
    const { result, queries } = await analyse(
      { name: 'e', templateRef: { name: 'no-target' }, compare: { primary: { maxIncrease: 1 } } },
      5,
      5,
    );
    assert.equal(result.result, 'Error');
    assert.equal(queries.length, 0);
    assert.match(
      result.message,
      /^metric e failed \(template error\): compare: the query of MetricTemplate prod\/no-target is the same for the canary and the primary; select the pods with \{\{ target \}\}/,
    );
  });

  test('a built-in that cannot be rendered for the primary is an Error naming the providers that can', async () => {
    const metric = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    const { result, queries } = await analyse(metric, 95, 99, 'contour');
    assert.equal(result.result, 'Error');
    assert.equal(queries.length, 0);
    assert.match(
      result.message,
      /compare: provider contour's built-in request-success-rate .* cannot be measured for the primary \(built-ins support compare on: kubernetes, gatewayapi, istio, smi, linkerd\)/,
    );
  });
});

describe('compare in the schema and the provider check', () => {
  const problems = (metric: Record<string, unknown>) =>
    validated([metric]).problems.map((p) => `${p.path}: ${p.message}`);

  test('compare alone, thresholdRange alone and both are valid', () => {
    assert.deepEqual(
      problems({ name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } }),
      [],
    );
    assert.deepEqual(problems({ name: 'request-success-rate', thresholdRange: { min: 99 } }), []);
    assert.deepEqual(
      problems({
        name: 'request-duration',
        thresholdRange: { max: 500 },
        compare: { primary: { maxIncrease: 50, maxRatio: 1.2 } },
      }),
      [],
    );
  });

  test('neither, an empty compare.primary, minRatio above maxRatio and negative bounds are refused', () => {
    assert.match(
      problems({ name: 'request-success-rate' }).join('\n'),
      /thresholdRange, compare, judge, successCondition or failureCondition/,
    );
    assert.match(
      problems({ name: 'request-success-rate', compare: { primary: {} } }).join('\n'),
      /compare.primary needs maxIncrease, maxDecrease, maxRatio or minRatio/,
    );
    assert.match(problems({ name: 'request-success-rate', compare: {} }).join('\n'), /primary/);
    assert.match(
      problems({ name: 'request-success-rate', compare: { primary: { minRatio: 1.1, maxRatio: 1 } } }).join(
        '\n',
      ),
      /minRatio must not exceed maxRatio/,
    );
    assert.match(
      problems({ name: 'request-success-rate', compare: { primary: { maxIncrease: -1 } } }).join('\n'),
      /maxIncrease/,
    );
  });

  test('lint and the controller refuse compare on a built-in of a provider that cannot render it for the primary', () => {
    const s = (provider: ProviderName, metric: Record<string, unknown>) => ({ ...spec([metric]), provider });
    const builtin = { name: 'request-success-rate', compare: { primary: { maxDecrease: 1 } } };
    for (const provider of ['nginx', 'contour', 'gloo', 'kuma', 'traefik', 'skipper', 'apisix'] as const) {
      const found = capabilityProblems(s(provider, builtin), provider);
      assert.deepEqual(
        found.map((p) => p.path),
        ['spec.analysis.metrics[0].compare'],
        provider,
      );
      assert.match(
        found[0]!.message,
        new RegExp(
          `^provider ${provider}'s built-in request-success-rate selects the canary by a name the primary does not share`,
        ),
      );
    }
    for (const provider of ['kubernetes', 'gatewayapi', 'istio', 'linkerd', 'smi'] as const)
      assert.deepEqual(capabilityProblems(s(provider, builtin), provider), [], provider);
    const templated = { ...builtin, templateRef: { name: 'error-rate' } };
    assert.deepEqual(capabilityProblems(s('nginx', templated), 'nginx'), []);
  });
});
