// The verdict of one analysis tick from its metric results: without a score any failure fails the
// tick and Inconclusive holds; with analysis.score the weighted share of passing metrics decides
// (pass, marginal: continue unless final, fail), Inconclusive metrics left out of the score.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Analysis } from '../../src/api/canary.ts';
import { scoreOf, tickVerdict, type TickVerdict } from '../../src/canary/tick-verdict.ts';
import type { MetricResult } from '../../src/vocab/metric-result.ts';

type R = MetricResult['result'];
const results = (...rs: Array<[string, R]>): MetricResult[] =>
  rs.map(([name, result]) => ({ name, result, message: `${name} ${result}` }));
const metric = (name: string, group?: string) => ({
  name,
  judge: { mannWhitney: { direction: 'increase' as const } },
  ...(group ? { group } : {}),
});
const FOUR = ['a', 'b', 'c', 'd'].map((n) => metric(n));
/** FOUR with `a` critical, scored with `score`. */
const criticalA = (score: Analysis['score']) => ({
  metrics: [{ ...metric('a'), critical: true }, ...FOUR.slice(1)],
  score,
});

describe('tickVerdict without a score', () => {
  const cases: Array<[string, MetricResult[], TickVerdict['kind']]> = [
    ['all pass', results(['a', 'Successful'], ['b', 'Successful']), 'pass'],
    ['one failed', results(['a', 'Successful'], ['b', 'Failed']), 'fail'],
    ['NoData fails', results(['a', 'NoData']), 'fail'],
    ['Error fails', results(['a', 'Error']), 'fail'],
    ['Inconclusive holds', results(['a', 'Successful'], ['b', 'Inconclusive']), 'hold'],
    ['a failure wins over Inconclusive', results(['a', 'Failed'], ['b', 'Inconclusive']), 'fail'],
  ];
  for (const [what, rs, kind] of cases) {
    test(what, () => {
      const v = tickVerdict({ metrics: FOUR }, rs, false);
      assert.equal(v.kind, kind);
      assert.equal(v.score, undefined, 'no score without analysis.score');
    });
  }

  test('failures carry the messages of the metrics that failed, hold the inconclusive ones', () => {
    assert.deepEqual(tickVerdict({ metrics: FOUR }, results(['a', 'Failed'], ['b', 'Error']), true), {
      kind: 'fail',
      failures: ['a Failed', 'b Error'],
    });
    assert.deepEqual(tickVerdict({ metrics: FOUR }, results(['a', 'Inconclusive']), false), {
      kind: 'hold',
      reason: 'a Inconclusive',
    });
  });
});

