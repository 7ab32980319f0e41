// `weir convert` mappings beyond the two samples: each Flagger or Argo Rollouts construct that Weir
// names or shapes differently, and the ones it cannot carry (which must be reported, not dropped).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { validateObject } from '../../src/api/validate.ts';
import { conditionRange } from '../../src/cli/convert/argo.ts';
import { convertDocuments } from '../../src/cli/convert/index.ts';
import { formatNote } from '../../src/cli/convert/notes.ts';
import type { CanarySpec } from '../../src/api/canary.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';

type Json = Record<string, unknown>;

const flaggerCanary = (spec: Json, name = 'app'): Json => ({
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name, namespace: 'web' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
    service: { port: 80 },
    ...spec,
  },
});

function convert(...docs: Json[]): { objects: Json[]; notes: string[] } {
  const r = convertDocuments(docs);
  return { objects: r.objects, notes: r.notes.list.map(formatNote) };
}

/** What Flagger's -mesh-provider gave Canaries without spec.provider is unknown here: noted. */
const NO_PROVIDER = (name: string) =>
  `Canary/${name}: spec.provider: not set: Flagger took it from its -mesh-provider flag, Weir from the controller's --default-provider; pass weir convert --provider to write it`;

const specOf = (o: Json | undefined) => (o?.spec ?? {}) as Json;

test('Flagger: provider versions map to Weir provider names', () => {
  for (const [flagger, weir] of [
    ['gatewayapi:v1', 'gatewayapi'],
    ['gatewayapi:v1beta1', 'gatewayapi'],
    ['smi:v1alpha3', 'smi'],
    ['linkerd', 'linkerd'],
    ['nginx', 'nginx'],
  ]) {
    const { objects } = convert(
      flaggerCanary({
        provider: flagger,
        ...(weir === 'nginx'
          ? { ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'app' } }
          : {}),
        analysis: { interval: '1m', threshold: 1, iterations: 2 },
      }),
    );
    assert.equal(specOf(objects[0]).provider, weir, flagger);
  }
  const { objects, notes } = convert(
    flaggerCanary({ provider: 'appmesh', analysis: { interval: '1m', threshold: 1, iterations: 2 } }),
  );
  assert.equal(specOf(objects[0]).provider, undefined);
  assert.match(notes.join('\n'), /spec\.provider: appmesh is not supported/);
});

test('Flagger: canaryAnalysis, a short interval and stepWeight without maxWeight become valid Weir', () => {
  const { objects, notes } = convert(
    flaggerCanary({ canaryAnalysis: { interval: '5s', threshold: 2, stepWeight: 25 } }),
  );
  const analysis = specOf(objects[0]).analysis as Json;
  assert.deepEqual(analysis, { interval: '10s', threshold: 2, stepWeight: 25, maxWeight: 100 });
  assert.deepEqual(validateObject(objects[0]).problems, []);
  assert.deepEqual(notes, [
    NO_PROVIDER('app'),
    'Canary/app: spec.canaryAnalysis: renamed to spec.analysis',
    "Canary/app: spec.canaryAnalysis.interval: 5s is below Weir's minimum; set to 10s",
    'Canary/app: spec.canaryAnalysis.maxWeight: not set: Flagger’s default 100 written explicitly (Weir requires it with stepWeight)',
  ]);
});

test('Flagger: the deprecated threshold is a min for the success rate and a max otherwise; A/B match is kept', () => {
  const { objects, notes } = convert(
    flaggerCanary({
      analysis: {
        interval: '1m',
        threshold: 1,
        iterations: 3,
        match: [{ headers: { 'x-user': { exact: 'beta' } }, uri: { prefix: '/api' } }],
        metrics: [
          { name: 'request-success-rate', threshold: 99 },
          { name: 'request-duration', threshold: 300 },
          { name: 'custom-without-template', thresholdRange: { max: 1 } },
        ],
      },
    }),
  );
  const analysis = specOf(objects[0]).analysis as Json;
  assert.deepEqual(analysis.metrics, [
    { name: 'request-success-rate', thresholdRange: { min: 99 } },
    { name: 'request-duration', thresholdRange: { max: 300 } },
  ]);
  assert.deepEqual(analysis.match, [{ headers: { 'x-user': { exact: 'beta' } } }]);
  assert.ok(
    notes.includes('Canary/app: spec.analysis.match[0].uri: not supported by Weir; left out'),
    notes.join('\n'),
  );
  assert.ok(
    notes.includes(
      'Canary/app: spec.analysis.metrics[2]: metric custom-without-template is neither built in nor has a templateRef or query; left out',
    ),
  );
});

