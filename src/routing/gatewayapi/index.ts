// Provider `gatewayapi`: Gateway API HTTPRoute weights, header/query A/B, blue/green mirroring,
// setHeaderRoute/setMirrorRoute steps.
import { APP_HISTOGRAM_QUERIES } from '../app-histogram.ts';
import type { ProviderDescriptor } from '../provider.ts';
import { createGatewayApiRouter, HTTP_ROUTE } from './router.ts';
import { ruleLimitRefusals } from './rule-limit.ts';
import { stepRouteRefusals } from './step-routes.ts';

export const gatewayapi: ProviderDescriptor = {
  name: 'gatewayapi',
  summary:
    'HTTPRoute `<svc>` (gateway.networking.k8s.io/v1) splitting between `<svc>-primary` and `<svc>-canary`; session affinity by cookie rules and per-backend Set-Cookie filters',
  resources: [
    {
      type: HTTP_ROUTE,
      verbs: ['create', 'patch'],
      optional: true,
      why: 'the HTTPRoute <svc> (server-side apply)',
    },
  ],
  capabilities: {
    weights: true,
    headerMatch: true,
    cookieMatch: true,
    queryMatch: true,
    sourceLabelsMatch: false,
    mirror: true,
    sessionAffinity: true,
    blueGreen: true,
    stepRoutes: true,
  },
  builtinQueries: APP_HISTOGRAM_QUERIES,
  builtinsMeasurePrimary: true,
  // The HTTPRoute Weir writes is named after the apex Service.
  templateVariables: (spec) => ({ route: spec.service.name ?? spec.targetRef.name }),
  refuses: (spec) => [...stepRouteRefusals(spec), ...ruleLimitRefusals(spec)],
  createRouter: createGatewayApiRouter,
};
