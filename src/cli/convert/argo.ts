// Argo Rollouts -> Weir. A Rollout becomes the Deployment it describes (or, with workloadRef, the
// Deployment it already points at) plus a Canary with `steps`; the metrics of the AnalysisTemplates it
// references (prometheus, web, datadog, newrelic, cloudwatch, graphite: metric-providers.ts) become
// MetricTemplates, with successCondition/failureCondition
// turned into a thresholdRange and `{{args.X}}` into `{{ variables.X }}`. Background analysis becomes
// Canary metrics measured at every tick; an analysis step becomes a Weir analysis step naming its
// metrics, which carry stepOnly (docs/steps.md). setCanaryScale maps one to one, setHeaderRoute and
// setMirrorRoute too (argo-routes.ts).
import { API_VERSION } from '../../api/kinds.ts';
import { parseDuration } from '../../vocab/duration.ts';
import { managedRoutesNotes, ROUTE_STEPS, routeStep } from './argo-routes.ts';
import { fromArgo } from './metric-providers.ts';
import { arr, carryMetadata, compact, dnsName, isObject, obj, sourceOf, type Notes } from './notes.ts';

type Json = Record<string, unknown>;

export const ARGO_API = 'argoproj.io/v1alpha1';

interface TemplateRef {
  templateName: string;
  clusterScope?: boolean;
  /** Where it was referenced, for notes. */
  at: string;
  args: Json[];
  /** The Weir analysis step it feeds (an Argo analysis step), whose metric names are filled in. */
  step?: { metrics: string[] };
}

/** The threshold an Argo condition over `result` expresses, when it is a plain comparison. */
export function conditionRange(
  expr: string,
  kind: 'success' | 'failure',
): { min?: number; max?: number } | undefined {
  // A boolean result (a web provider's `{$.healthy}`) is 1 or 0 in Weir.
  const bool = /^\s*result\s*==\s*(true|false)\s*$/.exec(expr)?.[1];
  if (bool) return (bool === 'true') === (kind === 'success') ? { min: 1 } : { max: 0 };
  const range: { min?: number; max?: number } = {};
  for (const part of expr.split('&&').map((p) =>
    p
      .trim()
      .replace(/^\((.*)\)$/, '$1')
      .trim(),
  )) {
    const fwd = /^result(?:\[0\])?\s*(>=|>|<=|<)\s*(-?[0-9.]+(?:e-?[0-9]+)?)$/.exec(part);
    const rev = /^(-?[0-9.]+(?:e-?[0-9]+)?)\s*(>=|>|<=|<)\s*result(?:\[0\])?$/.exec(part);
    if (!fwd && !rev) return undefined;
    const op = fwd
      ? fwd[1]!
      : ({ '>=': '<=', '>': '<', '<=': '>=', '<': '>' } as Record<string, string>)[rev![2]!]!;
    const n = Number(fwd ? fwd[2] : rev![1]);
    const lower = op === '>=' || op === '>';
    // success "result >= n" means min n; failure "result >= n" means values must stay below: max n.
    if (lower === (kind === 'success')) range.min = n;
    else range.max = n;
  }
  return range.min === undefined && range.max === undefined ? undefined : range;
}

function durationOf(v: unknown): string | undefined {
  if (typeof v === 'number') return `${v}s`;
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return `${v}s`;
  if (typeof v === 'string' && /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(v)) return v;
  return undefined;
}

const seconds = (d: string): number => parseDuration(d) / 1000;

const SCHEDULE_AND_LIMITS = ['count', 'initialDelay', 'inconclusiveLimit', 'consecutiveErrorLimit'];

/**
 * An Argo metric's count and initialDelay, which Weir's metrics have as they are, and its limits: an
 * inconclusiveLimit or consecutiveErrorLimit makes the metric judged by its own limits, with
 * Argo's failureLimit (default 0) beside them, instead of by analysis.threshold.
 */
