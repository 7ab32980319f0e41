// Provider `traefik`: TraefikService weights; no A/B, no mirroring (Flagger's traefik router has neither).
import { WEIGHTS_ONLY, type ProviderDescriptor } from '../provider.ts';
import { createTraefikRouter, TRAEFIK_SERVICE } from './router.ts';

// Traefik's own service metrics for the `<target>-canary` Service, as its kubernetescrd provider
// names it (`<ns>-<svc>-<port>@kubernetescrd`); token-exact from Flagger v1.44
// pkg/metrics/observers/traefik.go. The duration is the p99 in seconds, times 1000 (milliseconds).
const CANARY_SERVICE = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"';

export const traefik: ProviderDescriptor = {
  name: 'traefik',
  summary:
    'TraefikService `<svc>` (traefik.io/v1alpha1) with weighted services `<svc>-primary` and `<svc>-canary`',
  resources: [
    {
      type: TRAEFIK_SERVICE,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'the TraefikService <svc> (server-side apply)',
    },
  ],
  // Flagger's traefik router ignores match and would send everyone to the canary: refused here.
  capabilities: WEIGHTS_ONLY,
  builtinQueries: {
    'request-success-rate': `sum(rate(traefik_service_request_duration_seconds_bucket{${CANARY_SERVICE},code!~"5..",le="+Inf"}[{{ interval }}])) / sum(rate(traefik_service_request_duration_seconds_bucket{${CANARY_SERVICE},le="+Inf"}[{{ interval }}])) * 100`,
    'request-duration': `histogram_quantile(0.99,sum(rate(traefik_service_request_duration_seconds_bucket{${CANARY_SERVICE}}[{{ interval }}])) by (le)) * 1000`,
  },
  createRouter: createTraefikRouter,
};
