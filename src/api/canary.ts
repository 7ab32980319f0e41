// The Canary kind. Field names follow Flagger's flagger.app/v1beta1 Canary wherever the feature
// exists there, so a Flagger user migrates by changing apiVersion; `steps` follows Argo Rollouts.
import { Type, type Static } from '@sinclair/typebox';
import {
  Condition,
  Duration,
  IntOrString,
  MapOf,
  Name,
  NamedList,
  Obj,
  ObjectRef,
  StringEnum,
  PromDuration,
  StringMap,
  durationRange,
} from './schema-kit.ts';
import { METRIC_RESULTS } from '../vocab/metric-result.ts';
import { HeaderRoute, MirrorRoute, StepRouteStatus } from './step-routes.ts';

export const PROVIDERS = [
  'kubernetes',
  'gatewayapi',
  'nginx',
  'istio',
  'linkerd',
  'smi',
  'traefik',
  'contour',
  'skipper',
  'apisix',
  'kuma',
  'gloo',
] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const WEBHOOK_TYPES = [
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
  'event',
] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;

export const PHASES = [
  'Initializing',
  'Initialized',
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
  'Succeeded',
  'Failed',
  'Frozen',
  'Queued',
  'Terminating',
  'Terminated',
] as const;
export type Phase = (typeof PHASES)[number];

const Weight = (description: string) => Type.Integer({ minimum: 0, maximum: 100, description });

/** What reaching analysis.threshold does (docs/freeze.md). */
export const ON_FAILURE = ['rollback', 'freeze'] as const;

export const TARGET_KINDS = ['Deployment', 'DaemonSet'] as const;
export type TargetKindName = (typeof TARGET_KINDS)[number];

const TargetRef = Obj(
  {
    apiVersion: Type.Optional(Type.String({ default: 'apps/v1', maxLength: 64 })),
    kind: StringEnum(TARGET_KINDS, {
      description:
        'Kind of the target: Deployment, or DaemonSet (parked by a nodeSelector while idle; no autoscalerRef).',
    }),
    name: Type.String({
      minLength: 1,
      maxLength: 55,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      description:
        'Name of the Deployment or DaemonSet (at most 55 characters, so that `<name>-primary` is a valid name).',
    }),
  },
  { description: 'The workload that users edit; Weir copies it to `<name>-primary`.' },
);

const AutoscalerRef = Obj(
  {
    apiVersion: Type.Optional(Type.String({ default: 'autoscaling/v2', maxLength: 64 })),
    kind: StringEnum(['HorizontalPodAutoscaler'] as const),
    name: Name(),
    primaryScalerReplicas: Type.Optional(
      Obj({
        minReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
        maxReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
      }),
    ),
  },
  { description: 'HPA of the target; Weir keeps a `-primary` copy.' },
);

const IngressRef = Obj(
  {
    apiVersion: Type.Optional(Type.String({ default: 'networking.k8s.io/v1', maxLength: 64 })),
    kind: StringEnum(['Ingress'] as const),
    name: Name(),
  },
  { description: 'The Ingress to clone as `<ingress>-canary` (nginx, skipper).' },
);

const RouteRef = Obj(
  {
    apiVersion: Type.Optional(Type.String({ default: 'apisix.apache.org/v2', maxLength: 64 })),
    kind: StringEnum(['ApisixRoute'] as const),
    name: Name(),
  },
  { description: 'The ApisixRoute to clone as `<route>-<svc>-canary` (apisix).' },
);

const UpstreamRef = Obj(
  {
    apiVersion: Type.Optional(Type.String({ default: 'gloo.solo.io/v1', maxLength: 64 })),
    kind: Type.Optional(StringEnum(['Upstream'] as const)),
    name: Name(),
    namespace: Type.Optional(Name()),
  },
  {
    description:
      "gloo: a Gloo Upstream (default: in the Canary's namespace) whose connection settings the `-primary` and `-canary` Upstreams copy.",
  },
);

const Meta = Obj({ labels: Type.Optional(StringMap()), annotations: Type.Optional(StringMap()) });

const HeaderOps = Obj({
  add: Type.Optional(StringMap()),
  set: Type.Optional(StringMap()),
  remove: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 })),
});