function scheduleAndLimits(m: Json, src: string, at: string, notes: Notes): Json {
  const out: Json = {};
  const integer = (field: string): number | undefined => {
    const v = m[field];
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n)) return n;
    notes.add(src, `${at}.${field}`, `${JSON.stringify(v)} is not a number Weir can take: set it by hand`);
    return undefined;
  };
  const count = integer('count');
  if (count !== undefined) out.count = count;
  if (m.initialDelay !== undefined) {
    const d = durationOf(m.initialDelay);
    if (d) out.initialDelay = d;
    else notes.add(src, `${at}.initialDelay`, `${JSON.stringify(m.initialDelay)} is not a duration`);
  }
  const inconclusive = integer('inconclusiveLimit');
  const errors = integer('consecutiveErrorLimit');
  if (inconclusive === undefined && errors === undefined) return out;
  return compact({
    ...out,
    failureLimit: integer('failureLimit') ?? 0,
    inconclusiveLimit: inconclusive,
    consecutiveErrorLimit: errors,
  });
}

/** Converts every Rollout among `docs`, using the (Cluster)AnalysisTemplates among them. */
export function convertRollout(rollout: Json, docs: Json[], notes: Notes): Json[] {
  const src = sourceOf(rollout);
  const meta = obj(rollout.metadata);
  const name = String(meta.name);
  const spec = obj(rollout.spec);
  notes.rest(
    src,
    spec,
    [
      'replicas',
      'selector',
      'template',
      'workloadRef',
      'minReadySeconds',
      'revisionHistoryLimit',
      'progressDeadlineSeconds',
      'strategy',
    ],
    'spec',
  );
  const out: Json[] = [];
  let target = name;
  const template = obj(spec.template);
  if (isObject(spec.workloadRef)) {
    const ref = spec.workloadRef;
    if (ref.kind !== 'Deployment') {
      notes.add(
        src,
        'spec.workloadRef',
        `${String(ref.kind)} workloads are not supported; Rollout not converted`,
      );
      return [];
    }
    target = String(ref.name);
    notes.rest(src, ref, ['apiVersion', 'kind', 'name'], 'spec.workloadRef');
    notes.add(
      src,
      'spec.workloadRef',
      `the Canary targets the existing Deployment ${target} (no Deployment is generated)`,
    );
  } else {
    out.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: carryMetadata(rollout.metadata),
      spec: compact({
        replicas: spec.replicas,
        selector: spec.selector,
        template: spec.template,
        minReadySeconds: spec.minReadySeconds,
        revisionHistoryLimit: spec.revisionHistoryLimit,
      }),
    });
  }
  const strategy = obj(spec.strategy);
  notes.rest(src, strategy, ['canary', 'blueGreen'], 'spec.strategy');
  const c: Json = { targetRef: { kind: 'Deployment', name: target } };
  const analysis: Json = {};
  const refs: TemplateRef[] = [];
  if (isObject(strategy.canary)) canaryStrategy(strategy.canary, c, analysis, refs, src, notes);
  else if (isObject(strategy.blueGreen)) blueGreenStrategy(strategy.blueGreen, c, analysis, refs, src, notes);
  else notes.add(src, 'spec.strategy', 'neither canary nor blueGreen; a single 100% step is used');
  if (!analysis.steps && !analysis.iterations) analysis.steps = [{ setWeight: 100 }];
  c.service = servicePort(rollout, template, docs, src, notes);
  const ns = meta.namespace;
  const metrics = metricsOf(refs, docs, ns, analysis, src, out, notes);
  if (metrics.length) analysis.metrics = metrics;
  dropEmptyAnalysisSteps(analysis, refs, src, notes);
  c.analysis = analysis;
  if (typeof spec.progressDeadlineSeconds === 'number')
    c.progressDeadlineSeconds = Math.min(86400, Math.max(10, spec.progressDeadlineSeconds));
  out.push({ apiVersion: API_VERSION, kind: 'Canary', metadata: carryMetadata(rollout.metadata), spec: c });
  return out;
}

