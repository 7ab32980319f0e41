import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationMemo, validateObject } from '../../src/api/validate.ts';
import { invalidFixtures, validFixtures } from '../fixtures/load.ts';

for (const fx of validFixtures()) {
  test(`valid: ${fx.file} has no problems`, () => {
    assert.deepEqual(validateObject(fx.object).problems, []);
  });
}

test('there are at least 15 distinct invalid fixtures', () => {
  const fields = new Set(invalidFixtures().map((f) => `${f.expectField}|${f.expectMessage ?? ''}`));
  assert.ok(fields.size >= 15, `only ${fields.size} distinct invalid cases`);
});

for (const fx of invalidFixtures()) {
  test(`invalid: ${fx.file} is blamed on ${fx.expectField}`, () => {
    assert.ok(fx.expectField, 'fixture needs an # expect-field: header');
    const { problems } = validateObject(fx.object);
    const hit = problems.find((p) => p.path === fx.expectField);
    assert.ok(hit, `no problem at ${fx.expectField}; got ${JSON.stringify(problems)}`);
    if (fx.expectMessage) assert.match(hit.message, new RegExp(escape(fx.expectMessage)));
  });
}

test('defaults are applied as the API server would', () => {
  const fx = validFixtures().find((f) => f.file.endsWith('canary-ab.yaml'));
  assert.ok(fx);
  const { object } = validateObject(fx.object);
  const spec = object.spec as {
    progressDeadlineSeconds: number;
    analysis: { threshold: number; canaryReadyThreshold: number };
  };
  assert.equal(spec.progressDeadlineSeconds, 600);
  assert.equal(spec.analysis.threshold, 1);
  assert.equal(spec.analysis.canaryReadyThreshold, 100);
});

test('the memo validates once per generation and hands out one frozen object', () => {
  const fx = validFixtures().find((f) => f.file.endsWith('canary-ab.yaml'));
  assert.ok(fx);
  const memo = new ValidationMemo();
  const first = memo.validate('uid-1', 1, fx.object);
  const again = memo.validate('uid-1', 1, { ...(fx.object as object), spec: { broken: true } });
  assert.equal(again.object, first.object, 'same generation: the first answer, not re-validated');
  assert.deepEqual(again.problems, []);
  const spec = first.object.spec as { analysis: { threshold: number } };
  assert.throws(() => {
    spec.analysis.threshold = 9;
  }, TypeError);
  const next = memo.validate('uid-1', 2, { ...(fx.object as object), spec: { broken: true } });
  assert.notEqual(next.problems.length, 0, 'a new generation is validated again');
  assert.deepEqual(memo.validate('uid-2', 1, fx.object).object, first.object);
});

test('unknown fields and wrong kinds are reported with their path', () => {
  const obj = structuredClone(validFixtures()[0]!.object) as { spec: Record<string, unknown> };
  obj.spec.replicas = 3;
  assert.deepEqual(validateObject(obj).problems, [{ path: 'spec.replicas', message: 'unknown field' }]);
  assert.equal(
    validateObject({ apiVersion: 'weir.dev/v1alpha1', kind: 'Rollout' }).problems[0]?.path,
    'kind',
  );
  assert.equal(
    validateObject({ apiVersion: 'flagger.app/v1beta1', kind: 'Canary' }).problems[0]?.path,
    'apiVersion',
  );
});

/** A Canary whose analysis.interval and metric interval are `d`: the problems at those two fields. */
/** Problems of a minimal valid Canary with `spec` merged over it. */
function canaryProblems(spec: Record<string, unknown>) {
  return validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'app', namespace: 'prod' },
    spec: { targetRef: { kind: 'Deployment', name: 'app' }, service: { port: 80 }, ...spec },
  }).problems;
}

function durationProblems(d: string): string[] {
  const analysis = {
    interval: d,
    iterations: 1,
    metrics: [{ name: 'request-success-rate', interval: d, thresholdRange: { min: 99 } }],
  };
  return canaryProblems({ analysis }).map((p) => p.path);
}

