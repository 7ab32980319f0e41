// Table and sequence tests for the pure canary decision.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateObject } from '../../src/api/validate.ts';
import type { CanarySpec, WebhookType } from '../../src/api/canary.ts';
import { decide } from '../../src/canary/decide.ts';
import { activeMetrics } from '../../src/canary/strategy.ts';
import type {
  Action,
  CanaryView,
  Decision,
  GateResult,
  MetricResult,
  Observations,
  Traffic,
} from '../../src/canary/model.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Canary `app` in `prod` with `analysis` over an interval of 30s, through the schema. */
const validated = (analysis: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'app', namespace: 'prod' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'app' },
      service: { port: 80 },
      analysis: { interval: '30s', ...analysis },
      ...extra,
    },
  });

function canary(analysis: Record<string, unknown>, extra: Record<string, unknown> = {}): CanaryView {
  const { object, problems } = validated(analysis, extra);
  assert.deepEqual(problems, []);
  return {
    name: 'app',
    namespace: 'prod',
    generation: 1,
    spec: object.spec as CanarySpec,
    status: {},
    annotations: {},
  };
}

interface World {
  view: CanaryView;
  now: number;
  revision: string;
  primary: Observations['primary'];
  canary: Observations['canary'];
  requests: Observations['requests'];
  gates: Partial<Record<WebhookType, GateResult>>;
  metrics: MetricResult[];
  asked: { gates: WebhookType[]; metrics: number };
  /** The router's weight verification (Observations.routesPending). */
  routesPending?: string;
  /** The concurrency limits' verdict (Observations.admission). */
  admission?: Observations['admission'];
  /** The release window's verdict (Observations.window). */
  window?: Observations['window'];
}

function world(view: CanaryView, status: Partial<CanaryView['status']> = {}): World {
  view.status = { ...status };
  return {
    view,
    now: T0,
    revision: 'rev1',
    primary: { exists: true, readyPercent: 100, revision: 'rev1' },
    canary: { exists: true, readyPercent: 100 },
    requests: { paused: false },
    gates: {},
    metrics: [{ name: 'request-success-rate', result: 'Successful', value: 100, min: 99, message: 'ok' }],
    asked: { gates: [], metrics: 0 },
  };
}

/** One reconcile: answer what decide() asks for from the world, then adopt the new status. */
function step(w: World): Decision {
  const obs: Observations = {
    now: new Date(w.now),
    revision: w.revision,
    primary: w.primary,
    canary: w.canary,
    requests: w.requests,
    gates: {},
    ...(w.routesPending ? { routesPending: w.routesPending } : {}),
    ...(w.admission ? { admission: w.admission } : {}),
    ...(w.window ? { window: w.window } : {}),
  };
  for (let i = 0; i < 4; i++) {
    const d = decide(w.view, obs);
    if ('need' in d) {
      for (const g of d.need.gates) {
        w.asked.gates.push(g);
        obs.gates[g] = w.gates[g] ?? { ok: true };
      }
      if (d.need.metrics) {
        w.asked.metrics++;
        obs.metrics = w.metrics;
      }
      continue;
    }
    w.view.status = d.status;
    return d;
  }
  throw new Error('decide kept asking');
}

const tick = (w: World, ms = 30_000) => {
  w.now += ms;
  return step(w);
};
const traffic = (d: Decision) =>
  d.actions
    .filter((a): a is Extract<Action, { type: 'setTraffic' }> => a.type === 'setTraffic')
    .map((a) => a.traffic);
const has = (d: Decision, type: Action['type']) => d.actions.some((a) => a.type === type);
const alerts = (d: Decision) => d.actions.flatMap((a) => (a.type === 'alert' ? [a.kind] : []));
const initialized = {
  phase: 'Initialized' as const,
  lastAppliedSpec: 'rev1',
  lastPromotedSpec: 'rev1',
  canaryWeight: 0,
};

describe('initialization', () => {
  test('a new Canary creates the primary and waits for it, then scales the target to 0', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }));
    w.primary = { exists: false, readyPercent: 0 };
    let d = step(w);
    assert.equal(d.status.phase, 'Initializing');
    assert.ok(has(d, 'ensurePrimary'));
    assert.ok(!has(d, 'scaleCanary'));
    w.primary = { exists: true, readyPercent: 100, revision: 'rev1' };
    d = tick(w, 1000);
    assert.equal(d.status.phase, 'Initialized');
    assert.deepEqual(
      d.actions.find((a) => a.type === 'scaleCanary'),
      { type: 'scaleCanary', replicas: 0 },
    );
    assert.equal(d.status.lastAppliedSpec, 'rev1');
    assert.equal(d.status.lastPromotedSpec, 'rev1');
    assert.deepEqual(alerts(d), ['initialized']);
  });

  test('an idle canary with an unchanged revision does nothing', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), initialized);
    const d = step(w);
    assert.deepEqual(d.actions, []);
    assert.equal(d.status.phase, 'Initialized');
  });

  test('suspend stops all actions', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }, { suspend: true }), initialized);
    w.revision = 'rev2';
    const d = step(w);
    assert.deepEqual(d.actions, []);
    assert.match(d.status.message ?? '', /Suspended/);
  });
});