function canaryStrategy(
  s: Json,
  c: Json,
  analysis: Json,
  refs: TemplateRef[],
  src: string,
  notes: Notes,
): void {
  const path = 'spec.strategy.canary';
  notes.rest(
    src,
    s,
    ['steps', 'trafficRouting', 'analysis', 'canaryService', 'stableService', 'dynamicStableScale'],
    path,
  );
  for (const key of ['canaryService', 'stableService'])
    if (s[key])
      notes.add(
        src,
        `${path}.${key}`,
        `Weir creates its own Services <name>, <name>-primary and <name>-canary; ${String(s[key])} is not used`,
      );
  const provider = routing(obj(s.trafficRouting), c, src, notes);
  if (provider) c.provider = provider;
  stableScale(s, c, analysis, src, notes);
  const steps: Json[] = [];
  arr(s.steps).forEach((raw, i) => {
    const step = obj(raw);
    const at = `${path}.steps[${i}]`;
    if (step.setWeight !== undefined) steps.push({ setWeight: Number(step.setWeight) });
    else if (isObject(step.pause)) {
      if (step.pause.duration === undefined) steps.push({ pause: {} });
      else {
        const d = durationOf(step.pause.duration);
        if (d) steps.push({ pause: { duration: d } });
        else
          notes.add(
            src,
            `${at}.pause.duration`,
            `${String(step.pause.duration)} is not a duration; step left out`,
          );
      }
    } else if (isObject(step.analysis)) {
      const weirStep = { metrics: [] as string[] };
      steps.push({ analysis: weirStep });
      // Filled by metricsOf; an empty one (no template converted) is left out with a note there.
      if (!arr(step.analysis.templates).length)
        notes.add(src, at, 'analysis step without templates; left out');
      notes.rest(src, step.analysis, ['templates', 'args'], `${at}.analysis`);
      for (const t of arr(step.analysis.templates))
        refs.push({
          ...(obj(t) as { templateName: string }),
          at,
          args: arr(step.analysis.args).map(obj),
          step: weirStep,
        });
    } else if (isObject(step.setCanaryScale)) {
      const scale = canaryScale(step.setCanaryScale, c, `${at}.setCanaryScale`, src, notes);
      if (scale) steps.push({ setCanaryScale: scale });
    } else if (ROUTE_STEPS.some((k) => isObject(step[k]))) {
      const kind = ROUTE_STEPS.find((k) => isObject(step[k]))!;
      const converted = routeStep(kind, obj(step[kind]), c, `${at}.${kind}`, src, notes);
      if (converted) steps.push(converted);
    } else notes.add(src, at, `${Object.keys(step).join(', ')} step is not supported; left out`);
  });
  if (steps.length) analysis.steps = steps;
  if (isObject(s.trafficRouting) && s.trafficRouting.managedRoutes !== undefined)
    managedRoutesNotes(
      s.trafficRouting.managedRoutes,
      steps,
      `${path}.trafficRouting.managedRoutes`,
      src,
      notes,
    );
  if (isObject(s.analysis)) {
    notes.rest(src, s.analysis, ['templates', 'args'], `${path}.analysis`);
    for (const t of arr(s.analysis.templates))
      refs.push({
        ...(obj(t) as { templateName: string }),
        at: `${path}.analysis`,
        args: arr(s.analysis.args).map(obj),
      });
  }
}

/**
 * Argo's setCanaryScale as Weir's (docs/steps.md). Argo accepts it only with trafficRouting, and
 * Weir's replica-ratio canary refuses it too (the canary's size is its weight there).
 */
function canaryScale(scale: Json, c: Json, at: string, src: string, notes: Notes): Json | undefined {
  if (c.provider === 'kubernetes') {
    notes.add(src, at, 'setCanaryScale needs trafficRouting (as in Argo Rollouts); step left out');
    return undefined;
  }
  if (scale.matchTrafficWeight === true) return { matchTrafficWeight: true };
  const replicas = Number(scale.replicas);
  if (scale.replicas !== undefined && Number.isInteger(replicas) && replicas >= 1) return { replicas };
  const weight = Number(scale.weight);
  if (scale.weight !== undefined && Number.isInteger(weight) && weight >= 1 && weight <= 100)
    return { weight };
  notes.add(
    src,
    at,
    `${JSON.stringify(scale)}: Weir keeps at least 1 canary pod during a run (replicas 1.., weight 1..100); step left out`,
  );
  return undefined;
}

