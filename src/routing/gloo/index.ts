// Provider `gloo`: Gloo Edge Upstreams and a RouteTable with weights and A/B on headers, cookies
// (a header named cookie, as Flagger) and query parameters; no mirroring (Flagger's gloo has none).
import type { ProviderDescriptor } from '../provider.ts';
import { createGlooRouter, ROUTE_TABLE, UPSTREAM } from './router.ts';

// Envoy's cluster of the `-canary` Upstream as Gloo names it (`<ns>-<target>-canaryupstream-<port>_<ns>`);
// token-exact from Flagger v1.44 pkg/metrics/observers/gloo.go (the trailing `,}` is Flagger's).
// Envoy's upstream_rq_time is in milliseconds already.
const CANARY_CLUSTER =
  'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"';

export const gloo: ProviderDescriptor = {
  name: 'gloo',
  summary:
    'Upstreams `<ns>-<svc>-primaryupstream-<port>`/`-canaryupstream-<port>` (gloo.solo.io/v1) and RouteTable `<svc>` (gateway.solo.io/v1) splitting between them',
  resources: [
    {
      type: UPSTREAM,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'reads the Upstream of spec.upstreamRef, writes the -primary/-canary Upstreams (server-side apply)',
    },
    {
      type: ROUTE_TABLE,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'the RouteTable <svc> (server-side apply)',
    },
  ],
  capabilities: {
    weights: true,
    headerMatch: true,
    cookieMatch: true,
    // Weir's: Gloo matches query parameters too (Flagger's gloo router leaves them out).
    queryMatch: true,
    sourceLabelsMatch: false,
    mirror: false,
    sessionAffinity: false,
    blueGreen: true,
  },
  builtinQueries: {
    'request-success-rate': `sum(rate(envoy_cluster_upstream_rq{${CANARY_CLUSTER},envoy_response_code!~"5.*"}[{{ interval }}])) / sum(rate(envoy_cluster_upstream_rq{${CANARY_CLUSTER},}[{{ interval }}])) * 100`,
    'request-duration': `histogram_quantile(0.99,sum(rate(envoy_cluster_upstream_rq_time_bucket{${CANARY_CLUSTER},}[{{ interval }}])) by (le))`,
  },
  createRouter: createGlooRouter,
};
