// The metric charts' history from the metrics backend: for each metric of a Canary whose provider can
// run range queries (Prometheus' `query_range`, and what speaks its API), the series of the last ten
// minutes (or since the run's analysis started), and with `compare`/`judge` the primary's series too.
// The queries are the analysis' own (planMetric renders them), run by the server with the analysis'
// provider, bounded by its timeout; the browser never reaches the backend. A metric that cannot be
// queried gets a note, and its chart keeps the Canary's recorded measurements.
import type { V1Secret } from '@kubernetes/client-node';
import type { ProviderName } from '../api/canary.ts';
import type { MetricTemplateSpec } from '../api/metric-template.ts';
import { createProvider, planMetric, type MetricPlan } from '../analysis/evaluate.ts';
import type { QueryRange, SeriesPoint } from '../analysis/provider.ts';
import type { CanaryObject } from '../canary/context.ts';
import { decodeSecret } from '../canary/effects.ts';
import { describeError } from '../errors.ts';
import type { Kube } from '../kube/client.ts';
import type { Logger } from '../log.ts';
import { redactCredentials } from '../redact.ts';
import type { HistoryAnswer, MetricHistory, Series } from './model.ts';

export interface HistorySources {
  /** The routing provider of a Canary without spec.provider (the controller's --default-provider). */
  defaultProvider: ProviderName;
  /** The Prometheus of built-in metrics and of templates without an address. */
  prometheusAddress?: string;
  timeoutMs: number;
  /** false: a MetricTemplate of another namespace is not run (the controller's --no-cross-namespace-refs). */
  crossNamespaceRefs: boolean;
  log: Logger;
}

/** How far back the charts reach. */
export const HISTORY_SPAN_MS = 10 * 60_000;
/** Points per series at most (the step grows with the span), and the smallest step. */
const HISTORY_POINTS = 120;
const MIN_STEP_MS = 5_000;
/** A run that just started still gets a minute of history (its canary's first traffic). */
const MIN_SPAN_MS = 60_000;

/** The last ten minutes, or from the start of the run's analysis when that is later. */
export function historyRange(c: CanaryObject, nowMs: number): QueryRange {
  const runStart = Date.parse(c.status?.analysisStartTime ?? '');
  const from = Number.isFinite(runStart) ? Math.min(runStart, nowMs - MIN_SPAN_MS) : 0;
  const startMs = Math.floor(Math.max(nowMs - HISTORY_SPAN_MS, from) / 1000) * 1000;
  const endMs = Math.ceil(nowMs / 1000) * 1000;
  const stepMs = Math.max(MIN_STEP_MS, Math.ceil((endMs - startMs) / HISTORY_POINTS / 1000) * 1000);
  return { startMs, endMs, stepMs };
}

const toSeries = (points: SeriesPoint[]): Series => ({
  times: points.map(([t]) => t),
  values: points.map(([, v]) => v),
});

/** Each metric's history; never rejects (a failure is that metric's note). */
export async function metricHistory(
  kube: Kube,
  c: CanaryObject,
  sources: HistorySources,
  nowMs = Date.now(),
): Promise<HistoryAnswer> {
  const range = historyRange(c, nowMs);
  const namespace = c.metadata.namespace ?? '';
  const metrics = c.spec?.analysis?.metrics ?? [];
  const templates = await readTemplates(kube, c, sources);
  const input = {
    spec: c.spec,
    name: c.metadata.name ?? '',
    namespace,
    provider: c.spec?.provider ?? sources.defaultProvider,
  };
  const one = async (metric: (typeof metrics)[number]): Promise<MetricHistory> => {
    try {
      const plan = planMetric(metric, input, {
        getTemplate: (ns, name) => templates.get(`${ns}/${name}`)?.spec,
        getSecret: (ns, name) => templates.get(`${ns}/${name}`)?.secret,
      });
      return { name: metric.name, ...(await runPlan(plan, range, sources)) };
    } catch (err) {
      const why = redactCredentials(describeError(err));
      sources.log.debug(
        { canary: `${namespace}/${input.name}`, metric: metric.name, err: why },
        'no history',
      );
      return { name: metric.name, note: `no metric history (${why}): the recorded measurements only` };
    }
  };
  return {
    start: range.startMs / 1000,
    end: range.endMs / 1000,
    step: range.stepMs / 1000,
    metrics: await Promise.all(metrics.map(one)),
  };
}

async function runPlan(
  plan: MetricPlan,
  range: QueryRange,
  sources: HistorySources,
): Promise<Omit<MetricHistory, 'name'>> {
  const provider = createProvider(
    plan,
    {
      getTemplate: () => undefined,
      getSecret: () => undefined,
      ...(sources.prometheusAddress ? { defaultAddress: sources.prometheusAddress } : {}),
      defaultTimeoutMs: sources.timeoutMs,
      log: sources.log,
    },
    sources.log,
  );
  const { querySeries } = provider;
  if (!querySeries)
    return {
      note: `provider ${provider.type} has no range queries: the recorded measurements only`,
    };
  const [canary, primary] = await Promise.all([
    querySeries.call(provider, plan.canary.query, range),
    plan.primary && querySeries.call(provider, plan.primary.query, range),
  ]);
  return {
    canary: toSeries(canary),
    ...(primary ? { primary: toSeries(primary) } : {}),
    ...(canary.length ? {} : { note: 'the query returned no data in this range' }),
  };
}

interface TemplateRead {
  spec: MetricTemplateSpec;
  secret?: Record<string, string>;
}

/** The MetricTemplates the Canary references (and their Secrets), by `namespace/name`. */
async function readTemplates(
  kube: Kube,
  c: CanaryObject,
  sources: HistorySources,
): Promise<Map<string, TemplateRead>> {
  const own = c.metadata.namespace ?? '';
  const refs = (c.spec?.analysis?.metrics ?? [])
    .map((m) => m.templateRef)
    .filter((r) => !!r)
    .map((r) => ({ namespace: r.namespace ?? own, name: r.name }))
    .filter((r) => sources.crossNamespaceRefs || r.namespace === own);
  const out = new Map<string, TemplateRead>();
  await Promise.all(
    refs.map(async (r) => {
      const spec = (
        await byName<{ spec: MetricTemplateSpec }>(kube, 'weir.dev/v1alpha1', 'MetricTemplate', r)
      )?.spec;
      if (!spec) return;
      const secretRef = spec.provider.secretRef;
      const secret = secretRef
        ? decodeSecret(await byName<V1Secret>(kube, 'v1', 'Secret', { ...r, name: secretRef.name }))
        : undefined;
      out.set(`${r.namespace}/${r.name}`, { spec, ...(secret ? { secret } : {}) });
    }),
  );
  return out;
}

/**
 * One object by a list with a field selector: the controller's chart RBAC grants list (its
 * informers) on these, not always get. Undefined when missing or not readable.
 */
export async function byName<T>(
  kube: Kube,
  apiVersion: string,
  kind: string,
  ref: { namespace: string; name: string },
): Promise<T | undefined> {
  const list = await kube.objects
    .list(apiVersion, kind, ref.namespace, undefined, undefined, undefined, `metadata.name=${ref.name}`)
    .catch(() => undefined);
  return list?.items[0] as T | undefined;
}