/**
 * Analysis steps none of whose templates' metrics were converted (a template not in the input, an
 * unsupported provider): left out, naming the step, as a step with no metric would pass unmeasured.
 */
function dropEmptyAnalysisSteps(analysis: Json, refs: TemplateRef[], src: string, notes: Notes): void {
  const steps = arr(analysis.steps).map(obj);
  const empty = (s: Json) => isObject(s.analysis) && !arr(s.analysis.metrics).length;
  if (!steps.some(empty)) return;
  for (const ref of refs)
    if (ref.step && !ref.step.metrics.length)
      notes.add(src, ref.at, 'analysis step: none of its metrics was converted; step left out');
  const kept = steps.filter((s) => !empty(s));
  analysis.steps = kept.length ? kept : [{ setWeight: 100 }];
}

function blueGreenStrategy(
  s: Json,
  c: Json,
  analysis: Json,
  refs: TemplateRef[],
  src: string,
  notes: Notes,
): void {
  const path = 'spec.strategy.blueGreen';
  notes.rest(
    src,
    s,
    [
      'activeService',
      'previewService',
      'autoPromotionEnabled',
      'prePromotionAnalysis',
      'postPromotionAnalysis',
    ],
    path,
  );
  c.provider = 'kubernetes';
  analysis.iterations = 1;
  notes.add(src, path, 'blue-green: provider kubernetes with iterations: 1 (raise it for a longer analysis)');
  if (s.activeService)
    notes.add(
      src,
      `${path}.activeService`,
      `Weir's apex Service <name> replaces ${String(s.activeService)}; the canary is reachable as <name>-canary`,
    );
  if (s.previewService)
    notes.add(
      src,
      `${path}.previewService`,
      `Weir's <name>-canary Service replaces ${String(s.previewService)}`,
    );
  if (s.autoPromotionEnabled === false)
    notes.add(
      src,
      `${path}.autoPromotionEnabled`,
      'add a confirm-promotion webhook to wait for `weir promote`',
    );
  for (const key of ['prePromotionAnalysis', 'postPromotionAnalysis'])
    if (isObject(s[key]))
      for (const t of arr(obj(s[key]).templates))
        refs.push({
          ...(obj(t) as { templateName: string }),
          at: `${path}.${key}`,
          args: arr(obj(s[key]).args).map(obj),
        });
}

/**
 * Argo's basic canary (no trafficRouting) keeps the stable ReplicaSet at `replicas - canary` pods:
 * that is Weir's dynamicStableScale on provider kubernetes. With a traffic router, Argo's own
 * dynamicStableScale has no counterpart on Weir's request-splitting providers.
 */
function stableScale(s: Json, c: Json, analysis: Json, src: string, notes: Notes): void {
  if (c.provider === 'kubernetes') analysis.dynamicStableScale = true;
  else if (s.dynamicStableScale)
    notes.add(
      src,
      'spec.strategy.canary.dynamicStableScale',
      `${c.provider ? `provider ${String(c.provider)}` : 'a traffic router'} splits requests, not pods: the primary keeps its replicas; left out`,
    );
}

