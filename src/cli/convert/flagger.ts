// Flagger flagger.app/v1beta1 -> weir.dev/v1alpha1. Weir's field names follow Flagger's, so most of
// a Canary, MetricTemplate or AlertProvider is carried as is; what differs is mapped here (provider
// names with versions, the deprecated metric `threshold` and inline `query`, header lists, alert
// provider types) and everything else is noted. Fields carried as they are follow Weir's schema
// (a field the Canary schema has is copied), so a provider's field added there converts too.
import { PROVIDERS as WEIR_PROVIDERS, TARGET_KINDS, CanarySpec } from '../../api/canary.ts';
import { API_VERSION } from '../../api/kinds.ts';
import { parseDuration } from '../../vocab/duration.ts';
import { fromFlagger } from './metric-providers.ts';
import { arr, carryMetadata, compact, dnsName, isObject, obj, sourceOf, type Notes } from './notes.ts';
import { daemonSetNotes } from './workload-notes.ts';

type Json = Record<string, unknown>;

export const FLAGGER_API = 'flagger.app/v1beta1';

/** Flagger's provider names (its -mesh-provider values) that differ from Weir's. */
const RENAMED: Record<string, string> = {
  'gatewayapi:v1': 'gatewayapi',
  'gatewayapi:v1beta1': 'gatewayapi',
  'smi:v1alpha1': 'smi',
  'smi:v1alpha2': 'smi',
  'smi:v1alpha3': 'smi',
  osm: 'smi',
};

/** Weir's name for a Flagger provider, or undefined when Weir's schema has no such provider. */
export function weirProvider(flagger: string): string | undefined {
  const name = RENAMED[flagger] ?? flagger;
  return (WEIR_PROVIDERS as readonly string[]).includes(name) ? name : undefined;
}

const BUILTIN = ['request-success-rate', 'request-duration'];

const schemaKeys = (o: unknown): string[] => Object.keys(obj(obj(o).properties));
const SPEC = obj(CanarySpec as unknown);
const SERVICE_FIELDS = schemaKeys(obj(SPEC.properties).service);
/** Analysis fields copied as they are (the others are converted below). */
const ANALYSIS_COPIED = schemaKeys(obj(SPEC.properties).analysis).filter(
  (k) => !['interval', 'metrics', 'webhooks', 'alerts', 'match', 'steps'].includes(k),
);
/** References to provider objects (apisix routeRef, gloo upstreamRef…), copied as they are. */
const SPEC_REFS = schemaKeys(SPEC).filter(
  (k) => k.endsWith('Ref') && !['targetRef', 'autoscalerRef', 'ingressRef'].includes(k),
);

export interface FlaggerOptions {
  /**
   * The provider Flagger ran with (its -mesh-provider flag, Helm value meshProvider), written into
   * Canaries that do not name one.
   */
  provider?: string;
}

const MIN_INTERVAL_S = 10;

const seconds = (d: string): number => parseDuration(d) / 1000;

/** Converts one Flagger object; returns the Weir objects it becomes (none when it cannot be converted). */
export function convertFlagger(input: Json, notes: Notes, opts: FlaggerOptions = {}): Json[] {
  switch (input.kind) {
    case 'Canary':
      return canary(input, notes, opts);
    case 'MetricTemplate':
      return metricTemplate(input, notes);
    case 'AlertProvider':
      return alertProvider(input, notes);
    default:
      notes.add(
        sourceOf(input),
        '',
        `flagger.app kind ${String(input.kind)} has no Weir equivalent; left out`,
      );
      return [];
  }
}

