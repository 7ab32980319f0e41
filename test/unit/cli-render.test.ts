// The CLI's plain renderings, pinned: `weir get canary` and `weir list canaries` from fixed objects
// (colour off, a fixed clock), and `weir convert` of the Flagger and Argo Rollouts samples in
// test/fixtures/convert, including what it reports as not converted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CoreV1Event, V1Deployment } from '@kubernetes/client-node';
import type { CanaryObject } from '../../src/canary/context.ts';
import { renderCanary } from '../../src/cli/canary-view.ts';
import { convertDocuments, parseManifests, toYaml } from '../../src/cli/convert/index.ts';
import { formatNote } from '../../src/cli/convert/notes.ts';
import { renderCanaryList } from '../../src/cli/list-view.ts';
import { COLOR, PLAIN, styleFor } from '../../src/cli/style.ts';
import { FIXTURES } from '../fixtures/load.ts';

const now = new Date('2025-01-01T12:00:00Z');

function canary(
  spec: Record<string, unknown>,
  status: CanaryObject['status'],
  annotations = {},
): CanaryObject {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', annotations },
    spec: { targetRef: { kind: 'Deployment', name: 'podinfo' }, service: { port: 9898 }, ...spec },
    status,
  } as CanaryObject;
}

const deployment = (images: string[], ready: number, replicas: number): V1Deployment => ({
  spec: {
    replicas,
    selector: {},
    template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
  },
  status: { readyReplicas: ready },
});

const weighted = canary(
  {
    provider: 'gatewayapi',
    analysis: {
      interval: '1m',
      threshold: 3,
      stepWeight: 20,
      maxWeight: 60,
      metrics: [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'request-duration', thresholdRange: { max: 500 } },
        { name: 'errors', templateRef: { name: 'errors' }, thresholdRange: { max: 1 } },
      ],
      webhooks: [
        { name: 'approve', type: 'confirm-promotion', url: 'http://gate.test/' },
        { name: 'load', type: 'rollout', url: 'http://load.test/' },
      ],
    },
  },
  {
    phase: 'Progressing',
    canaryWeight: 40,
    stepIndex: 2,
    failedChecks: 1,
    message: 'Halted: failed check 1/3: request-duration 812.4 > max 500',
    lastTransitionTime: '2025-01-01T11:57:30Z',
    lastAnalysisTime: '2025-01-01T11:59:50Z',
    metrics: [
      {
        name: 'request-success-rate',
        value: 99.8712,
        min: 99,
        result: 'Successful',
        time: '2025-01-01T11:59:50Z',
      },
      {
        name: 'request-duration',
        value: 812.4,
        max: 500,
        result: 'Failed',
        time: '2025-01-01T11:59:50Z',
        message: 'request-duration 812.4 > max 500',
      },
    ],
  },
);

const events = [
  {
    type: 'Normal',
    reason: 'Initialized',
    message: 'Initialized: primary is serving all traffic',
    lastTimestamp: '2025-01-01T10:00:00Z',
  },
  {
    type: 'Normal',
    reason: 'Progressing',
    message: 'Progressing: new revision, starting canary analysis',
    lastTimestamp: '2025-01-01T11:57:30Z',
  },
  {
    type: 'Warning',
    reason: 'FailedCheck',
    message: 'Halted: failed check 1/3: request-duration 812.4 > max 500',
    lastTimestamp: '2025-01-01T11:59:50Z',
  },
] as unknown as CoreV1Event[];

