// Provider `contour`: HTTPProxy weights and header A/B, with the Service's timeout and retry policy.
import type { ProviderDescriptor } from '../provider.ts';
import { createContourRouter, HTTP_PROXY } from './router.ts';

// Envoy's upstream cluster of the `<svc>-canary` Service as Contour names it (`<ns>_<svc>-canary_<port>`);
// token-exact from Flagger v1.44 pkg/metrics/observers/contour.go (the trailing `,}` is Flagger's).
// Envoy's upstream_rq_time is in milliseconds already.
const CANARY_CLUSTER = 'envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"';

export const contour: ProviderDescriptor = {
  name: 'contour',
  summary:
    'HTTPProxy `<svc>` (projectcontour.io/v1, included by your root proxy) splitting between `<svc>-primary` and `<svc>-canary`',
  resources: [
    {
      type: HTTP_PROXY,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'the HTTPProxy <svc> (server-side apply)',
    },
  ],
  capabilities: {
    weights: true,
    headerMatch: true,
    // A header condition on `cookie`, as Flagger writes it.
    cookieMatch: true,
    // Flagger's contour router writes no queryParameter conditions.
    queryMatch: false,
    sourceLabelsMatch: false,
    mirror: false,
    sessionAffinity: false,
    blueGreen: true,
  },
  builtinQueries: {
    'request-success-rate': `sum(rate(envoy_cluster_upstream_rq{${CANARY_CLUSTER},envoy_response_code!~"5.*"}[{{ interval }}])) / sum(rate(envoy_cluster_upstream_rq{${CANARY_CLUSTER},}[{{ interval }}])) * 100`,
    'request-duration': `histogram_quantile(0.99,sum(rate(envoy_cluster_upstream_rq_time_bucket{${CANARY_CLUSTER},}[{{ interval }}])) by (le))`,
  },
  createRouter: createContourRouter,
};