test('Flagger: objects Weir cannot express are reported, not converted', () => {
  const { objects, notes } = convert(
    flaggerCanary({ analysis: { interval: '1m', threshold: 1, iterations: 1 } }, 'ds'),
    {
      ...flaggerCanary({ analysis: { interval: '1m', threshold: 1, iterations: 1 } }, 'ds'),
      spec: {
        provider: 'knative',
        targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'ds' },
        service: { port: 80 },
        analysis: {},
      },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'AlertProvider',
      metadata: { name: 'chat' },
      spec: { type: 'gchat', address: 'https://chat.googleapis.com/x' },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'AlertProvider',
      metadata: { name: 'rc' },
      spec: { type: 'rocket', address: 'https://rocket.test/hooks/x' },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'ingress-errors' },
      spec: {
        provider: { type: 'prometheus' },
        query: 'sum(rate(x{ingress="{{ ingress }}"}[{{ interval }}]))',
      },
    },
  );
  assert.deepEqual(
    objects.map((o) => `${String(o.kind)}/${String((o.metadata as Json).name)}`),
    ['Canary/ds', 'AlertProvider/rc', 'MetricTemplate/ingress-errors'],
  );
  assert.equal(specOf(objects[1]).type, 'slack');
  assert.deepEqual(notes, [
    NO_PROVIDER('ds'),
    'Canary/ds: spec.targetRef.kind: Service targets are not supported (Deployment or DaemonSet); Canary not converted',
    'AlertProvider/chat: spec.type: gchat is not supported (slack, msteams, discord, webhook); AlertProvider not converted',
    'AlertProvider/rc: spec.type: rocket mapped to slack (Rocket.Chat accepts Slack webhook payloads)',
    'MetricTemplate/ingress-errors: spec.query: {{ ingress }} is not a Weir template variable (name, namespace, target, service, interval, variables.X): edit the query',
  ]);
});

test("Flagger: --provider (Flagger's -mesh-provider) is written where spec.provider is not set", () => {
  const analysis = { interval: '1m', threshold: 1, iterations: 2 };
  const r = convertDocuments(
    [flaggerCanary({ analysis }), flaggerCanary({ provider: 'contour', analysis }, 'other')],
    { provider: 'gatewayapi:v1beta1' },
  );
  assert.deepEqual(
    r.objects.map((o) => specOf(o).provider),
    ['gatewayapi', 'contour'],
  );
  assert.deepEqual(r.notes.list, []);
});

test('Flagger: a DaemonSet target converts; its autoscalerRef and name-matching built-ins are noted', () => {
  const analysis = {
    interval: '1m',
    threshold: 1,
    iterations: 2,
    metrics: [
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      { name: 'latency', templateRef: { name: 'latency' }, thresholdRange: { max: 500 } },
    ],
  };
  const ds = (provider: string) => ({
    ...flaggerCanary({}, 'ds'),
    spec: {
      provider,
      targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds' },
      autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'ds' },
      service: { port: 80 },
      analysis,
    },
  });
  const { objects, notes } = convert(ds('kubernetes'));
  assert.deepEqual(specOf(objects[0]).targetRef, { kind: 'DaemonSet', name: 'ds' });
  assert.equal(specOf(objects[0]).autoscalerRef, undefined);
  assert.deepEqual(validateObject(objects[0]).problems, []);
  assert.deepEqual(notes, [
    'Canary/ds: spec.autoscalerRef: a DaemonSet has no replicas for an autoscaler; left out',
    "Canary/ds: spec.analysis.metrics[0]: built-in request-success-rate selects pods named like a Deployment's (<target>-<hash>-<id>), which for a DaemonSet are the primary's (<target>-primary-<id>), not the canary's (<target>-<id>): for a DaemonSet target use a MetricTemplate that selects <target>-<id> pods",
  ]);
  // Istio's built-ins select the workload by name (destination_workload): nothing to note.
  assert.deepEqual(convert(ds('istio')).notes, [
    'Canary/ds: spec.autoscalerRef: a DaemonSet has no replicas for an autoscaler; left out',
  ]);
});