const GatewayRef = Obj({
  name: Name(),
  namespace: Type.Optional(Name()),
  group: Type.Optional(Type.String({ maxLength: 253 })),
  kind: Type.Optional(Type.String({ maxLength: 63 })),
  sectionName: Type.Optional(Type.String({ maxLength: 253 })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
});

const StringMatch = Obj(
  {
    exact: Type.Optional(Type.String({ maxLength: 1024 })),
    prefix: Type.Optional(Type.String({ maxLength: 1024 })),
    suffix: Type.Optional(Type.String({ maxLength: 1024 })),
    regex: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  {
    rules: [
      {
        rule: '[has(self.exact), has(self.prefix), has(self.suffix), has(self.regex)].filter(x, x).size() == 1',
        message: 'a match sets exactly one of exact, prefix, suffix or regex',
      },
    ],
  },
);

// Istio's HTTPMatchRequest as Flagger's spec.service.match carries it (suffix becomes a regex).
const ServiceMatch = Obj({
  name: Type.Optional(Type.String({ maxLength: 253 })),
  uri: Type.Optional(StringMatch),
  scheme: Type.Optional(StringMatch),
  method: Type.Optional(StringMatch),
  authority: Type.Optional(StringMatch),
  headers: Type.Optional(MapOf(StringMatch, 16)),
  withoutHeaders: Type.Optional(MapOf(StringMatch, 16)),
  queryParams: Type.Optional(MapOf(StringMatch, 16)),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  sourceLabels: Type.Optional(StringMap()),
  ignoreUriCase: Type.Optional(Type.Boolean()),
});

const Strings = (max: number) => Type.Array(Type.String({ maxLength: 256 }), { maxItems: max });

/** spec.service fields only the istio provider honours (others refuse them, naming the field). */
const IstioServiceFields = {
  match: Type.Optional(
    Type.Array(ServiceMatch, {
      minItems: 1,
      maxItems: 16,
      description:
        'istio: match conditions of every VirtualService rule (OR-ed); with appProtocol tcp only port.',
    }),
  ),
  rewrite: Type.Optional(
    Obj(
      {
        uri: Type.Optional(Type.String({ maxLength: 1024 })),
        authority: Type.Optional(Type.String({ maxLength: 253 })),
      },
      { description: 'istio: rewrite of the URI (or the matched prefix) and Host before forwarding.' },
    ),
  ),
  corsPolicy: Type.Optional(
    Obj(
      {
        allowOrigins: Type.Optional(Type.Array(StringMatch, { maxItems: 32 })),
        allowOrigin: Type.Optional(Strings(32)),
        allowMethods: Type.Optional(Strings(16)),
        allowHeaders: Type.Optional(Strings(64)),
        exposeHeaders: Type.Optional(Strings(64)),
        maxAge: Type.Optional(Duration()),
        allowCredentials: Type.Optional(Type.Boolean()),
      },
      { description: 'istio: the VirtualService CORS policy.' },
    ),
  ),
  trafficPolicy: Type.Optional(
    Type.Unsafe<Record<string, unknown>>({
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      description:
        "istio: Istio's TrafficPolicy, copied to both DestinationRules (Istio's schema checks it when they are written).",
    }),
  ),
  delegation: Type.Optional(
    Type.Boolean({
      description:
        'istio: a VirtualService without hosts and gateways, for delegation from a parent VirtualService.',
    }),
  ),
};

const Service = Obj(
  {
    name: Type.Optional(
      Type.String({
        maxLength: 55,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        description: 'Apex Service name; defaults to targetRef.name.',
      }),
    ),
    port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      description: 'Port of the apex, primary and canary Services.',
    }),
    portName: Type.Optional(Type.String({ maxLength: 15, default: 'http' })),
    targetPort: Type.Optional(IntOrString('Container port; defaults to port.')),
    appProtocol: Type.Optional(Type.String({ maxLength: 64 })),
    hosts: Type.Optional(Type.Array(Type.String({ maxLength: 253 }), { maxItems: 16 })),
    gateways: Type.Optional(
      Type.Array(Type.String({ maxLength: 253 }), { maxItems: 16, description: 'Istio gateways.' }),
    ),
    gatewayRefs: Type.Optional(
      Type.Array(GatewayRef, { maxItems: 16, description: 'Gateway API parentRefs.' }),
    ),
    headers: Type.Optional(Obj({ request: Type.Optional(HeaderOps), response: Type.Optional(HeaderOps) })),
    timeout: Type.Optional(Duration()),
    retries: Type.Optional(
      Obj({
        attempts: Type.Integer({ minimum: 0, maximum: 100 }),
        perTryTimeout: Type.Optional(Duration()),
        retryOn: Type.Optional(Type.String({ maxLength: 256 })),
      }),
    ),
    apex: Type.Optional(Meta),
    primary: Type.Optional(Meta),
    canary: Type.Optional(Meta),
    ...IstioServiceFields,
  },
  {
    description: 'Services Weir generates: `<name>` (apex), `<name>-primary`, `<name>-canary`.',
    rules: [
      {
        rule: '!has(self.delegation) || !self.delegation || ((!has(self.hosts) || size(self.hosts) == 0) && (!has(self.gateways) || size(self.gateways) == 0))',
        message: 'delegation: a delegate VirtualService has no hosts or gateways (the parent has them)',
        fieldPath: '.delegation',
      },
    ],
  },
);

const Match = Obj({
  headers: Type.Optional(MapOf(StringMatch, 16)),
  queryParams: Type.Optional(MapOf(StringMatch, 16)),
  sourceLabels: Type.Optional(StringMap()),
});

const ThresholdRange = Obj(
  { min: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) },
  {
    rules: [
      { rule: 'has(self.min) || has(self.max)', message: 'thresholdRange needs min or max' },
      {
        rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
        message: 'thresholdRange.min must not exceed max',
        fieldPath: '.min',
      },
    ],
  },
);

// Bounds on the canary's value against the primary's, from the same query rendered for the primary.
// Differences are in the metric's own unit (points for a percentage); ratios are canary / primary.
const Bound = (description: string) => Type.Optional(Type.Number({ minimum: 0, description }));
const PrimaryComparison = Obj(
  {
    maxIncrease: Bound('Fails when the canary is more than this above the primary (error rate, latency).'),
    maxDecrease: Bound('Fails when the canary is more than this below the primary (success rate).'),
    maxRatio: Bound('Fails when canary / primary exceeds this, e.g. 1.2: at most 20% above the primary.'),
    minRatio: Bound('Fails when canary / primary is below this, e.g. 0.9: at most 10% below the primary.'),
  },
  {
    rules: [
      {
        rule: 'has(self.maxIncrease) || has(self.maxDecrease) || has(self.maxRatio) || has(self.minRatio)',
        message: 'compare.primary needs maxIncrease, maxDecrease, maxRatio or minRatio',
      },
      {
        rule: '!has(self.minRatio) || !has(self.maxRatio) || self.minRatio <= self.maxRatio',
        message: 'compare.primary.minRatio must not exceed maxRatio',
        fieldPath: '.minRatio',
      },
    ],
  },
);
const Compare = Obj(
  { primary: PrimaryComparison },
  { description: 'Judge the canary against the primary, measured by the same query for the primary pods.' },
);