describe('weighted canary', () => {
  test('stepWeight 10 to maxWeight 30: weights advance one tick at a time, then promotion', () => {
    const w = world(
      canary({
        stepWeight: 10,
        maxWeight: 30,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    let d = step(w);
    assert.equal(d.status.phase, 'Progressing');
    assert.deepEqual(alerts(d), ['new-revision']);
    assert.deepEqual(
      d.actions.find((a) => a.type === 'scaleCanary'),
      { type: 'scaleCanary', replicas: 'restore' },
    );
    const weights: number[] = [];
    for (let i = 0; i < 4; i++) {
      d = tick(w);
      weights.push(...traffic(d).map((t) => t.canary));
    }
    assert.deepEqual(weights, [10, 20, 30]);
    assert.equal(d.status.phase, 'Promoting');
    assert.ok(has(d, 'promotePrimary'));
    // Recorded with the promotion (applied before this status is written), not one write later.
    assert.equal(d.status.lastPromotedSpec, 'rev2');
    assert.equal(
      w.asked.metrics,
      3,
      'metrics are not queried on the first tick, when the canary has no traffic',
    );
    // primary has not rolled out the new revision yet: keep waiting
    d = tick(w, 1000);
    assert.equal(d.status.phase, 'Promoting');
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    d = tick(w, 1000);
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
    assert.equal(d.status.phase, 'Finalising');
    d = tick(w, 1000);
    assert.equal(d.status.phase, 'Succeeded');
    assert.equal(d.status.lastPromotedSpec, 'rev2');
    assert.deepEqual(alerts(d), ['promoted']);
    assert.ok(d.actions.some((a) => a.type === 'runHooks' && a.hookType === 'post-rollout'));
  });

  test('no analysis before the interval has passed', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 30 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w); // first tick: weight 10
    const d = tick(w, 10_000);
    assert.deepEqual(traffic(d), []);
    assert.equal(d.status.canaryWeight, 10);
    assert.equal(d.requeueAfterMs, 20_000);
  });

  test('stepWeights walk the list', () => {
    const w = world(canary({ stepWeights: [5, 25, 50] }), initialized);
    w.revision = 'rev2';
    step(w);
    const weights = [1, 2, 3, 4].flatMap(() => traffic(tick(w)).map((t) => t.canary));
    assert.deepEqual(weights, [5, 25, 50]);
    assert.equal(w.view.status.phase, 'Promoting');
  });

  test('stepWeightPromotion moves traffic back gradually after the primary is updated', () => {
    const w = world(canary({ stepWeight: 50, maxWeight: 50, stepWeightPromotion: 20 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    tick(w);
    assert.equal(w.view.status.phase, 'Promoting');
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    const seen = [1, 2, 3].flatMap(() => traffic(tick(w)).map((t) => t.canary));
    assert.deepEqual(seen, [30, 10, 0]);
    assert.equal(w.view.status.phase, 'Finalising');
  });
});

const failing: MetricResult = {
  name: 'request-success-rate',
  result: 'Failed',
  value: 80,
  min: 99,
  message: 'request-success-rate 80 < min 99',
};

describe('failures and rollback', () => {
  for (const [label, metric] of [
    ['out of range', failing],
    [
      'no data',
      {
        name: 'request-success-rate',
        result: 'NoData',
        message: 'request-success-rate returned no data',
      } as MetricResult,
    ],
    [
      'no data, diagnosed',
      {
        name: 'request-success-rate',
        result: 'NoData',
        message:
          'metric request-success-rate returned no data (pod selector matches no series): no series of ' +
          'http_request_duration_seconds_count{namespace="prod"} has pod=~"app-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", ' +
          "the canary's pods (pod values there: app-primary-1a-2b); query: 100 * (…)",
      } as MetricResult,
    ],
    [
      'query error',
      { name: 'request-success-rate', result: 'Error', message: 'prometheus unreachable' } as MetricResult,
    ],
  ] as const) {
    test(`a failing metric (${label}) adds failed checks and rolls back at the threshold`, () => {
      const w = world(
        canary({
          stepWeight: 10,
          maxWeight: 50,
          threshold: 2,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        }),
        initialized,
      );
      w.revision = 'rev2';
      step(w);
      tick(w); // weight 10
      w.metrics = [metric];
      let d = tick(w);
      assert.equal(d.status.failedChecks, 1);
      assert.equal(d.status.phase, 'Progressing');
      assert.deepEqual(traffic(d), [], 'a failing tick does not advance');
      // The metric's message, whole, in the status and the FailedCheck Event.
      assert.ok(d.status.message?.includes(metric.message), d.status.message);
      const event = d.actions.find((a) => a.type === 'event' && a.reason === 'FailedCheck');
      assert.ok(event?.type === 'event' && event.message.includes(metric.message), JSON.stringify(event));
      d = tick(w);
      assert.equal(d.status.phase, 'Failed');
      assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
      assert.deepEqual(
        d.actions.find((a) => a.type === 'scaleCanary'),
        { type: 'scaleCanary', replicas: 0 },
      );
      const alert = d.actions.find((a) => a.type === 'alert');
      assert.ok(alert && alert.type === 'alert' && alert.severity === 'error');
      assert.ok(alert.message.includes(metric.message), alert.message);
      assert.match(d.status.message ?? '', /Failed checks threshold reached 2/);
    });
  }

  test('a failed revision is not retried by itself; weir retry re-runs it', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), {
      ...initialized,
      phase: 'Failed',
      lastAppliedSpec: 'rev2',
    });
    w.revision = 'rev2';
    assert.deepEqual(step(w).actions, []);
    w.requests = { paused: false, retry: { id: 't1' } };
    const d = step(w);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.handledRequests?.retry, 't1');
    assert.equal(d.status.failedChecks, 0);
  });

  test('abort rolls back at once and is handled only once', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.requests = { paused: false, abort: { id: 'a1' } };
    const d = step(w);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /aborted by user/);
    w.requests = { paused: false, abort: { id: 'a1' }, retry: { id: 'r1' } };
    assert.equal(
      step(w).status.phase,
      'Progressing',
      'retry after abort runs again; the old abort is not re-applied',
    );
  });

  test('routes the data plane has not taken hold the step, then the deadline rolls back', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }, { progressDeadlineSeconds: 60 }), initialized);
    w.revision = 'rev2';
    step(w);
    assert.deepEqual(traffic(tick(w)), [{ primary: 90, canary: 10 }]);
    w.routesPending = 'parent g/gw accepted generation 1, not the current 2';
    const asked = w.asked.metrics;
    let d = tick(w);
    assert.deepEqual(traffic(d), [], 'no next step while the last one is not taken');
    assert.equal(w.asked.metrics, asked, 'no analysis of traffic the proxy never got');
    assert.match(
      d.status.message ?? '',
      /waiting for the routes to be taken: parent g\/gw accepted generation 1/,
    );
    assert.equal(d.status.canaryWeight, 10);
    w.routesPending = undefined;
    assert.deepEqual(traffic(tick(w)), [{ primary: 80, canary: 20 }], 'taken: the run goes on');
    w.routesPending = 'parent g/gw reports Accepted=False (NotAllowedByListeners)';
    // The deadline clock starts when the next tick falls due (30 s after the step), then 60 s.
    assert.equal(tick(w, 60_000).status.phase, 'Progressing');
    d = tick(w, 31_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /Progress deadline exceeded.*routes to be taken/);
  });

  test('canary pods that never become ready hit the progress deadline', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }, { progressDeadlineSeconds: 60 }), initialized);
    w.revision = 'rev2';
    step(w);
    w.canary = { exists: true, readyPercent: 0 };
    assert.equal(tick(w, 30_000).status.phase, 'Progressing');
    const d = tick(w, 31_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /Progress deadline exceeded/);
  });

  test('waiting for pods looks again with their watch events: a 10 s backstop, on time for the deadline', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }, { progressDeadlineSeconds: 60 }), initialized);
    w.revision = 'rev2';
    step(w);
    w.canary = { exists: true, readyPercent: 40 };
    let d = tick(w, 1_000);
    assert.match(d.status.message ?? '', /waiting for canary pods \(40% ready\)/);
    assert.equal(d.requeueAfterMs, 10_000, 'no 2 s polling while pods roll out');
    d = tick(w, 55_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.ok(d.requeueAfterMs <= 5_001, `wakes at the deadline: ${d.requeueAfterMs}`);
    // The primary rolling out during promotion, and while initializing, wait the same way.
    const p = world(canary({ stepWeight: 50, maxWeight: 50 }), initialized);
    p.revision = 'rev2';
    step(p);
    tick(p);
    tick(p);
    p.primary = { exists: true, readyPercent: 50, revision: 'rev1' };
    d = tick(p);
    assert.equal(d.status.phase, 'Promoting');
    d = tick(p, 1_000);
    assert.match(d.status.message ?? '', /waiting for app-primary to roll out/);
    assert.equal(d.requeueAfterMs, 10_000);
    const i = world(canary({ stepWeight: 10, maxWeight: 50 }));
    i.primary = { exists: true, readyPercent: 0 };
    step(i);
    d = tick(i, 1_000);
    assert.match(d.status.message ?? '', /Initializing: waiting for app-primary/);
    assert.equal(d.requeueAfterMs, 10_000);
  });

  test('a rollback webhook that answers OK rolls back', () => {
    const w = world(
      canary({
        stepWeight: 10,
        maxWeight: 50,
        webhooks: [{ name: 'rb', type: 'rollback', url: 'http://x/' }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    w.gates.rollback = { ok: false, message: 'no' };
    tick(w);
    w.gates.rollback = { ok: true };
    const d = tick(w);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /rollback webhook/);
  });
});

describe('revisions', () => {
  test('a new revision mid-run restarts the analysis from zero', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    tick(w);
    assert.equal(w.view.status.canaryWeight, 20);
    w.revision = 'rev3';
    const d = step(w);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.canaryWeight, 0);
    assert.equal(d.status.lastAppliedSpec, 'rev3');
    assert.deepEqual(traffic(d).at(-1), { primary: 100, canary: 0 });
    assert.deepEqual(alerts(d), ['restarted'], 'one alert for the restart, not a second "new revision"');
  });

  test('a new revision mid-run takes traffic off the canary even when confirm-rollout holds it', () => {
    const w = world(
      canary({
        stepWeight: 10,
        maxWeight: 50,
        webhooks: [{ name: 'g', type: 'confirm-rollout', url: 'http://g/' }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w);
    tick(w);
    assert.equal(w.view.status.canaryWeight, 20);
    w.revision = 'rev3';
    w.gates['confirm-rollout'] = { ok: false, message: 'closed' };
    const d = step(w);
    assert.equal(d.status.phase, 'Waiting');
    assert.equal(d.status.canaryWeight, 0);
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
  });

  test('a new revision during promotion is analysed before it can reach primary', () => {
    const w = world(canary({ stepWeight: 50, maxWeight: 50 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    tick(w);
    assert.equal(w.view.status.phase, 'Promoting');
    w.revision = 'rev3';
    const d = step(w);
    assert.equal(d.status.phase, 'Progressing');
    assert.ok(!has(d, 'promotePrimary'));
  });

  test('going back to the promoted revision needs no run', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), {
      ...initialized,
      phase: 'Failed',
      lastAppliedSpec: 'rev2',
    });
    const d = step(w); // revision rev1 == lastPromotedSpec
    assert.equal(d.status.phase, 'Succeeded');
    assert.equal(d.status.lastAppliedSpec, 'rev1');
    assert.ok(!has(d, 'promotePrimary'));
  });

  test('skipAnalysis promotes straight away', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }, { skipAnalysis: true }), initialized);
    w.revision = 'rev2';
    const d = step(w);
    assert.equal(d.status.phase, 'Promoting');
    assert.ok(has(d, 'promotePrimary'));
  });
});

