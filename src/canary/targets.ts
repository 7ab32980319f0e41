// What Weir builds from the user's Deployment or DaemonSet: the `-primary` copy (selector label value
// suffixed `-primary`), the apex/primary/canary Services, `-primary` copies of the ConfigMaps and
// Secrets the pod template uses (the primary's pod spec rewritten to them), an HPA copy, and the
// revision hash of template + config data. Builders here are pure; apply.ts writes them. What differs
// between the two kinds is in workloads.ts.
import { createHash } from 'node:crypto';
import type { V1ConfigMap, V1OwnerReference, V1PodSpec, V1Secret, V1Service } from '@kubernetes/client-node';
import type { CanarySpec } from '../api/canary.ts';
import { WeirError } from '../errors.ts';
import { SHARED_POD_LABEL, userTemplate, type Workload, type WorkloadKind } from './workloads.ts';

export const REVISION_ANNOTATION = 'weir.dev/revision';
export const TRACKING_ANNOTATION = 'weir.dev/config-tracking';
const SELECTOR_KEYS = ['app', 'name', 'app.kubernetes.io/name'];

export interface Names {
  target: string;
  primary: string;
  apex: string;
  primaryService: string;
  canaryService: string;
}

export function namesOf(spec: CanarySpec): Names {
  const apex = spec.service.name ?? spec.targetRef.name;
  return {
    target: spec.targetRef.name,
    primary: `${spec.targetRef.name}-primary`,
    apex,
    primaryService: `${apex}-primary`,
    canaryService: `${apex}-canary`,
  };
}

/** The label that selects the target's pods (Flagger's order: app, name, app.kubernetes.io/name). */
export function selectorOf(target: Workload, kind = 'Deployment'): { key: string; value: string } {
  const labels = target.spec?.selector?.matchLabels ?? {};
  const key = SELECTOR_KEYS.find((k) => labels[k]) ?? Object.keys(labels)[0];
  if (!key) {
    throw new WeirError(
      'INVALID_SPEC',
      `${kind} ${target.metadata?.name} has no spec.selector.matchLabels to copy for the primary`,
    );
  }
  return { key, value: labels[key]! };
}

export interface Tracked {
  configMaps: string[];
  secrets: string[];
}

/** ConfigMaps and Secrets a pod spec refers to (volumes, projected volumes, envFrom, env). */
export function referencedConfigs(pod: V1PodSpec | undefined): Tracked {
  const cms = new Set<string>();
  const secrets = new Set<string>();
  for (const v of pod?.volumes ?? []) {
    if (v.configMap?.name) cms.add(v.configMap.name);
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap?.name) cms.add(s.configMap.name);
      if (s.secret?.name) secrets.add(s.secret.name);
    }
  }
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    for (const e of c.envFrom ?? []) {
      if (e.configMapRef?.name) cms.add(e.configMapRef.name);
      if (e.secretRef?.name) secrets.add(e.secretRef.name);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef?.name) cms.add(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
    }
  }
  return { configMaps: [...cms].sort(), secrets: [...secrets].sort() };
}

/** Drops configs that opt out of tracking or do not exist (optional references). */
export function trackedConfigs(
  pod: V1PodSpec | undefined,
  getCm: (n: string) => V1ConfigMap | undefined,
  getSecret: (n: string) => V1Secret | undefined,
): Tracked {
  const refs = referencedConfigs(pod);
  const on = (o: { metadata?: { annotations?: Record<string, string> } } | undefined) =>
    !!o && o.metadata?.annotations?.[TRACKING_ANNOTATION] !== 'disabled';
  return {
    configMaps: refs.configMaps.filter((n) => on(getCm(n))),
    secrets: refs.secrets.filter((n) => on(getSecret(n))),
  };
}

const digest = (v: unknown) =>
  createHash('sha256')
    .update(JSON.stringify(sortKeys(v)))
    .digest('hex')
    .slice(0, 16);