function routing(r: Json, c: Json, src: string, notes: Notes): string | undefined {
  const path = 'spec.strategy.canary.trafficRouting';
  if (!Object.keys(r).length) {
    notes.add(
      src,
      path,
      'no trafficRouting: provider kubernetes, which splits by pod counts as Argo’s basic canary does (the canary runs ceil(weight × replicas / 100) pods, the primary the rest: dynamicStableScale); the split is approximate',
    );
    return 'kubernetes';
  }
  notes.rest(src, r, ['nginx', 'istio', 'smi', 'traefik', 'plugins', 'managedRoutes'], path);
  if (isObject(r.nginx)) {
    c.ingressRef = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: r.nginx.stableIngress };
    notes.rest(src, r.nginx, ['stableIngress'], `${path}.nginx`);
    return 'nginx';
  }
  if (isObject(r.istio)) {
    notes.add(
      src,
      `${path}.istio`,
      'Weir generates the VirtualService <name> and its DestinationRules; the referenced ones are not used',
    );
    return 'istio';
  }
  if (isObject(r.smi)) return 'smi';
  if (isObject(r.traefik)) {
    notes.add(src, `${path}.traefik`, 'Weir generates the TraefikService <name>');
    return 'traefik';
  }
  const gw = obj(obj(r.plugins)['argoproj-labs/gatewayAPI']);
  if (Object.keys(gw).length) {
    notes.add(
      src,
      `${path}.plugins`,
      'Weir generates the HTTPRoute <name>: set spec.service.gatewayRefs to its Gateway',
    );
    return 'gatewayapi';
  }
  return undefined;
}

/** The Service port: from an input Service named like the stable/active one, else the first container port. */
function servicePort(rollout: Json, template: Json, docs: Json[], src: string, notes: Notes): Json {
  const s = obj(obj(rollout.spec).strategy);
  const svcName = obj(s.canary).stableService ?? obj(s.blueGreen).activeService;
  const svc = docs.find((d) => d.kind === 'Service' && obj(d.metadata).name === svcName);
  const port = obj(arr(obj(svc?.spec).ports)[0]);
  if (typeof port.port === 'number') return compact({ port: port.port, targetPort: port.targetPort });
  const cport = obj(arr(obj(arr(obj(template.spec).containers)[0]).ports)[0]);
  if (typeof cport.containerPort === 'number') return { port: cport.containerPort };
  notes.add(
    src,
    'spec.template',
    'no Service or containerPort to take a port from: spec.service.port set to 80, check it',
  );
  return { port: 80 };
}

/**
 * A metric of an analysis step: stepOnly, judged by its own failureLimit (Argo's default 0) rather
 * than the run's threshold. Returns its name: the same metric at two steps is one Weir metric;
 * a background metric of the same name leaves it `<name>-step`.
 */
function stepMetric(metric: Json, argo: Json, metrics: Json[]): string {
  const same = metrics.find(
    (x) => x.stepOnly && x.name === metric.name && obj(x.templateRef).name === obj(metric.templateRef).name,
  );
  if (same) return String(same.name);
  const taken = metrics.some((x) => x.name === metric.name);
  const name = taken ? dnsName([String(metric.name), 'step']) : String(metric.name);
  const limit = Number(argo.failureLimit ?? 0);
  metrics.push({
    ...metric,
    name,
    stepOnly: true,
    failureLimit: Number.isInteger(limit) && limit >= 0 ? Math.min(limit, 1000) : 0,
  });
  return name;
}

