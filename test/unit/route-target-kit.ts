// The RouteTarget the routing unit tests build their objects for: Canary `podinfo` in namespace
// `test`, Services podinfo / podinfo-primary / podinfo-canary on port 9898.
import type { CanarySpec } from '../../src/api/canary.ts';
import type { RouteTarget } from '../../src/routing/router.ts';

export interface TargetParts {
  /** Merged into spec.service (port 9898). */
  service?: Record<string, unknown>;
  /** Merged into spec.analysis (interval 1m, threshold 5). */
  analysis?: Record<string, unknown>;
  /** Other spec fields (ingressRef, routeRef, upstreamRef…), merged last. */
  spec?: Record<string, unknown>;
  /** The Canary's annotations, for routers that read them. */
  annotations?: Record<string, string>;
}

export function podinfoTarget(parts: TargetParts = {}): RouteTarget {
  return {
    name: 'podinfo',
    namespace: 'test',
    apex: 'podinfo',
    primary: 'podinfo-primary',
    canary: 'podinfo-canary',
    selector: { key: 'app', value: 'podinfo' },
    owner: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', name: 'podinfo', uid: 'u', controller: true },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898, ...parts.service },
      analysis: { interval: '1m', threshold: 5, ...parts.analysis },
      ...parts.spec,
    } as unknown as CanarySpec,
    ...(parts.annotations ? { annotations: parts.annotations } : {}),
  };
}
