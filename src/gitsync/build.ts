// From a checkout to the list of objects GitSync will apply, all-or-nothing: every file is parsed
// and every object checked before anything touches the cluster. A problem anywhere (YAML syntax, a
// missing apiVersion/kind/name, a duplicate, an invalid Weir object, an unknown kind, a hostile file)
// fails the whole build, and every problem names its file and line.
import { Composer, LineCounter, Parser } from 'yaml';
import { API_VERSION } from '../api/kinds.ts';
import { formatProblems, validateObject } from '../api/validate.ts';
import {
  DEFAULT_SOURCE_LIMITS,
  readSources,
  tokenBudget,
  yieldToLoop,
  type Problem,
  type SourceFile,
  type SourceLimits,
} from './sources.ts';
import type { Confinement } from './policy.ts';

export type { Problem } from './sources.ts';

export type Json = Record<string, unknown>;
export type Scope = 'Namespaced' | 'Cluster';
export type ScopeOf = (apiVersion: string, kind: string) => Scope | undefined;

export interface BuildLimits extends SourceLimits {
  /** yaml's guard against "billion laughs": alias expansions allowed per document. */
  maxAliasCount: number;
  maxObjects: number;
}

export const DEFAULT_LIMITS: BuildLimits = {
  ...DEFAULT_SOURCE_LIMITS,
  maxAliasCount: 100,
  maxObjects: 10_000,
};

export interface ParsedDoc {
  obj: Json;
  file: string;
  line: number;
}

export interface Desired {
  obj: Json;
  file: string;
  line: number;
  /** group/kind/namespace/name: identity independent of the API version. */
  key: string;
}

export type BuildResult = { ok: true; objects: Desired[] } | { ok: false; problems: Problem[] };

export interface AssembleOptions {
  /** The GitSync's own namespace: where namespaced objects that name none go. */
  namespace: string;
  targetNamespace?: string | undefined;
  scopeOf: ScopeOf;
  /** What the GitSync may write besides its own namespace (tenancy flags); unset: anything. */
  confinement?: Confinement | undefined;
}

// Kinds whose scope is known without asking the cluster (the rest comes from discovery or CRDs in Git).
const CLUSTER_KINDS = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'APIService',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'GatewayClass',
  'CertificateSigningRequest',
  'FlowSchema',
  'PriorityLevelConfiguration',
]);

/** Scope of well-known built-in kinds and Weir's, without a cluster (tests, offline checks). */
export const wellKnownScope: ScopeOf = (apiVersion, kind) => {
  if (CLUSTER_KINDS.has(kind)) return 'Cluster';
  if (apiVersion === API_VERSION) return 'Namespaced';
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  const builtin = [
    '',
    'apps',
    'batch',
    'autoscaling',
    'policy',
    'networking.k8s.io',
    'rbac.authorization.k8s.io',
    'discovery.k8s.io',
    'coordination.k8s.io',
    'events.k8s.io',
  ];
  return builtin.includes(group) ? 'Namespaced' : undefined;
};

export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
}

export function keyOf(o: {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name: string;
}): string {
  return `${groupOf(o.apiVersion)}/${o.kind}/${o.namespace ?? ''}/${o.name}`;
}

/**
 * Parses every file; YAML errors, alias bombs and oversized documents are problems naming file and
 * line. Documents are built one at a time (the event loop gets a turn between them), and parsing
 * stops once there are more objects than `maxObjects`.
 */
export async function parseSources(
  files: SourceFile[],
  limits: Pick<
    BuildLimits,
    'maxAliasCount' | 'maxObjects' | 'maxDocumentTokens' | 'maxTotalTokens'
  > = DEFAULT_LIMITS,
): Promise<{
  docs: ParsedDoc[];
  problems: Problem[];
}> {
  const docs: ParsedDoc[] = [];
  const problems: Problem[] = [];
  const used = { total: 0 };
  for (const { file, text } of files) {
    const over = await tokenBudget(text, file, limits, used);
    if (over) {
      problems.push(over);
      // The total is spent: the files after this one are not read either.
      if (used.total > limits.maxTotalTokens) break;
      continue;
    }
    const lc = new LineCounter();
    const composer = new Composer({ prettyErrors: false, merge: true, uniqueKeys: true });
    for (const doc of composer.compose(new Parser(lc.addNewLine).parse(text))) {
      if (doc.errors.length) {
        for (const e of doc.errors.slice(0, 3)) {
          const pos = lc.linePos(e.pos[0]);
          problems.push({ file, line: pos.line, col: pos.col, message: e.message.split('\n')[0]! });
        }
        continue;
      }
      const line = lc.linePos(doc.contents?.range[0] ?? doc.range[0]).line;
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
      } catch (err) {
        problems.push({
          file,
          line,
          message: /alias/i.test((err as Error).message)
            ? `too many YAML aliases (over ${limits.maxAliasCount}): refused as a resource exhaustion attack`
            : (err as Error).message,
        });
        continue;
      }
      await yieldToLoop();
      if (value === null || value === undefined) continue; // empty document
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push({ file, line, message: 'a document must be a mapping (a Kubernetes object)' });
        continue;
      }
      const obj = value as Json;
      // kubectl's List wrapper: its items are the objects.
      if (obj.kind === 'List' && Array.isArray(obj.items)) {
        for (const item of obj.items) docs.push({ obj: item as Json, file, line });
      } else docs.push({ obj, file, line });
      if (docs.length > limits.maxObjects) {
        problems.push({ message: `more than ${limits.maxObjects} objects, over the limit` });
        return { docs, problems };
      }
    }
  }
  return { docs, problems };
}

