// Provider `smi`: an SMI TrafficSplit (v1alpha1) with weighted backends; canary and blue/green.
import { WEIGHTS_ONLY, type ProviderDescriptor } from '../provider.ts';
import { ISTIO_QUERIES } from '../istio/index.ts';
import { createSmiRouter, TRAFFIC_SPLIT } from './router.ts';

export const SMI_RESOURCES: ProviderDescriptor['resources'] = [
  {
    type: TRAFFIC_SPLIT,
    verbs: ['create', 'patch'],
    optional: true,
    why: 'the TrafficSplit <svc> (server-side apply)',
  },
];

// Flagger's SMI router ignores match, which would send everyone to the canary: refused.
export const SMI_CAPABILITIES: ProviderDescriptor['capabilities'] = WEIGHTS_ONLY;

export const smi: ProviderDescriptor = {
  name: 'smi',
  summary:
    'TrafficSplit `<svc>` (split.smi-spec.io/v1alpha1) splitting between `<svc>-primary` and `<svc>-canary`',
  resources: SMI_RESOURCES,
  capabilities: SMI_CAPABILITIES,
  // Flagger v1.44 has no SMI observer: `smi:*` falls through to the istio one
  // (pkg/metrics/observers/factory.go, default case), so its built-ins are Istio's.
  builtinQueries: ISTIO_QUERIES,
  builtinsMeasurePrimary: true,
  createRouter: createSmiRouter,
};