test('get canary: a weighted run with a failing metric', () => {
  const text = renderCanary(
    {
      canary: weighted,
      primary: deployment(['ghcr.io/stefanprodan/podinfo:6.0.0'], 2, 2),
      target: deployment(['ghcr.io/stefanprodan/podinfo:6.0.1'], 1, 2),
      events,
    },
    { style: PLAIN, now, events: 2 },
  );
  assert.equal(
    text,
    `Name:          podinfo
Namespace:     test
Status:        ◌ Progressing for 2m30s
Message:       Halted: failed check 1/3: request-duration 812.4 > max 500
Strategy:      canary, stepWeight 20 up to 60 (gatewayapi)
Step:          2/3
Weight:        canary 40%  primary 60%  [████████░░░░░░░░░░░░]
Images:        ghcr.io/stefanprodan/podinfo:6.0.0 (primary)
               ghcr.io/stefanprodan/podinfo:6.0.1 (canary)
Replicas:      primary 2/2 ready   canary 1/2 ready
Failed checks: 1/3
Analysis:      every 1m, last 10s ago
Waiting on:    -
Gates:         confirm-promotion (approve)
Metrics:
  NAME                   VALUE   MIN   MAX   AGE   RESULT
  request-success-rate   99.87   99    -     10s   ✔
  request-duration       812.4   -     500   10s   ✖ request-duration 812.4 > max 500
  errors                 -       -     1     -     not measured yet
Events:
  AGE     TYPE      REASON        MESSAGE
  2m30s   Normal    Progressing   Progressing: new revision, starting canary analysis
  10s     Warning   FailedCheck   Halted: failed check 1/3: request-duration 812.4 > max 500`,
  );
});

test('get canary: paused at a manual step and by the user, with two containers', () => {
  const c = canary(
    {
      provider: 'nginx',
      analysis: {
        interval: '30s',
        threshold: 2,
        steps: [
          { setWeight: 5 },
          { pause: { duration: '5m' } },
          { setWeight: 25 },
          { pause: {} },
          { setWeight: 50 },
        ],
        webhooks: [{ name: 'gate', type: 'confirm-traffic-increase', url: 'http://gate.test/' }],
      },
    },
    {
      phase: 'Progressing',
      canaryWeight: 25,
      stepIndex: 3,
      failedChecks: 0,
      message: 'Paused: step 4, waiting for `weir promote`',
      lastTransitionTime: '2025-01-01T11:40:00Z',
    },
    { 'weir.dev/paused': 'true' },
  );
  const text = renderCanary(
    {
      canary: c,
      primary: deployment(['shop/checkout:1.4.2', 'envoy:1.30'], 3, 3),
      target: deployment(['shop/checkout:1.5.0', 'envoy:1.30'], 3, 3),
    },
    { style: PLAIN, now },
  );
  assert.equal(
    text,
    `Name:          podinfo
Namespace:     test
Status:        ॥ Progressing (paused) for 20m
Message:       Paused: step 4, waiting for \`weir promote\`
Strategy:      steps, 5% → pause 5m → 25% → pause → 50% (nginx)
Step:          3/5
Weight:        canary 25%  primary 75%  [█████░░░░░░░░░░░░░░░]
Images:        shop/checkout:1.4.2, envoy:1.30 (primary)
               shop/checkout:1.5.0, envoy:1.30 (canary)
Replicas:      primary 3/3 ready   canary 3/3 ready
Failed checks: 0/2
Analysis:      every 30s
Waiting on:    ॥ manual approval at step 4 — run \`weir promote podinfo\`
               ॥ paused by user (analysis keeps running) — run \`weir resume podinfo\`
Gates:         confirm-traffic-increase (gate)
Metrics:       none
Events:        none`,
  );
});

test('get canary: A/B waiting on its confirm-promotion gate, Deployments missing', () => {
  const c = canary(
    {
      analysis: {
        interval: '1m',
        threshold: 1,
        iterations: 10,
        match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
        webhooks: [{ name: 'approve', type: 'confirm-promotion', url: 'http://gate.test/' }],
      },
    },
    {
      phase: 'WaitingPromotion',
      iterations: 10,
      failedChecks: 0,
      message: 'WaitingPromotion: confirm-promotion gate is closed: HTTP 403 from http://gate.test/',
      lastTransitionTime: '2025-01-01T11:59:00Z',
    },
  );
  assert.equal(
    renderCanary({ canary: c }, { style: PLAIN, now }),
    `Name:          podinfo
Namespace:     test
Status:        ॥ WaitingPromotion for 1m
Message:       WaitingPromotion: confirm-promotion gate is closed: HTTP 403 from http://gate.test/
Strategy:      A/B, 10 iterations on matching requests (default provider)
Iteration:     10/10
Traffic:       matching requests → canary during a run, all others → primary
Images:        - (primary)
               - (canary)
Replicas:      primary missing   canary missing
Failed checks: 0/1
Analysis:      every 1m
Waiting on:    ॥ confirm-promotion gate (webhook approve): HTTP 403 from http://gate.test/ — \`weir promote podinfo\` overrides it
Gates:         confirm-promotion (approve)
Metrics:       none
Events:        none`,
  );
});

