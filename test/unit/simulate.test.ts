// The `weir simulate` core from tables: decide() replayed at the controller's times over a past
// window, with the metric results a table gives for each tick.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkThreshold } from '../../src/analysis/evaluate.ts';
import { simulate, type SimulationInput } from '../../src/canary/simulate.ts';
import type { MetricResult } from '../../src/vocab/metric-result.ts';
import { analysisSpec } from './analysis-spec-kit.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
const MIN = 60_000;
const at = (minutes: number): string => new Date(T0 + minutes * MIN).toISOString().replace('.000Z', 'Z');

const SUCCESS = { name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' };

function input(analysis: Record<string, unknown>, minutes = 30): SimulationInput {
  const spec = analysisSpec({ interval: '1m', iterations: undefined, ...analysis });
  return { name: 'web', namespace: 'prod', spec, fromMs: T0, toMs: T0 + minutes * MIN };
}

/** Success rate by minute from T0: 100 until `dropAt`, then `after`; records when it was asked. */
function successRate(dropAt = Infinity, after = 90) {
  const asked: string[] = [];
  const measure = async (t: number): Promise<MetricResult[]> => {
    asked.push(new Date(t).toISOString().replace('.000Z', 'Z'));
    const value = (t - T0) / MIN >= dropAt ? after : 100;
    return [checkThreshold('request-success-rate', value, { min: 99 })];
  };
  return { measure, asked };
}

const weights = (ticks: Array<{ time: string; weightBefore: number; weight: number }>) =>
  ticks.map((t) => `${t.time} ${t.weightBefore}->${t.weight}`);

describe('simulate', () => {
  test('stepWeight: the first tick only sets the first weight, each passing tick the next, then promotion', async () => {
    const { measure, asked } = successRate();
    const sim = await simulate(
      input({ stepWeight: 20, maxWeight: 60, threshold: 1, metrics: [SUCCESS] }),
      measure,
    );
    assert.deepEqual(weights(sim.ticks), [
      `${at(0)} 0->20`,
      `${at(1)} 20->40`,
      `${at(2)} 40->60`,
      `${at(3)} 60->60`,
    ]);
    assert.deepEqual(sim.outcome, { kind: 'promoted', time: at(3), weight: 60 });
    // The first tick measures nothing: the canary has had no traffic yet.
    assert.deepEqual(asked, [at(1), at(2), at(3)]);
    assert.equal(sim.ticks[0]!.metrics, undefined);
    assert.equal(sim.ticks[1]!.metrics?.[0]?.result, 'Successful');
  });

  const rollbacks: Array<[string, Record<string, unknown>, number, string, number]> = [
    // [case, analysis, drop minute, rolled back at, weight reached]
    ['threshold 1: the first failed check', { stepWeight: 20, maxWeight: 100, threshold: 1 }, 2, at(2), 40],
    ['threshold 2: the second failed check', { stepWeight: 20, maxWeight: 100, threshold: 2 }, 2, at(3), 40],
    ['stepWeights', { stepWeights: [5, 50], threshold: 1 }, 2, at(2), 50],
  ];
  for (const [name, analysis, drop, time, weight] of rollbacks) {
    test(`rollback, ${name}`, async () => {
      const { measure } = successRate(drop, 97.1);
      const sim = await simulate(input({ ...analysis, metrics: [SUCCESS] }), measure);
      assert.equal(sim.outcome.kind, 'rolledBack');
      assert.equal(sim.outcome.time, time);
      assert.equal(sim.outcome.weight, weight);
      assert.match(
        (sim.outcome as { reason: string }).reason,
        /^Failed checks threshold reached \d: request-success-rate 97\.1 < min 99$/,
      );
      const last = sim.ticks.at(-1)!;
      assert.equal(last.time, time);
      assert.equal(last.metrics?.[0]?.value, 97.1);
    });
  }

  test('a failed check below the threshold holds the weight and says so', async () => {
    const { measure } = successRate(2, 97.1);
    const sim = await simulate(
      input({ stepWeight: 20, maxWeight: 100, threshold: 2, metrics: [SUCCESS] }),
      measure,
    );
    const held = sim.ticks.find((t) => t.time === at(2))!;
    assert.deepEqual([held.weightBefore, held.weight, held.failedChecks], [40, 40, 1]);
    assert.match(held.message, /^Halted: failed check 1\/2: request-success-rate 97\.1 < min 99$/);
  });

  test('steps: setWeight and a timed pause are taken at the ticks the controller would take them', async () => {
    const { measure } = successRate();
    const steps = [{ setWeight: 10 }, { pause: { duration: '2m' } }, { setWeight: 50 }];
    const sim = await simulate(input({ steps, threshold: 1, metrics: [SUCCESS] }), measure);
    assert.deepEqual(weights(sim.ticks), [
      `${at(0)} 0->10`,
      `${at(1)} 10->10`, // the pause starts
      `${at(2)} 10->10`,
      `${at(3)} 10->10`, // 2 minutes paused: the pause ends
      `${at(4)} 10->50`,
      `${at(5)} 50->50`,
    ]);
    assert.match(sim.ticks[1]!.message, /^Paused: step 2, 120s left$/);
    assert.deepEqual(sim.outcome, { kind: 'promoted', time: at(5), weight: 50 });
  });

  test('a pause without a duration is taken as promoted by a person at the next tick', async () => {
    const { measure } = successRate();
    const steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }];
    const sim = await simulate(input({ steps, threshold: 1, metrics: [SUCCESS] }), measure);
    assert.deepEqual(weights(sim.ticks), [
      `${at(0)} 0->10`,
      `${at(1)} 10->10`, // the pause starts
      `${at(2)} 10->10`, // promoted: the pause ends
      `${at(3)} 10->50`,
      `${at(4)} 50->50`,
    ]);
    assert.match(sim.ticks[1]!.message, /waiting for `weir promote`/);
    assert.match(sim.ticks[2]!.message, /^Progressing: pause at step 2 ended$/);
    assert.deepEqual(sim.outcome, { kind: 'promoted', time: at(4), weight: 50 });
  });

  test('count: the metric is measured that many times in the run, then no more', async () => {
    const { measure, asked } = successRate(2, 90); // it would fail from minute 2 on
    const sim = await simulate(
      input({ stepWeight: 20, maxWeight: 100, threshold: 1, metrics: [{ ...SUCCESS, count: 1 }] }),
      measure,
    );
    assert.deepEqual(asked, [at(1)]);
    assert.equal(sim.outcome.kind, 'promoted');
    assert.equal(sim.ticks[2]!.metrics, undefined);
  });

  test('initialDelay: the first measurement is the first tick that long after the run started', async () => {
    const { measure, asked } = successRate(0, 90); // failing from the start
    const delayed = { ...SUCCESS, initialDelay: '150s' };
    const sim = await simulate(
      input({ stepWeight: 20, maxWeight: 100, threshold: 1, metrics: [delayed] }),
      measure,
    );
    assert.deepEqual(asked, [at(3)]); // 10:02:30 falls between ticks: 10:03 is the first after it
    assert.deepEqual([sim.outcome.kind, sim.outcome.time, sim.outcome.weight], ['rolledBack', at(3), 60]);
  });

  test('an analysis step: its stepOnly metric is measured only there, as the controller would query it', async () => {
    const asked: string[][] = [];
    const measure = async (t: number, metrics: Array<{ name: string }>): Promise<MetricResult[]> => {
      asked.push(metrics.map((m) => m.name));
      return metrics.map((m) => checkThreshold(m.name, 100, { min: 99 }));
    };
    const smoke = {
      name: 'smoke',
      templateRef: { name: 'smoke' },
      thresholdRange: { min: 99 },
      stepOnly: true,
    };
    const steps = [{ setWeight: 20 }, { analysis: { metrics: ['smoke'] } }, { setWeight: 50 }];
    const sim = await simulate(input({ steps, threshold: 1, metrics: [SUCCESS, smoke] }), measure);
    assert.deepEqual(asked, [
      ['request-success-rate', 'smoke'], // at 20%: the analysis step, which passes
      ['request-success-rate'], // to 50%
      ['request-success-rate'], // promoted
    ]);
    assert.match(sim.ticks[1]!.message, /^Progressing: analysis step 2 passed \(smoke\)$/);
    assert.deepEqual([sim.outcome.kind, sim.outcome.time], ['promoted', at(3)]);
  });

  test('an analysis step whose metric took its count within its limits ends, as the AnalysisRun completes', async () => {
    const asked: string[] = [];
    const measure = async (t: number, metrics: Array<{ name: string }>): Promise<MetricResult[]> => {
      asked.push(`${new Date(t).toISOString().slice(11, 16)} ${metrics.map((m) => m.name).join(',')}`);
      return metrics.map((m) => checkThreshold(m.name, m.name === 'smoke' ? 0 : 100, { min: 99 }));
    };
    const smoke = {
      name: 'smoke',
      templateRef: { name: 'smoke' },
      thresholdRange: { min: 99 },
      stepOnly: true,
      count: 2,
      failureLimit: 3,
    };
    const steps = [{ setWeight: 20 }, { analysis: { metrics: ['smoke'] } }, { setWeight: 50 }];
    const sim = await simulate(input({ steps, threshold: 1, metrics: [SUCCESS, smoke] }), measure);
    assert.deepEqual(asked, [
      '10:01 request-success-rate,smoke', // failed, within failureLimit 3: the step holds
      '10:02 request-success-rate,smoke', // failed again: count 2 taken, the step ends
      '10:03 request-success-rate',
      '10:04 request-success-rate',
    ]);
    assert.match(sim.ticks[1]!.message, /analysis step 2 holds: smoke Failed/);
    assert.match(sim.ticks[2]!.message, /^Progressing: analysis step 2 passed \(smoke\)$/);
    assert.deepEqual([sim.outcome.kind, sim.outcome.time], ['promoted', at(4)]);
  });

  test('a window that ends first: undecided, at the weight reached', async () => {
    const { measure } = successRate();
    const sim = await simulate(
      input({ stepWeight: 10, maxWeight: 100, threshold: 1, metrics: [SUCCESS] }, 3),
      measure,
    );
    assert.equal(sim.ticks.length, 4);
    assert.equal(sim.outcome.kind, 'undecided');
    assert.equal(sim.outcome.weight, 40);
    assert.equal(sim.outcome.time, at(3));
  });

  test('a failing dryRun metric is shown and judged by nothing', async () => {
    const measure = async (): Promise<MetricResult[]> => [
      checkThreshold('request-success-rate', 100, { min: 99 }),
      checkThreshold('latency', 900, { max: 500 }),
    ];
    const latency = {
      name: 'latency',
      thresholdRange: { max: 500 },
      dryRun: true,
      templateRef: { name: 'l' },
    };
    const sim = await simulate(
      input({ stepWeight: 50, maxWeight: 100, threshold: 1, metrics: [SUCCESS, latency] }),
      measure,
    );
    assert.equal(sim.outcome.kind, 'promoted');
    assert.deepEqual(
      sim.ticks[1]!.metrics?.map((m) => [m.name, m.result, m.dryRun ?? false]),
      [
        ['request-success-rate', 'Successful', false],
        ['latency', 'Failed', true],
      ],
    );
  });

  test('failureLimit: the metric is judged by its own count of failures', async () => {
    const { measure } = successRate(1, 90);
    const limited = { ...SUCCESS, failureLimit: 1 };
    const sim = await simulate(
      input({ stepWeight: 10, maxWeight: 100, threshold: 5, metrics: [limited] }),
      measure,
    );
    assert.equal(sim.outcome.kind, 'rolledBack');
    assert.equal(sim.outcome.time, at(2)); // the second failed measurement exceeds failureLimit 1
    assert.match((sim.outcome as { reason: string }).reason, /^Measurement limit exceeded: /);
  });

  test('onFailure freeze: frozen instead of rolled back', async () => {
    const { measure } = successRate(1, 90);
    const sim = await simulate(
      input({ stepWeight: 10, maxWeight: 100, threshold: 1, onFailure: 'freeze', metrics: [SUCCESS] }),
      measure,
    );
    assert.deepEqual([sim.outcome.kind, sim.outcome.time, sim.outcome.weight], ['frozen', at(1), 10]);
  });

  test('--to before --from is refused', async () => {
    const { measure } = successRate();
    const bad = { ...input({ stepWeight: 10, maxWeight: 100, metrics: [SUCCESS] }), toMs: T0 - MIN };
    await assert.rejects(simulate(bad, measure), /--to must be later than --from/);
  });
});
