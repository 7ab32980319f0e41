// Provider `linkerd`: the SMI TrafficSplit (v1alpha1, served by the linkerd-smi extension) as
// Flagger's linkerd provider writes it, with Linkerd's response_total metrics. Linkerd ≥ 2.14
// without linkerd-smi routes by Gateway API HTTPRoute: use provider `gatewayapi` with a Service
// parentRef there (docs/providers.md).
import type { ProviderDescriptor } from '../provider.ts';
import { SMI_CAPABILITIES, SMI_RESOURCES } from '../smi/index.ts';
import { createSmiRouter } from '../smi/router.ts';

// Token-exact from Flagger v1.44 pkg/metrics/observers/linkerd.go (label `deployment`).
const INBOUND = 'namespace="{{ namespace }}",deployment=~"{{ target }}"';

export const linkerd: ProviderDescriptor = {
  name: 'linkerd',
  summary:
    'TrafficSplit `<svc>` (split.smi-spec.io/v1alpha1, linkerd-smi) splitting between `<svc>-primary` and `<svc>-canary`',
  resources: SMI_RESOURCES,
  capabilities: SMI_CAPABILITIES,
  builtinQueries: {
    'request-success-rate': `sum(rate(response_total{${INBOUND},classification!="failure",direction="inbound"}[{{ interval }}])) / sum(rate(response_total{${INBOUND},direction="inbound"}[{{ interval }}])) * 100`,
    'request-duration': `histogram_quantile(0.99,sum(rate(response_latency_ms_bucket{${INBOUND},direction="inbound"}[{{ interval }}])) by (le))`,
  },
  builtinsMeasurePrimary: true,
  createRouter: createSmiRouter,
};