test('get canary: a failed blue-green run and a canary waiting for its pods', () => {
  const failed = canary(
    { provider: 'kubernetes', analysis: { interval: '1m', threshold: 2, iterations: 5 } },
    {
      phase: 'Failed',
      iterations: 2,
      failedChecks: 2,
      message: 'RolledBack: Failed checks threshold reached 2: request-success-rate no values found',
      lastTransitionTime: '2025-01-01T11:00:00Z',
    },
  );
  const lines = renderCanary({ canary: failed }, { style: PLAIN, now }).split('\n');
  assert.equal(lines[2], 'Status:        ✖ Failed for 1h');
  assert.equal(lines[4], 'Strategy:      blue-green, 5 iterations (kubernetes)');
  assert.equal(lines[5], 'Iteration:     2/5');
  assert.equal(
    lines[6],
    'Traffic:       primary 100% (blue-green: the canary is tested through its own Service)',
  );
  assert.equal(lines[10], 'Failed checks: 2/2');

  const starting = canary(
    { analysis: { interval: '1m', threshold: 1, stepWeights: [1, 5, 25], canaryReadyThreshold: 80 } },
    { phase: 'Progressing', message: 'Progressing: waiting for canary pods (50% ready)' },
  );
  const text = renderCanary({ canary: starting }, { style: PLAIN, now });
  assert.match(text, /^Strategy: +canary, stepWeights 1, 5, 25 \(default provider\)$/m);
  assert.match(text, /^Step: +0\/3$/m);
  assert.match(text, /^Waiting on: +॥ canary pods ready: 50% of 80% needed$/m);
});

test('get canary: Frozen after failed analysis shows why, the deadline and the three ways out', () => {
  const c = canary(
    {
      provider: 'gatewayapi',
      progressDeadlineSeconds: 600,
      analysis: {
        interval: '1m',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 60,
        onFailure: 'freeze',
        freezeDeadline: '30m',
      },
    },
    {
      phase: 'Frozen',
      canaryWeight: 20,
      stepIndex: 1,
      failedChecks: 2,
      message: 'Frozen: Failed checks threshold reached 2: request-success-rate 80 < min 99',
      lastTransitionTime: '2025-01-01T11:50:00Z',
      frozenAt: '2025-01-01T11:50:00Z',
      lastAnalysisTime: '2025-01-01T11:50:00Z',
    },
  );
  const lines = renderCanary({ canary: c }, { style: PLAIN, now }).split('\n');
  assert.deepEqual(lines.slice(2, 5), [
    'Status:        ॥ Frozen for 10m',
    'Message:       Frozen: Failed checks threshold reached 2: request-success-rate 80 < min 99',
    'Frozen until:  2025-01-01T12:20:00.000Z (in 20m, analysis.freezeDeadline 30m), then it rolls back',
  ]);
  assert.ok(
    lines.includes('Weight:        canary 20%  primary 80%  [████░░░░░░░░░░░░░░░░]'),
    lines.join('\n'),
  );
  assert.ok(
    lines.includes(
      'Waiting on:    ॥ frozen after failed analysis — `weir promote podinfo`, `weir abort podinfo` or `weir retry podinfo`',
    ),
    lines.join('\n'),
  );
  c.spec.analysis.freezeDeadline = undefined;
  assert.match(
    renderCanary({ canary: c }, { style: PLAIN, now }),
    /^Frozen until: +2025-01-01T12:00:00\.000Z \(now, progressDeadlineSeconds 600s\), then it rolls back$/m,
  );
});