test('Argo: success and failure conditions become a thresholdRange when they compare result', () => {
  assert.deepEqual(conditionRange('result[0] >= 0.95', 'success'), { min: 0.95 });
  assert.deepEqual(conditionRange('result < 500', 'success'), { max: 500 });
  assert.deepEqual(conditionRange('0.9 <= result[0] && result[0] <= 1', 'success'), { min: 0.9, max: 1 });
  assert.deepEqual(conditionRange('result[0] > 0.05', 'failure'), { max: 0.05 });
  assert.deepEqual(conditionRange('result[0] < 95', 'failure'), { min: 95 });
  assert.equal(conditionRange('len(result) == 0 || result[0] >= 0.95', 'success'), undefined);
  assert.equal(conditionRange('result.status == "ok"', 'success'), undefined);
});

const rollout = (strategy: Json, extra: Json = {}): Json => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'shop', namespace: 'web' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'shop' } },
    template: {
      metadata: { labels: { app: 'shop' } },
      spec: { containers: [{ name: 'shop', image: 'shop:1', ports: [{ containerPort: 3000 }] }] },
    },
    strategy,
    ...extra,
  },
});

test('Argo: nginx routing, a workloadRef, pauses in seconds and unknown templates', () => {
  const { objects, notes } = convert(
    rollout(
      {
        canary: {
          trafficRouting: { nginx: { stableIngress: 'shop' } },
          steps: [
            { setWeight: 10 },
            { pause: { duration: 60 } },
            { analysis: { templates: [{ templateName: 'missing' }] } },
          ],
        },
      },
      {
        template: undefined,
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'shop-deploy' },
        progressDeadlineSeconds: 900,
      },
    ),
  );
  assert.equal(objects.length, 1, 'with workloadRef no Deployment is generated');
  const spec = specOf(objects[0]);
  assert.deepEqual(spec.targetRef, { kind: 'Deployment', name: 'shop-deploy' });
  assert.equal(spec.provider, 'nginx');
  assert.deepEqual(spec.ingressRef, { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'shop' });
  assert.deepEqual((spec.analysis as Json).steps, [{ setWeight: 10 }, { pause: { duration: '60s' } }]);
  assert.equal(spec.progressDeadlineSeconds, 900);
  assert.ok(
    notes.some((n) => /AnalysisTemplate missing is not in the input/.test(n)),
    notes.join('\n'),
  );
  assert.ok(
    notes.some((n) => /spec\.template: no Service or containerPort/.test(n)),
    'port falls back to 80 and says so',
  );
  assert.deepEqual(validateObject(objects[0]).problems, []);
});