export const JUDGE_DIRECTIONS = ['increase', 'decrease', 'either'] as const;

// A statistical judge (docs/analysis.md, "Statistical judge"): the canary's samples over a window
// against the primary's, from the same query run as a range query for both, by a Mann-Whitney U
// test plus a tolerance on the size of the difference, as Kayenta's Mann-Whitney classifier does.
const MannWhitney = Obj(
  {
    direction: StringEnum(JUDGE_DIRECTIONS, {
      description:
        'Which change fails the canary: increase (latency, error rate), decrease (success rate, throughput) or either.',
    }),
    confidence: Type.Optional(
      Type.Number({
        minimum: 0.5,
        maximum: 0.9999,
        description:
          'A difference counts when the p-value is below 1 − confidence (0.5 to 0.9999). Default 0.95 (Kayenta uses 0.98).',
      }),
    ),
    allowedIncrease: Type.Optional(
      Type.Number({
        minimum: 1,
        description:
          "Tolerance: a significant increase fails only when the canary's mean exceeds this many times the primary's (e.g. 1.1). Default 1.",
      }),
    ),
    allowedDecrease: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description:
          "Tolerance: a significant decrease fails only when the canary's mean is below this many times the primary's (e.g. 0.9). Default 1.",
      }),
    ),
    minSamples: Type.Optional(
      Type.Integer({
        minimum: 3,
        maximum: 1000,
        description:
          'Fewer samples than this on either side make the check Inconclusive: the tick holds its weight. Default 10.',
      }),
    ),
    window: Type.Optional(
      PromDuration({
        description:
          "How far back the samples go (1m to 24h), one per the metric's interval. Default: 10 × the metric's interval.",
      }),
    ),
  },
  { rules: [durationRange('window', '1m', '24h')] },
);
const Judge = Obj(
  { mannWhitney: MannWhitney },
  {
    description:
      "Judge the canary against the primary statistically: the metric's query runs as a range query for both (Prometheus, VictoriaMetrics).",
  },
);

const Metric = Obj(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    interval: Type.Optional(
      PromDuration({
        description: 'Range used in the query as {{ interval }} (1s to 24h); defaults to analysis.interval.',
      }),
    ),
    thresholdRange: Type.Optional(ThresholdRange),
    compare: Type.Optional(Compare),
    judge: Type.Optional(Judge),
    critical: Type.Optional(
      Type.Boolean({
        description:
          "With analysis.score: a tick fails with score 0 when this metric does not pass, whatever the others (Kayenta's critical).",
      }),
    ),
    group: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        description: 'The group of analysis.score.groups this metric counts in.',
      }),
    ),
    successCondition: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          'Argo\'s successCondition, in CEL over `result` (the measured value, a double), e.g. `result >= 0.99`: false fails the measurement, or makes it Inconclusive when failureCondition is also set (docs/analysis.md, "Conditions").',
      }),
    ),
    failureCondition: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          "Argo's failureCondition, in CEL over `result` (a double), e.g. `result > 500`: true fails the measurement, before successCondition is looked at.",
      }),
    ),
    failureLimit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1000,
        description:
          'Argo\'s failureLimit: the run fails when more of this metric\'s measurements in the run are Failed. Setting any of the three limits judges the metric by its own limits instead of analysis.threshold (docs/analysis.md, "Measurement limits"). Default with limits: 0.',
      }),
    ),
    inconclusiveLimit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1000,
        description:
          "Argo's inconclusiveLimit: more Inconclusive measurements in the run freeze it for a person (weir promote, abort or retry), as Argo pauses an Inconclusive run. Default with limits: 0.",
      }),
    ),
    consecutiveErrorLimit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1000,
        description:
          "Argo's consecutiveErrorLimit: more Error or NoData measurements in a row fail the run; any other result resets the count. Default with limits: 4.",
      }),
    ),
    dryRun: Type.Optional(
      Type.Boolean({
        description:
          'Measure and show this metric, but never count it toward failure, limits, score or threshold (Argo dryRun).',
      }),
    ),
    count: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        description:
          'Argo\'s count: measure this metric this many times in the run (one per analysis tick), then no more; the verdicts it gave stand (docs/analysis.md, "count and initialDelay"). Default: every tick.',
      }),
    ),
    initialDelay: Type.Optional(
      PromDuration({
        description:
          "Argo's initialDelay: the first measurement of this metric is at the first tick this long after the run's first analysis tick (0s to 24h). Default: none.",
      }),
    ),
    stepOnly: Type.Optional(
      Type.Boolean({
        description:
          "Measured only at the `analysis` steps that name it (Argo's step analysis), not at every tick (docs/steps.md).",
      }),
    ),
    templateRef: Type.Optional(ObjectRef('MetricTemplate to run.')),
    templateVariables: Type.Optional(StringMap('Values for {{ variables.X }} in the template.')),
  },
  {
    rules: [
      durationRange('interval', '1s', '24h'),
      durationRange('initialDelay', '0s', '24h'),
      {
        rule: 'has(self.thresholdRange) || has(self.compare) || has(self.judge) || has(self.successCondition) || has(self.failureCondition)',
        message: 'a metric needs thresholdRange, compare, judge, successCondition or failureCondition',
        fieldPath: '.thresholdRange',
        reason: 'FieldValueRequired',
      },
      {
        rule: '!has(self.judge) || !has(self.thresholdRange) && !has(self.compare)',
        message:
          'judge compares samples over a window and cannot be combined with thresholdRange or compare (use two metrics)',
        fieldPath: '.judge',
      },
      {
        rule: '!has(self.judge) || !has(self.successCondition) && !has(self.failureCondition)',
        message:
          'judge decides from samples, not one value: it cannot be combined with successCondition or failureCondition (use two metrics)',
        fieldPath: '.judge',
      },
      {
        rule: '!has(self.dryRun) || !self.dryRun || !has(self.critical) || !self.critical',
        message: 'a dryRun metric never fails a tick, so it cannot be critical',
        fieldPath: '.critical',
      },
      {
        rule: `self.name in ['${['request-success-rate', 'request-duration'].join("', '")}'] || has(self.templateRef)`,
        message:
          'a metric other than the built-ins request-success-rate and request-duration needs templateRef',
        fieldPath: '.templateRef',
        reason: 'FieldValueRequired',
      },
    ],
  },
);