function canary(input: Json, notes: Notes, opts: FlaggerOptions): Json[] {
  const src = sourceOf(input);
  const spec = obj(input.spec);
  const name = String(obj(input.metadata).name);
  const out: Json[] = [];
  notes.rest(
    src,
    spec,
    [
      'provider',
      'metricsServer',
      'targetRef',
      'autoscalerRef',
      'ingressRef',
      ...SPEC_REFS,
      'service',
      'analysis',
      'canaryAnalysis',
      'skipAnalysis',
      'revertOnDeletion',
      'suspend',
      'progressDeadlineSeconds',
    ],
    'spec',
  );
  const target = obj(spec.targetRef);
  if (!(TARGET_KINDS as readonly unknown[]).includes(target.kind)) {
    notes.add(
      src,
      'spec.targetRef.kind',
      `${String(target.kind)} targets are not supported (${TARGET_KINDS.join(' or ')}); Canary not converted`,
    );
    return [];
  }
  const w: Json = { targetRef: { kind: target.kind, name: target.name } };
  providerOf(spec, src, opts, notes, w);
  if (spec.metricsServer)
    notes.add(
      src,
      'spec.metricsServer',
      'per-Canary Prometheus is not supported: set the controller flag --prometheus-address or use a MetricTemplate address',
    );
  if (isObject(spec.autoscalerRef)) {
    const a = spec.autoscalerRef;
    if (target.kind === 'DaemonSet')
      notes.add(src, 'spec.autoscalerRef', 'a DaemonSet has no replicas for an autoscaler; left out');
    else if (a.kind === 'HorizontalPodAutoscaler') {
      w.autoscalerRef = compact({
        kind: a.kind,
        name: a.name,
        primaryScalerReplicas: a.primaryScalerReplicas,
      });
      notes.rest(src, a, ['apiVersion', 'kind', 'name', 'primaryScalerReplicas'], 'spec.autoscalerRef');
    } else
      notes.add(
        src,
        'spec.autoscalerRef',
        `${String(a.kind)} is not supported (HorizontalPodAutoscaler only); left out`,
      );
  }
  if (isObject(spec.ingressRef)) w.ingressRef = { kind: 'Ingress', name: spec.ingressRef.name };
  for (const key of SPEC_REFS) if (isObject(spec[key])) w[key] = spec[key];
  w.service = service(obj(spec.service), src, notes);
  const analysisKey = spec.analysis ? 'analysis' : 'canaryAnalysis';
  if (!spec.analysis && spec.canaryAnalysis)
    notes.add(src, 'spec.canaryAnalysis', 'renamed to spec.analysis');
  const { analysis, templates } = analysisOf(obj(spec[analysisKey]), `spec.${analysisKey}`, input, notes);
  w.analysis = analysis;
  for (const key of ['skipAnalysis', 'revertOnDeletion', 'suspend'] as const)
    if (spec[key] !== undefined) w[key] = spec[key];
  if (spec.progressDeadlineSeconds !== undefined) {
    const pds = Math.round(Number(spec.progressDeadlineSeconds));
    w.progressDeadlineSeconds = Math.min(86400, Math.max(10, pds));
    if (w.progressDeadlineSeconds !== pds)
      notes.add(
        src,
        'spec.progressDeadlineSeconds',
        `${pds} is outside 10..86400; set to ${String(w.progressDeadlineSeconds)}`,
      );
  }
  if (target.kind === 'DaemonSet') daemonSetNotes(w, src, notes);
  out.push(...templates);
  out.push({
    apiVersion: API_VERSION,
    kind: 'Canary',
    metadata: carryMetadata(input.metadata, name),
    spec: w,
  });
  return out;
}

/** spec.provider: Flagger's name mapped to Weir's, else the --provider given to `weir convert`. */
function providerOf(spec: Json, src: string, opts: FlaggerOptions, notes: Notes, w: Json): void {
  if (spec.provider === undefined) {
    const p = opts.provider && weirProvider(opts.provider);
    if (p) w.provider = p;
    else
      notes.add(
        src,
        'spec.provider',
        "not set: Flagger took it from its -mesh-provider flag, Weir from the controller's --default-provider; pass weir convert --provider to write it",
      );
    return;
  }
  const p = weirProvider(String(spec.provider));
  if (p) w.provider = p;
  else
    notes.add(
      src,
      'spec.provider',
      `${String(spec.provider)} is not supported by Weir; the controller's --default-provider applies`,
    );
  if (spec.provider === 'osm') notes.add(src, 'spec.provider', 'osm mapped to smi (SMI TrafficSplit)');
}