test('Argo: blue-green becomes the kubernetes provider with iterations; args from valueFrom are reported', () => {
  const template = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'errors', namespace: 'web' },
    spec: {
      args: [{ name: 'hash' }],
      metrics: [
        {
          name: 'errors',
          interval: '5s',
          failureCondition: 'result[0] >= 5',
          provider: {
            prometheus: { address: 'http://prom:9090', query: 'sum(errors{hash="{{args.hash}}"})' },
          },
        },
      ],
    },
  };
  const { objects, notes } = convert(
    rollout({
      blueGreen: {
        activeService: 'shop-active',
        previewService: 'shop-preview',
        autoPromotionEnabled: false,
        prePromotionAnalysis: {
          templates: [{ templateName: 'errors' }],
          args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }],
        },
      },
    }),
    template,
  );
  assert.deepEqual(
    objects.map((o) => o.kind),
    ['Deployment', 'MetricTemplate', 'Canary'],
  );
  const spec = specOf(objects[2]);
  assert.equal(spec.provider, 'kubernetes');
  assert.deepEqual(spec.service, { port: 3000 });
  assert.deepEqual(spec.analysis, {
    iterations: 1,
    threshold: 1,
    interval: '10s',
    metrics: [{ name: 'errors', thresholdRange: { max: 5 }, templateRef: { name: 'errors-errors' } }],
  });
  assert.equal(specOf(objects[1]).query, 'sum(errors{hash="{{ variables.hash }}"})');
  for (const expected of [
    /blueGreen\.autoPromotionEnabled: add a confirm-promotion webhook/,
    /arg hash uses valueFrom/,
    /arg hash of errors has no value/,
    /blueGreen\.previewService: Weir's <name>-canary Service replaces shop-preview/,
  ])
    assert.ok(
      notes.some((n) => expected.test(n)),
      `${expected}\n${notes.join('\n')}`,
    );
});

test('Argo: without trafficRouting, provider kubernetes splits by pod counts (dynamicStableScale), and that is said', () => {
  const { objects, notes } = convert(rollout({ canary: { steps: [{ setWeight: 50 }, { pause: {} }] } }));
  assert.equal(specOf(objects[1]).provider, 'kubernetes');
  assert.deepEqual(specOf(objects[1]).analysis, {
    dynamicStableScale: true,
    steps: [{ setWeight: 50 }, { pause: {} }],
  });
  assert.ok(notes.some((n) => /no trafficRouting: provider kubernetes, which splits by pod counts/.test(n)));
  for (const o of objects.filter((x) => x.apiVersion === 'weir.dev/v1alpha1')) {
    assert.deepEqual(validateObject(o).problems, []);
    assert.deepEqual(capabilityProblems(specOf(o) as unknown as CanarySpec, 'kubernetes'), []);
  }
});

test('Argo: the basic canary example (no trafficRouting) keeps its setWeight/pause steps on provider kubernetes', () => {
  const path = join(import.meta.dirname, '../fixtures/convert/argo-basic-canary.yaml');
  const docs = parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Json);
  const { objects, notes } = convert(...docs);
  const canary = objects.find((o) => o.kind === 'Canary');
  assert.deepEqual(specOf(canary), {
    targetRef: { kind: 'Deployment', name: 'rollout-canary' },
    provider: 'kubernetes',
    service: { port: 8080 },
    analysis: {
      dynamicStableScale: true,
      steps: [
        { setWeight: 20 },
        { pause: {} },
        { setWeight: 40 },
        { pause: { duration: '40s' } },
        { setWeight: 60 },
        { pause: { duration: '20s' } },
        { setWeight: 80 },
        { pause: { duration: '20s' } },
      ],
    },
  });
  assert.equal(specOf(objects.find((o) => o.kind === 'Deployment')).replicas, 5);
  assert.deepEqual(validateObject(canary!).problems, []);
  assert.deepEqual(capabilityProblems(specOf(canary) as unknown as CanarySpec, 'kubernetes'), []);
  assert.equal(notes.length, 1, notes.join('\n'));
});

test('Argo: dynamicStableScale with a traffic router has no counterpart, and that is said', () => {
  const { objects, notes } = convert(
    rollout({
      canary: {
        trafficRouting: { nginx: { stableIngress: 'shop' } },
        dynamicStableScale: true,
        steps: [{ setWeight: 50 }],
      },
    }),
  );
  assert.equal(specOf(objects[1]).provider, 'nginx');
  assert.equal((specOf(objects[1]).analysis as Json).dynamicStableScale, undefined);
  assert.ok(notes.some((n) => /dynamicStableScale: provider nginx splits requests, not pods/.test(n)));
});