const Webhook = Obj(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    type: StringEnum(WEBHOOK_TYPES, { default: 'rollout' }),
    url: Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' }),
    timeout: Type.Optional(
      PromDuration({ default: '10s', description: 'Time for one attempt: 100ms to 5m.' }),
    ),
    retries: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10, description: 'Extra attempts after a failure: 0 to 10.' }),
    ),
    metadata: Type.Optional(StringMap()),
    muteAlert: Type.Optional(Type.Boolean()),
  },
  { rules: [durationRange('timeout', '100ms', '5m')] },
);

const Alert = Obj({
  name: Type.String({ minLength: 1, maxLength: 63 }),
  severity: StringEnum(['info', 'warn', 'error'] as const, { default: 'info' }),
  providerRef: ObjectRef('AlertProvider to send to.'),
});

// Argo Rollouts' setCanaryScale: the canary's size apart from its traffic weight (docs/steps.md).
const CanaryScale = Obj(
  {
    replicas: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10000, description: 'Canary pods, whatever the weight.' }),
    ),
    weight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: "Canary pods as a percent of the primary's: ceil(weight × replicas / 100), at least 1.",
      }),
    ),
    matchTrafficWeight: Type.Optional(
      Type.Boolean({ description: 'Ends an earlier setCanaryScale: the canary gets its usual size again.' }),
    ),
  },
  {
    rules: [
      {
        rule: '(has(self.replicas) ? 1 : 0) + (has(self.weight) ? 1 : 0) + (has(self.matchTrafficWeight) ? 1 : 0) == 1',
        message: 'setCanaryScale sets exactly one of replicas, weight or matchTrafficWeight',
      },
      {
        rule: '!has(self.matchTrafficWeight) || self.matchTrafficWeight',
        message: 'matchTrafficWeight can only be true',
        fieldPath: '.matchTrafficWeight',
      },
    ],
  },
);

// Argo Rollouts' analysis step: metrics measured only at this step, which holds until they pass.
const StepAnalysis = Obj({
  metrics: Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
    minItems: 1,
    maxItems: 16,
    'x-kubernetes-list-type': 'set',
    description: 'Names of analysis.metrics (with stepOnly: true) that must pass before the next step.',
  }),
});

const STEP_KINDS = [
  'setWeight',
  'pause',
  'setCanaryScale',
  'analysis',
  'setHeaderRoute',
  'setMirrorRoute',
] as const;

const Step = Obj(
  {
    setWeight: Type.Optional(Weight('Canary weight for this step.')),
    pause: Type.Optional(
      Obj(
        {
          duration: Type.Optional(
            PromDuration({
              description: '1s to 168h. Without duration the run waits for `weir promote`.',
            }),
          ),
        },
        { rules: [durationRange('duration', '1s', '168h')] },
      ),
    ),
    setCanaryScale: Type.Optional(CanaryScale),
    analysis: Type.Optional(StepAnalysis),
    setHeaderRoute: Type.Optional(HeaderRoute),
    setMirrorRoute: Type.Optional(MirrorRoute),
  },
  {
    rules: [
      {
        rule: STEP_KINDS.map((k) => `(has(self.${k}) ? 1 : 0)`).join(' + ') + ' == 1',
        message: `a step sets exactly one of ${STEP_KINDS.join(', ')}`,
      },
    ],
  },
);

const weighted = 'has(self.stepWeight) || has(self.stepWeights) || has(self.steps)';

// Flagger's cookie-based session affinity (istio): a user sent to the canary once stays there.
const CookieToken = (description: string) =>
  Type.String({ minLength: 1, maxLength: 64, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description });
const CookieAttr = (description: string) =>
  Type.String({ minLength: 1, maxLength: 253, pattern: '^[^;\\s]+$', description });

