// One analysis tick: run every metric of spec.analysis.metrics concurrently and turn each into a
// MetricResult with a sentence a user can act on. A single metric's problem (missing template, bad
// query, Prometheus down) becomes that metric's Error/NoData result; runAnalysis itself never throws.
import type { CanarySpec, MetricCheck, ProviderName } from '../api/canary.ts';
import type { MetricTemplateSpec } from '../api/metric-template.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import { describeError, isWeirError, WeirError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { redactCredentials } from '../redact.ts';
import { BUILTIN_UNITS, builtinQuery, isBuiltinMetric, providerVariables } from './builtin.ts';
import { noDataMessage, type NoDataDiagnosis, type NoDataHints } from './no-data.ts';
import type { MetricProvider, MetricProviderFactory, QueryContext } from './provider.ts';
import { METRIC_PROVIDERS } from './registry.ts';
import { renderQuery } from './render.ts';

export interface AnalysisInput {
  spec: CanarySpec;
  name: string;
  namespace: string;
  provider: ProviderName;
}

export interface AnalysisDeps {
  getTemplate(namespace: string, name: string): MetricTemplateSpec | undefined;
  getSecret(namespace: string, name: string): Record<string, string> | undefined;
  defaultAddress?: string;
  defaultTimeoutMs: number;
  log: Logger;
  /** Defaults to the registry; tests inject fakes. */
  providers?: Record<string, MetricProviderFactory>;
}

export async function runAnalysis(input: AnalysisInput, deps: AnalysisDeps): Promise<MetricResult[]> {
  const metrics = input.spec.analysis.metrics ?? [];
  return Promise.all(metrics.map((m) => runMetric(m, input, deps)));
}

/** What to run for one metric: the rendered query and the provider that runs it. */
interface Plan {
  query: string;
  provider: MetricTemplateSpec['provider'];
  secret?: Record<string, string>;
  unit: string;
  hints: NoDataHints;
}

async function runMetric(
  metric: MetricCheck,
  input: AnalysisInput,
  deps: AnalysisDeps,
): Promise<MetricResult> {
  const log = deps.log.child({ metric: metric.name });
  let plan: Plan | undefined;
  let backend: string | undefined;
  let diagnosis: NoDataDiagnosis | undefined;
  try {
    plan = planMetric(metric, input, deps);
    const factories = deps.providers ?? METRIC_PROVIDERS;
    const factory = Object.hasOwn(factories, plan.provider.type) ? factories[plan.provider.type] : undefined;
    if (!factory) throw new WeirError('CONFIG', `no metric provider of type ${plan.provider.type}`);
    const provider = factory({
      spec: plan.provider,
      ...(plan.secret ? { secret: plan.secret } : {}),
      ...(deps.defaultAddress ? { defaultAddress: deps.defaultAddress } : {}),
      defaultTimeoutMs: deps.defaultTimeoutMs,
      log,
    });
    backend = provider.name;
    const startedAt = Date.now();
    try {
      const value = await provider.query(plan.query);
      const result = checkThreshold(metric.name, value, metric.thresholdRange, plan.unit);
      log.debug({ value, result: result.result }, result.message);
      return result;
    } catch (err) {
      diagnosis = await diagnose(provider, err, plan, startedAt);
      throw err;
    }
  } catch (err) {
    const result = failure(metric, err, plan?.query, backend, diagnosis);
    log.warn({ err: redactCredentials(describeError(err)), result: result.result }, result.message);
    return result;
  }
}

/**
 * Why a query returned no data, when its provider can tell: at most once per metric and tick, only
 * for an empty or NaN result (an infinite value is data), never rejecting.
 */
async function diagnose(
  provider: MetricProvider,
  err: unknown,
  plan: Plan,
  startedAt: number,
): Promise<NoDataDiagnosis | undefined> {
  if (!provider.diagnoseNoData || !isWeirError(err, 'METRIC_NO_DATA') || /Inf$/.test(err.message)) {
    return undefined;
  }
  return provider.diagnoseNoData(plan.query, { ...plan.hints, startedAt }).catch(() => undefined);
}