const CRD_GROUP = 'apiextensions.k8s.io/';

/**
 * Kinds that CustomResourceDefinitions in the same build define, with their scope. Only asked for
 * kinds the cluster does not serve yet: a CRD in Git must not decide the scope of a served kind
 * (a "CRD" claiming that CustomResourceDefinition or ClusterRoleBinding is namespaced would slip
 * cluster-scoped objects past the namespace confinement).
 */
export function crdScopes(docs: ParsedDoc[]): Map<string, Scope> {
  const out = new Map<string, Scope>();
  for (const { obj } of docs) {
    // Only a real CRD defines kinds (not a custom kind that happens to be named like one).
    if (obj?.kind !== 'CustomResourceDefinition' || !String(obj.apiVersion).startsWith(CRD_GROUP)) continue;
    const spec = obj.spec as
      | { group?: string; names?: { kind?: string }; scope?: string; versions?: Array<{ name?: string }> }
      | undefined;
    // Nor the CRD machinery itself, even in a version the cluster does not serve.
    if (!spec?.group || !spec.names?.kind || `${spec.group}/` === CRD_GROUP) continue;
    for (const v of spec.versions ?? [])
      out.set(
        `${spec.group}/${v.name}/${spec.names.kind}`,
        spec.scope === 'Cluster' ? 'Cluster' : 'Namespaced',
      );
  }
  return out;
}

/** Checks the parsed objects and settles their namespaces; never touches the cluster. */
export function assemble(
  docs: ParsedDoc[],
  opts: AssembleOptions,
  limits: Pick<BuildLimits, 'maxObjects'> = DEFAULT_LIMITS,
): BuildResult {
  const problems: Problem[] = [];
  const objects: Desired[] = [];
  const seen = new Map<string, ParsedDoc>();
  const crds = crdScopes(docs);
  if (docs.length > limits.maxObjects)
    return {
      ok: false,
      problems: [{ message: `${docs.length} objects, over the limit of ${limits.maxObjects}` }],
    };
  for (const doc of docs) {
    const at = { file: doc.file, line: doc.line };
    const o = doc.obj;
    if (!o || typeof o !== 'object' || Array.isArray(o)) {
      problems.push({ ...at, message: 'a List item must be a mapping' });
      continue;
    }
    const meta = o.metadata as Json | undefined;
    const missing = [
      typeof o.apiVersion === 'string' && o.apiVersion ? '' : 'apiVersion',
      typeof o.kind === 'string' && o.kind ? '' : 'kind',
      meta && typeof meta === 'object' && typeof meta.name === 'string' && meta.name ? '' : 'metadata.name',
    ].filter(Boolean);
    if (missing.length) {
      problems.push({ ...at, message: `object without ${missing.join(', ')}` });
      continue;
    }
    const apiVersion = o.apiVersion as string;
    const kind = o.kind as string;
    const name = meta!.name as string;
    const label = `${kind} ${name}`;
    if (apiVersion === API_VERSION) {
      const { problems: found } = validateObject(o);
      if (found.length) {
        problems.push({
          ...at,
          message: `${label} is invalid: ${formatProblems(found).replace(/\n/g, '; ')}`,
        });
        continue;
      }
    }
    const malformed = syntaxProblem(apiVersion, kind, name, meta!.namespace);
    if (malformed) {
      problems.push({ ...at, message: `${label}: ${malformed}` });
      continue;
    }
    const scope = opts.scopeOf(apiVersion, kind) ?? crds.get(`${apiVersion}/${kind}`);
    if (!scope) {
      problems.push({
        ...at,
        message: `${label}: kind ${kind} (${apiVersion}) is not served by the cluster and no CRD in this repository defines it`,
      });
      continue;
    }
    const obj = clean(o);
    const m = obj.metadata as Json;
    if (scope === 'Cluster') delete m.namespace;
    else m.namespace = (m.namespace as string | undefined) || opts.targetNamespace || opts.namespace;
    const refused = confinementProblem(label, m.namespace as string | undefined, opts);
    if (refused) {
      problems.push({ ...at, message: refused });
      continue;
    }
    const key = keyOf({ apiVersion, kind, namespace: m.namespace as string | undefined, name });
    const dup = seen.get(key);
    if (dup) {
      problems.push({
        ...at,
        message: `${label}${m.namespace ? ` in ${String(m.namespace)}` : ''} is also defined at ${dup.file}:${dup.line}`,
      });
      continue;
    }
    seen.set(key, doc);
    objects.push({ obj, file: doc.file, line: doc.line, key });
  }
  return problems.length ? { ok: false, problems } : { ok: true, objects };
}