test('Inputs that are neither Flagger nor Argo are listed, Weir objects pass through', () => {
  const weir = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'AlertProvider',
    metadata: { name: 'a' },
    spec: { type: 'slack', address: 'https://hooks.slack.com/x' },
  };
  const { objects, notes } = convert(weir, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cfg' },
  });
  assert.deepEqual(objects, [weir]);
  assert.deepEqual(notes, [
    'ConfigMap/cfg: v1 is neither Flagger nor Argo Rollouts; left out (apply it as it is if still needed)',
  ]);
});

const argoTemplate = (metrics: Json[]): Json[] => [
  {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'app', namespace: 'web' },
    spec: {
      selector: { matchLabels: { app: 'app' } },
      template: {
        metadata: { labels: { app: 'app' } },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      },
      strategy: {
        canary: { steps: [{ setWeight: 50 }], analysis: { templates: [{ templateName: 'checks' }] } },
      },
    },
  },
  {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'checks' },
    spec: { metrics },
  },
];

const templatesOf = (objects: Json[]) =>
  Object.fromEntries(
    objects
      .filter((o) => o.kind === 'MetricTemplate')
      .map((o) => [String((o.metadata as Json).name), o.spec as Json]),
  );

test('Argo: web, datadog, newrelic, cloudwatch and graphite metrics become valid MetricTemplates; influxdb (Flux) is noted', () => {
  const cond = { successCondition: 'result < 5' };
  const { objects, notes } = convert(
    ...argoTemplate([
      {
        name: 'slo',
        ...cond,
        provider: {
          web: {
            url: 'https://slo.test/api',
            jsonPath: '{$.rate}',
            jsonBody: { w: '5m' },
            timeoutSeconds: 10,
            headers: [
              { key: 'X-Team', value: 'a' },
              { key: 'Authorization', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
            ],
          },
        },
      },
      { name: 'dd', ...cond, provider: { datadog: { query: 'avg:errors{app:app}', interval: '10m' } } },
      {
        name: 'nr',
        ...cond,
        provider: {
          newrelic: {
            profile: 'nr-creds',
            query: "SELECT count(*) FROM Transaction WHERE appName = '{{ args.app }}'",
          },
        },
      },
      {
        name: 'cw',
        ...cond,
        provider: {
          cloudwatch: {
            interval: '15m',
            metricDataQueries: [{ id: 'm', expression: 'SELECT AVG(Latency) FROM "AWS/ELB"' }],
          },
        },
      },
      {
        name: 'gr',
        ...cond,
        provider: { graphite: { address: 'http://graphite.test', query: 'target=sumSeries(app.errors)' } },
      },
      { name: 'ix', ...cond, provider: { influxdb: { profile: 'influx', query: 'from(bucket: "b")' } } },
    ]),
  );
  const t = templatesOf(objects);
  assert.deepEqual(t['checks-slo'], {
    provider: {
      type: 'web',
      method: 'POST',
      body: '{"w":"5m"}',
      jsonPath: '{$.rate}',
      headers: { 'X-Team': 'a' },
      timeout: '10s',
    },
    query: 'https://slo.test/api',
  });
  assert.deepEqual(t['checks-dd']?.provider, {
    type: 'datadog',
    secretRef: { name: 'datadog' },
    lookback: '10m',
  });
  assert.deepEqual(t['checks-nr'], {
    provider: { type: 'newrelic', secretRef: { name: 'nr-creds' } },
    query: "SELECT count(*) FROM Transaction WHERE appName = '{{ variables.app }}'",
  });
  assert.deepEqual(t['checks-cw'], {
    provider: {
      type: 'cloudwatch',
      region: 'us-east-1',
      secretRef: { name: 'aws-cloudwatch' },
      lookback: '15m',
    },
    query: '[{"id":"m","expression":"SELECT AVG(Latency) FROM \\"AWS/ELB\\""}]',
  });
  assert.deepEqual(t['checks-gr'], {
    provider: { type: 'graphite', address: 'http://graphite.test' },
    query: 'target=sumSeries(app.errors)',
  });
  assert.equal(t['checks-ix'], undefined);
  const text = notes.join('\n');
  assert.match(text, /headers: header Authorization takes its value from a Secret/);
  assert.match(text, /provider\.influxdb: .*Flux.*not converted/);
  assert.match(text, /provider\.cloudwatch: .*us-east-1 was written, set yours/);
  for (const o of objects.filter((x) => x.kind === 'MetricTemplate'))
    assert.deepEqual(
      validateObject({ ...o, metadata: { ...(o.metadata as Json), namespace: 'web' } }).problems,
      [],
      JSON.stringify(o),
    );
});

test('Flagger: graphite, datadog, newrelic and cloudwatch MetricTemplates convert; influxdb (Flux) is noted', () => {
  const tpl = (name: string, provider: Json, query = 'q'): Json => ({
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name, namespace: 'web' },
    spec: { provider, query },
  });
  const { objects, notes } = convert(
    tpl('gr', { type: 'graphite', address: 'http://graphite.test', secretRef: { name: 'g' } }, 'target=x'),
    tpl('dd', { type: 'datadog', address: 'https://api.datadoghq.eu', secretRef: { name: 'd' } }),
    tpl('nr', { type: 'newrelic', address: 'https://insights-api.newrelic.com', secretRef: { name: 'n' } }),
    tpl('cw', { type: 'cloudwatch', address: 'monitoring.eu-west-1.amazonaws.com' }, '[{"Id":"e"}]'),
    tpl('ix', { type: 'influxdb', address: 'http://influx.test' }),
  );
  const t = templatesOf(objects);
  assert.deepEqual(t.gr?.provider, {
    type: 'graphite',
    address: 'http://graphite.test',
    secretRef: { name: 'g' },
  });
  assert.deepEqual(t.dd?.provider, {
    type: 'datadog',
    address: 'https://api.datadoghq.eu',
    secretRef: { name: 'd' },
  });
  assert.deepEqual(
    t.nr?.provider,
    { type: 'newrelic', secretRef: { name: 'n' } },
    'the Insights address is not NerdGraph',
  );
  assert.deepEqual(t.cw?.provider, {
    type: 'cloudwatch',
    region: 'eu-west-1',
    secretRef: { name: 'aws-cloudwatch' },
  });
  assert.equal(t.ix, undefined);
  assert.match(notes.join('\n'), /MetricTemplate\/nr: spec\.provider: .*personal-api-key/);
  assert.match(notes.join('\n'), /MetricTemplate\/ix: spec\.provider\.type: .*Flux.*not converted/);
  for (const o of objects) assert.deepEqual(validateObject(o).problems, [], JSON.stringify(o));
});

