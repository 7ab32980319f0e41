// Provider `kubernetes`: no proxy, the apex Service's selector alone. Blue/green (iterations), or
// weights split by pod counts (the apex selects both the primary's and the canary's pods, whose
// replicas follow the weight; Argo Rollouts' canary without trafficRouting). See router.ts.
import type { CanarySpec } from '../../api/canary.ts';
import { RESOURCES } from '../../kube/resources.ts';
import { APP_HISTOGRAM_QUERIES } from '../app-histogram.ts';
import type { ProviderDescriptor } from '../provider.ts';
import { weighted } from './replicas.ts';
import { createKubernetesRouter } from './router.ts';

/** What pod counts cannot do: a DaemonSet has no replicas, and an HPA owns the primary's. */
function refuses(spec: CanarySpec): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  if (weighted(spec) && spec.targetRef.kind === 'DaemonSet')
    out.push({
      path: 'spec.targetRef.kind',
      message:
        'provider kubernetes splits traffic by replica counts and a DaemonSet has none; use analysis.iterations (blue/green)',
    });
  if (spec.analysis.dynamicStableScale && spec.autoscalerRef)
    out.push({
      path: 'spec.analysis.dynamicStableScale',
      message:
        "provider kubernetes cannot scale the primary down while spec.autoscalerRef's HPA owns its replicas; remove one of them",
    });
  return out;
}

export const kubernetes: ProviderDescriptor = {
  name: 'kubernetes',
  summary:
    'no proxy: blue/green through the apex Service `<svc>`, or weights split by pod counts (approximate)',
  resources: [
    {
      type: RESOURCES.service,
      verbs: ['patch'],
      why: "the apex Service's selector and weight (merge patch)",
    },
    {
      type: RESOURCES.deployment,
      verbs: ['patch'],
      why: "weights by pod counts: the canary's and the primary's replicas, the shared pod label (server-side apply)",
    },
  ],
  capabilities: {
    weights: true,
    headerMatch: false,
    cookieMatch: false,
    queryMatch: false,
    sourceLabelsMatch: false,
    mirror: false,
    sessionAffinity: false,
    blueGreen: true,
    dynamicStableScale: true,
  },
  refuses,
  builtinQueries: APP_HISTOGRAM_QUERIES,
  builtinsMeasurePrimary: true,
  createRouter: createKubernetesRouter,
};
