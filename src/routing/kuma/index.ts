// Provider `kuma`: MeshHTTPRoute weights; no A/B, no mirroring (Flagger's kuma router has neither).
import { WEIGHTS_ONLY, type ProviderDescriptor } from '../provider.ts';
import { createKumaRouter, MESH_HTTP_ROUTE } from './router.ts';

// Envoy's upstream requests as the canary's own data plane proxy reports them, by its Kuma service
// tag (`<target>-canary_<ns>_svc_<port>`); token-exact from Flagger v1.44
// pkg/metrics/observers/kuma.go (the trailing `,}` is Flagger's). upstream_rq_time is in ms already.
const CANARY_SERVICE = 'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"';

export const kuma: ProviderDescriptor = {
  name: 'kuma',
  summary:
    'MeshHTTPRoute `<svc>` (kuma.io/v1alpha1) splitting the `<svc>` MeshService between `<svc>-primary` and `<svc>-canary`',
  resources: [
    {
      type: MESH_HTTP_ROUTE,
      verbs: ['create', 'patch', 'delete'],
      optional: true,
      why: 'the MeshHTTPRoute <svc> (server-side apply; deleted on revertOnDeletion)',
    },
  ],
  // Flagger's kuma router ignores match and would send everyone to the canary: refused here.
  capabilities: WEIGHTS_ONLY,
  builtinQueries: {
    'request-success-rate': `sum(rate(envoy_cluster_upstream_rq{${CANARY_SERVICE},envoy_response_code!~"5.*"}[{{ interval }}])) / sum(rate(envoy_cluster_upstream_rq{${CANARY_SERVICE},}[{{ interval }}])) * 100`,
    'request-duration': `histogram_quantile(0.99,sum(rate(envoy_cluster_upstream_rq_time_bucket{${CANARY_SERVICE},}[{{ interval }}])) by (le))`,
  },
  createRouter: createKumaRouter,
};
