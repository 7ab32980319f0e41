// Coordinates of every kind Weir reads or writes (no client code here, so the CLI can import it cheaply).
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
}

export const RESOURCES = {
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  service: { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  configMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  hpa: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  httpRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', plural: 'httproutes' },
  canary: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', plural: 'canaries' },
  metricTemplate: { apiVersion: 'weir.dev/v1alpha1', kind: 'MetricTemplate', plural: 'metrictemplates' },
  alertProvider: { apiVersion: 'weir.dev/v1alpha1', kind: 'AlertProvider', plural: 'alertproviders' },
  gitSync: { apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', plural: 'gitsyncs' },
} satisfies Record<string, ResourceType>;
