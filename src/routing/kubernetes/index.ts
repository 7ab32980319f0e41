// Provider `kubernetes`: blue/green through the Services alone (no weights, no match, no mirroring).
import { RESOURCES } from '../../kube/resources.ts';
import { APP_HISTOGRAM_QUERIES } from '../app-histogram.ts';
import type { ProviderDescriptor } from '../provider.ts';
import { createKubernetesRouter } from './router.ts';

export const kubernetes: ProviderDescriptor = {
  name: 'kubernetes',
  summary: 'blue/green only: the apex Service `<svc>` selects the primary; testers reach `<svc>-canary`',
  resources: [
    {
      type: RESOURCES.service,
      verbs: ['patch'],
      why: "the apex Service's selector (merge patch)",
    },
  ],
  capabilities: {
    weights: false,
    headerMatch: false,
    cookieMatch: false,
    queryMatch: false,
    sourceLabelsMatch: false,
    mirror: false,
    sessionAffinity: false,
    blueGreen: true,
  },
  builtinQueries: APP_HISTOGRAM_QUERIES,
  builtinsMeasurePrimary: true,
  createRouter: createKubernetesRouter,
};
