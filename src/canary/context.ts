// Everything one reconcile of one Canary needs, read from the informer caches (no API calls).
import type { V1ConfigMap, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import type { CanarySpec, CanaryStatus, ProviderName } from '../api/canary.ts';
import { validateObject, formatProblems, type ValidationMemo } from '../api/validate.ts';
import { WeirError } from '../errors.ts';
import type { Obj } from '../kube/client.ts';
import type { Informer } from '../kube/informers.ts';
import type { RESOURCES } from '../kube/resources.ts';
import { capabilityProblems } from '../routing/capabilities.ts';
import { judgeProblems } from '../analysis/judge.ts';
import type { ProviderDescriptor } from '../routing/provider.ts';
import { descriptorOf, notSupportedMessage } from '../routing/registry.ts';
import type { RouteTarget, Router, RouterDeps } from '../routing/router.ts';
import type { CanaryView, Observations } from './model.ts';
import { contentWanted, holdContent, type Want } from './content-refs.ts';
import { checkReferences, type ReferencePolicy } from './references.ts';
import { readRequests } from './requests.ts';
import {
  namesOf,
  revisionFor,
  selectorOf,
  services,
  REVISION_ANNOTATION,
  type Names,
  type Tracked,
} from './targets.ts';
import { workloadKindOf, type Workload, type WorkloadKind } from './workloads.ts';

/**
 * Informer caches: the controller's own kinds by RESOURCES key, the routing providers' by
 * cacheKeyOf() (e.g. `httproutes.gateway.networking.k8s.io`).
 */
export type Caches = { [K in keyof typeof RESOURCES]?: Informer<Obj> } & {
  [key: string]: Informer<Obj> | undefined;
};

export interface CanaryObject extends Obj {
  metadata: Obj['metadata'] & { name: string; namespace: string };
  spec: CanarySpec;
  status?: CanaryStatus;
}

export interface CanaryContext {
  obj: CanaryObject;
  view: CanaryView;
  names: Names;
  provider: ProviderName;
  descriptor: ProviderDescriptor;
  /** What the target is (Deployment or DaemonSet) and how that kind is built, read and parked. */
  workload: WorkloadKind;
  target: Workload;
  primary?: Workload;
  selector: { key: string; value: string };
  tracked: Tracked;
  revision: string;
  /** status.trackedConfigs: checksum of each tracked ConfigMap/Secret. */
  checksums: Record<string, string>;
  owner: V1OwnerReference;
  route: RouteTarget;
  router: Router;
  key: string;
}

export function ownerOf(obj: CanaryObject): V1OwnerReference {
  return {
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    name: obj.metadata.name,
    uid: obj.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Builds the context, or throws INVALID_SPEC / NOT_FOUND with a message naming object and field. */
export function buildContext(
  obj: CanaryObject,
  caches: Caches,
  defaultProvider: ProviderName,
  routerDeps: RouterDeps,
  references: ReferencePolicy,
  memo?: ValidationMemo,
  /** Told which ConfigMaps and Secrets this reconcile reads, before it waits for any of them. */
  onContent?: (wanted: readonly Want[]) => void,
): CanaryContext {
  const ns = obj.metadata.namespace;
  const input = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: obj.metadata.name, namespace: ns },
    spec: obj.spec,
  };
  const { object, problems } = memo
    ? memo.validate(obj.metadata.uid, obj.metadata.generation, input)
    : validateObject(input);
  if (problems.length)
    throw new WeirError(
      'INVALID_SPEC',
      `Canary ${ns}/${obj.metadata.name} is invalid: ${formatProblems(problems).replace(/\n/g, '; ')}`,
    );
  const spec = object.spec as CanarySpec;
  checkReferences(spec, ns, obj.metadata.name, references);
  const provider = spec.provider ?? defaultProvider;
  const descriptor = descriptorOf(provider);
  if (!descriptor)
    throw new WeirError(
      'INVALID_SPEC',
      `Canary ${ns}/${obj.metadata.name}: ${notSupportedMessage(provider)}`,
    );
  const refused = [...capabilityProblems(spec, provider), ...judgeProblems(spec)];
  if (refused.length)
    throw new WeirError(
      'INVALID_SPEC',
      `Canary ${ns}/${obj.metadata.name}: ${refused.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  const names = namesOf(spec);
  const workload = workloadKindOf(spec.targetRef.kind);
  const target = caches[workload.cache]?.get(ns, names.target) as Workload | undefined;
  if (!target)
    throw new WeirError(
      'NOT_FOUND',
      `Canary ${ns}/${obj.metadata.name}: spec.targetRef: ${workload.kind} ${ns}/${names.target} not found`,
    );
  const unfit = workload.problem(target);
  if (unfit)
    throw new WeirError('INVALID_SPEC', `Canary ${ns}/${obj.metadata.name}: spec.targetRef: ${unfit}`);
  const selector = selectorOf(target, workload.kind);
  // The informers keep no Secret/ConfigMap data: hold what this reconcile reads (throws LOADING,
  // a requeue, while a first read is in flight), so nothing is computed from a stripped object.
  const wanted = contentWanted(ns, spec, target, caches);
  onContent?.(wanted);
  holdContent(wanted, caches);
  const getCm = (n: string) => caches.configMap?.content(ns, n) as V1ConfigMap | undefined;
  const getSecret = (n: string) => caches.secret?.content(ns, n) as V1Secret | undefined;
  const { tracked, checksums, revision } = revisionFor(target, getCm, getSecret);
  const owner = ownerOf(obj);
  const route: RouteTarget = {
    name: obj.metadata.name,
    namespace: ns,
    spec,
    apex: names.apex,
    primary: names.primaryService,
    canary: names.canaryService,
    selector,
    owner,
    ...(obj.metadata.annotations ? { annotations: obj.metadata.annotations } : {}),
  };
  const view: CanaryView = {
    name: obj.metadata.name,
    namespace: ns,
    generation: obj.metadata.generation ?? 0,
    spec,
    status: obj.status ?? {},
    annotations: obj.metadata.annotations ?? {},
  };
  return {
    obj,
    view,
    names,
    provider,
    descriptor,
    workload,
    target,
    primary: caches[workload.cache]?.get(ns, names.primary) as Workload | undefined,
    selector,
    tracked,
    revision,
    checksums,
    owner,
    route,
    router: descriptor.createRouter(routerDeps),
    key: `${ns}/${obj.metadata.name}`,
  };
}

export function observe(ctx: CanaryContext, now: Date): Observations {
  const primary = ctx.primary;
  return {
    now,
    revision: ctx.revision,
    primary: {
      exists: !!primary,
      readyPercent: ctx.workload.readyPercent(primary),
      // The pod template's annotation: what the primary's pods run (written with the template).
      revision:
        primary?.spec?.template?.metadata?.annotations?.[REVISION_ANNOTATION] ??
        primary?.metadata?.annotations?.[REVISION_ANNOTATION],
    },
    canary: {
      exists: true,
      readyPercent: ctx.workload.readyPercent(ctx.target),
      scaledToZero: ctx.workload.scaledToZero(ctx.target),
    },
    requests: readRequests(ctx.obj.metadata.annotations),
    gates: {},
  };
}

/** The apex, primary and canary Services as they should be now (the apex's selector: its router's). */
export function servicesOf(ctx: CanaryContext): ReturnType<typeof services> {
  const { view } = ctx;
  const apexSelector = ctx.router.apexSelector?.(ctx.route);
  return services(view.spec, ctx.names, ctx.selector, view.namespace, ctx.owner, apexSelector);
}