// What the API server accepts, checked before any of it reaches a URL: an apiVersion is a group
// (DNS subdomain) and a version (DNS label), a kind is alphanumeric, a namespace is a DNS label and a
// name is a path segment (no "/" or "%", not "." or ".."). Anything else could walk a request to
// another path (`apiVersion: ../api/v1/...`, a name ".." that the URL parser removes).
const API_VERSION_SYNTAX =
  /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[a-z]([-a-z0-9]*[a-z0-9])?$/;
const KIND_SYNTAX = /^[A-Za-z][A-Za-z0-9]*$/;
const NAMESPACE_SYNTAX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function syntaxProblem(
  apiVersion: string,
  kind: string,
  name: string,
  namespace: unknown,
): string | undefined {
  if (apiVersion.length > 316 || !API_VERSION_SYNTAX.test(apiVersion))
    return `apiVersion ${JSON.stringify(apiVersion)} is not a valid API version (group/version)`;
  if (kind.length > 63 || !KIND_SYNTAX.test(kind)) return `kind ${JSON.stringify(kind)} is not a valid kind`;
  if (name.length > 253 || name === '.' || name === '..' || /[/%]/.test(name))
    return `metadata.name ${JSON.stringify(name)} is not a valid name`;
  if (
    namespace !== undefined &&
    namespace !== null &&
    namespace !== '' &&
    (typeof namespace !== 'string' || namespace.length > 63 || !NAMESPACE_SYNTAX.test(namespace))
  )
    return `metadata.namespace ${JSON.stringify(namespace)} is not a valid namespace name`;
  return undefined;
}

/** Why the tenancy flags refuse an object (cluster-scoped, or in another namespace), or undefined. */
function confinementProblem(
  label: string,
  namespace: string | undefined,
  opts: AssembleOptions,
): string | undefined {
  const c = opts.confinement;
  if (!c) return undefined;
  if (namespace === undefined && !c.clusterScoped)
    return `${label}: cluster-scoped objects are not allowed for GitSyncs in namespace ${opts.namespace} (controller flags --gitsync-no-cross-namespace, --gitsync-cluster-scoped-allowed), refused`;
  if (namespace !== undefined && namespace !== opts.namespace && !c.otherNamespaces)
    return `${label} in namespace ${namespace}: outside the GitSync's namespace ${opts.namespace} (controller flags --gitsync-no-cross-namespace, --gitsync-cross-namespace-allowed), refused`;
  return undefined;
}

/** Drops what the server owns (status, uid, resourceVersion, timestamps, managedFields). */
function clean(o: Json): Json {
  const obj = structuredClone(o);
  delete obj.status;
  const m = obj.metadata as Json;
  for (const f of [
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'managedFields',
    'selfLink',
    'deletionTimestamp',
  ])
    delete m[f];
  return obj;
}

/** Scope lookup for `build`: may ask the cluster (discovery), so it may be async. */
export type ResolveScope = (
  apiVersion: string,
  kind: string,
) => Scope | undefined | Promise<Scope | undefined>;

/** The whole build: read, parse, resolve the scope of every kind once, assemble. */
export async function build(
  root: string,
  path: string,
  opts: Omit<AssembleOptions, 'scopeOf'> & { scopeOf: ResolveScope },
  limits: BuildLimits = DEFAULT_LIMITS,
): Promise<BuildResult> {
  const read = await readSources(root, path, limits);
  const parsed = await parseSources(read.files, limits);
  const problems = [...read.problems, ...parsed.problems];
  const scopes = new Map<string, Scope | undefined>();
  for (const { obj } of parsed.docs) {
    if (typeof obj?.apiVersion !== 'string' || typeof obj.kind !== 'string') continue;
    const k = `${obj.apiVersion}/${obj.kind}`;
    // Discovery only for well-formed names: the apiVersion becomes part of a URL.
    if (scopes.has(k) || syntaxProblem(obj.apiVersion, obj.kind, 'x', undefined)) continue;
    scopes.set(k, await opts.scopeOf(obj.apiVersion, obj.kind));
  }
  const assembled = assemble(parsed.docs, { ...opts, scopeOf: (a, k) => scopes.get(`${a}/${k}`) }, limits);
  if (!assembled.ok) problems.push(...assembled.problems);
  return problems.length ? { ok: false, problems } : assembled;
}

/** At most `max` characters of a text that a repository controls (a kind, a name, a message). */
export function clip(text: string, max = 1024): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

/**
 * One line per problem, `file:line:col: message`, at most `max` of them, each clipped: the text
 * becomes a status condition (at most 32 KiB, or the status patch is refused and the GitSync never
 * shows why) and an Event.
 */
export function describeProblems(problems: Problem[], max = 5): string {
  const lines = problems.slice(0, max).map((p) => {
    const where = p.file ? `${p.file}${p.line ? `:${p.line}${p.col ? `:${p.col}` : ''}` : ''}: ` : '';
    return clip(`${where}${p.message}`);
  });
  const more = problems.length > max ? `; and ${problems.length - max} more` : '';
  return `${lines.join('; ')}${more}`;
}
