// Coordinates of every kind Weir reads or writes (no client code here, so the CLI can import it cheaply).
// The kinds below are the controller's own; routing providers declare theirs in their descriptor
// (src/routing/<name>/), and their informers are keyed by cacheKeyOf().
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
}

export const RESOURCES = {
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  daemonSet: { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets' },
  service: { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  configMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  hpa: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  canary: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', plural: 'canaries' },
  metricTemplate: { apiVersion: 'weir.dev/v1alpha1', kind: 'MetricTemplate', plural: 'metrictemplates' },
  alertProvider: { apiVersion: 'weir.dev/v1alpha1', kind: 'AlertProvider', plural: 'alertproviders' },
  gitSync: { apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', plural: 'gitsyncs' },
} satisfies Record<string, ResourceType>;

/** The API group of a type ('' for the core group). */
export function groupOf(type: Pick<ResourceType, 'apiVersion'>): string {
  return type.apiVersion.includes('/') ? type.apiVersion.split('/')[0]! : '';
}

/**
 * The informer cache key of a type: its RESOURCES key for the controller's own kinds, else
 * `<plural>.<group>` (e.g. `httproutes.gateway.networking.k8s.io`), as kubectl names resources.
 */
export function cacheKeyOf(type: Pick<ResourceType, 'apiVersion' | 'kind'> & { plural?: string }): string {
  const own = (Object.keys(RESOURCES) as Array<keyof typeof RESOURCES>).find(
    (k) => RESOURCES[k].kind === type.kind && RESOURCES[k].apiVersion === type.apiVersion,
  );
  if (own) return own;
  const group = groupOf(type);
  const plural = type.plural ?? `${type.kind.toLowerCase()}s`;
  return group ? `${plural}.${group}` : plural;
}