function planMetric(metric: MetricCheck, input: AnalysisInput, deps: AnalysisDeps): Plan {
  const ctx: QueryContext = {
    name: input.name,
    namespace: input.namespace,
    target: input.spec.targetRef.name,
    service: input.spec.service.name ?? input.spec.targetRef.name,
    interval: metric.interval ?? input.spec.analysis.interval,
    variables: metric.templateVariables ?? {},
    provider: providerVariables(input.provider, input.spec, input.namespace),
  };
  const hints = { namespace: ctx.namespace, workloads: [ctx.target, ctx.service] };
  // A templateRef wins over the built-in of the same name, as in Flagger.
  if (!metric.templateRef) {
    const query = renderQuery(builtinQuery(input.provider, metric.name), ctx);
    const unit = isBuiltinMetric(metric.name) ? BUILTIN_UNITS[metric.name] : '';
    return { query, provider: { type: 'prometheus' }, unit, hints };
  }
  const ns = metric.templateRef.namespace ?? input.namespace;
  const template = deps.getTemplate(ns, metric.templateRef.name);
  if (!template)
    throw new WeirError('NOT_FOUND', `MetricTemplate ${ns}/${metric.templateRef.name} not found`);
  const query = renderQuery(template.query, ctx);
  const secretRef = template.provider.secretRef;
  if (!secretRef) return { query, provider: template.provider, unit: '', hints };
  // The secret lives next to the template that references it.
  const secret = deps.getSecret(ns, secretRef.name);
  if (!secret) {
    throw new WeirError(
      'NOT_FOUND',
      `Secret ${ns}/${secretRef.name} of MetricTemplate ${ns}/${metric.templateRef.name} not found`,
    );
  }
  return { query, provider: template.provider, secret, unit: '', hints };
}

/** Compares a value with thresholdRange (bounds inclusive): below min or above max fails. */
export function checkThreshold(
  name: string,
  value: number,
  range: { min?: number; max?: number },
  unit = '',
): MetricResult {
  const { min, max } = range;
  const bounds = { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
  const shown = (limit: number): string => `${formatValue(value, limit)}${unit}`;
  if (min !== undefined && value < min) {
    return { name, result: 'Failed', value, ...bounds, message: `${name} ${shown(min)} < min ${fmt(min)}` };
  }
  if (max !== undefined && value > max) {
    return { name, result: 'Failed', value, ...bounds, message: `${name} ${shown(max)} > max ${fmt(max)}` };
  }
  const within = [
    ...(min !== undefined ? [`>= min ${fmt(min)}`] : []),
    ...(max !== undefined ? [`<= max ${fmt(max)}`] : []),
  ].join(' and ');
  const message = `${name} ${fmt(value)}${unit} ${within || 'has no threshold'}`;
  return { name, result: 'Successful', value, ...bounds, message };
}

const CAUSES: Partial<Record<ErrorCode, string>> = {
  METRIC_QUERY: 'query error',
  METRIC_HTTP: 'unreachable or HTTP error',
  METRIC_TIMEOUT: 'timeout',
  TEMPLATE: 'template error',
  NOT_FOUND: 'missing object',
  CONFIG: 'configuration error',
  INVALID_SPEC: 'invalid spec',
};

function failure(
  metric: MetricCheck,
  err: unknown,
  query: string | undefined,
  backend = 'metrics backend',
  diagnosis?: NoDataDiagnosis,
): MetricResult {
  const { min, max } = metric.thresholdRange;
  const base = {
    name: metric.name,
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
  };
  const q = query ? oneLine(query) : undefined;
  if (isWeirError(err, 'METRIC_NO_DATA')) {
    // An infinite value is data of a kind (e.g. every observation above the largest bucket): say so.
    const message = /Inf$/.test(err.message)
      ? `metric ${metric.name} returned no finite value (${err.message}) for query ${q}`
      : noDataMessage(metric.name, q ?? '', diagnosis);
    // Label values quoted by the diagnosis come from the backend: redacted like any answer.
    return { ...base, result: 'NoData', message: redactCredentials(message) };
  }
  let cause = isWeirError(err) ? (CAUSES[err.code] ?? err.code) : 'unexpected error';
  if (isWeirError(err, 'METRIC_HTTP')) cause = `${backend} ${cause}`;
  // WeirError messages already carry the detail; their transport causes stay in the log.
  const detail = isWeirError(err) ? err.message : describeError(err);
  const where = q ? ` for query ${q}` : '';
  return {
    ...base,
    result: 'Error',
    // Providers already keep credentials out of their errors; this is the last line of defence
    // before the status, Events and alerts.
    message: redactCredentials(`metric ${metric.name} failed (${cause}): ${detail}${where}`),
  };
}

/** Queries in status messages and logs: one line, bounded. */
function oneLine(query: string): string {
  const s = query.replace(/\s+/g, ' ').trim();
  return s.length > 1000 ? `${s.slice(0, 1000)}…` : s;
}

/** At most 4 significant digits (2 decimals from 100 up); enough to read, not noise. */
function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Math.abs(v) >= 100 ? Number(v.toFixed(2)) : Number(v.toPrecision(4)));
}

/** Never print a failing value so rounded that it looks equal to its limit (98.99996 vs min 99). */
function formatValue(v: number, limit: number): string {
  const s = fmt(v);
  return s === fmt(limit) && v !== limit ? String(v) : s;
}