test('Argo: analysis steps become Weir analysis steps with stepOnly metrics; a step with no converted metric is named and left out', () => {
  const template = (name: string, metric: string) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name, namespace: 'web' },
    spec: {
      metrics: [
        {
          name: metric,
          failureLimit: 3,
          successCondition: 'result[0] >= 1',
          provider: { prometheus: { query: 'vector(1)' } },
        },
      ],
    },
  });
  const { objects, notes } = convert(
    rollout({
      canary: {
        trafficRouting: { istio: { virtualService: { name: 'shop' } } },
        analysis: { templates: [{ templateName: 'bg' }] },
        steps: [
          { setWeight: 10 },
          { analysis: { templates: [{ templateName: 'bg' }, { templateName: 'smoke' }] } },
          { analysis: { templates: [{ templateName: 'absent' }] } },
          { setCanaryScale: { weight: 30 } },
          { analysis: { templates: [{ templateName: 'smoke' }] } },
          { setWeight: 50 },
        ],
      },
    }),
    template('bg', 'rate'),
    template('smoke', 'smoke'),
  );
  const canary = objects.find((o) => o.kind === 'Canary');
  const analysis = specOf(canary).analysis as Json;
  assert.deepEqual(analysis.steps, [
    { setWeight: 10 },
    { analysis: { metrics: ['rate-step', 'smoke'] } },
    { setCanaryScale: { weight: 30 } },
    { analysis: { metrics: ['smoke'] } },
    { setWeight: 50 },
  ]);
  const metrics = analysis.metrics as Json[];
  assert.deepEqual(
    metrics.map((m) => [m.name, m.stepOnly ?? false, m.failureLimit]),
    [
      ['rate', false, undefined],
      ['rate-step', true, 3],
      ['smoke', true, 3],
    ],
  );
  assert.ok(
    notes.includes(
      'Rollout/shop: spec.strategy.canary.steps[2]: analysis step: none of its metrics was converted; step left out',
    ),
    notes.join('\n'),
  );
  assert.ok(notes.some((n) => /steps\[2\]: AnalysisTemplate absent is not in the input/.test(n)));
  assert.ok(!notes.some((n) => /setCanaryScale|steps\[1\]|steps\[4\]/.test(n)), notes.join('\n'));
  assert.deepEqual(validateObject(canary!).problems, []);
  assert.equal(
    objects.filter((o) => o.kind === 'MetricTemplate').length,
    2,
    'one MetricTemplate per template metric',
  );
});

