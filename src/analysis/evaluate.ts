// One analysis tick: run every metric of spec.analysis.metrics concurrently and turn each into a
// MetricResult with a sentence a user can act on; a judge samples canary and primary over its window
// (judge.ts). A single metric's problem (missing template, bad query, Prometheus down) becomes that
// metric's Error/NoData result; runAnalysis itself never throws.
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
import { comparePrimary } from './compare.ts';
import { fmt, formatValue } from './format.ts';
import { builtinCompareRefusal } from './builtin.ts';
import { descriptorOf } from '../routing/registry.ts';
import { judgeRange, judgeSamples } from './judge.ts';
import { hasConditions, judgeConditions } from './conditions.ts';

export interface AnalysisInput {
  spec: CanarySpec;
  name: string;
  namespace: string;
  provider: ProviderName;
  /** The time the analysis measures, ms since the epoch; default now (`weir simulate` replays past ticks). */
  at?: number;
  /**
   * What `{{ target }}` becomes when a query is rendered for the primary; default `<target>-primary`
   * (`weir simulate --primary-selector`, for data recorded under another name).
   */
  primaryTarget?: string;
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

/** One query of a metric and what the no-data diagnosis needs to know about it. */
interface Side {
  query: string;
  hints: NoDataHints;
}

/** What to run for one metric: the rendered queries and the provider that runs them. */
export interface MetricPlan {
  canary: Side;
  /** The same query rendered for the primary's pods, for a metric with `compare`. */
  primary?: Side;
  provider: MetricTemplateSpec['provider'];
  secret?: Record<string, string>;
  unit: string;
}

/** A value (or, for a judge, the samples), or why there is none. */
type Measured<T> = { value: T } | { err: unknown; diagnosis?: NoDataDiagnosis };

async function runMetric(
  metric: MetricCheck,
  input: AnalysisInput,
  deps: AnalysisDeps,
): Promise<MetricResult> {
  const log = deps.log.child({ metric: metric.name });
  let plan: MetricPlan | undefined;
  let backend: string | undefined;
  try {
    plan = planMetric(metric, input, deps);
    const provider = createProvider(plan, deps, log);
    backend = provider.name;
    const read = readerOf(metric, input, provider);
    // Both at once: together they take no longer than one query, the time a metric is allowed.
    const [canary, primary] = await Promise.all([
      measure(provider, plan.canary, read),
      plan.primary && measure(provider, plan.primary, read),
    ]);
    if ('err' in canary) {
      const result = failure(metric, canary.err, plan.canary.query, backend, canary.diagnosis);
      return report(result, log, canary.err);
    }
    if (primary && 'err' in primary) {
      const q = plan.primary!.query;
      return report(failure(metric, primary.err, q, backend, primary.diagnosis, 'primary'), log, primary.err);
    }
    const result = verdict(metric, canary.value, primary?.value, plan.unit);
    log.debug(
      { value: result.value, primaryValue: result.primaryValue, result: result.result },
      result.message,
    );
    return result;
  } catch (err) {
    return report(failure(metric, err, plan?.canary.query, backend), log, err);
  }
}

function report(result: MetricResult, log: Logger, err: unknown): MetricResult {
  log.warn({ err: redactCredentials(describeError(err)), result: result.result }, result.message);
  return result;
}

/** The provider of a plan (also the dashboard's, for its metric history). */
export function createProvider(plan: MetricPlan, deps: AnalysisDeps, log: Logger): MetricProvider {
  const factories = deps.providers ?? METRIC_PROVIDERS;
  const factory = Object.hasOwn(factories, plan.provider.type) ? factories[plan.provider.type] : undefined;
  if (!factory) throw new WeirError('CONFIG', `no metric provider of type ${plan.provider.type}`);
  return factory({
    spec: plan.provider,
    ...(plan.secret ? { secret: plan.secret } : {}),
    ...(deps.defaultAddress ? { defaultAddress: deps.defaultAddress } : {}),
    defaultTimeoutMs: deps.defaultTimeoutMs,
    log,
  });
}

/** An instant query, or for a judge the samples over its window (the same window for both sides). */
function readerOf(
  metric: MetricCheck,
  input: AnalysisInput,
  provider: MetricProvider,
): (query: string) => Promise<number | number[]> {
  if (!metric.judge) return (q) => provider.query(q);
  const { queryRange } = provider;
  if (!queryRange) {
    throw new WeirError(
      'CONFIG',
      `judge: provider ${provider.type} cannot run range queries, which judge.mannWhitney needs for its samples; use a MetricTemplate of a provider that can (prometheus, victoriametrics)`,
    );
  }
  const range = judgeRange(metric, input.spec.analysis.interval, input.at ?? Date.now());
  return (q) => queryRange.call(provider, q, range);
}

/** The verdict of a judge on samples, else of thresholdRange and compare on values. */
function verdict(
  metric: MetricCheck,
  canary: number | number[],
  primary: number | number[] | undefined,
  unit: string,
): MetricResult {
  if (metric.judge && Array.isArray(canary) && Array.isArray(primary))
    return judgeSamples(metric.name, metric.judge.mannWhitney, canary, primary, unit);
  if (typeof canary !== 'number' || Array.isArray(primary))
    throw new WeirError('INVALID_SPEC', `metric ${metric.name}: samples without a judge`);
  if (!hasConditions(metric)) return judge(metric, canary, primary, unit);
  const byConditions = judgeConditions(metric, canary, unit);
  if (!metric.thresholdRange && !metric.compare) return byConditions;
  // Both must pass: a bound that fails says so; else the conditions' Failed, Inconclusive or Error stands.
  const byBounds = judge(metric, canary, primary, unit);
  if (byBounds.result !== 'Successful' || byConditions.result === 'Successful') {
    return byBounds.result === 'Successful'
      ? { ...byBounds, message: `${byBounds.message}; ${byConditions.message}` }
      : byBounds;
  }
  return { ...byBounds, result: byConditions.result, message: byConditions.message };
}

async function measure<T>(
  provider: MetricProvider,
  side: Side,
  read: (query: string) => Promise<T>,
): Promise<Measured<T>> {
  const startedAt = Date.now();
  try {
    return { value: await read(side.query) };
  } catch (err) {
    return { err, diagnosis: await diagnose(provider, err, side, startedAt) };
  }
}

/**
 * Why a query returned no data, when its provider can tell: at most once per query and tick, only
 * for an empty or NaN result (an infinite value is data), never rejecting.
 */
async function diagnose(
  provider: MetricProvider,
  err: unknown,
  side: Side,
  startedAt: number,
): Promise<NoDataDiagnosis | undefined> {
  if (!provider.diagnoseNoData || !isWeirError(err, 'METRIC_NO_DATA') || /Inf$/.test(err.message)) {
    return undefined;
  }
  return provider.diagnoseNoData(side.query, { ...side.hints, startedAt }).catch(() => undefined);
}

/**
 * A metric's queries, rendered for the canary (and the primary, with `compare` or `judge`), and its
 * provider; throws a WeirError saying why it cannot run. The dashboard's metric history renders
 * through it too, so its charts query exactly what the analysis queries.
 */
export function planMetric(
  metric: MetricCheck,
  input: AnalysisInput,
  deps: Pick<AnalysisDeps, 'getTemplate' | 'getSecret'>,
): MetricPlan {
  const target = input.spec.targetRef.name;
  const ctx: QueryContext = {
    name: input.name,
    namespace: input.namespace,
    target,
    primary: input.primaryTarget ?? `${target}-primary`,
    service: input.spec.service.name ?? target,
    interval: metric.interval ?? input.spec.analysis.interval,
    variables: metric.templateVariables ?? {},
    provider: providerVariables(input.provider, input.spec, input.namespace),
  };
  // A templateRef wins over the built-in of the same name, as in Flagger.
  if (!metric.templateRef) {
    const template = builtinQuery(input.provider, metric.name);
    const field = metric.judge ? 'judge' : 'compare';
    if ((metric.compare || metric.judge) && !descriptorOf(input.provider)?.builtinsMeasurePrimary) {
      throw new WeirError('INVALID_SPEC', builtinCompareRefusal(input.provider, metric.name, field));
    }
    const unit = isBuiltinMetric(metric.name) ? BUILTIN_UNITS[metric.name] : '';
    return { ...renderSides(template, ctx, metric), provider: { type: 'prometheus' }, unit };
  }
  const ns = metric.templateRef.namespace ?? input.namespace;
  const template = deps.getTemplate(ns, metric.templateRef.name);
  if (!template)
    throw new WeirError('NOT_FOUND', `MetricTemplate ${ns}/${metric.templateRef.name} not found`);
  const sides = renderSides(template.query, ctx, metric);
  if (sides.primary?.query === sides.canary.query) {
    throw new WeirError(
      'TEMPLATE',
      `${metric.judge ? 'judge' : 'compare'}: the query of MetricTemplate ${ns}/${metric.templateRef.name} is the same for the canary ` +
        `and the primary; select the pods with {{ target }}, which is ${ctx.primary} when the query ` +
        `is rendered for the primary`,
    );
  }
  const secretRef = template.provider.secretRef;
  if (!secretRef) return { ...sides, provider: template.provider, unit: '' };
  // The secret lives next to the template that references it.
  const secret = deps.getSecret(ns, secretRef.name);
  if (!secret) {
    throw new WeirError(
      'NOT_FOUND',
      `Secret ${ns}/${secretRef.name} of MetricTemplate ${ns}/${metric.templateRef.name} not found`,
    );
  }
  return { ...sides, provider: template.provider, secret, unit: '' };
}

/**
 * The query for the canary and, with `compare`, the same query for the primary: `{{ target }}`
 * becomes `<target>-primary`, so every selector built on it selects the primary's pods instead.
 */
function renderSides(
  template: string,
  ctx: QueryContext,
  metric: MetricCheck,
): Pick<MetricPlan, 'canary' | 'primary'> {
  const side = (c: QueryContext, who: 'canary' | 'primary'): Side => ({
    query: renderQuery(template, c),
    hints: { namespace: c.namespace, workloads: [c.target, c.service], side: who },
  });
  const canary = side(ctx, 'canary');
  if (!metric.compare && !metric.judge) return { canary };
  return { canary, primary: side({ ...ctx, target: ctx.primary }, 'primary') };
}

/** The verdict: the fixed range first (it names an absolute limit), then the primary. */
function judge(metric: MetricCheck, value: number, primary: number | undefined, unit: string): MetricResult {
  const fixed = metric.thresholdRange && checkThreshold(metric.name, value, metric.thresholdRange, unit);
  if (primary === undefined || !metric.compare) {
    // The schema requires thresholdRange or compare, and compare always measures the primary.
    if (!fixed)
      throw new WeirError('INVALID_SPEC', `metric ${metric.name} has no thresholdRange and no compare`);
    return fixed;
  }
  if (fixed?.result === 'Failed') return { ...fixed, primaryValue: primary };
  const { passed, detail } = comparePrimary(value, primary, metric.compare.primary, unit);
  const versus = `vs primary ${fmt(primary)}${unit}: ${detail}`;
  return {
    ...fixed,
    name: metric.name,
    value,
    primaryValue: primary,
    result: passed ? 'Successful' : 'Failed',
    message:
      passed && fixed ? `${fixed.message}; ${versus}` : `${metric.name} ${fmt(value)}${unit} ${versus}`,
  };
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
  side: 'canary' | 'primary' = 'canary',
): MetricResult {
  const { min, max } = metric.thresholdRange ?? {};
  // The primary's query failing leaves the canary unjudged: the message says whose query it was.
  const what = side === 'primary' ? `${metric.name} for the primary` : metric.name;
  const base = {
    name: metric.name,
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
  };
  const q = query ? oneLine(query) : undefined;
  if (isWeirError(err, 'METRIC_NO_DATA')) {
    // An infinite value is data of a kind (e.g. every observation above the largest bucket): say so.
    const message = /Inf$/.test(err.message)
      ? `metric ${what} returned no finite value (${err.message}) for query ${q}`
      : noDataMessage(what, q ?? '', diagnosis, side);
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
    message: redactCredentials(`metric ${what} failed (${cause}): ${detail}${where}`),
  };
}

/** Queries in status messages and logs: one line, bounded. */
function oneLine(query: string): string {
  const s = query.replace(/\s+/g, ' ').trim();
  return s.length > 1000 ? `${s.slice(0, 1000)}…` : s;
}
