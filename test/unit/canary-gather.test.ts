// Gathering gate and metric results off the reconcile worker: results are used only at the stamp
// (revision, phase, step, tick) they were gathered for, one job per Canary, a job's end requeues it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gatherer, jobBoundMs, stampOf, type Gathered } from '../../src/canary/gather.ts';
import type { CanaryView } from '../../src/canary/model.ts';
import type { CanarySpec } from '../../src/api/canary.ts';
import { createLogger } from '../../src/log.ts';

const log = createLogger('silent');

function view(status: CanaryView['status'] = {}, generation = 1): CanaryView {
  return {
    name: 'app',
    namespace: 'ns',
    generation,
    spec: { analysis: {} } as CanarySpec,
    status,
    annotations: {},
  };
}

/** A job the test ends by hand. */
function deferred() {
  let resolve!: (g: Gathered) => void;
  const promise = new Promise<Gathered>((r) => (resolve = r));
  return { promise, resolve };
}

function gatherer() {
  const done: string[] = [];
  let wake: (() => void) | undefined;
  const g = new Gatherer({
    onDone: (k) => {
      done.push(k);
      wake?.();
    },
    log,
  });
  const nextDone = () => new Promise<void>((r) => (wake = r));
  return { g, done, nextDone };
}

test('the stamp moves with revision, spec generation, phase, step, weight and tick', () => {
  const base = { phase: 'Progressing', stepIndex: 1, canaryWeight: 10, lastAnalysisTime: 't1' } as const;
  const s = stampOf(view(base), 'rev1');
  assert.equal(stampOf(view({ ...base }), 'rev1'), s, 'same state, same stamp');
  for (const [why, other] of [
    ['revision', stampOf(view(base), 'rev2')],
    ['generation', stampOf(view(base, 2), 'rev1')],
    ['phase', stampOf(view({ ...base, phase: 'WaitingPromotion' }), 'rev1')],
    ['step', stampOf(view({ ...base, stepIndex: 2 }), 'rev1')],
    ['weight', stampOf(view({ ...base, canaryWeight: 20 }), 'rev1')],
    ['tick', stampOf(view({ ...base, lastAnalysisTime: 't2' }), 'rev1')],
  ] as const)
    assert.notEqual(other, s, why);
});

test('a job runs in the background; its end requeues the key; results are used at its stamp only', async () => {
  const { g, done, nextDone } = gatherer();
  const job = deferred();
  g.start('ns/app', 'S1', { gates: ['rollout'], metrics: false }, () => job.promise, 60_000);
  assert.equal(g.busy('ns/app'), true);
  assert.equal(g.results('ns/app', 'S1'), undefined, 'nothing while it runs');
  const ended = nextDone();
  job.resolve({ gates: { rollout: { ok: true } } });
  await ended;
  assert.deepEqual(done, ['ns/app']);
  assert.equal(g.busy('ns/app'), false);
  assert.deepEqual(g.results('ns/app', 'S1'), { gates: { rollout: { ok: true } } });
  assert.equal(g.results('ns/app', 'S2'), undefined, 'the Canary moved on: discarded');
  assert.equal(g.results('ns/app', 'S1'), undefined, 'and gone for good');
});

test('one job per Canary: a second start while one runs is ignored', async () => {
  const { g, nextDone } = gatherer();
  const first = deferred();
  let calls = 0;
  g.start('ns/app', 'S1', { gates: ['rollout'], metrics: false }, () => (calls++, first.promise), 60_000);
  g.start(
    'ns/app',
    'S2',
    { gates: ['confirm-rollout'], metrics: false },
    () => (calls++, first.promise),
    60_000,
  );
  assert.equal(calls, 1);
  assert.equal(g.running(), 1);
  const ended = nextDone();
  first.resolve({ gates: { rollout: { ok: true } } });
  await ended;
});

test('rounds at one stamp accumulate: the second job asks only what the first did not gather', async () => {
  const { g, nextDone } = gatherer();
  let ended = nextDone();
  g.start(
    'ns/app',
    'S1',
    { gates: ['rollout'], metrics: true },
    async () => ({
      gates: { rollout: { ok: true } },
      metrics: [{ name: 'm', result: 'Successful', message: 'ok' }],
    }),
    60_000,
  );
  await ended;
  const asked: unknown[] = [];
  ended = nextDone();
  g.start(
    'ns/app',
    'S1',
    { gates: ['rollout', 'confirm-promotion'], metrics: true },
    async (what) => {
      asked.push(what);
      return { gates: { 'confirm-promotion': { ok: false, message: 'closed' } } };
    },
    60_000,
  );
  await ended;
  assert.deepEqual(asked, [{ gates: ['confirm-promotion'], metrics: false }]);
  const got = g.results('ns/app', 'S1');
  assert.deepEqual(Object.keys(got?.gates ?? {}).sort(), ['confirm-promotion', 'rollout']);
  assert.equal(got?.metrics?.[0]?.name, 'm');
});

test('used(): a decision made without a running job drops its result when it ends', async () => {
  const { g, done, nextDone } = gatherer();
  const job = deferred();
  g.start('ns/app', 'S1', { gates: ['rollout'], metrics: false }, () => job.promise, 60_000);
  g.used('ns/app'); // e.g. `weir abort` rolled the Canary back meanwhile
  const ended = nextDone();
  job.resolve({ gates: { rollout: { ok: true } } });
  await ended;
  assert.deepEqual(done, ['ns/app'], 'still requeued (a job for the new state may start)');
  assert.equal(g.results('ns/app', 'S1'), undefined);
});

test('a job past its bound is abandoned and the Canary requeued', async () => {
  const { g, done, nextDone } = gatherer();
  const ended = nextDone();
  const keepAlive = setInterval(() => {}, 1000); // the bound's timer is unref'd, as in the controller
  g.start('ns/app', 'S1', { gates: ['rollout'], metrics: false }, () => new Promise<Gathered>(() => {}), 50);
  await ended;
  clearInterval(keepAlive);
  assert.deepEqual(done, ['ns/app']);
  assert.equal(g.busy('ns/app'), false);
  assert.equal(g.results('ns/app', 'S1'), undefined);
});

test('jobBoundMs: the slowest asked hook with its retries, or the slowest metric, plus a margin', () => {
  const spec = {
    analysis: {
      webhooks: [
        { name: 'a', type: 'rollout', url: 'http://x', timeout: '20s', retries: 2 },
        { name: 'b', type: 'confirm-promotion', url: 'http://x', timeout: '5m' },
      ],
      metrics: [{ name: 'm' }],
    },
  } as unknown as CanarySpec;
  const margin = jobBoundMs(spec, { gates: [], metrics: false }, () => 0);
  assert.equal(
    jobBoundMs(spec, { gates: ['rollout'], metrics: false }, () => 0),
    margin + 3 * 20_000 + 2 * 2_000,
  );
  assert.equal(
    jobBoundMs(spec, { gates: ['rollout', 'confirm-promotion'], metrics: false }, () => 0),
    margin + 300_000,
  );
  assert.equal(
    jobBoundMs(spec, { gates: [], metrics: true }, () => 7_000),
    margin + 7_000,
  );
});
