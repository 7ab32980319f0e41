// Argo's measurement semantics end to end: the in-process controller, a real Prometheus and real
// exporters whose canary answers half of its requests with 500. Two Canaries run at once:
//   - `limited`: request-success-rate with failureLimit 2 under analysis.threshold 1. Flagger's
//     threshold would roll back at the first failed check; the metric's own limit lets the run
//     advance through two failed measurements and rolls it back at the third, naming the limit;
//   - `dryrun`: the same failing metric with dryRun: measured and shown, and the run is promoted;
//   - `condition`: Argo's successCondition in CEL instead of a threshold range fails the run;
//   - `unsure`: successCondition and failureCondition that both miss make each measurement
//     Inconclusive; past inconclusiveLimit the run freezes for a person, as Argo pauses it;
//   - `counted`: the same failing metric with count 2 (within failureLimit 5): measured twice, promoted;
//   - `delayed`: the same failing metric with an initialDelay longer than the run: never measured.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderCanary } from '../../src/cli/canary-view.ts';
import { PLAIN } from '../../src/cli/style.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';

let w: World;
before(async () => {
  w = await startWorld('limits');
});
after(async () => w?.stop());

const failing = (extra: Record<string, unknown>) => ({
  threshold: 1,
  stepWeights: [10, 20, 30, 40, 50, 60],
  metrics: [{ name: 'request-success-rate', thresholdRange: { min: 95 }, ...extra }],
});

async function run(
  name: string,
  analysis: Record<string, unknown>,
  ends: Parameters<World['waitPhase']>[1] = ['Failed', 'Succeeded'],
) {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  await w.exporters(name, { errorRate: 0.5 }, { errorRate: 0 });
  await w.apply(gatewayCanary(name, analysis));
  await w.waitPhase(name, 'Initialized', 60_000);
  const weights = await w.recordWeights(name);
  await w.setImage(name, `example.com/${name}:2.0.0`);
  const done = await w.waitPhase(name, ends, 240_000);
  return { done, weights: await weights.stop() };
}

describe('measurement limits and dry run', { concurrency: true }, () => {
  test('failureLimit 2: two failed measurements pass, the third rolls back naming the limit', async (t) => {
    const { done, weights } = await run('limited', failing({ failureLimit: 2 }));
    const status = done.status ?? {};
    t.diagnostic(`${status.message} (weights ${JSON.stringify(weights)})`);
    assert.equal(status.phase, 'Failed', status.message);
    assert.match(
      status.message ?? '',
      /Measurement limit exceeded: request-success-rate: 3 failed measurements > failureLimit 2: request-success-rate [\d.]+ < min 95/,
    );
    assert.equal(status.failedChecks ?? 0, 0, 'a metric with limits adds no failed checks');
    assert.ok(
      Math.max(...weights) >= 20,
      `the run advanced past the first failed measurement (threshold 1 alone would not): ${JSON.stringify(weights)}`,
    );
    assert.equal(await w.image('limited-primary'), 'example.com/limited:1.0.0', 'never promoted');
    const counts = status.measurements?.find((m) => m.name === 'request-success-rate');
    assert.equal(counts?.failed, 3, JSON.stringify(status.measurements));
    const metric = status.metrics?.find((m) => m.name === 'request-success-rate');
    assert.ok((metric?.history?.length ?? 0) >= 3, JSON.stringify(metric?.history));
    assert.ok(
      metric?.history?.every((h) => h.result === 'Failed'),
      JSON.stringify(metric?.history),
    );
    const view = renderCanary({ canary: done }, { style: PLAIN, now: new Date() });
    assert.match(view, /Measurement limits/);
  });

  test('dryRun: the failing metric is measured and shown, and the run is promoted', async (t) => {
    const { done } = await run('dryrun', failing({ dryRun: true }));
    const status = done.status ?? {};
    t.diagnostic(status.message ?? '');
    assert.equal(status.phase, 'Succeeded', status.message);
    assert.equal(await w.image('dryrun-primary'), 'example.com/dryrun:2.0.0');
    const metric = status.metrics?.find((m) => m.name === 'request-success-rate');
    assert.equal(metric?.dryRun, true, JSON.stringify(metric));
    assert.equal(metric?.result, 'Failed', 'measured as failing all along');
    assert.equal(status.failedChecks ?? 0, 0);
    const view = renderCanary({ canary: done }, { style: PLAIN, now: new Date() });
    assert.match(view, /dry-run/);
  });

  test('successCondition in CEL: a measurement that does not satisfy it fails the run, naming it', async (t) => {
    const { done } = await run('condition', {
      threshold: 1,
      stepWeights: [10, 20, 30],
      metrics: [{ name: 'request-success-rate', successCondition: 'result >= 99.0' }],
    });
    const status = done.status ?? {};
    t.diagnostic(status.message ?? '');
    assert.equal(status.phase, 'Failed', status.message);
    assert.match(status.message ?? '', /request-success-rate/);
    assert.match(status.message ?? '', /result >= 99\.0/, 'the message names the condition');
    assert.equal(await w.image('condition-primary'), 'example.com/condition:1.0.0', 'never promoted');
  });

  test('inconclusiveLimit 1: the second Inconclusive measurement freezes the run at its weight', async (t) => {
    const { done } = await run(
      'unsure',
      failing({
        thresholdRange: undefined,
        successCondition: 'result >= 99.0',
        failureCondition: 'result < 10.0',
        inconclusiveLimit: 1,
      }),
      ['Frozen', 'Failed', 'Succeeded'],
    );
    const status = done.status ?? {};
    t.diagnostic(status.message ?? '');
    assert.equal(status.phase, 'Frozen', status.message);
    assert.match(status.message ?? '', /2 inconclusive measurements > inconclusiveLimit 1/);
    assert.equal(status.measurements?.find((m) => m.name === 'request-success-rate')?.inconclusive, 2);
    assert.ok((status.canaryWeight ?? 0) > 0, `the weight is held, not rolled back: ${status.canaryWeight}`);
    assert.equal(await w.image('unsure-primary'), 'example.com/unsure:1.0.0', 'never promoted');
  });

  test('count 2: the failing metric is measured twice in the run, then no more (within failureLimit 5)', async (t) => {
    const { done } = await run('counted', failing({ count: 2, failureLimit: 5 }));
    const status = done.status ?? {};
    t.diagnostic(status.message ?? '');
    assert.equal(status.phase, 'Succeeded', status.message);
    const counts = status.measurements?.find((m) => m.name === 'request-success-rate');
    assert.deepEqual([counts?.count, counts?.failed], [2, 2], JSON.stringify(status.measurements));
    const metric = status.metrics?.find((m) => m.name === 'request-success-rate');
    assert.equal(metric?.history?.length, 2, JSON.stringify(metric?.history));
  });

  test('initialDelay longer than the run: the failing metric is never measured, the run is promoted', async (t) => {
    const { done } = await run('delayed', failing({ initialDelay: '10m' }));
    const status = done.status ?? {};
    t.diagnostic(status.message ?? '');
    assert.equal(status.phase, 'Succeeded', status.message);
    assert.equal(status.failedChecks ?? 0, 0);
    assert.equal(
      status.metrics?.find((m) => m.name === 'request-success-rate'),
      undefined,
    );
    assert.ok(status.analysisStartTime, 'the run recorded its first analysis tick');
  });
});
