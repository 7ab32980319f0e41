// Applies a build to the cluster with server-side apply under GitSync's own field manager:
// Namespaces and CRDs first (waiting until the CRDs are Established), then the rest in dependency
// order. An object whose live state already says what Git says is not written, so a sync of an
// unchanged revision makes no writes. GitSync cooperates with the canary controller: objects Weir
// manages are never touched, and on a Canary's target Deployment `spec.replicas` is left to Weir
// (it scales the target to 0 between runs under its own field manager).
import { createHash } from 'node:crypto';
import { WeirError } from '../errors.ts';
import { isSubset } from '../kube/compare.ts';
import type { Desired, Json } from './build.ts';
import type { ApiClient, ObjectRef } from '../kube/rest.ts';

export const GITSYNC_MANAGER = 'weir-gitsync';
export const LABEL_NAME = 'weir.dev/gitsync-name';
export const LABEL_NAMESPACE = 'weir.dev/gitsync-namespace';
/** Digest of what GitSync last applied to the object (survives controller restarts). */
export const DIGEST_ANNOTATION = 'weir.dev/gitsync-digest';
/** On a Canary's target: the Git revision that last changed it (so status can say what a run is running). */
export const GIT_REVISION_ANNOTATION = 'weir.dev/git-revision';
const MANAGED_BY = 'app.kubernetes.io/managed-by';
/** On an existing object: this GitSync may take it over although no GitSync applied it. */
export const ADOPT_ANNOTATION = 'weir.dev/gitsync-adopt';

export interface InventoryEntry {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface AppliedRecord {
  digest: string;
  /** Digest of the live values at the paths GitSync sets, right after its last write. */
  projection: string;
}

export interface ApplyOptions {
  owner: { namespace: string; name: string };
  revision: string;
  /** `namespace/name` of every Deployment that a Canary (in Git or in the cluster) targets. */
  canaryTargets: Set<string>;
  /** Per-GitSync memory of what was applied, to tell drift from server-side normalisation. */
  memory: Map<string, AppliedRecord>;
  /** Until when to wait for CRDs to become Established. */
  deadline: number;
  /** Keys (build.keyOf) of this GitSync's previous inventory: objects it applied before. */
  owned: Set<string>;
  /** `spec.adopt`: take over existing objects that no GitSync applied. */
  adopt: boolean;
  concurrency?: number;
}

export interface ApplyReport {
  /** Objects now as Git says (written or already equal); skipped ones excluded. */
  inventory: InventoryEntry[];
  created: string[];
  configured: string[];
  unchanged: number;
  skipped: Array<{ object: string; reason: string }>;
}

export class ApplyError extends WeirError {
  constructor(
    message: string,
    readonly report: ApplyReport,
  ) {
    super('KUBE_API', message);
  }
}

// Dependency order (what must exist before what), after Namespaces and CRDs; unknown kinds last.
const ORDER = [
  'Namespace',
  'CustomResourceDefinition',
  'PriorityClass',
  'ResourceQuota',
  'LimitRange',
  'NetworkPolicy',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicaSet',
  'Deployment',
  'StatefulSet',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
  'MetricTemplate',
  'AlertProvider',
];

export function rankOf(kind: string): number {
  const i = ORDER.indexOf(kind);
  if (kind === 'Canary') return ORDER.length + 1; // after its target, templates and providers
  return i >= 0 ? i : ORDER.length;
}

export function refOf(obj: Json): ObjectRef {
  const m = (obj.metadata ?? {}) as Json;
  return {
    apiVersion: String(obj.apiVersion),
    kind: String(obj.kind),
    ...(m.namespace ? { namespace: String(m.namespace) } : {}),
    name: String(m.name),
  };
}

export function describeRef(r: { kind: string; namespace?: string | undefined; name: string }): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

export function inventoryEntry(r: ObjectRef): InventoryEntry {
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    ...(r.namespace ? { namespace: r.namespace } : {}),
    name: r.name,
  };
}

/** Label values are at most 63 characters; long GitSync names get a hashed suffix. */
export function labelValue(v: string): string {
  return v.length <= 63 ? v : `${v.slice(0, 54)}-${createHash('sha256').update(v).digest('hex').slice(0, 8)}`;
}

export function ownerSelector(owner: { namespace: string; name: string }): string {
  return `${LABEL_NAME}=${labelValue(owner.name)},${LABEL_NAMESPACE}=${owner.namespace}`;
}

export function isManagedByWeir(obj: Json | undefined): boolean {
  return (
    ((obj?.metadata as Json | undefined)?.labels as Record<string, string> | undefined)?.[MANAGED_BY] ===
    'weir'
  );
}

function hash(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 20);
}

