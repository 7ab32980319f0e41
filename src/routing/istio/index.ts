// Provider `istio`: VirtualService weights, A/B by headers, cookie, query and source labels,
// mirroring, cookie-based session affinity; DestinationRules per host as Flagger writes them; the
// spec.service fields Flagger maps onto them (match, rewrite, corsPolicy, trafficPolicy,
// delegation, besides hosts, gateways, headers, timeout and retries); appProtocol tcp as a tcp route.
import type { CanarySpec } from '../../api/canary.ts';
import type { ProviderDescriptor } from '../provider.ts';
import { createIstioRouter } from './router.ts';
import { DESTINATION_RULE, isTcp, VIRTUAL_SERVICE } from './virtual-service.ts';

// Token-exact from Flagger v1.44 pkg/metrics/observers/istio.go. `destination_workload=~"{{ target }}"`
// is an anchored regex: it selects the canary workload `<target>`, not `<target>-primary`.
const CANARY_WORKLOAD =
  'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"';

export const ISTIO_QUERIES: ProviderDescriptor['builtinQueries'] = {
  'request-success-rate': `sum(rate(istio_requests_total{${CANARY_WORKLOAD},response_code!~"5.*"}[{{ interval }}])) / sum(rate(istio_requests_total{${CANARY_WORKLOAD}}[{{ interval }}])) * 100`,
  'request-duration': `histogram_quantile(0.99,sum(rate(istio_request_duration_milliseconds_bucket{${CANARY_WORKLOAD}}[{{ interval }}])) by (le))`,
};

/**
 * appProtocol tcp is one tcp route (Flagger's): nothing of HTTP applies. Flagger ignores these
 * fields there (and A/B would send every connection to the canary), so Weir refuses them.
 */
function tcpRefusals(spec: CanarySpec): Array<{ path: string; message: string }> {
  if (!isTcp(spec)) return [];
  const s = spec.service;
  const a = spec.analysis;
  const http: Array<[string, unknown]> = [
    ['spec.service.rewrite', s.rewrite],
    ['spec.service.corsPolicy', s.corsPolicy],
    ['spec.service.headers', s.headers],
    ['spec.service.timeout', s.timeout],
    ['spec.service.retries', s.retries],
    ['spec.analysis.match', a.match],
    ['spec.analysis.mirror', a.mirror || undefined],
    ['spec.analysis.sessionAffinity', a.sessionAffinity],
    ...(a.steps ?? []).flatMap((step, i): Array<[string, unknown]> => [
      [`spec.analysis.steps[${i}].setHeaderRoute`, step.setHeaderRoute],
      [`spec.analysis.steps[${i}].setMirrorRoute`, step.setMirrorRoute],
    ]),
  ];
  const out = http
    .filter(([, v]) => v !== undefined)
    .map(([path]) => ({ path, message: 'not with appProtocol tcp: provider istio writes a tcp route' }));
  (s.match ?? []).forEach((m, i) => {
    const other = Object.keys(m).filter((k) => k !== 'port');
    if (other.length)
      out.push({
        path: `spec.service.match[${i}].${other[0]}`,
        message: 'with appProtocol tcp a match selects a port only (L4)',
      });
  });
  return out;
}

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
    sessionAffinity: true,
    blueGreen: true,
    stepRoutes: true,
  },
  serviceOptions: ['match', 'rewrite', 'corsPolicy', 'trafficPolicy', 'delegation'],
  refuses: tcpRefusals,
  builtinQueries: ISTIO_QUERIES,
  builtinsMeasurePrimary: true,
  createRouter: createIstioRouter,
};
