// The routing interface (Flagger's shape): each provider's folder implements it and names its factory
// in its descriptor (provider.ts), registered by one line in registry.ts.
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { CanarySpec } from '../api/canary.ts';
import type { Kube, Obj } from '../kube/client.ts';
import type { ResourceType } from '../kube/resources.ts';
import type { Logger } from '../log.ts';
import type { Traffic } from '../vocab/traffic.ts';

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
  /** The Canary's own annotations (kuma reads Flagger's `kuma.io/mesh` there). */
  annotations?: Record<string, string>;
}

export interface Router {
  /**
   * Creates the routing objects or repairs their structure; a new object starts at 100/0, an
   * existing one keeps its weights. Resolves to true when it wrote something.
   */
  reconcile(t: RouteTarget): Promise<boolean>;
  setRoutes(t: RouteTarget, traffic: Traffic): Promise<void>;
  /** The routes as stored, read from the informer cache; undefined when a routing object is missing. */
  getRoutes(t: RouteTarget): Traffic | undefined;
  /**
   * Why the data plane has not taken the stored routes yet, where the provider reports it (e.g. an
   * HTTPRoute parent's Accepted condition behind the route's generation); undefined otherwise.
   */
  pendingRoutes?(t: RouteTarget): string | undefined;
  /**
   * The apex Service's selector as this router's stored routes stand, for a router that moves traffic
   * by that selector (kubernetes); absent: the apex always selects the primary. The Services' own
   * repair then keeps this selector and leaves routes to getRoutes/setRoutes.
   */
  apexSelector?(t: RouteTarget): Record<string, string>;
  /** The objects the router writes for this Canary (besides the Services), for drift reports. */
  objects(t: RouteTarget): Array<{ type: ResourceType; name: string }>;
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