/** The live values at the paths `desired` sets (lists element-wise when lengths agree). */
export function project(desired: unknown, live: unknown): unknown {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length
      ? desired.map((d, i) => project(d, live[i]))
      : live;
  }
  if (desired && typeof desired === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return live;
    const l = live as Json;
    return Object.fromEntries(Object.keys(desired).map((k) => [k, project((desired as Json)[k], l[k])]));
  }
  return live;
}

/** Whether GitSync's own apply entry still owns `spec.replicas` (it applied them when creating). */
function ownsReplicas(live: Json): boolean {
  const mf = ((live.metadata as Json | undefined)?.managedFields as Json[] | undefined) ?? [];
  return mf.some(
    (m) =>
      m.manager === GITSYNC_MANAGER &&
      m.operation === 'Apply' &&
      !!((m.fieldsV1 as Json | undefined)?.['f:spec'] as Json | undefined)?.['f:replicas'],
  );
}

interface Prepared {
  /** What is compared with the live object and digested (no replicas on canary targets). */
  compare: Json;
  /** What is written. */
  write: Json;
  digest: string;
}

/**
 * The object as GitSync applies it. On a canary target, `spec.replicas` from Git is applied only when
 * creating (the primary copies it); afterwards Weir owns it, and while GitSync still owns it (before
 * Weir first scaled) the live value is re-applied so that giving it up never resets it.
 */
function prepare(d: Desired, live: Json | undefined, opts: ApplyOptions, isTarget: boolean): Prepared {
  const compare = structuredClone(d.obj);
  const meta = compare.metadata as Json;
  meta.labels = {
    ...((meta.labels as Json | undefined) ?? {}),
    [LABEL_NAME]: labelValue(opts.owner.name),
    [LABEL_NAMESPACE]: opts.owner.namespace,
  };
  const spec = compare.spec as Json | undefined;
  const gitReplicas = spec?.replicas;
  if (isTarget && spec) delete spec.replicas;
  const digest = hash({ compare, isTarget });
  const write = structuredClone(compare);
  const wmeta = write.metadata as Json;
  wmeta.annotations = {
    ...((wmeta.annotations as Json | undefined) ?? {}),
    [DIGEST_ANNOTATION]: digest,
    ...(isTarget ? { [GIT_REVISION_ANNOTATION]: opts.revision } : {}),
  };
  if (isTarget && write.spec) {
    const liveReplicas = (live?.spec as Json | undefined)?.replicas;
    if (!live && gitReplicas !== undefined) (write.spec as Json).replicas = gitReplicas;
    else if (live && ownsReplicas(live) && liveReplicas !== undefined)
      (write.spec as Json).replicas = liveReplicas;
  }
  return { compare, write, digest };
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<unknown[]> {
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return errors;
}

/** Applies every object; throws ApplyError (with what was done so far) on the first failures. */
export async function applyAll(api: ApiClient, objects: Desired[], opts: ApplyOptions): Promise<ApplyReport> {
  const report: ApplyReport = { inventory: [], created: [], configured: [], unchanged: 0, skipped: [] };
  const ranks = [...new Set(objects.map((o) => rankOf(String(o.obj.kind))))].sort((a, b) => a - b);
  for (const rank of ranks) {
    const group = objects.filter((o) => rankOf(String(o.obj.kind)) === rank);
    const live = await listLive(api, group, opts.owner);
    const errors = await pool(group, opts.concurrency ?? 8, (d) =>
      applyOne(api, d, live.get(d.key), opts, report),
    );
    if (errors.length) {
      const msg = errors
        .slice(0, 3)
        .map((e) => (e as Error).message)
        .join('; ');
      throw new ApplyError(msg, report);
    }
    if (group.some((d) => d.obj.kind === 'CustomResourceDefinition'))
      await waitEstablished(api, group, opts.deadline, report);
  }
  return report;
}

/** Live objects this GitSync labelled, one LIST per kind and namespace (falls back to GETs on failure). */
async function listLive(
  api: ApiClient,
  group: Desired[],
  owner: ApplyOptions['owner'],
): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  const lists = new Map<string, { apiVersion: string; kind: string; namespace?: string | undefined }>();
  for (const d of group) {
    const r = refOf(d.obj);
    lists.set(`${r.apiVersion}|${r.kind}|${r.namespace ?? ''}`, r);
  }
  const byRef = new Map(group.map((d) => [JSON.stringify(refKey(refOf(d.obj))), d.key]));
  await Promise.all(
    [...lists.values()].map(async (l) => {
      const items = await api.list(l.apiVersion, l.kind, l.namespace, ownerSelector(owner)).catch(() => []);
      for (const item of items) {
        // List items carry no apiVersion/kind; put them back so items compare like single objects.
        const full = { ...item, apiVersion: l.apiVersion, kind: l.kind };
        const k = byRef.get(JSON.stringify(refKey(refOf(full))));
        if (k) out.set(k, full);
      }
    }),
  );
  return out;
}