test('Argo: setCanaryScale without trafficRouting is refused as Argo refuses it, and said', () => {
  const { objects, notes } = convert(
    rollout({ canary: { steps: [{ setCanaryScale: { replicas: 2 } }, { setWeight: 50 }] } }),
  );
  const analysis = specOf(objects.find((o) => o.kind === 'Canary')).analysis as Json;
  assert.deepEqual(analysis.steps, [{ setWeight: 50 }]);
  assert.ok(
    notes.includes(
      'Rollout/shop: spec.strategy.canary.steps[0].setCanaryScale: setCanaryScale needs trafficRouting (as in Argo Rollouts); step left out',
    ),
    notes.join('\n'),
  );
});

test("Argo: a metric's count, initialDelay and limits are carried; limits bring its failureLimit along", () => {
  const metric = (name: string, extra: Json): Json => ({
    name,
    successCondition: 'result[0] >= 0.99',
    provider: { prometheus: { address: 'http://prom:9090', query: `sum(${name})` } },
    ...extra,
  });
  const template = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'slo', namespace: 'web' },
    spec: {
      metrics: [
        metric('scheduled', { count: 5, initialDelay: '2m', failureLimit: 1 }),
        metric('limited', { inconclusiveLimit: 2, consecutiveErrorLimit: '3' }),
        metric('odd', { count: '{{args.count}}' }),
      ],
    },
  };
  const canary = {
    steps: [{ setWeight: 20 }, { pause: { duration: 60 } }],
    analysis: { templates: [{ templateName: 'slo' }] },
  };
  const { objects, notes } = convert(rollout({ canary }), template);
  const spec = specOf(objects.find((o) => o.kind === 'Canary'));
  const metrics = (spec.analysis as Json).metrics as Json[];
  const fields = (m: Json) => {
    const { name, count, initialDelay, failureLimit, inconclusiveLimit, consecutiveErrorLimit } = m;
    return compactJson({ name, count, initialDelay, failureLimit, inconclusiveLimit, consecutiveErrorLimit });
  };
  assert.deepEqual(metrics.map(fields), [
    { name: 'scheduled', count: 5, initialDelay: '2m' },
    { name: 'limited', failureLimit: 0, inconclusiveLimit: 2, consecutiveErrorLimit: 3 },
    { name: 'odd' },
  ]);
  // Only the metric without limits of its own sets analysis.threshold (its failureLimit 1, plus 1).
  assert.equal((spec.analysis as Json).threshold, 1);
  assert.ok(
    notes.some((n) => /spec\.metrics\[2\]\.count: "\{\{args\.count\}\}" is not a number/.test(n)),
    notes.join('\n'),
  );
  assert.ok(
    !notes.some((n) => /initialDelay|inconclusiveLimit|consecutiveErrorLimit/.test(n)),
    notes.join('\n'),
  );
  for (const o of objects.filter((x) => x.apiVersion === API_VERSION_OF_WEIR))
    assert.deepEqual(validateObject(o).problems, [], JSON.stringify(o));
});