/** Checksum of each tracked config's data, keyed `configmap/<name>` or `secret/<name>` (status.trackedConfigs). */
export function configChecksums(configs: {
  configMaps: V1ConfigMap[];
  secrets: V1Secret[];
}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const cm of configs.configMaps)
    out[`configmap/${cm.metadata?.name}`] = digest({ d: cm.data ?? {}, b: cm.binaryData ?? {} });
  for (const s of configs.secrets) out[`secret/${s.metadata?.name}`] = digest(s.data ?? {});
  return out;
}

/**
 * The last revision computed for each workload, by uid. A pod template changes only with the spec,
 * which bumps metadata.generation, so the kube-controller-manager's status updates (each a new
 * cached object) reuse the hash: sorting and hashing the template was 3.5 % of a rollout's CPU, and
 * still 1.5 % when remembered per cached object. The config checksums are part of the key. An
 * object without uid or generation (a unit test's) is hashed every time.
 */
const revisions = new Map<string, { generation: number; configs: string; revision: string }>();
/** Several times the workloads of 1,000 Canaries; the entry changed longest ago goes first. */
const MAX_REVISIONS = 10_000;

/**
 * Hash of the pod template and the data of every tracked config: a new value means a new revision.
 * A DaemonSet's parking nodeSelector (workloads.ts) is no part of it.
 */
export function revisionOf(target: Workload, checksums: Record<string, string>): string {
  const configs = JSON.stringify(checksums);
  const { uid, generation } = target.metadata ?? {};
  const known = uid ? revisions.get(uid) : undefined;
  if (known && known.generation === generation && known.configs === configs) return known.revision;
  const revision = digest({ template: userTemplate(target) ?? {}, configs: checksums });
  if (uid && generation !== undefined) {
    revisions.delete(uid);
    revisions.set(uid, { generation, configs, revision });
    if (revisions.size > MAX_REVISIONS) revisions.delete(revisions.keys().next().value!);
  }
  return revision;
}

/** The workload was deleted: its remembered revision goes with it. */
export function forgetRevision(uid: string | undefined): void {
  if (uid) revisions.delete(uid);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** The revision of a target as the controller computes it: tracked configs, their checksums, the hash. */
export function revisionFor(
  target: Workload,
  getCm: (n: string) => V1ConfigMap | undefined,
  getSecret: (n: string) => V1Secret | undefined,
): { tracked: Tracked; checksums: Record<string, string>; revision: string } {
  const tracked = trackedConfigs(target.spec?.template?.spec, getCm, getSecret);
  const checksums = configChecksums({
    configMaps: tracked.configMaps.map(getCm).filter((c) => !!c),
    secrets: tracked.secrets.map(getSecret).filter((s) => !!s),
  });
  return { tracked, checksums, revision: revisionOf(target, checksums) };
}

/** The primary's pod spec: tracked config names get the `-primary` suffix. */
export function rewriteConfigRefs(pod: V1PodSpec, tracked: Tracked): V1PodSpec {
  const out = structuredClone(pod);
  const cm = (n?: string) => (n && tracked.configMaps.includes(n) ? `${n}-primary` : n);
  const sec = (n?: string) => (n && tracked.secrets.includes(n) ? `${n}-primary` : n);
  for (const v of out.volumes ?? []) {
    if (v.configMap) v.configMap.name = cm(v.configMap.name);
    if (v.secret) v.secret.secretName = sec(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap) s.configMap.name = cm(s.configMap.name);
      if (s.secret) s.secret.name = sec(s.secret.name);
    }
  }
  for (const c of [...(out.containers ?? []), ...(out.initContainers ?? [])]) {
    for (const e of c.envFrom ?? []) {
      if (e.configMapRef) e.configMapRef.name = cm(e.configMapRef.name);
      if (e.secretRef) e.secretRef.name = sec(e.secretRef.name);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef)
        e.valueFrom.configMapKeyRef.name = cm(e.valueFrom.configMapKeyRef.name)!;
      if (e.valueFrom?.secretKeyRef) e.valueFrom.secretKeyRef.name = sec(e.valueFrom.secretKeyRef.name)!;
    }
  }
  return out;
}