describe('tickVerdict with analysis.score (pass 95, marginal 75 unless given)', () => {
  const score = (s: Analysis['score'] = {}) => ({ metrics: FOUR, score: s });
  const cases: Array<{
    what: string;
    analysis: Pick<Analysis, 'metrics' | 'score'>;
    rs: MetricResult[];
    final: boolean;
    kind: TickVerdict['kind'];
    result: string;
    value?: number;
  }> = [
    {
      what: '4 of 4 pass: 100',
      analysis: score(),
      rs: results(['a', 'Successful'], ['b', 'Successful'], ['c', 'Successful'], ['d', 'Successful']),
      final: true,
      kind: 'pass',
      result: 'Pass',
      value: 100,
    },
    {
      what: '3 of 4: 75 is marginal, an intermediate tick continues',
      analysis: score(),
      rs: results(['a', 'Successful'], ['b', 'Successful'], ['c', 'Successful'], ['d', 'Failed']),
      final: false,
      kind: 'pass',
      result: 'Marginal',
      value: 75,
    },
    {
      what: '3 of 4: 75 is marginal, the final tick fails',
      analysis: score(),
      rs: results(['a', 'Successful'], ['b', 'Successful'], ['c', 'Successful'], ['d', 'Failed']),
      final: true,
      kind: 'fail',
      result: 'Fail',
      value: 75,
    },
    {
      what: '2 of 4: 50 is below marginal, fails at once',
      analysis: score(),
      rs: results(['a', 'Successful'], ['b', 'Successful'], ['c', 'NoData'], ['d', 'Error']),
      final: false,
      kind: 'fail',
      result: 'Fail',
      value: 50,
    },
    {
      what: '3 of 4 passes with pass 70',
      analysis: score({ pass: 70, marginal: 50 }),
      rs: results(['a', 'Successful'], ['b', 'Successful'], ['c', 'Successful'], ['d', 'Failed']),
      final: true,
      kind: 'pass',
      result: 'Pass',
      value: 75,
    },
    {
      what: 'Inconclusive metrics are left out: 2 of 2 concluded pass, but the tick holds',
      analysis: score(),
      rs: results(['a', 'Successful'], ['b', 'Successful'], ['c', 'Inconclusive'], ['d', 'Inconclusive']),
      final: false,
      kind: 'hold',
      result: 'Inconclusive',
      value: 100,
    },
    {
      what: 'below marginal fails even with Inconclusive metrics',
      analysis: score(),
      rs: results(['a', 'Failed'], ['b', 'Successful'], ['c', 'Inconclusive'], ['d', 'Inconclusive']),
      final: false,
      kind: 'fail',
      result: 'Fail',
      value: 50,
    },
    {
      what: 'nothing concluded: hold without a value',
      analysis: score(),
      rs: results(['a', 'Inconclusive']),
      final: true,
      kind: 'hold',
      result: 'Inconclusive',
    },
    {
      what: 'groups: latency 80 passes, errors 20 fails: 80 is marginal',
      analysis: {
        metrics: [metric('a', 'latency'), metric('b', 'errors')],
        score: { groups: { latency: 80, errors: 20 } },
      },
      rs: results(['a', 'Successful'], ['b', 'Failed']),
      final: false,
      kind: 'pass',
      result: 'Marginal',
      value: 80,
    },
    {
      what: 'a critical metric that fails makes the score 0, whatever the others',
      analysis: criticalA({ pass: 50 }),
      rs: results(['a', 'NoData'], ['b', 'Successful'], ['c', 'Successful'], ['d', 'Successful']),
      final: false,
      kind: 'fail',
      result: 'Fail',
      value: 0,
    },
    {
      what: 'a critical metric that passes counts like any other',
      analysis: criticalA({ pass: 50 }),
      rs: results(['a', 'Successful'], ['b', 'Failed'], ['c', 'Successful'], ['d', 'Successful']),
      final: true,
      kind: 'pass',
      result: 'Pass',
      value: 75,
    },
    {
      what: 'an Inconclusive critical metric holds',
      analysis: criticalA({}),
      rs: results(['a', 'Inconclusive'], ['b', 'Successful']),
      final: false,
      kind: 'hold',
      result: 'Inconclusive',
      value: 100,
    },
  ];
  for (const c of cases) {
    test(c.what, () => {
      const v = tickVerdict(c.analysis, c.rs, c.final);
      assert.equal(v.kind, c.kind);
      assert.equal(v.score?.result, c.result);
      assert.equal(v.score?.value, c.value);
    });
  }

  test('a failing score names itself first, then the metrics that failed', () => {
    const v = tickVerdict(score(), results(['a', 'Successful'], ['b', 'Failed'], ['c', 'Failed']), false);
    assert.deepEqual(v.kind === 'fail' && v.failures, ['score 33.33 < marginal 75', 'b Failed', 'c Failed']);
    const last = tickVerdict(
      score(),
      results(['a', 'Successful'], ['b', 'Successful'], ['c', 'Successful'], ['d', 'Failed']),
      true,
    );
    assert.equal(last.score?.message, 'score 75 < pass 95: a marginal score does not promote');
    const critical = tickVerdict(
      { metrics: [{ ...metric('a'), critical: true }], score: {} },
      results(['a', 'Failed']),
      false,
    );
    assert.deepEqual(critical.kind === 'fail' && critical.failures, [
      'score 0: critical metric a did not pass',
      'a Failed',
    ]);
  });
});

describe('scoreOf', () => {
  const cases: Array<[string, Pick<Analysis, 'metrics' | 'score'>, MetricResult[], number | undefined]> = [
    ['equal weights', { metrics: FOUR, score: {} }, results(['a', 'Successful'], ['b', 'Failed']), 50],
    [
      'a group scores the share of its metrics that pass',
      {
        metrics: [metric('a', 'lat'), metric('b', 'lat'), metric('c', 'err')],
        score: { groups: { lat: 50, err: 50 } },
      },
      results(['a', 'Successful'], ['b', 'Failed'], ['c', 'Successful']),
      75,
    ],
    [
      'a group with only Inconclusive metrics is left out, the others renormalised',
      {
        metrics: [metric('a', 'lat'), metric('c', 'err')],
        score: { groups: { lat: 30, err: 70 } },
      },
      results(['a', 'Inconclusive'], ['c', 'Successful']),
      100,
    ],
    ['no metric concluded', { metrics: FOUR, score: {} }, results(['a', 'Inconclusive']), undefined],
  ];
  for (const [what, analysis, rs, expected] of cases) {
    test(what, () => assert.equal(scoreOf(analysis, rs), expected));
  }
});