function service(s: Json, src: string, notes: Notes): Json {
  notes.rest(src, s, SERVICE_FIELDS, 'spec.service');
  const out: Json = {};
  for (const k of SERVICE_FIELDS) if (s[k] !== undefined) out[k] = s[k];
  if (typeof out.port === 'number') out.port = Math.round(out.port);
  return out;
}

function analysisOf(a: Json, path: string, input: Json, notes: Notes): { analysis: Json; templates: Json[] } {
  const src = sourceOf(input);
  notes.rest(src, a, ['interval', 'metrics', 'webhooks', 'alerts', 'match', ...ANALYSIS_COPIED], path);
  const out: Json = {};
  if (typeof a.interval === 'string') {
    out.interval = a.interval;
    if (seconds(a.interval) < MIN_INTERVAL_S) {
      out.interval = `${MIN_INTERVAL_S}s`;
      notes.add(src, `${path}.interval`, `${a.interval} is below Weir's minimum; set to ${MIN_INTERVAL_S}s`);
    }
  }
  for (const k of ANALYSIS_COPIED) if (a[k] !== undefined) out[k] = a[k];
  if (out.stepWeight !== undefined && out.maxWeight === undefined) {
    out.maxWeight = 100;
    notes.add(
      src,
      `${path}.maxWeight`,
      'not set: Flagger’s default 100 written explicitly (Weir requires it with stepWeight)',
    );
  }
  if (a.match !== undefined)
    out.match = arr(a.match).map((m, i) => {
      notes.rest(src, m, ['headers', 'queryParams', 'sourceLabels'], `${path}.match[${i}]`);
      return compact({
        headers: obj(m).headers,
        queryParams: obj(m).queryParams,
        sourceLabels: obj(m).sourceLabels,
      });
    });
  const templates: Json[] = [];
  if (a.metrics !== undefined)
    out.metrics = arr(a.metrics).flatMap((m, i) =>
      metric(obj(m), `${path}.metrics[${i}]`, input, templates, notes),
    );
  if (a.webhooks !== undefined)
    out.webhooks = arr(a.webhooks).map((h, i) => {
      const hook = obj(h);
      notes.rest(
        src,
        hook,
        ['name', 'type', 'url', 'timeout', 'retries', 'metadata', 'muteAlert'],
        `${path}.webhooks[${i}]`,
      );
      return compact({
        name: hook.name,
        type: hook.type || undefined,
        url: hook.url,
        timeout: hook.timeout,
        retries: hook.retries,
        metadata: hook.metadata,
        muteAlert: hook.muteAlert,
      });
    });
  if (a.alerts !== undefined)
    out.alerts = arr(a.alerts).map((x, i) => {
      const al = obj(x);
      notes.rest(src, al, ['name', 'severity', 'providerRef'], `${path}.alerts[${i}]`);
      return compact({ name: al.name, severity: al.severity || undefined, providerRef: al.providerRef });
    });
  return { analysis: out, templates };
}