const SessionAffinity = Obj(
  {
    cookieName: CookieToken(
      'Cookie set on responses from the canary; requests carrying it go to the canary.',
    ),
    primaryCookieName: Type.Optional(
      CookieToken(
        'Cookie set on responses from the primary (for one analysis interval); requests carrying it stay there.',
      ),
    ),
    maxAge: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 31536000,
        description: 'Max-Age of the canary cookie in seconds; 86400 if unset.',
      }),
    ),
    domain: Type.Optional(CookieAttr('Domain attribute of the cookies.')),
    path: Type.Optional(CookieAttr('Path attribute of the cookies.')),
    httpOnly: Type.Optional(Type.Boolean()),
    secure: Type.Optional(Type.Boolean()),
    sameSite: Type.Optional(StringEnum(['Strict', 'Lax', 'None'] as const)),
    partitioned: Type.Optional(Type.Boolean()),
  },
  {
    rules: [
      {
        rule: '!has(self.primaryCookieName) || self.primaryCookieName != self.cookieName',
        message: 'primaryCookieName must differ from cookieName',
        fieldPath: '.primaryCookieName',
      },
    ],
  },
);

// A Kayenta-style score over all metrics of a tick (docs/analysis.md, "Score").
const Score = Obj(
  {
    pass: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 100,
        description: 'A tick whose score is at least this passes (0 to 100). Default 95.',
      }),
    ),
    marginal: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 100,
        description:
          'Below this a tick fails; from here up to pass it is marginal: it advances, except that it cannot promote (counts as a failed check at the last step). Default 75.',
      }),
    ),
    groups: Type.Optional(
      Type.Unsafe<Record<string, number>>({
        type: 'object',
        additionalProperties: { type: 'integer', minimum: 1, maximum: 100 },
        maxProperties: 16,
        description:
          "Weights of metric groups (a metric's group), as Kayenta's groupWeights; a group scores the share of its metrics that pass. Without groups every metric weighs the same.",
      }),
    ),
  },
  {
    description:
      'Judge a tick by a score (0 to 100): the weighted share of metrics that pass, instead of failing it on any failed metric.',
    rules: [
      {
        rule: '(has(self.marginal) ? self.marginal : 75.0) <= (has(self.pass) ? self.pass : 95.0)',
        message: 'score.marginal must not exceed score.pass',
        fieldPath: '.marginal',
      },
    ],
  },
);