export interface PrimaryInput {
  kind: WorkloadKind;
  target: Workload;
  names: Names;
  revision: string;
  tracked: Tracked;
  owner: V1OwnerReference;
  /** Replicas for the primary; undefined leaves them to an HPA. */
  replicas?: number;
}

/** The `-primary` Deployment or DaemonSet for the target's current template and configs. */
export function primaryWorkload(p: PrimaryInput): Workload & { apiVersion: string; kind: string } {
  const { key, value } = selectorOf(p.target, p.kind.kind);
  const template = structuredClone(userTemplate(p.target)!);
  // The revision covers tracked config data: a config-only change must still replace the primary's
  // pods, since envFrom/env values are read only when a container starts.
  // The shared label (when a router gave the target one) stays on the primary's pods, so that the
  // apex Service that selects both keeps selecting the primary after a promotion.
  const shared = p.target.spec?.template?.metadata?.labels?.[SHARED_POD_LABEL];
  template.metadata = {
    ...template.metadata,
    labels: {
      ...template.metadata?.labels,
      [key]: `${value}-primary`,
      ...(shared ? { [SHARED_POD_LABEL]: shared } : {}),
    },
    annotations: { ...template.metadata?.annotations, [REVISION_ANNOTATION]: p.revision },
  };
  template.spec = rewriteConfigRefs(template.spec!, p.tracked);
  return {
    apiVersion: 'apps/v1',
    kind: p.kind.kind,
    metadata: {
      name: p.names.primary,
      namespace: p.target.metadata!.namespace,
      labels: {
        ...p.target.metadata?.labels,
        [key]: `${value}-primary`,
        'app.kubernetes.io/managed-by': 'weir',
      },
      annotations: { [REVISION_ANNOTATION]: p.revision },
      ownerReferences: [p.owner],
    },
    spec: {
      ...p.kind.primarySpec(p.target, p.replicas),
      selector: { matchLabels: { [key]: `${value}-primary` } },
      template,
    },
  };
}

/**
 * The apex, primary and canary Services. The apex selects the primary unless its router keeps its
 * selector itself (`apexSelector`: the one the router's stored routes stand for).
 */
export function services(
  spec: CanarySpec,
  names: Names,
  selector: { key: string; value: string },
  namespace: string,
  owner: V1OwnerReference,
  apexSelector?: Record<string, string>,
): Array<V1Service & { apiVersion: string; kind: string }> {
  const s = spec.service;
  const port = {
    name: s.portName ?? 'http',
    port: s.port,
    protocol: 'TCP',
    targetPort: s.targetPort ?? s.port,
    ...(s.appProtocol ? { appProtocol: s.appProtocol } : {}),
  };
  const primarySelects = { [selector.key]: `${selector.value}-primary` };
  const make = (
    name: string,
    select: Record<string, string>,
    meta?: { labels?: Record<string, string>; annotations?: Record<string, string> },
  ) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      labels: { ...meta?.labels, 'app.kubernetes.io/managed-by': 'weir', 'weir.dev/canary': owner.name },
      ...(meta?.annotations ? { annotations: meta.annotations } : {}),
      ownerReferences: [owner],
    },
    spec: { type: 'ClusterIP', selector: select, ports: [port] },
  });
  return [
    make(names.apex, apexSelector ?? primarySelects, s.apex),
    make(names.primaryService, primarySelects, s.primary),
    make(names.canaryService, { [selector.key]: selector.value }, s.canary),
  ];
}

export function imagesOf(d: Workload | undefined): string {
  return (d?.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '').join(', ');
}
