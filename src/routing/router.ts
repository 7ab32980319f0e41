// The routing interface (Flagger's shape): each provider is one file implementing these four calls,
// registered by one line in registry.ts.
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { CanarySpec } from '../api/canary.ts';
import type { Kube, Obj } from '../kube/client.ts';
import type { ResourceType } from '../kube/informers.ts';
import type { Logger } from '../log.ts';
import type { Traffic } from '../canary/model.ts';

export interface RouteTarget {
  name: string; // canary
  namespace: string;
  spec: CanarySpec;
  apex: string; // Service names
  primary: string;
  canary: string;
  /** Label key/value that select the target's pods; the primary's value is suffixed -primary. */
  selector: { key: string; value: string };
  owner: V1OwnerReference;
}

export interface Router {
  /** Creates or updates the routing objects; a new object starts at 100/0, an existing one keeps its weights. */
  reconcile(t: RouteTarget): Promise<void>;
  setRoutes(t: RouteTarget, traffic: Traffic): Promise<void>;
  getRoutes(t: RouteTarget): Promise<Traffic>;
  /** On Canary deletion with revertOnDeletion: give traffic back to the user's own Service. */
  finalize(t: RouteTarget): Promise<void>;
}

export interface RouterDeps {
  kube: Kube;
  /** Reads an object from the informer caches (undefined when absent or not watched). */
  cached(type: ResourceType, namespace: string, name: string): Obj | undefined;
  log: Logger;
}

export type RouterFactory = (deps: RouterDeps) => Router;

/** Labels and annotations every routing object Weir writes carries. */
export function managedMeta(t: RouteTarget): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  return {
    labels: { 'app.kubernetes.io/managed-by': 'weir', 'weir.dev/canary': t.name },
    // Flux and similar reconcilers leave objects with this annotation alone (Flagger does the same).
    annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' },
  };
}