function refKey(r: ObjectRef): [string, string, string, string] {
  return [r.apiVersion, r.kind, r.namespace ?? '', r.name];
}

async function applyOne(
  api: ApiClient,
  d: Desired,
  listed: Json | undefined,
  opts: ApplyOptions,
  report: ApplyReport,
): Promise<void> {
  const ref = refOf(d.obj);
  const name = describeRef(ref);
  const where = `${name} (${d.file}:${d.line})`;
  try {
    const live = listed ?? (await api.get(ref));
    if (isManagedByWeir(d.obj) || isManagedByWeir(live)) {
      report.skipped.push({ object: name, reason: 'managed by Weir (app.kubernetes.io/managed-by: weir)' });
      return;
    }
    const other = otherOwner(live, opts.owner);
    if (other) {
      // Two GitSyncs applying one object would overwrite each other at every sync.
      throw new WeirError('INVALID_SPEC', `already applied by GitSync ${other}; remove it from one of them`);
    }
    const refusal = adoptionRefusal(live, d.key, opts);
    if (refusal) throw new WeirError('INVALID_SPEC', refusal);
    const isTarget = ref.kind === 'Deployment' && opts.canaryTargets.has(`${ref.namespace}/${ref.name}`);
    const p = prepare(d, live, opts, isTarget);
    if (live && ((live.metadata as Json).annotations as Json | undefined)?.[DIGEST_ANNOTATION] === p.digest) {
      const mem = opts.memory.get(d.key);
      const projection = hash(project(p.compare, live));
      const same = mem ? mem.digest === p.digest && mem.projection === projection : isSubset(p.compare, live);
      if (same) {
        opts.memory.set(d.key, { digest: p.digest, projection });
        report.unchanged++;
        report.inventory.push(inventoryEntry(ref));
        return;
      }
    }
    const result = await api.apply(p.write, GITSYNC_MANAGER);
    opts.memory.set(d.key, { digest: p.digest, projection: hash(project(p.compare, result)) });
    (live ? report.configured : report.created).push(name);
    report.inventory.push(inventoryEntry(ref));
  } catch (err) {
    throw new WeirError('KUBE_API', `${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** `namespace/name` of another GitSync whose labels the live object carries. */
function otherOwner(live: Json | undefined, owner: ApplyOptions['owner']): string | undefined {
  const labels = ((live?.metadata as Json | undefined)?.labels ?? {}) as Record<string, string>;
  const name = labels[LABEL_NAME];
  const ns = labels[LABEL_NAMESPACE];
  if (!name || (name === labelValue(owner.name) && ns === owner.namespace)) return undefined;
  return `${ns ?? '?'}/${name}`;
}

/**
 * Why an existing object may not be taken over, or undefined. GitSync writes with a forced
 * server-side apply, so without this check a repository could silently seize any object it names.
 * Ours: labelled as this GitSync's, or in its previous inventory. Anything else needs an opt-in:
 * the object's annotation weir.dev/gitsync-adopt: "true", or the GitSync's spec.adopt.
 */
export function adoptionRefusal(
  live: Json | undefined,
  key: string,
  opts: Pick<ApplyOptions, 'owner' | 'owned' | 'adopt'>,
): string | undefined {
  if (!live) return undefined;
  const meta = (live.metadata ?? {}) as Json;
  const labels = (meta.labels ?? {}) as Record<string, string>;
  if (labels[LABEL_NAME] === labelValue(opts.owner.name) && labels[LABEL_NAMESPACE] === opts.owner.namespace)
    return undefined;
  if (opts.owned.has(key)) return undefined;
  if (opts.adopt) return undefined;
  if (((meta.annotations ?? {}) as Record<string, string>)[ADOPT_ANNOTATION] === 'true') return undefined;
  return `exists and was not applied by this GitSync; refused to take it over (annotate the object ${ADOPT_ANNOTATION}: "true" or set spec.adopt: true on the GitSync)`;
}

function established(crd: Json | undefined): boolean {
  const conds = ((crd?.status as Json | undefined)?.conditions as Json[] | undefined) ?? [];
  return conds.some((c) => c.type === 'Established' && c.status === 'True');
}

async function waitEstablished(
  api: ApiClient,
  group: Desired[],
  deadline: number,
  report: ApplyReport,
): Promise<void> {
  for (const d of group.filter((o) => o.obj.kind === 'CustomResourceDefinition')) {
    const ref = refOf(d.obj);
    for (;;) {
      if (established(await api.get(ref))) break;
      if (Date.now() > deadline)
        throw new ApplyError(
          `${describeRef(ref)} (${d.file}:${d.line}) is not Established within the timeout`,
          report,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
