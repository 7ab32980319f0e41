// The statistical judge: verdicts from samples (direction, tolerance, confidence, too few samples),
// runAnalysis sampling canary and primary with range queries over the window, providers without
// range queries refused by name, and the schema, lint and controller checks of judge and score.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MannWhitneyJudge, ProviderName } from '../../src/api/canary.ts';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { runAnalysis } from '../../src/analysis/evaluate.ts';
import { judgeProblems, judgeSamples } from '../../src/analysis/judge.ts';
import type { MetricProvider, MetricProviderFactory, QueryRange } from '../../src/analysis/provider.ts';
import { lintText } from '../../src/cli/lint.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import type { MetricResult } from '../../src/vocab/metric-result.ts';
import { analysisSpec, fakeAnalysisDeps, validatedAnalysis } from './analysis-spec-kit.ts';

/** 20 primary samples around 100 ms; the canary's are the same shifted by `by`. */
const PRIMARY = Array.from({ length: 20 }, (_, i) => 100 + ((i * 7) % 20));
const shifted = (by: number, from = PRIMARY) => from.map((v) => v + by);
const scaled = (f: number) => PRIMARY.map((v) => v * f);

describe('judgeSamples', () => {
  const cases: Array<{
    what: string;
    judge: MannWhitneyJudge;
    canary: number[];
    result: MetricResult['result'];
    message: RegExp;
  }> = [
    {
      what: 'the same distribution passes',
      judge: { direction: 'increase' },
      canary: shifted(0),
      result: 'Successful',
      message: /^latency no significant increase vs the primary \(Mann-Whitney p=0\.5\d* ≥ 0\.05\)/,
    },
    {
      what: 'a clear increase fails',
      judge: { direction: 'increase' },
      canary: shifted(30),
      result: 'Failed',
      message:
        /^latency significantly higher than the primary \(Mann-Whitney p=.* < 0\.05\), beyond allowedIncrease 1: mean 139\.5ms vs 109\.5ms \(1\.274× the primary\), shift \+30ms, 20 vs 20 samples$/,
    },
    {
      what: 'a clear increase within the tolerance passes',
      judge: { direction: 'increase', allowedIncrease: 1.3 },
      canary: shifted(30),
      result: 'Successful',
      message: /significantly higher than the primary .*, within allowedIncrease 1\.3/,
    },
    {
      what: 'a decrease never fails direction increase',
      judge: { direction: 'increase' },
      canary: shifted(-30),
      result: 'Successful',
      message: /no significant increase vs the primary \(Mann-Whitney p=1 ≥ 0\.05\)/,
    },
    {
      what: 'direction decrease fails a clear drop',
      judge: { direction: 'decrease' },
      canary: scaled(0.5),
      result: 'Failed',
      message: /significantly lower than the primary .*, beyond allowedDecrease 1: .*\(0\.5× the primary\)/,
    },
    {
      what: 'direction decrease: a drop within allowedDecrease passes',
      judge: { direction: 'decrease', allowedDecrease: 0.4 },
      canary: scaled(0.5),
      result: 'Successful',
      message: /within allowedDecrease 0\.4/,
    },
    {
      what: 'direction either fails a rise',
      judge: { direction: 'either' },
      canary: shifted(30),
      result: 'Failed',
      message: /significantly higher .*beyond allowedIncrease 1/,
    },
    {
      what: 'direction either fails a drop',
      judge: { direction: 'either' },
      canary: shifted(-30),
      result: 'Failed',
      message: /significantly lower .*beyond allowedDecrease 1/,
    },
    {
      what: 'a small shift is significant at confidence 0.8 only',
      judge: { direction: 'increase', confidence: 0.8 },
      canary: shifted(3),
      result: 'Failed',
      message: /p=0\.068 < 0\.2/,
    },
    {
      what: 'the same small shift passes at the default confidence',
      judge: { direction: 'increase' },
      canary: shifted(3),
      result: 'Successful',
      message: /p=0\.068 ≥ 0\.05/,
    },
    {
      what: 'fewer samples than minSamples is Inconclusive, never a pass',
      judge: { direction: 'increase' },
      canary: shifted(30).slice(0, 9),
      result: 'Inconclusive',
      message:
        /^latency inconclusive: 9 canary and 20 primary samples, fewer than judge\.mannWhitney\.minSamples 10$/,
    },
    {
      what: 'minSamples can be lowered',
      judge: { direction: 'increase', minSamples: 5 },
      canary: shifted(30).slice(0, 9),
      result: 'Failed',
      message: /9 vs 20 samples$/,
    },
  ];
  for (const c of cases) {
    test(c.what, () => {
      const r = judgeSamples('latency', c.judge, c.canary, PRIMARY, 'ms');
      assert.equal(r.result, c.result, r.message);
      assert.match(r.message, c.message);
    });
  }

  test('reports the means, the p-value and the effect size; no NaN or Infinity in status', () => {
    const r = judgeSamples('latency', { direction: 'increase' }, shifted(30), PRIMARY);
    assert.equal(r.value, 139.5);
    assert.equal(r.primaryValue, 109.5);
    assert.ok(r.pValue !== undefined && r.pValue < 1e-6, String(r.pValue));
    assert.equal(r.effectSize, 139.5 / 109.5);
    const zeros = (n: number) => Array.from({ length: n }, () => 0);
    const errors = judgeSamples(
      'errors',
      { direction: 'increase' },
      [...zeros(10), 1, 2, 3, 1, 2, 3, 1, 2],
      zeros(20),
    );
    assert.equal(errors.result, 'Failed');
    assert.equal(errors.effectSize, undefined, 'infinite ratio over a primary of 0 is not stored');
    assert.match(errors.message, /above a primary of 0/);
  });
});