function metricsOf(
  refs: TemplateRef[],
  docs: Json[],
  ns: unknown,
  analysis: Json,
  src: string,
  out: Json[],
  notes: Notes,
): Json[] {
  const metrics: Json[] = [];
  const thresholds: number[] = [];
  const intervals: string[] = [];
  const seen = new Set<string>();
  // Background metrics first: a step metric of the same name then becomes `<name>-step`.
  for (const ref of [...refs.filter((r) => !r.step), ...refs.filter((r) => r.step)]) {
    const kind = ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
    const tpl = docs.find((d) => d.kind === kind && obj(d.metadata).name === ref.templateName);
    if (!tpl) {
      notes.add(
        src,
        ref.at,
        `${kind} ${ref.templateName} is not in the input; its metrics are not converted`,
      );
      continue;
    }
    const key = `${ref.step ? 'step' : 'run'}/${ref.templateName}`;
    if (!ref.step && seen.has(key)) continue;
    seen.add(key);
    const tsrc = sourceOf(tpl);
    const tspec = obj(tpl.spec);
    notes.rest(tsrc, tspec, ['metrics', 'args'], 'spec');
    const args = new Map<string, unknown>();
    for (const a of arr(tspec.args).map(obj)) if (a.value !== undefined) args.set(String(a.name), a.value);
    for (const a of ref.args) {
      if (a.value !== undefined) args.set(String(a.name), a.value);
      else if (a.valueFrom)
        notes.add(
          src,
          ref.at,
          `arg ${String(a.name)} uses valueFrom, which Weir cannot evaluate: set templateVariables.${String(a.name)}`,
        );
    }
    arr(tspec.metrics).forEach((raw, i) => {
      const m = obj(raw);
      const at = `spec.metrics[${i}]`;
      const converted = fromArgo(m.provider, tsrc, at, notes);
      if (!converted) return;
      notes.rest(
        tsrc,
        m,
        [
          'name',
          'provider',
          'successCondition',
          'failureCondition',
          'interval',
          'failureLimit',
          ...SCHEDULE_AND_LIMITS,
        ],
        at,
      );
      const range = {
        ...(typeof m.failureCondition === 'string' ? conditionRange(m.failureCondition, 'failure') : {}),
        ...(typeof m.successCondition === 'string' ? conditionRange(m.successCondition, 'success') : {}),
      };
      if (range.min === undefined && range.max === undefined) {
        notes.add(
          tsrc,
          at,
          `conditions ${JSON.stringify(m.successCondition ?? m.failureCondition)} are not a plain comparison of result; metric ${String(m.name)} not converted`,
        );
        return;
      }
      const tname = dnsName([ref.templateName, String(m.name)], 253);
      const variables = new Set<string>();
      const query = converted.query.replace(/\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}/g, (_, v: string) => {
        variables.add(v);
        return `{{ variables.${v} }}`;
      });
      for (const other of query.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g))
        if (!/^variables\./.test(other[1]!))
          notes.add(tsrc, converted.queryField, `{{ ${other[1]} }} has no Weir equivalent: edit the query`);
      const already = out.some((o) => o.kind === 'MetricTemplate' && obj(o.metadata).name === tname);
      if (!already)
        out.push({
          apiVersion: API_VERSION,
          kind: 'MetricTemplate',
          metadata: compact({ name: tname, namespace: obj(tpl.metadata).namespace ?? ns }),
          spec: {
            provider: converted.provider,
            query,
          },
        });
      const templateVariables: Record<string, string> = {};
      for (const v of variables) {
        if (args.has(v)) templateVariables[v] = String(args.get(v));
        else
          notes.add(
            src,
            ref.at,
            `arg ${v} of ${ref.templateName} has no value: set templateVariables.${v} of metric ${String(m.name)}`,
          );
      }
      const carried = scheduleAndLimits(m, tsrc, at, notes);
      const metric = compact({
        name: dnsName([String(m.name)]),
        thresholdRange: range,
        templateRef: { name: tname },
        templateVariables: Object.keys(templateVariables).length ? templateVariables : undefined,
        ...carried,
      });
      if (ref.step) {
        ref.step.metrics.push(stepMetric(metric, m, metrics));
        return;
      }
      metrics.push(metric);
      const limit = Number(m.failureLimit ?? 0);
      // A metric with its own limits is judged by them, not by analysis.threshold.
      if (Number.isFinite(limit) && carried.failureLimit === undefined) thresholds.push(limit + 1);
      const iv = durationOf(m.interval);
      if (iv) intervals.push(iv);
    });
  }
  if (thresholds.length) {
    analysis.threshold = Math.max(1, Math.min(...thresholds));
    if (new Set(thresholds).size > 1)
      notes.add(
        src,
        '',
        `metrics have different failureLimits (${[...new Set(thresholds)].map((t) => t - 1).join(', ')}); the Canary's one analysis.threshold is ${String(analysis.threshold)}`,
      );
  }
  if (intervals.length) {
    const shortest = intervals.sort((a, b) => seconds(a) - seconds(b))[0]!;
    analysis.interval = seconds(shortest) < 10 ? '10s' : shortest;
  }
  return metrics;
}
