// Built-in metric queries on the application's own `http_request_duration_seconds` histogram
// (podinfo, prom-client, …): what providers without proxy metrics of their own (kubernetes, and
// gatewayapi, whose implementations export no common series) analyse. Flagger's HTTP observer reads
// the same histogram.
import type { BuiltinMetric } from './provider.ts';

// Canary pods only: the Deployment `<target>` names its pods `<target>-<rs hash>-<suffix>`, which the
// single optional-free group matches, while `<target>-primary-<hash>-<suffix>` has one segment too
// many (PromQL regexes are anchored). Same selector as Flagger's, on the `pod`/`namespace` labels that
// the Prometheus Operator (PodMonitor/ServiceMonitor) and kubernetes_sd relabelling commonly attach.
const CANARY_PODS = 'namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

const appSeries = (suffix: string, extra = ''): string =>
  `http_request_duration_seconds_${suffix}{${CANARY_PODS}${extra}}[{{ interval }}]`;

export const APP_HISTOGRAM_QUERIES: Record<BuiltinMetric, string> = {
  // `or vector(0)`: with no 5xx series at all the error rate is 0, not "no data". No traffic at all
  // still yields an empty result or 0/0 = NaN, which the provider reports as no data.
  'request-success-rate': `100 * (1 - (sum(rate(${appSeries('count', ', status=~"5.*"')})) or vector(0))
  / sum(rate(${appSeries('count')})))`,
  'request-duration': `1000 * histogram_quantile(0.99, sum by (le) (rate(${appSeries('bucket')})))`,
};