const Analysis = Obj(
  {
    interval: PromDuration({
      default: '1m',
      description: 'Time between analysis ticks: 10s to 24h, written as Prometheus does (`1m30s`).',
    }),
    threshold: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 1,
      description: 'Failed checks before rollback (1 to 100), or before a freeze with onFailure: freeze.',
    }),
    onFailure: StringEnum(ON_FAILURE, {
      default: 'rollback',
      description:
        'What reaching the failed-checks threshold does: rollback (all traffic to primary, canary scaled to 0), or freeze (hold the weights in phase Frozen until `weir promote`, `weir abort` or `weir retry`, or until the freeze deadline rolls back).',
    }),
    freezeDeadline: Type.Optional(
      Duration({
        description:
          'How long a Frozen run waits for `weir promote`, `weir abort` or `weir retry` before it rolls back (1m to 720h, e.g. `2h`); progressDeadlineSeconds if unset.',
      }),
    ),
    maxWeight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Last canary weight before promotion (stepWeight strategy).',
      }),
    ),
    stepWeight: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, description: 'Weight added per step.' }),
    ),
    stepWeights: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
        minItems: 1,
        maxItems: 50,
        description: 'Explicit increasing weights.',
      }),
    ),
    stepWeightPromotion: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Weight moved back to primary per step after promotion.',
      }),
    ),
    steps: Type.Optional(
      Type.Array(Step, {
        minItems: 1,
        maxItems: 50,
        description:
          'Argo-style steps: setWeight, pause, setCanaryScale, analysis, setHeaderRoute or setMirrorRoute (docs/steps.md).',
      }),
    ),
    iterations: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description: 'A/B and blue/green: analysis ticks before promotion.',
      }),
    ),
    match: Type.Optional(
      Type.Array(Match, { minItems: 1, maxItems: 16, description: 'A/B: requests routed to the canary.' }),
    ),
    mirror: Type.Optional(Type.Boolean()),
    dynamicStableScale: Type.Optional(
      Type.Boolean({
        description:
          "Argo Rollouts' name: where the provider splits traffic by pod counts (kubernetes), the primary scales down as the canary's pods take weight, never below 1 pod.",
      }),
    ),
    mirrorWeight: Type.Optional(Weight('Percent of traffic mirrored.')),
    sessionAffinity: Type.Optional(SessionAffinity),
    primaryReadyThreshold: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 100,
      description: 'Percent of primary pods ready before the primary counts as ready (1 to 100).',
    }),
    canaryReadyThreshold: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 100,
      description: 'Percent of canary pods ready before an analysis tick (1 to 100).',
    }),
    metrics: Type.Optional(NamedList(Metric, { maxItems: 32 })),
    score: Type.Optional(Score),
    webhooks: Type.Optional(NamedList(Webhook, { maxItems: 32 })),
    alerts: Type.Optional(NamedList(Alert, { maxItems: 16 })),
  },
  {
    rules: [
      durationRange('interval', '10s', '24h'),
      durationRange('freezeDeadline', '1m', '720h'),
      {
        rule: "!has(self.freezeDeadline) || self.onFailure == 'freeze'",
        message: 'freezeDeadline needs onFailure: freeze',
        fieldPath: '.freezeDeadline',
      },
      {
        rule: '!has(self.steps) || !(has(self.stepWeight) || has(self.stepWeights) || has(self.maxWeight))',
        message: 'steps cannot be combined with stepWeight, stepWeights or maxWeight',
        fieldPath: '.steps',
      },
      {
        rule: '!(has(self.stepWeight) && has(self.stepWeights))',
        message: 'use stepWeight or stepWeights, not both',
        fieldPath: '.stepWeights',
      },
      {
        rule: '!has(self.stepWeights) || self.stepWeights.all(w, self.stepWeights.exists_one(x, x == w)) && self.stepWeights.isSorted()',
        message: 'stepWeights must be strictly increasing',
        fieldPath: '.stepWeights',
      },
      // The first weight is set before any metric is queried: 100 there would hand every user to an
      // unanalysed revision. Later steps may reach 100 (after at least one analysed tick).
      {
        rule: '!has(self.stepWeights) || self.stepWeights[0] < 100',
        message: 'the first of stepWeights must be below 100 (it is set before any analysis)',
        fieldPath: '.stepWeights',
      },
      {
        rule: '!has(self.stepWeight) || !has(self.maxWeight) || self.stepWeight < 100 || self.maxWeight < 100',
        message:
          'stepWeight 100 with maxWeight 100 sends all traffic to an unanalysed canary: lower one of them',
        fieldPath: '.stepWeight',
      },
      {
        rule: '!has(self.steps) || !self.steps.exists(s, has(s.setWeight)) || self.steps.filter(s, has(s.setWeight))[0].setWeight < 100',
        message: 'the first setWeight of steps must be below 100 (it is set before any analysis)',
        fieldPath: '.steps',
      },
      {
        rule: '!has(self.steps) || self.steps.all(s, !has(s.analysis) || s.analysis.metrics.all(n, has(self.metrics) && self.metrics.exists(m, m.name == n && has(m.stepOnly) && m.stepOnly)))',
        message: 'an analysis step names metrics of analysis.metrics that set stepOnly: true',
        fieldPath: '.steps',
      },
      {
        rule: '!has(self.metrics) || self.metrics.all(m, !has(m.stepOnly) || !m.stepOnly || has(self.steps) && self.steps.exists(s, has(s.analysis) && m.name in s.analysis.metrics))',
        message: 'a metric with stepOnly: true must be named by an analysis step (else it never runs)',
        fieldPath: '.metrics',
      },
      {
        rule: '!has(self.stepWeight) || has(self.maxWeight)',
        message: 'stepWeight needs maxWeight',
        fieldPath: '.maxWeight',
        reason: 'FieldValueRequired',
      },
      {
        rule: '!has(self.match) || has(self.iterations)',
        message: 'match (A/B testing) needs iterations',
        fieldPath: '.iterations',
        reason: 'FieldValueRequired',
      },
      {
        rule: `!has(self.iterations) || !(${weighted})`,
        message: 'iterations (A/B, blue/green) cannot be combined with stepWeight, stepWeights or steps',
        fieldPath: '.iterations',
      },
      {
        rule: `${weighted} || has(self.iterations)`,
        message:
          'analysis needs a strategy: stepWeight+maxWeight, stepWeights or steps (canary), or iterations (A/B, blue/green)',
      },
      {
        rule: '!has(self.mirrorWeight) || (has(self.mirror) && self.mirror)',
        message: 'mirrorWeight needs mirror: true',
        fieldPath: '.mirrorWeight',
      },
      {
        rule: '!has(self.score) || has(self.metrics) && size(self.metrics) > 0',
        message: 'score needs metrics',
        fieldPath: '.score',
      },
      {
        rule: '!has(self.metrics) || self.metrics.all(m, !has(m.group) || has(self.score) && has(self.score.groups) && m.group in self.score.groups)',
        message: "a metric's group must be one of analysis.score.groups",
        fieldPath: '.metrics',
      },
      {
        rule: '!has(self.score) || !has(self.score.groups) || has(self.metrics) && self.metrics.all(m, has(m.group))',
        message: 'with score.groups every metric needs a group',
        fieldPath: '.metrics',
      },
      {
        rule: '!has(self.score) || !has(self.score.groups) || !has(self.metrics) || self.score.groups.all(c, self.metrics.exists(m, has(m.group) && m.group == c))',
        message: 'every group of score.groups needs at least one metric',
        fieldPath: '.score.groups',
      },
      {
        rule: `!has(self.sessionAffinity) || ${weighted}`,
        message: 'sessionAffinity works with weighted steps: stepWeight+maxWeight, stepWeights or steps',
        fieldPath: '.sessionAffinity',
      },
    ],
  },
);

/** Days of a release window (spec.schedule), Monday first. */
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

const HHMM = (what: string) =>
  Type.String({
    maxLength: 5,
    pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$',
    description: `${what}, HH:MM local time (24:00 for end of day).`,
  });

