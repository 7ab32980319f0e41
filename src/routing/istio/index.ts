// Provider `istio`: VirtualService weights, A/B by headers, cookie, query and source labels,
// mirroring; DestinationRules per host as Flagger writes them.
import type { ProviderDescriptor } from '../provider.ts';
import { createIstioRouter, DESTINATION_RULE, VIRTUAL_SERVICE } from './router.ts';

// Token-exact from Flagger v1.44 pkg/metrics/observers/istio.go. `destination_workload=~"{{ target }}"`
// is an anchored regex: it selects the canary workload `<target>`, not `<target>-primary`.
const CANARY_WORKLOAD =
  'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"';

export const ISTIO_QUERIES: ProviderDescriptor['builtinQueries'] = {
  'request-success-rate': `sum(rate(istio_requests_total{${CANARY_WORKLOAD},response_code!~"5.*"}[{{ interval }}])) / sum(rate(istio_requests_total{${CANARY_WORKLOAD}}[{{ interval }}])) * 100`,
  'request-duration': `histogram_quantile(0.99,sum(rate(istio_request_duration_milliseconds_bucket{${CANARY_WORKLOAD}}[{{ interval }}])) by (le))`,
};

export const istio: ProviderDescriptor = {
  name: 'istio',
  summary:
    'VirtualService `<svc>` and DestinationRules `<svc>-primary`/`<svc>-canary` (networking.istio.io/v1beta1) splitting between the two hosts',
  resources: [
    {
      type: VIRTUAL_SERVICE,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'the VirtualService <svc> (server-side apply)',
    },
    {
      type: DESTINATION_RULE,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'the DestinationRules <svc>-primary and <svc>-canary (server-side apply)',
    },
  ],
  capabilities: {
    weights: true,
    headerMatch: true,
    cookieMatch: true,
    queryMatch: true,
    sourceLabelsMatch: true,
    mirror: true,
    sessionAffinity: false,
    blueGreen: true,
  },
  builtinQueries: ISTIO_QUERIES,
  createRouter: createIstioRouter,
};