test('colours only on a terminal without --no-color or NO_COLOR; the coloured view is the plain one painted', () => {
  assert.equal(styleFor({ isTTY: true }, undefined, {}), COLOR);
  assert.equal(styleFor({ isTTY: false }, undefined, {}), PLAIN);
  assert.equal(styleFor({ isTTY: true }, false, {}), PLAIN);
  assert.equal(styleFor({ isTTY: true }, undefined, { NO_COLOR: '1' }), PLAIN);
  const data = { canary: weighted, events };
  const coloured = renderCanary(data, { style: COLOR, now });
  const ESC = String.fromCharCode(27);
  assert.ok(coloured.includes(`${ESC}[36m◌ Progressing${ESC}[39m`), 'the phase is painted');
  assert.equal(
    coloured.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), ''),
    renderCanary(data, { style: PLAIN, now }),
  );
});

test('list canaries: one row per Canary, columns aligned', () => {
  const succeeded = canary(
    { analysis: { interval: '1m', threshold: 2, steps: [{ setWeight: 10 }, { setWeight: 50 }] } },
    {
      phase: 'Succeeded',
      canaryWeight: 0,
      stepIndex: 2,
      failedChecks: 0,
      lastTransitionTime: '2024-12-30T09:00:00Z',
    },
  );
  succeeded.metadata = { name: 'api-gateway', namespace: 'prod' };
  const fresh = canary({ analysis: { interval: '1m', iterations: 3 } }, undefined);
  fresh.metadata = { name: 'new', namespace: 'prod' };
  assert.equal(
    renderCanaryList([weighted, succeeded, fresh], { style: PLAIN, now }),
    `NAME          NAMESPACE   STATUS          WEIGHT   STEP   FAILED   LAST TRANSITION
podinfo       test        ◌ Progressing   40%      2/3    1/3      2m30s ago
api-gateway   prod        ✔ Succeeded     0%       2/2    0/2      2d3h ago
new           prod        ◌ Pending       -        -      -        -`,
  );
  assert.equal(renderCanaryList([], { style: PLAIN, now }), 'No canaries found.');
});

function convertFixture(file: string): { yaml: string; notes: string[] } {
  const path = join(FIXTURES, 'convert', file);
  const { objects, notes } = convertDocuments(parseManifests(readFileSync(path, 'utf8'), path));
  return { yaml: toYaml(objects), notes: notes.list.map(formatNote) };
}

test('convert: a Flagger Canary, MetricTemplates and AlertProvider', () => {
  const { yaml, notes } = convertFixture('flagger.yaml');
  assert.equal(
    yaml,
    `apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: latency-p95
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
    headers:
      X-Scope-OrgID: tenant-a
  query: |
    histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[{{ interval }}])) by (le))
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: dd-errors
spec:
  provider:
    type: datadog
    address: https://api.datadoghq.com
    secretRef:
      name: datadog
  query: sum:requests.error.rate{service:podinfo}
---
apiVersion: weir.dev/v1alpha1
kind: AlertProvider
metadata:
  name: on-call
spec:
  type: slack
  channel: deployments
  username: flagger
  secretRef:
    name: slack-url
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: podinfo-error-ratio
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
  query: sum(rate(http_requests_total{app="podinfo",status=~"5.."}[1m])) / sum(rate(http_requests_total{app="podinfo"}[1m]))
---
apiVersion: weir.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
  labels:
    team: checkout
spec:
  targetRef:
    kind: Deployment
    name: podinfo
  provider: gatewayapi
  autoscalerRef:
    kind: HorizontalPodAutoscaler
    name: podinfo
    primaryScalerReplicas:
      minReplicas: 2
      maxReplicas: 5
  service:
    port: 9898
    targetPort: 9898
    hosts:
      - app.example.com
    gatewayRefs:
      - name: public
        namespace: istio-ingress
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
      - name: request-success-rate
        interval: 1m
        thresholdRange:
          min: 99
      - name: request-duration
        interval: 30s
        thresholdRange:
          max: 500
      - name: latency
        interval: 1m
        thresholdRange:
          max: 0.5
        templateRef:
          name: latency-p95
      - name: error-ratio
        thresholdRange:
          max: 0.01
        templateRef:
          name: podinfo-error-ratio
    webhooks:
      - name: acceptance-test
        type: pre-rollout
        url: http://flagger-loadtester.test/
        timeout: 30s
        metadata:
          type: bash
          cmd: curl -sd 'test' http://podinfo-canary.test:9898/token | grep token
      - name: load-test
        url: http://flagger-loadtester.test/
        timeout: 5s
        metadata:
          cmd: hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/
    alerts:
      - name: on-call
        severity: error
        providerRef:
          name: on-call
  progressDeadlineSeconds: 60`,
  );
  assert.deepEqual(notes, [
    'AlertProvider/on-call: spec.proxy: not supported by Weir; left out',
    'Canary/podinfo: spec.metricsServer: per-Canary Prometheus is not supported: set the controller flag --prometheus-address or use a MetricTemplate address',
    'Canary/podinfo: spec.service.portDiscovery: not supported by Weir; left out',
    'Canary/podinfo: spec.analysis.metrics[1].threshold: deprecated; written as thresholdRange.max',
    'Canary/podinfo: spec.analysis.metrics[3].query: inline query moved to MetricTemplate podinfo-error-ratio',
    'Canary/podinfo: spec.analysis.webhooks[1].disableTLS: not supported by Weir; left out',
  ]);
});

