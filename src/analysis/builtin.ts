// Built-in metrics: the query templates behind `request-success-rate` (percent of non-5xx requests)
// and `request-duration` (p99 in milliseconds), per routing provider. Adding a provider is one entry
// in BUILTIN_QUERIES.
import { BUILTIN_METRICS, type ProviderName } from '../api/canary.ts';
import { WeirError } from '../errors.ts';

export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];
type QuerySet = Record<BuiltinMetric, string>;

export function isBuiltinMetric(name: string): name is BuiltinMetric {
  return (BUILTIN_METRICS as readonly string[]).includes(name);
}

/** Unit appended to values in messages, e.g. `request-duration 740ms > max 500`. */
export const BUILTIN_UNITS: Record<BuiltinMetric, string> = {
  'request-success-rate': '',
  'request-duration': 'ms',
};

// Canary pods only: the Deployment `<target>` names its pods `<target>-<rs hash>-<suffix>`, which the
// single optional-free group matches, while `<target>-primary-<hash>-<suffix>` has one segment too
// many (PromQL regexes are anchored). Same selector as Flagger's, on the `pod`/`namespace` labels that
// the Prometheus Operator (PodMonitor/ServiceMonitor) and kubernetes_sd relabelling commonly attach.
const CANARY_PODS = 'namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

const appSeries = (suffix: string, extra = ''): string =>
  `http_request_duration_seconds_${suffix}{${CANARY_PODS}${extra}}[{{ interval }}]`;

/** The application's own `http_request_duration_seconds` histogram (podinfo, prom-client, …). */
const APP_HISTOGRAM: QuerySet = {
  // `or vector(0)`: with no 5xx series at all the error rate is 0, not "no data". No traffic at all
  // still yields an empty result or 0/0 = NaN, which the provider reports as no data.
  'request-success-rate': `100 * (1 - (sum(rate(${appSeries('count', ', status=~"5.*"')})) or vector(0))
  / sum(rate(${appSeries('count')})))`,
  'request-duration': `1000 * histogram_quantile(0.99, sum by (le) (rate(${appSeries('bucket')})))`,
};

// Istio, Linkerd, NGINX, Envoy-based providers… come later, one entry each.
const BUILTIN_QUERIES: Partial<Record<ProviderName, QuerySet>> = {
  kubernetes: APP_HISTOGRAM,
  gatewayapi: APP_HISTOGRAM,
};

/** The query template of a built-in metric for a routing provider; render it with renderQuery. */
export function builtinQuery(provider: string, metric: string): string {
  if (!isBuiltinMetric(metric)) {
    throw new WeirError(
      'INVALID_SPEC',
      `metric ${metric} is not a built-in metric (${BUILTIN_METRICS.join(', ')}): it needs a templateRef`,
    );
  }
  const set = Object.hasOwn(BUILTIN_QUERIES, provider)
    ? BUILTIN_QUERIES[provider as ProviderName]
    : undefined;
  if (!set) {
    const known = Object.keys(BUILTIN_QUERIES).join(', ');
    throw new WeirError(
      'INVALID_SPEC',
      `built-in metric ${metric} is not available for provider ${provider} (available for: ${known}); use a MetricTemplate with templateRef`,
    );
  }
  return set[metric];
}