describe('gates, pauses and user requests', () => {
  test('confirm-rollout holds the run in Waiting and alerts once', () => {
    const w = world(
      canary({
        stepWeight: 10,
        maxWeight: 50,
        webhooks: [{ name: 'g', type: 'confirm-rollout', url: 'http://g/' }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    w.gates['confirm-rollout'] = { ok: false, message: 'closed' };
    let d = step(w);
    assert.equal(d.status.phase, 'Waiting');
    assert.deepEqual(alerts(d), ['waiting-approval']);
    d = tick(w);
    assert.deepEqual(alerts(d), [], 'waiting-approval is sent once per wait');
    w.gates['confirm-rollout'] = { ok: true };
    d = tick(w);
    assert.equal(d.status.phase, 'Progressing');
  });

  test('confirm-promotion holds WaitingPromotion until the gate opens', () => {
    const w = world(
      canary({
        stepWeight: 50,
        maxWeight: 50,
        webhooks: [{ name: 'g', type: 'confirm-promotion', url: 'http://g/' }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    w.gates['confirm-promotion'] = { ok: false, message: 'not yet' };
    step(w);
    tick(w);
    let d = tick(w);
    assert.equal(d.status.phase, 'WaitingPromotion');
    assert.deepEqual(alerts(d), ['waiting-approval']);
    d = tick(w);
    assert.equal(d.status.phase, 'WaitingPromotion');
    w.gates['confirm-promotion'] = { ok: true };
    d = tick(w);
    assert.equal(d.status.phase, 'Promoting');
  });

  test('confirm-traffic-increase holds the weight', () => {
    const w = world(
      canary({
        stepWeight: 10,
        maxWeight: 50,
        webhooks: [{ name: 'g', type: 'confirm-traffic-increase', url: 'http://g/' }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    w.gates['confirm-traffic-increase'] = { ok: false, message: 'closed' };
    step(w);
    const d = tick(w);
    assert.equal(d.status.canaryWeight, 0);
    assert.match(d.status.message ?? '', /confirm-traffic-increase/);
  });

  test('a confirm-traffic-increase gate closed at weight 0 queries no metrics: no traffic, no failed checks', () => {
    const w = world(
      canary({
        stepWeight: 10,
        maxWeight: 50,
        threshold: 2,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        webhooks: [{ name: 'g', type: 'confirm-traffic-increase', url: 'http://g/' }],
      }),
      initialized,
    );
    // What Prometheus answers for a canary without traffic.
    w.metrics = [{ name: 'request-success-rate', result: 'NoData', message: 'no data' }];
    w.revision = 'rev2';
    w.gates['confirm-traffic-increase'] = { ok: false, message: 'closed' };
    step(w);
    for (let i = 0; i < 4; i++) {
      const d = tick(w);
      assert.equal(d.status.phase, 'Progressing', d.status.message);
      assert.equal(d.status.canaryWeight, 0);
    }
    assert.equal(w.asked.metrics, 0, 'no metric query while the canary has no traffic');
    assert.equal(w.view.status.failedChecks ?? 0, 0);
    w.gates['confirm-traffic-increase'] = { ok: true };
    assert.equal(tick(w).status.canaryWeight, 10);
    assert.equal(tick(w).status.failedChecks, 1, 'at weight 10 the checks run again');
    assert.equal(w.asked.metrics, 1);
  });

  test('explicit steps: timed pause, manual pause released by promote', () => {
    const w = world(
      canary({
        steps: [
          { setWeight: 10 },
          { pause: { duration: '1m' } },
          { setWeight: 40 },
          { pause: {} },
          { setWeight: 80 },
        ],
      }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    assert.deepEqual(
      traffic(tick(w)).map((t) => t.canary),
      [10],
    );
    let d = tick(w); // pause starts
    assert.match(d.status.message ?? '', /Paused: step 2/);
    d = tick(w); // 30s into a 1m pause
    assert.equal(d.status.stepIndex, 1);
    d = tick(w); // 60s: pause over
    assert.equal(d.status.stepIndex, 2);
    assert.deepEqual(
      traffic(tick(w)).map((t) => t.canary),
      [40],
    );
    for (let i = 0; i < 3; i++) assert.match(tick(w).status.message ?? '', /waiting for `weir promote`/);
    w.requests = { paused: false, promote: { id: 'p1', full: false } };
    d = tick(w);
    assert.equal(d.status.stepIndex, 4);
    assert.deepEqual(
      traffic(tick(w)).map((t) => t.canary),
      [80],
    );
    assert.equal(tick(w).status.phase, 'Promoting');
  });

  test('promote ends a timed pause early', () => {
    const w = world(
      canary({ steps: [{ setWeight: 10 }, { pause: { duration: '1h' } }, { setWeight: 50 }] }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w); // weight 10
    assert.match(tick(w).status.message ?? '', /Paused: step 2, \d+s left/);
    w.requests = { paused: false, promote: { id: 'p1', full: false } };
    assert.equal(tick(w, 1000).status.stepIndex, 2, 'the pause ended at once, long before its hour');
    assert.deepEqual(
      traffic(tick(w)).map((t) => t.canary),
      [50],
    );
  });

  test('a promote during a user pause waits for resume, then ends the pause at once', () => {
    const w = world(canary({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }] }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w); // weight 10
    tick(w); // manual pause
    w.requests = { paused: true, promote: { id: 'p1', full: false } };
    for (let i = 0; i < 3; i++) assert.equal(tick(w).status.stepIndex, 1, 'held while paused');
    assert.equal(w.view.status.handledRequests?.promote, undefined, 'the promote is still pending');
    w.requests = { paused: false, promote: { id: 'p1', full: false } };
    assert.equal(tick(w, 1000).status.stepIndex, 2);
  });

  test('promote --full skips the remaining steps', () => {
    const w = world(canary({ stepWeights: [5, 10, 20, 40] }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.requests = { paused: false, promote: { id: 'p1', full: true } };
    const d = tick(w);
    assert.equal(d.status.phase, 'Promoting');
    assert.ok(has(d, 'promotePrimary'));
  });

  test('a user pause holds the weight and the deadline, analysis keeps running', () => {
    const w = world(
      canary(
        {
          stepWeight: 10,
          maxWeight: 50,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        },
        { progressDeadlineSeconds: 60 },
      ),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.requests = { paused: true };
    for (let i = 0; i < 5; i++) tick(w);
    assert.equal(w.view.status.canaryWeight, 10);
    assert.equal(w.view.status.phase, 'Progressing');
    assert.equal(w.asked.metrics, 5);
    w.requests = { paused: false };
    assert.equal(tick(w).status.canaryWeight, 20);
  });
});

describe('A/B and blue/green', () => {
  test('A/B routes matching requests for every iteration, then promotes', () => {
    const w = world(
      canary(
        { iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
        { provider: 'gatewayapi' },
      ),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    const t = [1, 2, 3].flatMap(() => traffic(tick(w)));
    assert.ok(t.every((x) => x.match === true && x.canary === 0));
    assert.equal(w.view.status.iterations, 2);
    assert.equal(tick(w).status.phase, 'Promoting');
  });

  test('blue/green keeps users on primary during iterations', () => {
    const w = world(canary({ iterations: 3 }, { provider: 'kubernetes' }), initialized);
    w.revision = 'rev2';
    step(w);
    const t = [1, 2, 3].flatMap(() => traffic(tick(w)));
    assert.deepEqual(t, [{ primary: 100, canary: 0 }]);
    assert.equal(w.view.status.iterations, 3);
    assert.equal(tick(w).status.phase, 'Promoting');
  });
});

describe('crash safety', () => {
  test('replaying a reconcile whose status was never written does not advance twice', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    const before = structuredClone(w.view.status);
    const first = tick(w);
    w.view.status = before; // the status patch was lost in a crash
    const replay = step(w);
    assert.deepEqual(traffic(replay), traffic(first));
    assert.equal(replay.status.canaryWeight, 20);
  });

  test('never a promotion without passing analysis: failing checks at max weight keep the primary', () => {
    const w = world(
      canary({
        stepWeight: 50,
        maxWeight: 50,
        threshold: 3,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.metrics = [{ name: 'request-success-rate', result: 'Error', message: 'connection refused' }];
    for (let i = 0; i < 3; i++) assert.ok(!has(tick(w), 'promotePrimary'));
    assert.equal(w.view.status.phase, 'Failed');
  });
});

const events = (d: Decision) => d.actions.flatMap((a) => (a.type === 'event' ? [a.reason] : []));
const withMetric = { metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] };

describe('no promotion without an analysed tick', () => {
  // Each case runs a new revision until the first promotePrimary; metrics must have been queried by then.
  const cases: Array<{
    name: string;
    view: () => CanaryView;
    promote?: { full: boolean };
    metricsBeforePromotion: number;
  }> = [
    {
      name: 'maxWeight 0 (a spec that bypassed validation)',
      view: () => {
        const v = canary({ stepWeight: 10, maxWeight: 10, ...withMetric });
        v.spec.analysis.maxWeight = 0;
        return v;
      },
      metricsBeforePromotion: 1,
    },
    {
      name: 'stepWeights [50]',
      view: () => canary({ stepWeights: [50], ...withMetric }),
      metricsBeforePromotion: 1,
    },
    {
      name: 'steps [setWeight 50]',
      view: () => canary({ steps: [{ setWeight: 50 }], ...withMetric }),
      metricsBeforePromotion: 1,
    },
    {
      name: 'blue/green, 1 iteration',
      view: () => canary({ iterations: 1, ...withMetric }, { provider: 'kubernetes' }),
      metricsBeforePromotion: 1,
    },
    {
      name: 'weir promote --full before the first tick',
      view: () => canary({ stepWeights: [10, 50], ...withMetric }),
      promote: { full: true },
      metricsBeforePromotion: 1,
    },
    {
      name: 'weir promote on a lone manual pause',
      view: () => canary({ steps: [{ pause: {} }], ...withMetric }),
      promote: { full: false },
      metricsBeforePromotion: 1,
    },
    {
      name: 'skipAnalysis (the one exception)',
      view: () => canary({ stepWeights: [50], ...withMetric }, { skipAnalysis: true }),
      metricsBeforePromotion: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const w = world(c.view(), initialized);
      w.revision = 'rev2';
      if (c.promote) w.requests = { paused: false, promote: { id: 'p1', ...c.promote } };
      let promotedAfter: number | undefined;
      for (let i = 0; i < 8 && promotedAfter === undefined; i++)
        if (has(i === 0 ? step(w) : tick(w), 'promotePrimary')) promotedAfter = w.asked.metrics;
      assert.equal(promotedAfter, c.metricsBeforePromotion, 'metric queries before the promotion');
    });
  }
});

describe('progressDeadlineSeconds counts waits, not the schedule', () => {
  test('an interval longer than the deadline runs a healthy canary to the end', () => {
    const w = world(
      canary({ interval: '15m', stepWeights: [20, 50], ...withMetric }, { progressDeadlineSeconds: 600 }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    for (let i = 0; i < 8; i++) {
      const d = tick(w, 5 * 60_000); // reconciles in between (watch events) see no stall either
      assert.notEqual(d.status.phase, 'Failed', d.status.message);
      if (d.status.phase === 'Promoting') break;
    }
    assert.equal(w.view.status.phase, 'Promoting');
  });

  test('a timed pause longer than the deadline is not a stall', () => {
    const w = world(
      canary(
        { interval: '1m', steps: [{ setWeight: 10 }, { pause: { duration: '30m' } }, { setWeight: 50 }] },
        { progressDeadlineSeconds: 120 },
      ),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w, 60_000); // weight 10
    for (let i = 0; i < 31; i++) assert.notEqual(tick(w, 60_000).status.phase, 'Failed');
    assert.equal(w.view.status.stepIndex, 2, 'the pause ended after its 30 minutes');
    assert.deepEqual(
      traffic(tick(w, 60_000)).map((t) => t.canary),
      [50],
    );
  });

  test('a manual pause still waits at most the deadline', () => {
    const w = world(
      canary({ interval: '1m', steps: [{ setWeight: 10 }, { pause: {} }] }, { progressDeadlineSeconds: 300 }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w, 60_000);
    // The pause starts at the next tick; its 300 s run out between the 6th and 7th tick after it.
    for (let i = 0; i < 6; i++) assert.equal(tick(w, 60_000).status.phase, 'Progressing');
    const d = tick(w, 60_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /Progress deadline exceeded \(300s\): Paused: step 2/);
  });

  test('a closed gate is asked again at the next tick before the deadline rolls back', () => {
    const spec = {
      interval: '15m',
      stepWeights: [10, 50],
      webhooks: [{ name: 'g', type: 'confirm-traffic-increase', url: 'http://g/' }],
    };
    const run = (opensAtSecondAsk: boolean) => {
      const w = world(canary(spec, { progressDeadlineSeconds: 600 }), initialized);
      w.revision = 'rev2';
      step(w);
      tick(w, 1000); // weight 10
      w.gates['confirm-traffic-increase'] = { ok: false, message: 'closed' };
      assert.match(tick(w, 15 * 60_000).status.message ?? '', /gate is closed/);
      assert.equal(tick(w, 7 * 60_000).status.phase, 'Progressing', 'no check between ticks');
      if (opensAtSecondAsk) w.gates['confirm-traffic-increase'] = { ok: true };
      return tick(w, 8 * 60_000);
    };
    assert.equal(run(true).status.canaryWeight, 50);
    const failed = run(false);
    assert.equal(failed.status.phase, 'Failed');
    assert.match(failed.status.message ?? '', /confirm-traffic-increase gate is closed/);
  });

  test('canary pods not ready: the deadline counts from when the tick fell due', () => {
    const w = world(
      canary({ interval: '20m', stepWeights: [10, 50] }, { progressDeadlineSeconds: 600 }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w, 1000); // weight 10 at T; next tick due at T+20m
    w.canary = { exists: true, readyPercent: 0 };
    assert.equal(tick(w, 15 * 60_000).status.phase, 'Progressing', 'inside the scheduled wait');
    assert.equal(tick(w, 14 * 60_000).status.phase, 'Progressing', '9 min after the tick fell due');
    const d = tick(w, 2 * 60_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /waiting for canary pods/);
  });

  test('a wait judged at ticks ends one interval past the deadline without asking any gate', () => {
    const w = world(
      canary(
        {
          interval: '1m',
          stepWeights: [10, 50],
          threshold: 100,
          webhooks: [{ name: 'load', type: 'rollout', url: 'http://load/' }],
          ...withMetric,
        },
        { progressDeadlineSeconds: 120 },
      ),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w, 1000); // weight 10; the next tick is due a minute later
    w.metrics = [{ name: 'request-success-rate', result: 'Failed', value: 50, message: 'too low' }];
    let d = tick(w, 60_000);
    for (let i = 0; i < 3; i++) {
      assert.equal(d.status.phase, 'Progressing');
      d = tick(w, 60_000);
    }
    const asked = w.asked.gates.length;
    d = tick(w, 1000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /Progress deadline exceeded \(120s\): Halted: failed check/);
    assert.equal(w.asked.gates.length, asked, 'no gate asked on the way to the rollback');
  });

  test('requeues stay within setTimeout range, however long the interval or pause', () => {
    const w = world(canary({ steps: [{ setWeight: 10 }, { pause: { duration: '168h' } }] }), initialized);
    w.view.spec.analysis.interval = '999999h'; // bypasses the schema's 24h bound
    w.revision = 'rev2';
    const seen = [step(w), tick(w), tick(w), tick(w, 1000)].map((d) => d.requeueAfterMs);
    for (const ms of seen) assert.ok(ms >= 1000 && ms <= 5 * 60_000, `requeue ${ms}`);
  });
});

describe('the primary’s real revision, not status, decides promotion and revert', () => {
  const landed = {
    canaryWeight: 50,
    stepIndex: 1,
    lastAppliedSpec: 'rev2',
    lastPromotedSpec: 'rev1',
    lastAnalysisTime: new Date(T0).toISOString(),
    waitingSince: new Date(T0).toISOString(),
  };
  for (const phase of ['Progressing', 'WaitingPromotion', 'Waiting'] as const) {
    test(`crash replay: ${phase} in status, primary already on the new revision, abort → no false RolledBack`, () => {
      const w = world(canary({ stepWeights: [50], ...withMetric }), { ...landed, phase });
      w.revision = 'rev2';
      w.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
      w.requests = { paused: false, abort: { id: 'a1' } };
      const d = step(w);
      assert.notEqual(d.status.phase, 'Failed');
      assert.doesNotMatch(d.status.message ?? '', /RolledBack/);
      assert.ok(['Promoting', 'Finalising'].includes(d.status.phase ?? ''), d.status.phase);
      assert.equal(d.status.lastPromotedSpec, 'rev2');
      assert.equal(d.status.handledRequests?.abort, 'a1', 'the abort is answered, not left pending');
      assert.ok(events(d).includes('AbortIgnored'), 'events(d).includes("AbortIgnored")');
      assert.ok(!alerts(d).includes('rolled-back'), '!alerts(d).includes("rolled-back")');
      tick(w, 1000);
      assert.equal(tick(w, 1000).status.phase, 'Succeeded');
    });
  }

  test('the whole crash: promotion written, status patch lost, then abort', () => {
    const w = world(canary({ stepWeights: [50], ...withMetric }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w); // weight 50
    const before = structuredClone(w.view.status);
    const d = tick(w);
    assert.ok(has(d, 'promotePrimary'), 'promotePrimary');
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' }; // the write landed
    w.view.status = before; // the status patch did not
    w.requests = { paused: false, abort: { id: 'a1' } };
    const after = step(w);
    assert.notEqual(after.status.phase, 'Failed');
    assert.equal(after.status.lastPromotedSpec, 'rev2');
  });

  test('the target moved on meanwhile: the landed promotion is recorded, the new revision is analysed', () => {
    const w = world(canary({ stepWeights: [50], ...withMetric }), { ...landed, phase: 'Progressing' });
    w.revision = 'rev3';
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    const d = step(w);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.lastAppliedSpec, 'rev3');
    assert.equal(d.status.lastPromotedSpec, 'rev2');
    assert.ok(!has(d, 'promotePrimary'), 'no promotePrimary');
  });

  test('a new revision during Promoting, the primary already on the analysed one: recorded as promoted', () => {
    const w = world(canary({ stepWeights: [50] }), { ...landed, phase: 'Promoting' });
    w.revision = 'rev3';
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    const d = step(w);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.lastPromotedSpec, 'rev2');
    assert.equal(d.status.lastAppliedSpec, 'rev3');
  });

  test('Promoting past the deadline with the new template on the primary: PromotionStalled, not RolledBack', () => {
    const w = world(canary({ stepWeights: [50] }, { progressDeadlineSeconds: 60 }), {
      ...landed,
      phase: 'Promoting',
    });
    w.revision = 'rev2';
    w.primary = { exists: true, readyPercent: 0, revision: 'rev2' };
    assert.equal(tick(w, 30_000).status.phase, 'Promoting');
    const d = tick(w, 40_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /^PromotionStalled: app-primary carries revision rev2/);
    assert.equal(d.status.lastPromotedSpec, 'rev2');
  });

  test('Promoting past the deadline, the primary back on the old revision: RolledBack, and the old one stays promoted', () => {
    const w = world(canary({ stepWeights: [50] }, { progressDeadlineSeconds: 60 }), {
      ...landed,
      lastPromotedSpec: 'rev2', // recorded by the promotion step's write
      phase: 'Promoting',
    });
    w.revision = 'rev2';
    w.primary = { exists: true, readyPercent: 100, revision: 'rev1' }; // reverted by hand
    assert.equal(tick(w, 30_000).status.phase, 'Promoting');
    const d = tick(w, 40_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /^RolledBack: Progress deadline exceeded while promoting/);
    assert.equal(d.status.lastPromotedSpec, 'rev1');
    assert.ok(!has(tick(w, 1000), 'promotePrimary'), 'the failed revision is not copied to the primary');
  });

  test('repair: an idle primary that does not run the promoted revision gets it back', () => {
    const w = world(canary({ stepWeights: [50] }), { ...initialized, phase: 'Succeeded' });
    w.primary = { exists: true, readyPercent: 100, revision: 'rev0' };
    let d = step(w);
    assert.ok(has(d, 'promotePrimary'), 'promotePrimary');
    assert.deepEqual(events(d), ['PrimaryRepaired']);
    assert.equal(d.status.phase, 'Succeeded');
    d = step(w);
    assert.deepEqual(events(d), [], 'one Warning per repair');
    w.primary = { exists: true, readyPercent: 100, revision: 'rev1' };
    d = step(w);
    assert.ok(!has(d, 'promotePrimary'), 'no promotePrimary');
    assert.match(d.status.message ?? '', /^Repaired:/);
  });

  test('repair: reverting the target after a false RolledBack puts the promoted revision back', () => {
    const w = world(canary({ stepWeights: [50] }), {
      ...initialized,
      phase: 'Failed',
      lastAppliedSpec: 'rev2',
    });
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' }; // left by an older release
    const d = step(w); // target back on rev1 == lastPromotedSpec
    assert.equal(d.status.phase, 'Succeeded');
    assert.ok(has(d, 'promotePrimary'), 'promotePrimary');
    assert.equal(d.status.lastAppliedSpec, 'rev1');
  });
});

describe('a canary scaled to 0 mid-run (an interrupted rollback)', () => {
  // Chaos seed 403502959: the controller died after a rollback's route and scale writes but before
  // its status write; every restarted controller then waited for canary pods that nothing would bring
  // back, silently, until the progress deadline.
  test('is scaled up again with traffic off it, and a bad revision still rolls back at its next failed check', () => {
    const w = world(
      canary(
        { stepWeight: 25, maxWeight: 50, threshold: 2, ...withMetric },
        { progressDeadlineSeconds: 600 },
      ),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w, 1000); // weight 25
    w.metrics = [{ name: 'request-success-rate', result: 'Failed', value: 50, message: 'too low' }];
    let d = tick(w);
    assert.equal(d.status.failedChecks, 1);
    assert.equal(d.status.canaryWeight, 25);
    // The interrupted rollback: route back to 0 and the canary scaled to 0, status not written.
    w.canary = { exists: true, readyPercent: 0, scaledToZero: true };
    d = tick(w, 5_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.deepEqual(
      d.actions.filter((a) => a.type === 'setTraffic' || a.type === 'scaleCanary'),
      [
        { type: 'setTraffic', traffic: { primary: 100, canary: 0 } },
        { type: 'scaleCanary', replicas: 'restore' },
      ],
      'traffic off the canary first, then its pods back',
    );
    assert.equal(d.status.canaryWeight, 0, 'status matches the route');
    assert.equal(d.status.failedChecks, 1, 'failed checks kept');
    assert.match(d.status.message ?? '', /scaled to 0 during the run/);
    assert.equal(d.actions.filter((a) => a.type === 'event').length, 1, 'one Warning event');
    assert.ok(d.requeueAfterMs <= 2_000, 'looks again soon');
    // A cache that still shows 0 replicas: the same writes again, no second event.
    d = tick(w, 2_000);
    assert.equal(d.actions.filter((a) => a.type === 'event').length, 0);
    w.canary = { exists: true, readyPercent: 100 };
    d = tick(w, 30_000);
    assert.equal(d.status.phase, 'Failed', d.status.message);
    assert.match(d.status.message ?? '', /Failed checks threshold reached 2/);
  });

  test('a good revision resumes stepping from 0 and is promoted', () => {
    const w = world(canary({ stepWeight: 25, maxWeight: 50, ...withMetric }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w, 1000); // weight 25
    w.canary = { exists: true, readyPercent: 0, scaledToZero: true };
    tick(w, 1000);
    w.canary = { exists: true, readyPercent: 100 };
    const weights: number[] = [];
    let d = tick(w);
    for (let i = 0; i < 6 && d.status.phase === 'Progressing'; i++) {
      weights.push(...traffic(d).map((t) => t.canary));
      d = tick(w);
    }
    assert.deepEqual(weights, [25, 50], 'every route write +stepWeight from 0');
    assert.equal(d.status.phase, 'Promoting');
  });
});

describe('analysis.onFailure: freeze', () => {
  const freezing = (analysis: Record<string, unknown> = {}) =>
    canary({ stepWeight: 20, maxWeight: 60, threshold: 2, ...withMetric, ...analysis });

  /** A run at weight 20 that reached the failed-checks threshold: returns the freezing decision. */
  function frozenWorld(analysis: Record<string, unknown> = {}): { w: World; d: Decision } {
    const w = world(freezing({ onFailure: 'freeze', ...analysis }), initialized);
    w.revision = 'rev2';
    step(w);
    assert.equal(tick(w).status.canaryWeight, 20);
    w.metrics = [failing];
    assert.equal(tick(w).status.phase, 'Progressing', 'one failed check is below the threshold');
    const d = tick(w);
    return { w, d };
  }

  test('the default is rollback: the threshold rolls back as before', () => {
    const w = world(freezing(), initialized);
    assert.equal(w.view.spec.analysis.onFailure, 'rollback');
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.metrics = [failing];
    tick(w);
    const d = tick(w);
    assert.equal(d.status.phase, 'Failed');
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
  });

  test('at the threshold the run freezes: weights held, no scale-down, an error alert naming the deadline', () => {
    const { d } = frozenWorld();
    assert.equal(d.status.phase, 'Frozen');
    assert.equal(d.status.canaryWeight, 20);
    assert.deepEqual(traffic(d), [], 'no traffic change');
    assert.ok(!has(d, 'scaleCanary'), 'the canary keeps its pods');
    assert.ok(!d.actions.some((a) => a.type === 'runHooks' && a.hookType === 'post-rollout'));
    assert.match(
      d.status.message ?? '',
      /^Frozen: Failed checks threshold reached 2: request-success-rate 80/,
    );
    assert.equal(d.status.frozenAt, new Date(T0 + 90_000).toISOString());
    const alert = d.actions.find((a) => a.type === 'alert');
    assert.ok(alert?.type === 'alert' && alert.kind === 'frozen' && alert.severity === 'error');
    // progressDeadlineSeconds (600 s by default) when freezeDeadline is unset.
    assert.ok(alert.message.includes(new Date(T0 + 90_000 + 600_000).toISOString()), alert.message);
    assert.ok(
      d.actions.some((a) => a.type === 'event' && a.reason === 'Frozen' && a.eventType === 'Warning'),
      'a Warning Event Frozen',
    );
    assert.ok(d.requeueAfterMs > 200_000, `wakes for the deadline, not a tick: ${d.requeueAfterMs}`);
  });

  test('while frozen nothing is measured, no weight moves, nothing is alerted, until the deadline', () => {
    const { w } = frozenWorld({ freezeDeadline: '5m' });
    const asked = w.asked.metrics;
    w.metrics = [{ ...failing, result: 'Successful', value: 100, message: 'ok' }];
    for (let i = 0; i < 9; i++) {
      const d = tick(w);
      assert.equal(d.status.phase, 'Frozen', d.status.message);
      assert.deepEqual(d.actions, [], 'a Frozen tick does nothing');
      assert.equal(d.status.canaryWeight, 20);
    }
    assert.equal(w.asked.metrics, asked, 'no metric query while frozen');
    assert.deepEqual(w.asked.gates, [], 'no gate asked while frozen');
  });

  test('the freeze deadline rolls back, with a message saying so', () => {
    const { w } = frozenWorld({ freezeDeadline: '5m' });
    assert.equal(tick(w, 299_000).status.phase, 'Frozen');
    const d = tick(w, 1_000);
    assert.equal(d.status.phase, 'Failed');
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
    assert.deepEqual(
      d.actions.find((a) => a.type === 'scaleCanary'),
      { type: 'scaleCanary', replicas: 0 },
    );
    assert.match(
      d.status.message ?? '',
      /^RolledBack: freeze deadline exceeded \(analysis.freezeDeadline 5m\) without weir promote, abort or retry; frozen because: Failed checks threshold reached 2/,
    );
    assert.deepEqual(alerts(d), ['rolled-back']);
    assert.equal(d.status.frozenAt, undefined);
  });

  test('without freezeDeadline, progressDeadlineSeconds bounds the freeze', () => {
    const { w } = frozenWorld();
    assert.equal(tick(w, 599_000).status.phase, 'Frozen');
    assert.match(tick(w, 1_000).status.message ?? '', /progressDeadlineSeconds 600s/);
  });

  test('abort while frozen rolls back at once', () => {
    const { w } = frozenWorld();
    w.requests = { paused: false, abort: { id: 'a1' } };
    const d = tick(w, 1_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(
      d.status.message ?? '',
      /^RolledBack: aborted by user while frozen \(Failed checks threshold/,
    );
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
    assert.equal(d.status.handledRequests?.abort, 'a1');
  });

  test('promote while frozen promotes without further analysis', () => {
    const { w } = frozenWorld();
    const asked = w.asked.metrics;
    w.requests = { paused: false, promote: { id: 'p1', full: false } };
    let d = tick(w, 1_000);
    assert.equal(d.status.phase, 'Promoting');
    assert.ok(has(d, 'promotePrimary'));
    assert.equal(d.status.handledRequests?.promote, 'p1');
    w.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    d = tick(w, 2_000);
    assert.equal(d.status.phase, 'Finalising');
    d = tick(w, 2_000);
    assert.equal(d.status.phase, 'Succeeded');
    assert.equal(d.status.lastPromotedSpec, 'rev2');
    assert.equal(w.asked.metrics, asked, 'promote from Frozen measures nothing more');
  });

  test('retry while frozen resumes analysis at the held weight with the failed checks reset', () => {
    const { w } = frozenWorld();
    w.requests = { paused: false, retry: { id: 'r1' } };
    let d = tick(w, 1_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.failedChecks, 0);
    assert.equal(d.status.canaryWeight, 20);
    assert.deepEqual(traffic(d), [], 'resuming moves no weight by itself');
    assert.match(
      d.status.message ?? '',
      /retry requested while frozen, analysis resumes at canary weight 20/,
    );
    w.metrics = [{ ...failing, result: 'Successful', value: 100, message: 'ok' }];
    d = tick(w);
    assert.equal(d.status.canaryWeight, 40, 'the next passing tick advances from the held weight');
  });

  test('a new revision while frozen starts a new run from weight 0', () => {
    const { w } = frozenWorld();
    w.revision = 'rev3';
    const d = tick(w, 1_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.lastAppliedSpec, 'rev3');
    assert.equal(d.status.canaryWeight, 0);
    assert.equal(d.status.failedChecks, 0);
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
  });

  test('a promote requested before the freeze does not end it', () => {
    const w = world(freezing({ onFailure: 'freeze', threshold: 1 }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    // A promote held by a user pause stays pending; it was asked for a passing run.
    w.requests = { paused: true, promote: { id: 'p0', full: false } };
    w.metrics = [failing];
    assert.equal(tick(w).status.phase, 'Frozen');
    w.requests = { paused: false, promote: { id: 'p0', full: false } };
    assert.equal(tick(w, 1_000).status.phase, 'Frozen');
  });

  test('crash replay: the same Frozen status decides the same, the deadline counts from frozenAt', () => {
    const { w, d } = frozenWorld({ freezeDeadline: '2m' });
    const again = decide(
      { ...w.view, status: d.status },
      {
        now: new Date(w.now + 121_000),
        revision: 'rev2',
        primary: w.primary,
        canary: w.canary,
        requests: { paused: false },
        gates: {},
      },
    );
    assert.ok(!('need' in again) && again.status.phase === 'Failed', JSON.stringify(again));
  });
});

describe('concurrency limits: Queued', () => {
  const held = {
    admitted: false as const,
    message:
      'Queued: 1 canary progressing in namespace prod (limit 1, --max-progressing-per-namespace); 0 ahead of this one',
  };
  const released = (status: Partial<CanaryView['status']>) => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), status);
    w.revision = 'rev2';
    return w;
  };
  const rows: Array<{ name: string; status: Partial<CanaryView['status']>; retry?: boolean }> = [
    { name: 'new revision after Initialized', status: initialized },
    { name: 'new revision after Succeeded', status: { ...initialized, phase: 'Succeeded' } },
    {
      name: 'new revision after Failed',
      status: { ...initialized, phase: 'Failed', lastAppliedSpec: 'rev0' },
    },
    {
      name: 'retry of a Failed run',
      status: { ...initialized, phase: 'Failed', lastAppliedSpec: 'rev2' },
      retry: true,
    },
  ];
  for (const row of rows)
    test(`${row.name}: not admitted, it queues and changes nothing in the cluster`, () => {
      const w = released(row.status);
      if (row.retry) w.requests = { paused: false, retry: { id: 'r1' } };
      w.admission = held;
      const d = step(w);
      assert.equal(d.status.phase, 'Queued');
      assert.equal(d.status.message, held.message);
      assert.equal(d.status.queuedAt, new Date(T0).toISOString());
      assert.deepEqual(
        d.actions.filter((a) => !['event', 'runHooks'].includes(a.type)),
        [],
        'no scale, traffic, promotion or alert',
      );
      assert.ok(
        d.actions.some((a) => a.type === 'event' && a.reason === 'Queued' && a.eventType === 'Normal'),
      );
      assert.equal(d.status.lastAppliedSpec, row.status.lastAppliedSpec, 'nothing applied yet');
      assert.equal(d.requeueAfterMs, 30_000, 'a backstop look; ending runs requeue at once');
    });

  test('while held it stays Queued, keeps its first queuedAt, and updates its place silently', () => {
    const w = released(initialized);
    w.admission = held;
    step(w);
    w.admission = { admitted: false, message: held.message.replace('0 ahead', '1 ahead') };
    const d = tick(w, 5_000);
    assert.equal(d.status.phase, 'Queued');
    assert.match(d.status.message ?? '', /1 ahead of this one$/);
    assert.equal(d.status.queuedAt, new Date(T0).toISOString(), 'first come survives');
    assert.deepEqual(d.actions, [], 'no event or action while its place changes');
  });

  test('admitted, it starts the newest revision: canary scaled up, queuedAt cleared', () => {
    const w = released(initialized);
    w.admission = held;
    step(w);
    w.revision = 'rev3'; // pushed again while waiting
    w.admission = { admitted: true };
    const d = tick(w, 5_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.match(d.status.message ?? '', /admitted from the queue/);
    assert.equal(d.status.lastAppliedSpec, 'rev3');
    assert.equal(d.status.queuedAt, undefined);
    assert.ok(d.actions.some((a) => a.type === 'scaleCanary' && a.replicas === 'restore'));
    assert.deepEqual(alerts(d), ['new-revision']);
  });

  test('no limit (admission not observed): a new revision starts at once', () => {
    const w = released(initialized);
    assert.equal(step(w).status.phase, 'Progressing');
  });

  test('a target reverted to the promoted revision leaves the queue as Succeeded', () => {
    const w = released(initialized);
    w.admission = held;
    step(w);
    w.revision = 'rev1';
    const d = tick(w, 5_000);
    assert.equal(d.status.phase, 'Succeeded');
    assert.equal(d.status.queuedAt, undefined);
    assert.ok(!has(d, 'scaleCanary') || d.actions.every((a) => a.type !== 'setTraffic'));
  });

  test('weir abort takes it out of the queue; the same revision does not queue again', () => {
    const w = released(initialized);
    w.admission = held;
    step(w);
    w.requests = { paused: false, abort: { id: 'a1' } };
    const d = tick(w, 5_000);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /^Aborted: removed from the queue/);
    assert.equal(d.status.lastAppliedSpec, 'rev2');
    assert.equal(tick(w, 5_000).status.phase, 'Failed', 'stays out of the queue');
  });

  test('a run holding a slot ignores admission (Progressing, Frozen are never queued)', () => {
    for (const phase of ['Progressing', 'Frozen'] as const) {
      const w = world(canary({ stepWeight: 10, maxWeight: 50 }), {
        ...initialized,
        phase,
        lastAppliedSpec: 'rev1',
        lastPromotedSpec: 'rev0',
        canaryWeight: 10,
        lastAnalysisTime: new Date(T0).toISOString(),
        frozenAt: new Date(T0).toISOString(),
      });
      w.primary = { ...w.primary, revision: 'rev0' };
      w.admission = held;
      assert.equal(tick(w, 1_000).status.phase, phase);
    }
  });
});

describe('release windows: Queued until the next opening', () => {
  // Two minutes ahead: under the 5 min resync cap, so the requeue lands on the opening itself.
  const opening = new Date(T0 + 120_000).toISOString();
  const closed = {
    open: false as const,
    message:
      'Queued: outside the release window (Mon-Thu 09:00-16:00 Europe/Berlin); next opens 2026-12-03T09:00+01:00',
    nextOpening: opening,
  };
  const released = () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), initialized);
    w.revision = 'rev2';
    w.window = closed;
    return w;
  };
  const cluster = (d: Decision) => d.actions.filter((a) => !['event', 'runHooks'].includes(a.type));

  test('a new revision outside the window queues, changes nothing, and looks again at the opening', () => {
    const d = step(released());
    assert.equal(d.status.phase, 'Queued');
    assert.equal(d.status.message, closed.message);
    assert.equal(d.status.lastAppliedSpec, 'rev1', 'nothing applied yet');
    assert.deepEqual(cluster(d), [], 'no scale, traffic, promotion or alert');
    assert.equal(d.requeueAfterMs, 120_000, 'requeued at the next opening');
  });

  test('the window opens: the run starts with the newest revision', () => {
    const w = released();
    step(w);
    w.window = { open: true };
    const d = tick(w, 120_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.queuedAt, undefined);
  });

  test('weir promote --now starts it outside the window, with an Event naming who asked', () => {
    const w = released();
    step(w);
    w.requests = { paused: false, promoteNow: { id: 'n1', by: 'alice@prod' } };
    const d = tick(w, 5_000);
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.handledRequests?.promoteNow, 'n1');
    const ev = d.actions.find((a) => a.type === 'event' && a.reason === 'WindowOverridden');
    assert.match(
      ev && 'message' in ev ? ev.message : '',
      /^Release window overridden by alice@prod \(weir promote --now\): outside the release window/,
    );
    w.revision = 'rev3';
    const next = tick(w, 600_000);
    assert.notEqual(next.status.phase, 'Queued', 'the run is not stopped by the window');
  });

  test('a handled promote --now does not open the window for the next revision', () => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50 }), {
      ...initialized,
      phase: 'Succeeded',
      handledRequests: { promoteNow: 'n1' },
    });
    w.revision = 'rev2';
    w.window = closed;
    w.requests = { paused: false, promoteNow: { id: 'n1', by: 'alice' } };
    assert.equal(step(w).status.phase, 'Queued');
  });

  test('promote --now still waits for a concurrency slot, keeping the request', () => {
    const w = released();
    w.requests = { paused: false, promoteNow: { id: 'n1' } };
    w.admission = {
      admitted: false,
      message:
        'Queued: 1 canary progressing in the cluster (limit 1, --max-progressing); 0 ahead of this one',
    };
    const d = step(w);
    assert.equal(d.status.phase, 'Queued');
    assert.match(d.status.message ?? '', /--max-progressing/);
    assert.equal(d.status.handledRequests?.promoteNow, undefined);
  });

  test('open window, but no slot: the concurrency message', () => {
    const w = released();
    w.window = { open: true };
    w.admission = { admitted: false, message: 'Queued: x' };
    assert.equal(step(w).status.message, 'Queued: x');
  });

  test('an unknown time zone holds the run with a Warning naming the field', () => {
    const w = released();
    w.window = { open: false, error: 'spec.schedule.timeZone: unknown time zone "Mars/Olympus"' };
    const d = step(w);
    assert.equal(d.status.phase, 'Queued');
    assert.equal(d.status.message, 'Queued: spec.schedule.timeZone: unknown time zone "Mars/Olympus"');
    assert.ok(
      d.actions.some(
        (a) => a.type === 'event' && a.eventType === 'Warning' && a.reason === 'InvalidSchedule',
      ),
    );
  });
});

describe('statistical judge and score (analysis.score)', () => {
  const judged = {
    name: 'latency',
    templateRef: { name: 'latency' },
    judge: { mannWhitney: { direction: 'increase' } },
  };
  const ok = (name: string): MetricResult => ({ name, result: 'Successful', message: `${name} ok` });
  const failed = (name: string): MetricResult => ({ name, result: 'Failed', message: `${name} higher` });
  const inconclusive: MetricResult = {
    name: 'latency',
    result: 'Inconclusive',
    message: 'latency inconclusive: 3 canary and 10 primary samples',
  };

  test('an Inconclusive metric holds the weight with no failed check, then the run advances', () => {
    const w = world(canary({ stepWeights: [10, 50], metrics: [judged] }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w); // weight 10, unanalysed
    w.metrics = [inconclusive];
    let d = tick(w);
    assert.deepEqual(traffic(d), [], 'held');
    assert.equal(d.status.failedChecks ?? 0, 0);
    assert.equal(
      d.status.message,
      'Progressing: inconclusive, holding canary weight 10: latency inconclusive: 3 canary and 10 primary samples',
    );
    assert.equal(d.status.metrics?.[0]?.result, 'Inconclusive');
    w.metrics = [ok('latency')];
    d = tick(w);
    assert.deepEqual(traffic(d), [{ primary: 50, canary: 50 }]);
  });

  test('a check that never concludes ends at the progress deadline', () => {
    const w = world(
      canary({ stepWeights: [10, 50], metrics: [judged] }, { progressDeadlineSeconds: 60 }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.metrics = [inconclusive];
    let d = tick(w);
    for (let i = 0; i < 6 && d.status.phase === 'Progressing'; i++) d = tick(w);
    assert.equal(d.status.phase, 'Failed');
    assert.match(d.status.message ?? '', /Progress deadline exceeded \(60s\): Progressing: inconclusive/);
    assert.ok(!d.actions.some((a) => a.type === 'promotePrimary'));
  });

  test('a marginal score advances an intermediate step and fails the last one; status.score says so', () => {
    const metrics = [judged, { name: 'request-success-rate', thresholdRange: { min: 99 } }];
    const w = world(
      canary({ stepWeights: [10, 50], metrics, score: { pass: 90, marginal: 50 } }),
      initialized,
    );
    w.revision = 'rev2';
    step(w);
    tick(w); // weight 10
    w.metrics = [ok('latency'), failed('request-success-rate')];
    let d = tick(w);
    assert.deepEqual(traffic(d), [{ primary: 50, canary: 50 }], 'marginal continues');
    assert.equal(d.status.failedChecks ?? 0, 0);
    assert.deepEqual(d.status.score, {
      value: 50,
      result: 'Marginal',
      message: 'score 50 is marginal (>= 50, < pass 90): continuing, promotion needs 90',
      time: new Date(w.now).toISOString(),
    });
    d = tick(w); // at 50, the next move is the promotion
    assert.equal(d.status.phase, 'Failed');
    assert.ok(!d.actions.some((a) => a.type === 'promotePrimary'));
    assert.match(
      d.status.message ?? '',
      /score 50 < pass 90: a marginal score does not promote; request-success-rate higher/,
    );
    assert.equal(d.status.score?.result, 'Fail');
  });

  test('a passing score promotes though one metric of many failed', () => {
    const metrics = ['a', 'b', 'c', 'd'].map((name) => ({ ...judged, name }));
    const w = world(canary({ stepWeights: [50], metrics, score: { pass: 75 } }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w);
    w.metrics = [ok('a'), ok('b'), ok('c'), failed('d')];
    const d = tick(w);
    assert.ok(d.actions.some((a) => a.type === 'promotePrimary'));
    assert.equal(d.status.score?.value, 75);
    assert.equal(d.status.score?.result, 'Pass');
  });

  test('a new run clears the last score', () => {
    const metrics = [judged];
    const w = world(canary({ stepWeights: [10, 50], metrics, score: {} }), {
      ...initialized,
      score: { value: 10, result: 'Fail', time: new Date(T0).toISOString() },
    });
    w.revision = 'rev2';
    assert.equal(step(w).status.score, undefined);
  });
});

describe('per-metric measurement limits and dryRun (Argo)', () => {
  const rate = { name: 'request-success-rate', thresholdRange: { min: 99 } };
  const failed = {
    name: 'request-success-rate',
    result: 'Failed',
    value: 70,
    message: '70 < min 99',
  } as const;
  const started = (analysis: Record<string, unknown>) => {
    const w = world(canary({ stepWeight: 10, maxWeight: 50, threshold: 1, ...analysis }), initialized);
    w.revision = 'rev2';
    step(w);
    tick(w); // weight 10
    return w;
  };

  test('failureLimit replaces the threshold: failures within it add no failed check and advance', () => {
    const w = started({ metrics: [{ ...rate, failureLimit: 1 }] });
    w.metrics = [failed];
    let d = tick(w);
    assert.equal(d.status.failedChecks, 0, 'judged by its own limit, not analysis.threshold 1');
    assert.equal(d.status.canaryWeight, 20);
    assert.deepEqual(d.status.measurements, [
      { name: 'request-success-rate', count: 1, failed: 1, inconclusive: 0, consecutiveErrors: 0 },
    ]);
    d = tick(w);
    assert.equal(d.status.phase, 'Failed');
    assert.match(
      d.status.message ?? '',
      /RolledBack: Measurement limit exceeded: request-success-rate: 2 failed/,
    );
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
    const event = d.actions.find((a) => a.type === 'event' && a.reason === 'MeasurementLimit');
    assert.ok(event, 'a Warning Event says which limit ended the run');
  });

  test('inconclusiveLimit exceeded freezes the run even with onFailure rollback; a new run resets counts', () => {
    const w = started({ metrics: [{ ...rate, inconclusiveLimit: 0 }] });
    w.metrics = [{ name: 'request-success-rate', result: 'Inconclusive', message: 'too few samples' }];
    let d = tick(w);
    assert.equal(d.status.phase, 'Frozen');
    assert.match(d.status.message ?? '', /inconclusiveLimit 0: too few samples/);
    w.revision = 'rev3';
    w.metrics = [{ ...failed, result: 'Successful', value: 100 }];
    d = step(w);
    assert.equal(d.status.measurements, undefined, 'a new run starts with no counts');
  });

  test('a consecutive error streak beyond its limit fails; onFailure freeze freezes instead', () => {
    const w = started({ onFailure: 'freeze', metrics: [{ ...rate, consecutiveErrorLimit: 1 }] });
    w.metrics = [{ name: 'request-success-rate', result: 'Error', message: 'prometheus unreachable' }];
    assert.equal(tick(w).status.phase, 'Progressing');
    const d = tick(w);
    assert.equal(d.status.phase, 'Frozen');
    assert.match(d.status.message ?? '', /2 consecutive errors > consecutiveErrorLimit 1/);
  });

  test('a dryRun metric is shown as such but never fails a tick or counts a check', () => {
    const w = started({ metrics: [{ ...rate, dryRun: true }] });
    w.metrics = [failed];
    const d = tick(w);
    assert.equal(d.status.failedChecks, 0);
    assert.equal(d.status.canaryWeight, 20);
    assert.deepEqual(
      d.status.metrics?.map((m) => [m.name, m.result, m.dryRun]),
      [['request-success-rate', 'Failed', true]],
    );
  });

  test('dryRun cannot be critical', () => {
    const { problems } = validated({ metrics: [{ ...rate, dryRun: true, critical: true }] });
    assert.ok(
      problems.some((p) => p.path === 'spec.analysis.metrics[0].critical' && p.message.includes('dryRun')),
      JSON.stringify(problems),
    );
  });
});

test('status.metrics keeps the run history of each metric, and a new run starts a new one', () => {
  const w = world(
    canary({
      stepWeight: 10,
      maxWeight: 50,
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
    }),
    initialized,
  );
  w.revision = 'rev2';
  step(w);
  tick(w); // weight 10, unanalysed
  tick(w);
  w.metrics = [{ name: 'request-success-rate', result: 'Successful', value: 99.5, message: 'ok' }];
  const d = tick(w);
  assert.deepEqual(
    d.status.metrics?.[0]?.history?.map((h) => [h.value, h.result]),
    [
      [100, 'Successful'],
      [99.5, 'Successful'],
    ],
  );
  w.revision = 'rev3';
  assert.deepEqual(step(w).status.metrics, [], 'a new run forgets the old history');
});

describe('Argo steps: setCanaryScale and analysis steps', () => {
  const scales = (d: Decision) => d.actions.flatMap((a) => (a.type === 'scaleCanary' ? [a.replicas] : []));
  const ok = (name: string): MetricResult => ({ name, result: 'Successful', value: 1, message: 'ok' });
  const bad = (name: string): MetricResult => ({ name, result: 'Failed', value: 0, message: '0 < min 1' });
  const smoke = { name: 'smoke', templateRef: { name: 'smoke' }, thresholdRange: { min: 1 }, stepOnly: true };
  const rate = { name: 'request-success-rate', thresholdRange: { min: 99 } };
  const stepped = (steps: unknown[], analysis: Record<string, unknown> = {}) => {
    const w = world(canary({ steps, ...analysis }), initialized);
    w.revision = 'rev2';
    return w;
  };

  test('setCanaryScale sizes the canary apart from its weight until matchTrafficWeight', () => {
    const w = stepped([
      { setCanaryScale: { replicas: 2 } },
      { setWeight: 20 },
      { setCanaryScale: { weight: 50 } },
      { setCanaryScale: { matchTrafficWeight: true } },
      { setWeight: 40 },
    ]);
    assert.deepEqual(scales(step(w)), ['restore'], 'the run starts at the usual size');
    let d = tick(w);
    assert.deepEqual(scales(d), [{ replicas: 2 }]);
    assert.deepEqual(traffic(d), [], 'a scale step moves no traffic');
    assert.deepEqual(d.status.canaryScale, { replicas: 2 });
    d = tick(w);
    assert.deepEqual(
      traffic(d).map((t) => t.canary),
      [20],
    );
    assert.deepEqual(scales(d), [], "a weight leaves the canary's size alone");
    d = tick(w);
    assert.deepEqual(scales(d), [{ weight: 50 }]);
    assert.deepEqual(d.status.canaryScale, { weight: 50 });
    d = tick(w);
    assert.deepEqual(scales(d), ['restore'], 'matchTrafficWeight gives the canary its usual size');
    assert.equal(d.status.canaryScale, undefined);
    assert.equal(d.status.stepIndex, 4);
  });

  test('the end of the run forgets the scale: rollback and promotion', () => {
    const w = stepped([{ setCanaryScale: { replicas: 3 } }, { setWeight: 20 }]);
    step(w);
    assert.deepEqual(tick(w).status.canaryScale, { replicas: 3 });
    w.requests = { paused: false, abort: { id: 'a1' } };
    const d = tick(w);
    assert.equal(d.status.phase, 'Failed');
    assert.deepEqual(scales(d), [0]);
    assert.equal(d.status.canaryScale, undefined);

    const p = stepped([{ setCanaryScale: { replicas: 3 } }, { setWeight: 20 }]);
    step(p);
    tick(p);
    tick(p); // weight 20
    assert.equal(tick(p).status.phase, 'Promoting');
    assert.deepEqual(p.view.status.canaryScale, { replicas: 3 }, 'kept while promoting');
    p.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    tick(p, 1000); // Finalising
    const done = tick(p, 1000);
    assert.equal(done.status.phase, 'Succeeded');
    assert.equal(done.status.canaryScale, undefined);
  });

  test('activeMetrics: a stepOnly metric is measured only at the analysis steps naming it', () => {
    const v = canary({
      steps: [{ setWeight: 20 }, { analysis: { metrics: ['smoke'] } }, { setWeight: 50 }],
      metrics: [rate, smoke],
    });
    const names = (i: number) => activeMetrics(v.spec, i).map((m) => m.name);
    assert.deepEqual(names(0), ['request-success-rate']);
    assert.deepEqual(names(1), ['request-success-rate', 'smoke']);
    assert.deepEqual(names(2), ['request-success-rate']);
  });

  const analysisRun = (smokeSpec: Record<string, unknown>, analysis: Record<string, unknown> = {}) => {
    const w = stepped([{ setWeight: 20 }, { analysis: { metrics: ['smoke'] } }, { setWeight: 50 }], {
      metrics: [rate, { ...smoke, ...smokeSpec }],
      threshold: 1,
      ...analysis,
    });
    step(w);
    w.metrics = [ok('request-success-rate')];
    tick(w); // weight 20 (unanalysed)
    assert.equal(tick(w).status.stepIndex, 1, 'a passing tick at 20% reaches the analysis step');
    return w;
  };

  test('an analysis step holds while its metric fails within its limits, then passes', () => {
    const w = analysisRun({ failureLimit: 3 });
    w.metrics = [ok('request-success-rate'), bad('smoke')];
    for (let i = 0; i < 2; i++) {
      const d = tick(w);
      assert.equal(d.status.phase, 'Progressing');
      assert.equal(d.status.stepIndex, 1, 'held at the analysis step');
      assert.match(d.status.message ?? '', /analysis step 2 holds: smoke Failed/);
      assert.deepEqual(traffic(d), []);
    }
    w.requests = { paused: false, promote: { id: 'p1', full: false } };
    let d = tick(w, 1000);
    assert.equal(d.status.stepIndex, 2, '`weir promote` moves past a holding analysis step');
    assert.match(d.status.message ?? '', /analysis step 2 ended by weir promote \(smoke Failed/);
    w.requests = { paused: false };
    w.view.status.stepIndex = 1; // back at the analysis step: a passing metric ends it by itself
    w.metrics = [ok('request-success-rate'), ok('smoke')];
    d = tick(w);
    assert.equal(d.status.stepIndex, 2);
    assert.match(d.status.message ?? '', /analysis step 2 passed/);
    assert.equal(
      d.status.measurements?.find((c) => c.name === 'smoke'),
      undefined,
      'its counts end with the step',
    );
    d = tick(w);
    assert.deepEqual(
      traffic(d).map((t) => t.canary),
      [50],
    );
    assert.deepEqual(
      d.status.metrics?.find((m) => m.name === 'smoke')?.history?.map((h) => h.result),
      // The tick after the step does not judge it: the controller does not query a metric not due.
      ['Failed', 'Failed', 'Failed', 'Successful'],
      'the step metric keeps its results after its step',
    );
  });

  test('an analysis step whose metric exceeds its limit rolls back, or freezes with onFailure: freeze', () => {
    for (const [onFailure, phase] of [
      ['rollback', 'Failed'],
      ['freeze', 'Frozen'],
    ] as const) {
      const w = analysisRun({ failureLimit: 1 }, { onFailure });
      w.metrics = [ok('request-success-rate'), bad('smoke')];
      assert.equal(tick(w).status.stepIndex, 1);
      const d = tick(w);
      assert.equal(d.status.phase, phase, onFailure);
      assert.match(d.status.message ?? '', /Measurement limit exceeded: smoke: 2 failed/);
    }
  });

  test('an analysis step metric without limits fails a check like any metric', () => {
    const w = analysisRun({});
    w.metrics = [ok('request-success-rate'), bad('smoke')];
    const d = tick(w);
    assert.equal(d.status.phase, 'Failed');
    assert.match(
      d.status.message ?? '',
      /RolledBack: Failed checks threshold reached 1: 0 < min 1/,
      'the failing smoke metric',
    );
  });

  test('an analysis step as the first step waits for an analysed tick', () => {
    const w = stepped([{ analysis: { metrics: ['smoke'] } }, { setWeight: 50 }], { metrics: [smoke] });
    step(w);
    w.metrics = [ok('smoke')];
    let d = tick(w);
    assert.equal(d.status.stepIndex, 0);
    assert.match(d.status.message ?? '', /smoke not measured yet/);
    d = tick(w);
    assert.equal(d.status.stepIndex, 1);
  });
});

describe('Argo steps: setHeaderRoute and setMirrorRoute', () => {
  const beta = { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] };
  const beta2 = { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { prefix: 'yes' } }] };
  const shadow = { name: 'shadow', percentage: 20, match: [{ path: { prefix: '/api' } }] };
  const routes = (t: Traffic | undefined) =>
    (t?.routes ?? []).map((r) => `${r.name}:${r.mirror ? `mirror ${r.mirror.percentage}` : 'header'}`);
  const stepped = (steps: unknown[]) => {
    const w = world(canary({ steps }), initialized);
    w.revision = 'rev2';
    step(w);
    return w;
  };

  test('each step adds, replaces or removes a named route, applied with the weight in force', () => {
    const w = stepped([
      { setWeight: 10 },
      { setHeaderRoute: beta },
      { setMirrorRoute: shadow },
      { setHeaderRoute: beta2 },
      { setWeight: 30 },
      { setHeaderRoute: { name: 'beta' } },
      { setMirrorRoute: { name: 'shadow' } },
    ]);
    // [weights the tick applies, routes it applies, status.stepRoutes names]
    const rows: Array<[string, string[], string[]]> = [
      ['90/10', [], []],
      ['90/10', ['beta:header'], ['beta']],
      ['90/10', ['beta:header', 'shadow:mirror 20'], ['beta', 'shadow']],
      ['90/10', ['beta:header', 'shadow:mirror 20'], ['beta', 'shadow']], // replaced in place
      ['70/30', ['beta:header', 'shadow:mirror 20'], ['beta', 'shadow']], // a weight keeps the routes
      ['70/30', ['shadow:mirror 20'], ['shadow']],
      ['70/30', [], []],
    ];
    rows.forEach(([weights, want, names], i) => {
      const d = tick(w);
      const [t, ...more] = traffic(d);
      assert.equal(more.length, 0, `step ${i}: one setTraffic`);
      assert.equal(`${t?.primary}/${t?.canary}`, weights, `step ${i}`);
      assert.deepEqual(routes(t), want, `step ${i}`);
      assert.deepEqual(
        (d.status.stepRoutes ?? []).map((r) => r.name),
        names,
        `step ${i}`,
      );
      assert.equal(d.status.stepIndex, i + 1);
    });
    assert.deepEqual(w.view.status.stepRoutes, undefined);
    const replaced = stepped([{ setHeaderRoute: beta }, { setHeaderRoute: beta2 }]);
    tick(replaced);
    assert.deepEqual(tick(replaced).status.stepRoutes, [{ name: 'beta', headers: beta2.match }]);
    const mirrorAll = stepped([{ setMirrorRoute: { name: 'all', match: shadow.match } }]);
    assert.equal(
      tick(mirrorAll).status.stepRoutes?.[0]?.mirror?.percentage,
      100,
      'percentage defaults to 100',
    );
  });

  test('the routes end with the run: abort, a new revision and promotion', () => {
    const aborted = stepped([{ setHeaderRoute: beta }, { setWeight: 20 }]);
    tick(aborted);
    aborted.requests = { paused: false, abort: { id: 'a1' } };
    let d = tick(aborted);
    assert.equal(d.status.phase, 'Failed');
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }]);
    assert.equal(d.status.stepRoutes, undefined);

    const restarted = stepped([{ setHeaderRoute: beta }, { setWeight: 20 }]);
    tick(restarted);
    restarted.revision = 'rev3';
    d = tick(restarted);
    assert.equal(d.status.stepRoutes, undefined, 'a new revision starts without routes');
    assert.deepEqual(traffic(d).at(-1), { primary: 100, canary: 0 });

    const p = stepped([{ setWeight: 20 }, { setMirrorRoute: shadow }]);
    tick(p);
    tick(p);
    assert.equal(tick(p).status.phase, 'Promoting');
    assert.deepEqual(routes({ primary: 0, canary: 0, routes: p.view.status.stepRoutes }), [
      'shadow:mirror 20',
    ]);
    p.primary = { exists: true, readyPercent: 100, revision: 'rev2' };
    d = tick(p, 1000);
    assert.deepEqual(traffic(d), [{ primary: 100, canary: 0 }], 'promotion removes the routes');
    assert.equal(d.status.stepRoutes, undefined);
  });
});