// ---- runAnalysis with a fake provider answering range queries per side ----

const validated = validatedAnalysis;
const spec = analysisSpec;

const TEMPLATES: Record<string, MetricTemplateSpec> = {
  'prod/latency': { provider: { type: 'prometheus' }, query: 'p99{pod=~"{{ target }}-.*"}[{{ interval }}]' },
  'prod/dd': { provider: { type: 'datadog' }, query: 'avg:latency{pod:{{ target }}}' },
};

function fakes(canary: number[], primary: number[]) {
  const ranges: Array<{ query: string; range: QueryRange }> = [];
  const rangeProvider: MetricProvider = {
    type: 'prometheus',
    name: 'Prometheus',
    query: () => Promise.reject(new Error('an instant query for a judge')),
    async queryRange(query, range) {
      ranges.push({ query, range });
      return /app-primary/.test(query) ? primary : canary;
    },
  };
  const instantOnly: MetricProviderFactory = () => ({
    type: 'datadog',
    name: 'Datadog',
    query: async () => 1,
  });
  const deps = fakeAnalysisDeps(TEMPLATES, { prometheus: () => rangeProvider, datadog: instantOnly });
  return { ranges, deps };
}

async function analyse(metric: Record<string, unknown>, canary: number[], primary = PRIMARY) {
  const { ranges, deps } = fakes(canary, primary);
  const input = {
    spec: spec({ metrics: [metric] }),
    name: 'web',
    namespace: 'prod',
    provider: 'kubernetes' as const,
  };
  const [result] = await runAnalysis(input, deps);
  return { result: result!, ranges };
}