const API_VERSION_OF_WEIR = 'weir.dev/v1alpha1';
const compactJson = (o: Json): Json =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

test('Argo: setHeaderRoute and setMirrorRoute map one to one; an undeclared route or another precedence is said', () => {
  const header = { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { regex: '^y' } }] };
  const mirror = {
    name: 'shadow',
    percentage: 10,
    match: [{ method: { exact: 'POST' }, headers: { 'x-a': { prefix: 'b' } } }],
  };
  const steps = [
    { setMirrorRoute: mirror },
    { setHeaderRoute: header },
    { setWeight: 20 },
    { setHeaderRoute: { name: 'beta' } },
    { setHeaderRoute: { name: 'gamma', match: [{ headerName: 'x-g' }] } },
    { setMirrorRoute: { name: 'shadow' } },
  ];
  const { objects, notes } = convert(
    rollout({
      canary: {
        trafficRouting: {
          istio: { virtualService: { name: 'shop' } },
          managedRoutes: [{ name: 'beta' }, { name: 'shadow' }],
        },
        steps,
      },
    }),
  );
  const canary = objects.find((o) => o.kind === 'Canary')!;
  assert.deepEqual((specOf(canary).analysis as Json).steps, [
    { setMirrorRoute: mirror },
    { setHeaderRoute: header },
    { setWeight: 20 },
    { setHeaderRoute: { name: 'beta' } },
    { setMirrorRoute: { name: 'shadow' } },
  ]);
  assert.deepEqual(validateObject(canary).problems, []);
  assert.deepEqual(capabilityProblems(specOf(canary) as CanarySpec, 'istio'), []);
  const routeNotes = notes.filter((n) => /managedRoutes|steps\[4\]/.test(n));
  assert.deepEqual(routeNotes, [
    'Rollout/shop: spec.strategy.canary.steps[4].setHeaderRoute.match[0]: needs headerName and a headerValue with one of exact, prefix or regex; step left out',
    'Rollout/shop: spec.strategy.canary.trafficRouting.managedRoutes: Weir ranks routes by the order the steps first add them (shadow, beta), not by managedRoutes (beta, shadow)',
  ]);
  assert.ok(!notes.some((n) => /trafficRouting\.managedRoutes: not supported/.test(n)), notes.join('\n'));

  const undeclared = convert(
    rollout({
      canary: {
        trafficRouting: { istio: {} },
        steps: [{ setHeaderRoute: header }],
      },
    }),
  );
  assert.ok(!undeclared.notes.some((n) => /managedRoutes/.test(n)), 'no managedRoutes: nothing to compare');
  const missing = convert(
    rollout({
      canary: { trafficRouting: { istio: {}, managedRoutes: [] }, steps: [{ setHeaderRoute: header }] },
    }),
  );
  assert.ok(
    missing.notes.includes(
      'Rollout/shop: spec.strategy.canary.trafficRouting.managedRoutes: routes beta are not declared (Argo refuses that); converted anyway',
    ),
    missing.notes.join('\n'),
  );
});

test('Argo: route steps on a provider that cannot add routes are left out, and said', () => {
  const { objects, notes } = convert(
    rollout({
      canary: {
        trafficRouting: { nginx: { stableIngress: 'shop' } },
        steps: [
          { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x', headerValue: { exact: '1' } }] } },
          { setWeight: 50 },
        ],
      },
    }),
  );
  assert.deepEqual((specOf(objects.find((o) => o.kind === 'Canary')).analysis as Json).steps, [
    { setWeight: 50 },
  ]);
  assert.ok(
    notes.includes(
      'Rollout/shop: spec.strategy.canary.steps[0].setHeaderRoute: setHeaderRoute needs provider gatewayapi or istio (provider nginx cannot add named routes); step left out',
    ),
    notes.join('\n'),
  );
});