function metric(m: Json, path: string, input: Json, templates: Json[], notes: Notes): Json[] {
  const src = sourceOf(input);
  notes.rest(
    src,
    m,
    ['name', 'interval', 'threshold', 'thresholdRange', 'query', 'templateRef', 'templateVariables'],
    path,
  );
  const name = String(m.name);
  const out: Json = { name };
  if (m.interval !== undefined) out.interval = m.interval;
  let range = isObject(m.thresholdRange) ? { ...m.thresholdRange } : undefined;
  if (typeof m.threshold === 'number' && !range) {
    // Flagger's deprecated `threshold`: a minimum for the success rate, a maximum for everything else.
    range = name === 'request-success-rate' ? { min: m.threshold } : { max: m.threshold };
    notes.add(
      src,
      `${path}.threshold`,
      `deprecated; written as thresholdRange.${'min' in range ? 'min' : 'max'}`,
    );
  }
  if (!range) {
    notes.add(src, path, `metric ${name} has no thresholdRange; left out`);
    return [];
  }
  out.thresholdRange = range;
  if (isObject(m.templateRef))
    out.templateRef = compact({ name: m.templateRef.name, namespace: m.templateRef.namespace });
  if (isObject(m.templateVariables)) out.templateVariables = m.templateVariables;
  if (typeof m.query === 'string' && !out.templateRef) {
    // An inline query (Flagger's older form) becomes a MetricTemplate of its own.
    const canaryName = String(obj(input.metadata).name);
    const tname = dnsName([canaryName, name], 253);
    const ns = obj(input.metadata).namespace;
    const address = obj(input.spec).metricsServer;
    templates.push({
      apiVersion: API_VERSION,
      kind: 'MetricTemplate',
      metadata: compact({ name: tname, namespace: ns }),
      spec: { provider: compact({ type: 'prometheus', address }), query: m.query },
    });
    out.templateRef = { name: tname };
    notes.add(src, `${path}.query`, `inline query moved to MetricTemplate ${tname}`);
  }
  if (!BUILTIN.includes(name) && !out.templateRef) {
    notes.add(src, path, `metric ${name} is neither built in nor has a templateRef or query; left out`);
    return [];
  }
  return [out];
}

const TEMPLATE_VARS = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WEIR_VARS = /^(name|namespace|target|service|interval|variables\.[A-Za-z0-9_-]+)$/;

function metricTemplate(input: Json, notes: Notes): Json[] {
  const src = sourceOf(input);
  const spec = obj(input.spec);
  const p = obj(spec.provider);
  notes.rest(src, spec, ['provider', 'query'], 'spec');
  notes.rest(src, p, ['type', 'address', 'secretRef', 'insecureSkipVerify', 'headers'], 'spec.provider');
  const converted = fromFlagger(p, String(spec.query ?? ''), src, notes);
  if (!converted) return [];
  const provider = converted.provider;
  if (isObject(p.headers)) {
    // Flagger's headers are lists of values (http.Header); Weir's are single strings.
    provider.headers = Object.fromEntries(
      Object.entries(p.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
    );
    if (Object.values(p.headers).some((v) => Array.isArray(v) && v.length > 1))
      notes.add(src, 'spec.provider.headers', 'multi-valued headers joined with ", "');
  }
  const query = String(spec.query ?? '');
  for (const m of query.matchAll(TEMPLATE_VARS))
    if (!WEIR_VARS.test(m[1]!))
      notes.add(
        src,
        'spec.query',
        `{{ ${m[1]} }} is not a Weir template variable (name, namespace, target, service, interval, variables.X): edit the query`,
      );
  return [
    {
      apiVersion: API_VERSION,
      kind: 'MetricTemplate',
      metadata: carryMetadata(input.metadata),
      spec: { provider, query },
    },
  ];
}

function alertProvider(input: Json, notes: Notes): Json[] {
  const src = sourceOf(input);
  const spec = obj(input.spec);
  notes.rest(src, spec, ['type', 'channel', 'username', 'address', 'secretRef'], 'spec');
  let type = String(spec.type);
  if (type === 'rocket') {
    type = 'slack';
    notes.add(src, 'spec.type', 'rocket mapped to slack (Rocket.Chat accepts Slack webhook payloads)');
  }
  if (!['slack', 'msteams', 'discord'].includes(type)) {
    notes.add(
      src,
      'spec.type',
      `${type} is not supported (slack, msteams, discord, webhook); AlertProvider not converted`,
    );
    return [];
  }
  return [
    {
      apiVersion: API_VERSION,
      kind: 'AlertProvider',
      metadata: carryMetadata(input.metadata),
      spec: compact({
        type,
        channel: spec.channel,
        username: spec.username,
        address: spec.address,
        secretRef: isObject(spec.secretRef) ? { name: spec.secretRef.name } : undefined,
      }),
    },
  ];
}