describe('runAnalysis with judge', () => {
  const judge = { mannWhitney: { direction: 'increase' } };

  test('both sides are sampled over the window, one point per interval, and judged', async () => {
    const before = Date.now();
    const { result, ranges } = await analyse(
      { name: 'latency', templateRef: { name: 'latency' }, interval: '1m', judge },
      shifted(30),
    );
    assert.deepEqual(
      ranges.map((r) => r.query),
      ['p99{pod=~"app-.*"}[1m]', 'p99{pod=~"app-primary-.*"}[1m]'],
    );
    const { range } = ranges[0]!;
    assert.equal(range.stepMs, 60_000);
    assert.equal(range.endMs - range.startMs, 600_000, 'default window: 10 intervals');
    assert.ok(range.endMs >= before && range.endMs <= Date.now());
    assert.deepEqual(ranges[1]!.range, range, 'the same window for both');
    assert.equal(result.result, 'Failed');
  });

  test('`at` (weir simulate) ends the window at that time instead of now', async () => {
    const { ranges, deps } = fakes(shifted(30), PRIMARY);
    const metric = { name: 'latency', templateRef: { name: 'latency' }, interval: '1m', judge };
    const at = Date.parse('2026-11-20T10:17:00Z');
    const input = {
      spec: spec({ metrics: [metric] }),
      name: 'web',
      namespace: 'prod',
      provider: 'kubernetes' as const,
    };
    await runAnalysis({ ...input, at }, deps);
    assert.deepEqual(ranges[0]!.range, { startMs: at - 600_000, endMs: at, stepMs: 60_000 });
  });

  test('window sets how far back the samples go', async () => {
    const metric = {
      name: 'latency',
      templateRef: { name: 'latency' },
      judge: { mannWhitney: { direction: 'increase', window: '15m' } },
    };
    const { ranges } = await analyse(metric, shifted(0));
    assert.equal(ranges[0]!.range.stepMs, 30_000, "the metric's interval defaults to analysis.interval");
    assert.equal(ranges[0]!.range.endMs - ranges[0]!.range.startMs, 900_000);
  });

  test('a built-in is sampled for canary and primary pods', async () => {
    const { result, ranges } = await analyse({ name: 'request-duration', judge }, shifted(0));
    assert.equal(ranges.length, 2);
    assert.match(ranges[1]!.query, /pod=~"app-primary-/);
    assert.equal(result.result, 'Successful');
    assert.match(result.message, /ms vs .*ms/);
  });

  test('a provider without range queries is an Error naming the metric and the field', async () => {
    const { result } = await analyse({ name: 'dd', templateRef: { name: 'dd' }, judge }, shifted(0));
    assert.equal(result.result, 'Error');
    assert.match(
      result.message,
      /^metric dd failed \(configuration error\): judge: provider datadog cannot run range queries, which judge\.mannWhitney needs/,
    );
  });

  test('a built-in of a provider that cannot measure the primary is refused for judge', async () => {
    const { deps } = fakes(shifted(0), PRIMARY);
    const input = {
      spec: spec({ metrics: [{ name: 'request-duration', judge }] }),
      name: 'web',
      namespace: 'prod',
      provider: 'contour' as ProviderName,
    };
    const [result] = await runAnalysis(input, deps);
    assert.equal(result!.result, 'Error');
    assert.match(
      result!.message,
      /judge: provider contour's built-in request-duration .* \(built-ins support judge on: /,
    );
    const found = capabilityProblems({ ...input.spec, provider: 'contour' }, 'contour');
    assert.deepEqual(
      found.map((p) => p.path),
      ['spec.analysis.metrics[0].judge'],
    );
  });
});

describe('judge and score in the schema, lint and the controller', () => {
  const problems = (analysis: Record<string, unknown>) =>
    validated(analysis).problems.map((p) => `${p.path}: ${p.message}`);
  const judge = { mannWhitney: { direction: 'increase' } };

  const cases: Array<[string, Record<string, unknown>, RegExp | undefined]> = [
    ['a judge alone', { metrics: [{ name: 'request-duration', judge }] }, undefined],
    [
      'judge with thresholdRange',
      { metrics: [{ name: 'request-duration', judge, thresholdRange: { max: 1 } }] },
      /metrics\[0\]\.judge: judge compares samples over a window and cannot be combined/,
    ],
    [
      'judge without direction',
      { metrics: [{ name: 'request-duration', judge: { mannWhitney: {} } }] },
      /judge\.mannWhitney\.direction: Required value/,
    ],
    [
      'allowedIncrease below 1',
      {
        metrics: [
          {
            name: 'request-duration',
            judge: { mannWhitney: { direction: 'increase', allowedIncrease: 0.9 } },
          },
        ],
      },
      /allowedIncrease/,
    ],
    ['score with defaults', { metrics: [{ name: 'request-duration', judge }], score: {} }, undefined],
    ['score without metrics', { score: { pass: 90 } }, /spec\.analysis\.score: score needs metrics/],
    [
      'marginal above pass',
      { metrics: [{ name: 'request-duration', judge }], score: { pass: 80, marginal: 90 } },
      /score\.marginal: score\.marginal must not exceed score\.pass/,
    ],
    [
      'groups and every metric in one',
      {
        metrics: [
          { name: 'request-duration', judge, group: 'latency' },
          { name: 'request-success-rate', thresholdRange: { min: 99 }, group: 'errors' },
        ],
        score: { groups: { latency: 60, errors: 40 } },
      },
      undefined,
    ],
    [
      'a group not in score.groups',
      { metrics: [{ name: 'request-duration', judge, group: 'x' }], score: { groups: { x: 1, y: 1 } } },
      /every group of score\.groups needs at least one metric/,
    ],
    [
      'a metric without a group when groups are given',
      { metrics: [{ name: 'request-duration', judge }], score: { groups: { x: 1 } } },
      /with score\.groups every metric needs a group/,
    ],
  ];
  for (const [what, analysis, expected] of cases) {
    test(what, () => {
      const found = problems(analysis).join('\n');
      if (expected) assert.match(found, expected);
      else assert.equal(found, '');
    });
  }

  test('a window that could never hold minSamples, or too many samples, is refused by lint and the controller', () => {
    const few = spec({
      metrics: [
        {
          name: 'request-duration',
          interval: '1m',
          judge: { mannWhitney: { direction: 'increase', window: '5m' } },
        },
      ],
    });
    assert.deepEqual(judgeProblems(few), [
      {
        path: 'spec.analysis.metrics[0].judge.mannWhitney.window',
        message:
          'judge.mannWhitney.window 5m holds at most 6 samples of interval 1m, fewer than minSamples 10: the check could never conclude',
      },
    ]);
    const many = spec({
      metrics: [
        {
          name: 'request-duration',
          interval: '10s',
          judge: { mannWhitney: { direction: 'increase', window: '24h' } },
        },
      ],
    });
    assert.match(judgeProblems(many)[0]!.message, /holds 8641 samples of interval 10s, more than 1000/);
    const yaml = `apiVersion: weir.dev/v1alpha1
kind: Canary
metadata: { name: web, namespace: prod }
spec:
  targetRef: { kind: Deployment, name: app }
  service: { port: 80 }
  analysis:
    interval: 1m
    iterations: 3
    metrics:
      - name: request-duration
        judge: { mannWhitney: { direction: increase, window: 5m } }
`;
    const { problems: linted } = lintText('c.yaml', yaml);
    assert.deepEqual(linted, [
      'c.yaml: document 1 (Canary/web): spec.analysis.metrics[0].judge.mannWhitney.window: judge.mannWhitney.window 5m holds at most 6 samples of interval 1m, fewer than minSamples 10: the check could never conclude',
    ]);
  });
});
