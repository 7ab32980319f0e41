// Provider `apisix`: ApisixRoute `<route>-<svc>-canary` copied from spec.routeRef, with weighted
// backends (weights only: Flagger's apisix router has no A/B and no mirroring, so both are refused).
import { WEIGHTS_ONLY, type ProviderDescriptor } from '../provider.ts';
import { APISIX_ROUTE, createApisixRouter, userRouteName } from './router.ts';

// APISIX's Prometheus plugin metrics of the canary route, which APISIX's ingress controller names
// `<ns>_<ApisixRoute>_<http name>` (the canary ApisixRoute is `<route>-<target>-canary` when the
// apex Service is named after the target). Token-exact from Flagger v1.44
// pkg/metrics/observers/apisix.go; the duration is a p99 in ms.
const ROUTE = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"';

export const apisix: ProviderDescriptor = {
  name: 'apisix',
  summary:
    'ApisixRoute `<route>-<svc>-canary` (apisix.apache.org/v2), a copy of spec.routeRef with weighted backends `<svc>-primary` and `<svc>-canary`',
  resources: [
    {
      type: APISIX_ROUTE,
      verbs: ['get', 'create', 'patch', 'delete'],
      optional: true,
      why: 'reads the ApisixRoute of spec.routeRef, writes the ApisixRoute <route>-<svc>-canary (server-side apply)',
    },
  ],
  // Flagger's apisix router ignores match and would send everyone to the canary: refused.
  capabilities: WEIGHTS_ONLY,

  builtinQueries: {
    'request-success-rate': `sum(rate(apisix_http_status{${ROUTE},code!~"5.."}[{{ interval }}])) / sum(rate(apisix_http_status{${ROUTE}}[{{ interval }}])) * 100`,
    'request-duration': `histogram_quantile(0.99,sum(rate(apisix_http_latency_bucket{type=~"request",${ROUTE}}[{{ interval }}])) by (le))`,
  },
  templateVariables: (spec) => ({ route: userRouteName(spec) }),
  createRouter: createApisixRouter,
};