test('convert: an Argo Rollout with setWeight, pause, setCanaryScale, analysis and route steps and its AnalysisTemplates', () => {
  const { yaml, notes } = convertFixture('argo-rollout.yaml');
  assert.equal(
    yaml,
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: rollouts-demo
spec:
  replicas: 3
  selector:
    matchLabels:
      app: rollouts-demo
  template:
    metadata:
      labels:
        app: rollouts-demo
    spec:
      containers:
        - name: rollouts-demo
          image: argoproj/rollouts-demo:blue
          ports:
            - name: http
              containerPort: 8080
  revisionHistoryLimit: 2
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: success-rate-success-rate
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
  query: |
    sum(irate(istio_requests_total{reporter="source",destination_service=~"{{ variables.service-name }}",response_code!~"5.*"}[5m])) /
    sum(irate(istio_requests_total{reporter="source",destination_service=~"{{ variables.service-name }}"}[5m]))
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: success-rate-latency
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
  query: histogram_quantile({{ variables.quantile }}, sum(rate(http_request_duration_seconds_bucket{service="{{ variables.service-name }}"}[5m])) by (le))
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: success-rate-smoke
spec:
  provider:
    type: web
  query: http://smoke.test/check
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: smoke-errors-errors
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
  query: sum(rate(http_requests_total{code=~"5.."}[1m]))
---
apiVersion: weir.dev/v1alpha1
kind: Canary
metadata:
  name: rollouts-demo
spec:
  targetRef:
    kind: Deployment
    name: rollouts-demo
  provider: gatewayapi
  service:
    port: 80
    targetPort: 8080
  analysis:
    steps:
      - setWeight: 20
      - pause: {}
      - setWeight: 40
      - pause:
          duration: 30s
      - setWeight: 60
      - pause:
          duration: 2m
      - setCanaryScale:
          replicas: 2
      - analysis:
          metrics:
            - errors
      - setCanaryScale:
          matchTrafficWeight: true
      - setWeight: 80
      - setHeaderRoute:
          name: beta-users
          match:
            - headerName: x-beta
              headerValue:
                exact: "true"
      - setMirrorRoute:
          name: shadow-api
          match:
            - method:
                exact: GET
              path:
                prefix: /api
          percentage: 25
      - pause:
          duration: 1m
      - setHeaderRoute:
          name: beta-users
    threshold: 1
    interval: 30s
    metrics:
      - name: success-rate
        thresholdRange:
          min: 0.95
        templateRef:
          name: success-rate-success-rate
        templateVariables:
          service-name: rollouts-demo-canary.default.svc.cluster.local
      - name: latency
        thresholdRange:
          max: 0.5
        templateRef:
          name: success-rate-latency
        templateVariables:
          quantile: "0.95"
          service-name: rollouts-demo-canary.default.svc.cluster.local
      - name: smoke
        thresholdRange:
          min: 1
        templateRef:
          name: success-rate-smoke
      - name: errors
        thresholdRange:
          max: 0
        templateRef:
          name: smoke-errors-errors
        stepOnly: true
        failureLimit: 1`,
  );
  assert.deepEqual(notes, [
    'Service/rollouts-demo-stable: v1 is neither Flagger nor Argo Rollouts; left out (apply it as it is if still needed)',
    'Rollout/rollouts-demo: spec.strategy.canary.canaryService: Weir creates its own Services <name>, <name>-primary and <name>-canary; rollouts-demo-canary is not used',
    'Rollout/rollouts-demo: spec.strategy.canary.stableService: Weir creates its own Services <name>, <name>-primary and <name>-canary; rollouts-demo-stable is not used',
    'Rollout/rollouts-demo: spec.strategy.canary.trafficRouting.plugins: Weir generates the HTTPRoute <name>: set spec.service.gatewayRefs to its Gateway',
    'Rollout/rollouts-demo: spec.strategy.canary.analysis.startingStep: not supported by Weir; left out',
    "Rollout/rollouts-demo: metrics have different failureLimits (2, 3, 0); the Canary's one analysis.threshold is 1",
  ]);
});

test('get canary: a run queued by spec.schedule shows the release window and its next opening', () => {
  // now is Wed 2025-01-01 12:00Z, 13:00 in Berlin: inside the hours, but a blackout date.
  const c = canary(
    {
      analysis: { interval: '1m', threshold: 1, stepWeight: 10, maxWeight: 50 },
      schedule: {
        timeZone: 'Europe/Berlin',
        windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu'], start: '09:00', end: '16:00' }],
        blackoutDates: ['2025-01-01'],
      },
    },
    {
      phase: 'Queued',
      message:
        'Queued: blackout date 2025-01-01 (Mon-Thu 09:00-16:00 Europe/Berlin); next opens 2025-01-02T09:00+01:00',
      queuedAt: '2025-01-01T11:00:00Z',
    },
  );
  const text = renderCanary({ canary: c }, { style: PLAIN, now });
  assert.match(
    text,
    /^Window: +Mon-Thu 09:00-16:00 Europe\/Berlin; blackout 2025-01-01; next opens 2025-01-02T09:00\+01:00 \(in 20h\)$/m,
  );
  assert.match(
    text,
    /^Waiting on: +॥ the release window: blackout date 2025-01-01 .* — `weir promote podinfo --now` overrides it$/m,
  );
  assert.doesNotMatch(text, /^Queued:/m, 'no place in line: no concurrency limit holds it');
});

test('get canary names the shard of a labelled Canary, and nothing for an unlabelled one', () => {
  const c = canary({ analysis: { interval: '1m', stepWeight: 10, maxWeight: 50 } }, { phase: 'Initialized' });
  const lines = (obj: CanaryObject) => renderCanary({ canary: obj }, { style: PLAIN, now }).split('\n');
  assert.ok(!lines(c).some((l) => l.startsWith('Shard:')));
  const sharded = { ...c, metadata: { ...c.metadata, labels: { 'weir.dev/shard': 'team-a' } } };
  assert.deepEqual(lines(sharded).slice(0, 3), [
    'Name:          podinfo',
    'Namespace:     test',
    'Shard:         team-a (the controller started with --shard=team-a)',
  ]);
});

test('get canary: the score of a judged run and an Inconclusive metric', () => {
  const judge = { mannWhitney: { direction: 'increase' } };
  const scored = canary(
    {
      provider: 'kubernetes',
      analysis: {
        interval: '1m',
        stepWeights: [10, 50],
        score: { pass: 90, marginal: 50 },
        metrics: [
          { name: 'request-duration', judge },
          { name: 'errors', templateRef: { name: 'errors' }, judge },
        ],
      },
    },
    {
      phase: 'Progressing',
      canaryWeight: 10,
      stepIndex: 1,
      message: 'Progressing: advanced canary weight to 10',
      score: {
        value: 50,
        result: 'Marginal',
        message: 'score 50 is marginal (>= 50, < pass 90): continuing, promotion needs 90',
        time: '2025-01-01T11:59:50Z',
      },
      metrics: [
        {
          name: 'request-duration',
          value: 101.5,
          primaryValue: 100,
          pValue: 0.4213,
          effectSize: 1.015,
          result: 'Successful',
          time: '2025-01-01T11:59:50Z',
        },
        {
          name: 'errors',
          result: 'Inconclusive',
          time: '2025-01-01T11:59:50Z',
          message: 'errors inconclusive: 4 canary and 11 primary samples',
        },
      ],
    },
  );
  const text = renderCanary({ canary: scored }, { style: PLAIN, now });
  assert.match(
    text,
    /\nScore: {9}50 Marginal \(pass 90, marginal 50\): score 50 is marginal \(>= 50, < pass 90\): continuing, promotion needs 90\n/,
  );
  assert.match(text, /\n {2}request-duration +101\.5 +- +- +10s +✔ p=0\.421\n/);
  assert.match(text, /\n {2}errors +- +- +- +10s +… errors inconclusive: 4 canary and 11 primary samples\n/);
  const unscored = structuredClone(scored);
  delete unscored.status!.score;
  assert.match(
    renderCanary({ canary: unscored }, { style: PLAIN, now }),
    /\nScore: {9}not scored yet \(pass 90, marginal 50\)\n/,
  );
});

test('get canary: a dry-run metric is marked, a limited one shows its counts against its limits', () => {
  const c = canary(
    {
      provider: 'kubernetes',
      analysis: {
        interval: '1m',
        stepWeights: [10, 50],
        metrics: [
          { name: 'request-duration', thresholdRange: { max: 500 }, dryRun: true },
          { name: 'request-success-rate', thresholdRange: { min: 99 }, failureLimit: 2 },
        ],
      },
    },
    {
      phase: 'Progressing',
      canaryWeight: 10,
      metrics: [
        {
          name: 'request-duration',
          value: 900,
          result: 'Failed',
          dryRun: true,
          time: '2025-01-01T11:59:50Z',
        },
        {
          name: 'request-success-rate',
          value: 98,
          result: 'Failed',
          time: '2025-01-01T11:59:50Z',
          history: [
            { value: 99.5, result: 'Successful', time: '2025-01-01T11:58:50Z' },
            { result: 'NoData', time: '2025-01-01T11:59:20Z' },
            { value: 98, result: 'Failed', time: '2025-01-01T11:59:50Z' },
          ],
        },
      ],
      measurements: [
        { name: 'request-success-rate', count: 3, failed: 1, inconclusive: 0, consecutiveErrors: 0 },
      ],
    },
  );
  const text = renderCanary({ canary: c }, { style: PLAIN, now });
  assert.match(text, /\n {2}request-duration +900 +- +500 +10s +\(dry-run\) ✖/);
  assert.doesNotMatch(text, /request-success-rate +98 .*dry-run/);
  assert.match(
    text,
    /\nMeasurement limits \(this run\):\n {2}NAME +MEASURED +FAILED +INCONCLUSIVE +ERRORS IN A ROW\n/,
  );
  assert.match(text, /\n {2}request-success-rate +3 +1 \(limit 2\) +0 \(limit 0\) +0 \(limit 4\)\n/);
  assert.doesNotMatch(text, /\n {2}request-duration +0 /, 'a dry-run metric has no limits row');
  assert.match(
    text,
    /\nRecent measurements \(oldest first\):\n {2}request-success-rate +99\.5 ✔ · NoData · 98 ✖\n/,
  );
});

test('get canary: setCanaryScale and analysis steps are named in the strategy line', () => {
  const c = canary(
    {
      analysis: {
        interval: '30s',
        threshold: 2,
        steps: [
          { setCanaryScale: { replicas: 2 } },
          { setWeight: 20 },
          { analysis: { metrics: ['smoke', 'latency'] } },
          { setCanaryScale: { weight: 50 } },
          { setCanaryScale: { matchTrafficWeight: true } },
        ],
      },
    },
    { phase: 'Progressing', canaryWeight: 20, stepIndex: 2 },
  );
  const text = renderCanary({ canary: c }, { style: PLAIN, now: new Date('2025-01-01T12:00:00Z') });
  assert.match(
    text,
    /Strategy: +steps, scale 2 pods → 20% → analysis smoke,latency → scale 50% → scale usual \(/,
  );
  assert.match(text, /Step: +2\/5/);
});