test('durations: what Prometheus takes is accepted, what it refuses is refused', () => {
  for (const ok of ['1m30s', '90s', '1h', '2h30m', '10s', '1h0m0s', '10s500ms', '24h'])
    assert.deepEqual(durationProblems(ok), [], ok);
  for (const bad of ['10.5s', '1.5m', '30s1m', '1h1h', '1d', '10', 'm', '', '1m 30s', '9999999h']) {
    const paths = durationProblems(bad);
    assert.ok(paths.includes('spec.analysis.interval'), `${bad}: ${paths.join(', ')}`);
    assert.ok(paths.includes('spec.analysis.metrics[0].interval'), `${bad}: ${paths.join(', ')}`);
  }
  const fixture = invalidFixtures().find((f) => f.file.endsWith('46-interval-unit-order.yaml'));
  const hit = validateObject(fixture?.object).problems.find((p) => p.path === 'spec.analysis.interval');
  assert.match(hit?.message ?? '', /as Prometheus writes it: whole numbers, units in the order h, m, s, ms/);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function scheduleProblems(schedule: Record<string, unknown>): string[] {
  const analysis = { interval: '1m', iterations: 1 };
  return canaryProblems({ analysis, schedule }).map((p) => `${p.path}: ${p.message}`);
}

test('spec.schedule: zones, hours, days and dates are checked, naming the field', () => {
  const window = { days: ['Mon', 'Fri'], start: '09:00', end: '16:00' };
  assert.deepEqual(
    scheduleProblems({ timeZone: 'Europe/Berlin', windows: [window], blackoutDates: ['2026-12-24'] }),
    [],
  );
  assert.deepEqual(scheduleProblems({ windows: [{ ...window, end: '24:00' }] }), []);
  assert.deepEqual(scheduleProblems({ timeZone: 'Mars/Olympus', windows: [window] }), [
    'spec.schedule.timeZone: unknown time zone "Mars/Olympus" (an IANA name such as Europe/Berlin)',
  ]);
  const crossing = scheduleProblems({ windows: [{ ...window, start: '22:00', end: '02:00' }] });
  assert.equal(crossing.length, 1);
  assert.match(crossing[0]!, /^spec\.schedule\.windows\[0\]\.end: start must be before end/);
  assert.match(scheduleProblems({ windows: [{ ...window, start: '9:00' }] }).join(), /windows\[0\]\.start/);
  assert.match(scheduleProblems({ windows: [{ ...window, days: ['Monday'] }] }).join(), /days\[0\]/);
  assert.match(
    scheduleProblems({ windows: [window], blackoutDates: ['24.12.2026'] }).join(),
    /blackoutDates\[0\]/,
  );
});

test('steps: setCanaryScale and analysis steps are checked, naming the field', () => {
  const smoke = { name: 'smoke', templateRef: { name: 'smoke' }, thresholdRange: { min: 1 }, stepOnly: true };
  const stepProblems = (steps: unknown[], extra: Record<string, unknown> = {}, spec = {}) =>
    canaryProblems({ analysis: { interval: '1m', steps, ...extra }, ...spec }).map(
      (p) => `${p.path}: ${p.message}`,
    );
  const good = [
    { setCanaryScale: { replicas: 2 } },
    { setWeight: 20 },
    { analysis: { metrics: ['smoke'] } },
    { setCanaryScale: { weight: 50 } },
    { setCanaryScale: { matchTrafficWeight: true } },
  ];
  assert.deepEqual(stepProblems(good, { metrics: [smoke] }), []);
  assert.deepEqual(stepProblems([{ setWeight: 20, setCanaryScale: { replicas: 1 } }]), [
    'spec.analysis.steps[0]: a step sets exactly one of setWeight, pause, setCanaryScale, analysis, setHeaderRoute, setMirrorRoute',
  ]);
  assert.deepEqual(stepProblems([{ setCanaryScale: { replicas: 1, weight: 5 } }]), [
    'spec.analysis.steps[0].setCanaryScale: setCanaryScale sets exactly one of replicas, weight or matchTrafficWeight',
  ]);
  assert.deepEqual(stepProblems([{ setCanaryScale: { matchTrafficWeight: false } }]), [
    'spec.analysis.steps[0].setCanaryScale.matchTrafficWeight: matchTrafficWeight can only be true',
  ]);
  assert.match(stepProblems([{ setCanaryScale: { replicas: 0 } }]).join(), /setCanaryScale\.replicas/);
  assert.deepEqual(
    stepProblems([{ analysis: { metrics: ['smoke'] } }], { metrics: [{ ...smoke, stepOnly: false }] }),
    ['spec.analysis.steps: an analysis step names metrics of analysis.metrics that set stepOnly: true'],
  );
  assert.deepEqual(stepProblems([{ setWeight: 20 }], { metrics: [smoke] }), [
    'spec.analysis.metrics: a metric with stepOnly: true must be named by an analysis step (else it never runs)',
  ]);
  assert.deepEqual(
    stepProblems(
      [{ setCanaryScale: { replicas: 2 } }],
      {},
      { autoscalerRef: { kind: 'HorizontalPodAutoscaler', name: 'app' } },
    ),
    [
      "spec.analysis.steps: setCanaryScale cannot be used with autoscalerRef: the HPA owns the canary's replicas",
    ],
  );
});

test('steps: setHeaderRoute and setMirrorRoute are checked, naming the field', () => {
  const stepProblems = (steps: unknown[]) =>
    canaryProblems({ analysis: { interval: '1m', steps } }).map((p) => `${p.path}: ${p.message}`);
  const header = { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] };
  const mirror = {
    name: 'shadow',
    percentage: 20,
    match: [{ method: { exact: 'GET' }, path: { prefix: '/api' } }],
  };
  assert.deepEqual(
    stepProblems([
      { setHeaderRoute: header },
      { setMirrorRoute: mirror },
      { setWeight: 10 },
      { setHeaderRoute: { name: 'beta' } },
      { setMirrorRoute: { name: 'shadow' } },
    ]),
    [],
  );
  assert.deepEqual(
    stepProblems([{ setHeaderRoute: { name: 'beta', match: [{ headerName: 'x', headerValue: {} }] } }]),
    [
      'spec.analysis.steps[0].setHeaderRoute.match[0].headerValue: a route match sets exactly one of exact, prefix or regex',
    ],
  );
  assert.deepEqual(stepProblems([{ setMirrorRoute: { name: 'shadow', percentage: 5 } }]), [
    'spec.analysis.steps[0].setMirrorRoute.percentage: setMirrorRoute without match removes the route: percentage needs match',
  ]);
  assert.deepEqual(stepProblems([{ setMirrorRoute: { name: 'shadow', match: [{}] } }]), [
    'spec.analysis.steps[0].setMirrorRoute.match[0]: a setMirrorRoute match sets at least one of method, path or headers',
  ]);
  assert.match(
    stepProblems([{ setHeaderRoute: { ...header, name: 'Beta_1' } }]).join(),
    /setHeaderRoute\.name/,
  );
  assert.match(
    stepProblems([{ setMirrorRoute: { ...mirror, percentage: 0 } }]).join(),
    /setMirrorRoute\.percentage/,
  );
  assert.match(stepProblems([{ setHeaderRoute: { ...header, match: [] } }]).join(), /setHeaderRoute\.match/);
});