const ReleaseWindow = Obj(
  {
    days: Type.Array(StringEnum(WEEKDAYS), {
      minItems: 1,
      maxItems: 7,
      'x-kubernetes-list-type': 'set',
      description: 'Days of the week this window is open on (Mon..Sun), in timeZone.',
    }),
    start: HHMM('Opening time, inclusive'),
    end: HHMM('Closing time, exclusive'),
  },
  {
    rules: [
      {
        rule: 'self.start < self.end',
        message:
          'start must be before end: a window does not cross midnight; write 22:00-24:00 and 00:00-02:00 of the next day as two windows',
        fieldPath: '.end',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

const Schedule = Obj(
  {
    timeZone: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'IANA time zone of the windows and blackout dates (e.g. Europe/Berlin). Default UTC.',
      }),
    ),
    windows: Type.Array(ReleaseWindow, {
      minItems: 1,
      maxItems: 32,
      description:
        'When a new revision may start its run. Days and hours only; cron syntax is not supported.',
    }),
    blackoutDates: Type.Optional(
      Type.Array(
        Type.String({ maxLength: 10, pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' }),
        {
          maxItems: 366,
          'x-kubernetes-list-type': 'set',
          description: 'Dates (YYYY-MM-DD, in timeZone) on which no window opens.',
        },
      ),
    ),
  },
  {
    description:
      'Release windows (docs/release-windows.md): a new revision detected outside them waits in phase Queued until the next opening; a run already started is not stopped when a window closes. `weir promote --now` overrides.',
  },
);

export const CanarySpec = Obj(
  {
    targetRef: TargetRef,
    autoscalerRef: Type.Optional(AutoscalerRef),
    ingressRef: Type.Optional(IngressRef),
    routeRef: Type.Optional(RouteRef),
    upstreamRef: Type.Optional(UpstreamRef),
    provider: Type.Optional(
      StringEnum(PROVIDERS, {
        description: 'Routing provider; defaults to the controller flag --default-provider.',
      }),
    ),
    service: Service,
    analysis: Analysis,
    progressDeadlineSeconds: Type.Integer({
      minimum: 10,
      maximum: 86400,
      default: 600,
      description:
        'Limit on every wait for something outside the schedule: pods, gates, manual pauses, the primary rollout. Waiting for the next analysis tick or a timed pause does not count.',
    }),
    skipAnalysis: Type.Optional(Type.Boolean({ description: 'Promote without analysis.' })),
    suspend: Type.Optional(Type.Boolean({ description: 'Stop acting on this canary.' })),
    priority: Type.Optional(
      Type.Integer({
        minimum: -1000000,
        maximum: 1000000,
        description:
          'Place in the queue when a concurrency limit holds runs back (docs/concurrency.md): higher starts first; equal priorities start first come, first served. Default 0.',
      }),
    ),
    schedule: Type.Optional(Schedule),
    revertOnDeletion: Type.Optional(
      Type.Boolean({ description: 'On delete, give the Deployment and traffic back as they were.' }),
    ),
  },
  {
    rules: [
      {
        rule: "!has(self.autoscalerRef) || self.targetRef.kind == 'Deployment'",
        message: 'a DaemonSet target has no replicas for an autoscaler to own; remove autoscalerRef',
        fieldPath: '.autoscalerRef',
        reason: 'FieldValueForbidden',
      },
      {
        rule: '!has(self.autoscalerRef) || !has(self.analysis.steps) || !self.analysis.steps.exists(s, has(s.setCanaryScale))',
        message: "setCanaryScale cannot be used with autoscalerRef: the HPA owns the canary's replicas",
        fieldPath: '.analysis.steps',
        reason: 'FieldValueForbidden',
      },
      {
        rule: "!has(self.provider) || !(self.provider in ['nginx', 'skipper']) || has(self.ingressRef)",
        message: 'provider nginx and skipper need ingressRef',
        fieldPath: '.ingressRef',
        reason: 'FieldValueRequired',
      },
      {
        rule: "!has(self.provider) || self.provider != 'apisix' || has(self.routeRef)",
        message: 'provider apisix needs routeRef',
        fieldPath: '.routeRef',
        reason: 'FieldValueRequired',
      },
    ],
  },
);

/** Measurements kept per metric in status.metrics[].history. */
export const METRIC_HISTORY_LENGTH = 10;

const MetricStatus = Obj({
  name: Type.String(),
  value: Type.Optional(Type.Number({ description: "The canary's value; with judge its mean." })),
  primaryValue: Type.Optional(
    Type.Number({ description: "The primary's value, for a metric with compare; with judge its mean." }),
  ),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  pValue: Type.Optional(Type.Number({ description: "judge: the test's p-value." })),
  effectSize: Type.Optional(Type.Number({ description: "judge: the canary's mean over the primary's." })),
  result: StringEnum(METRIC_RESULTS),
  time: Type.String({ format: 'date-time' }),
  message: Type.Optional(Type.String()),
  dryRun: Type.Optional(Type.Boolean({ description: 'Measured only: counts toward nothing.' })),
  history: Type.Optional(
    Type.Array(
      Obj({
        value: Type.Optional(Type.Number()),
        result: StringEnum(METRIC_RESULTS),
        time: Type.String({ format: 'date-time' }),
      }),
      {
        maxItems: METRIC_HISTORY_LENGTH,
        description: `This run's latest measurements of the metric, oldest first, at most ${METRIC_HISTORY_LENGTH}.`,
      },
    ),
  ),
});
export type MetricStatus = Static<typeof MetricStatus>;

const MeasurementCount = Obj(
  {
    name: Type.String(),
    count: Type.Integer({ description: 'Measurements in this run.' }),
    failed: Type.Integer(),
    inconclusive: Type.Integer(),
    consecutiveErrors: Type.Integer({ description: 'Error or NoData results in a row, up to the latest.' }),
  },
  {
    description:
      'Counts of a metric with failureLimit, inconclusiveLimit, consecutiveErrorLimit or count, reset when a run starts or is retried.',
  },
);
export type MeasurementCount = Static<typeof MeasurementCount>;

export const SCORE_RESULTS = ['Pass', 'Marginal', 'Fail', 'Inconclusive'] as const;

const ScoreStatus = Obj(
  {
    value: Type.Optional(Type.Number({ description: '0 to 100; none while Inconclusive.' })),
    result: StringEnum(SCORE_RESULTS),
    message: Type.Optional(Type.String()),
    time: Type.String({ format: 'date-time' }),
  },
  { description: 'The score of the latest analysed tick, with analysis.score.' },
);

/** Most alerts kept in status.pendingAlerts; the oldest are dropped (and logged) past it. */
export const MAX_PENDING_ALERTS = 10;

const PendingAlert = Obj(
  {
    id: Type.String({ description: 'Unique within this Canary.' }),
    kind: Type.String({ description: "What happened, e.g. 'new-revision', 'rolled-back'." }),
    severity: StringEnum(['info', 'warn', 'error'] as const),
    message: Type.String(),
    fields: Obj({
      phase: Type.String(),
      revision: Type.String({ description: 'Images of the canary at the transition.' }),
      weight: Type.Number(),
      failedChecks: Type.Number(),
      threshold: Type.Number(),
    }),
    time: Type.String({ format: 'date-time', description: 'When the transition was recorded.' }),
  },
  {
    description:
      'An alert recorded with its transition and not yet delivered (an outbox): a restarted controller sends it.',
  },
);
export type PendingAlert = Static<typeof PendingAlert>;

export const CanaryStatus = Obj({
  phase: Type.Optional(StringEnum(PHASES)),
  canaryWeight: Type.Optional(Type.Integer()),
  failedChecks: Type.Optional(Type.Integer()),
  iterations: Type.Optional(Type.Integer()),
  stepIndex: Type.Optional(Type.Integer()),
  lastAppliedSpec: Type.Optional(Type.String()),
  lastPromotedSpec: Type.Optional(Type.String()),
  trackedConfigs: Type.Optional(StringMap()),
  lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
  observedGeneration: Type.Optional(Type.Integer()),
  message: Type.Optional(Type.String({ description: '"<Reason>: <detail>" of the latest decision.' })),
  metrics: Type.Optional(Type.Array(MetricStatus)),
  measurements: Type.Optional(Type.Array(MeasurementCount)),
  score: Type.Optional(ScoreStatus),
  conditions: Type.Optional(Type.Array(Condition)),
  lastAnalysisTime: Type.Optional(Type.String({ format: 'date-time', description: 'Last analysis tick.' })),
  analysisStartTime: Type.Optional(
    Type.String({
      format: 'date-time',
      description: "The run's first analysis tick: metrics' initialDelay counts from here.",
    }),
  ),
  waitingSince: Type.Optional(
    Type.String({
      format: 'date-time',
      description:
        'progressDeadlineSeconds counts from here: the last progress, or when the next analysis tick fell due (may lie ahead).',
    }),
  ),
  pauseStartTime: Type.Optional(
    Type.String({ format: 'date-time', description: 'Start of the current pause step.' }),
  ),
  canaryScale: Type.Optional(
    Obj(
      {
        replicas: Type.Optional(Type.Integer()),
        weight: Type.Optional(Type.Integer()),
      },
      { description: 'The setCanaryScale in force during this run (docs/steps.md).' },
    ),
  ),
  stepRoutes: Type.Optional(
    Type.Array(StepRouteStatus, {
      maxItems: 50,
      description:
        'The setHeaderRoute/setMirrorRoute routes in force during this run, in precedence order (docs/steps.md).',
    }),
  ),
  frozenAt: Type.Optional(
    Type.String({
      format: 'date-time',
      description:
        'When the run froze (phase Frozen): the freeze deadline counts from here (analysis.freezeDeadline, else progressDeadlineSeconds).',
    }),
  ),
  queuedAt: Type.Optional(
    Type.String({
      format: 'date-time',
      description:
        'When the waiting run was first queued by a concurrency limit (phase Queued): its place among runs of equal spec.priority.',
    }),
  ),
  handledRequests: Type.Optional(StringMap('User requests (annotation values) already acted on.')),
  promotedImages: Type.Optional(
    Type.Array(Type.String(), { description: 'Images of the promoted revision.' }),
  ),
  lastAppliedGitRevision: Type.Optional(
    Type.String({
      description: 'Git revision (from a GitSync) of lastAppliedSpec: what is running or was rolled back.',
    }),
  ),
  lastPromotedGitRevision: Type.Optional(
    Type.String({ description: 'Git revision (from a GitSync) of lastPromotedSpec.' }),
  ),
  pendingAlerts: Type.Optional(
    Type.Array(PendingAlert, {
      maxItems: MAX_PENDING_ALERTS,
      description:
        'Alerts of recorded transitions not yet delivered; removed once sent (see docs/alerts.md).',
    }),
  ),
});

export type CanarySpec = Static<typeof CanarySpec>;
export type CanaryStatus = Static<typeof CanaryStatus>;
export type Analysis = Static<typeof Analysis>;
export type MetricCheck = Static<typeof Metric>;
export type Step = Static<typeof Step>;
export type CanaryScale = Static<typeof CanaryScale>;
export type PrimaryComparison = Static<typeof PrimaryComparison>;
export type MannWhitneyJudge = Static<typeof MannWhitney>;
export type AnalysisScore = Static<typeof Score>;
export type ScoreStatus = Static<typeof ScoreStatus>;
export type Webhook = Static<typeof Webhook>;
