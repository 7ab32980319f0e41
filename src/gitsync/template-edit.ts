// Rollback write-back, the file side (pure): which pod template fields a rolled-back revision changed
// (the live target against the primary, both as the API server normalised them), and the same fields
// set back in the Deployment's YAML file. The file is edited by splicing the new scalar text into the
// exact source range of each old scalar (found through the yaml Document API), so comments, quoting,
// indentation and every other line stay byte for byte as the user wrote them. What cannot be done
// that way (a field Git does not set, a list that grew or shrank) is refused with a reason: the
// caller then pins the revision in status instead of writing something other than the primary.
import { isMap, isScalar, parseAllDocuments, stringify, type Document, type Scalar } from 'yaml';

export type FieldPath = Array<string | number>;

/** One field of `spec.template.spec` to set back; `value` is the primary's (a scalar). */
export interface TemplateEdit {
  path: FieldPath;
  value: string | number | boolean | null;
}

export type Differences = { ok: true; edits: TemplateEdit[] } | { ok: false; reason: string };

/** Where an edit starts in the Deployment document: its pod spec. */
const POD_SPEC: FieldPath = ['spec', 'template', 'spec'];
/** The primary's copies of tracked ConfigMaps/Secrets carry this suffix (canary/targets.ts). */
const PRIMARY_SUFFIX = '-primary';

type Scalarish = string | number | boolean | null;
const isScalarValue = (v: unknown): v is Scalarish =>
  v === null || ['string', 'number', 'boolean'].includes(typeof v);
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

export const describePath = (path: FieldPath): string =>
  path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');

/**
 * Fields of the failed pod spec that differ from the kept (primary) one. Only scalar changes can be
 * written back faithfully; a structural change (a container, env var or volume added or removed)
 * would need the primary's whole object, which carries API-server defaults and Weir's renamed config
 * references, so it is refused.
 */
export function templateDifferences(failed: unknown, kept: unknown): Differences {
  const edits: TemplateEdit[] = [];
  const problems: string[] = [];
  const walk = (f: unknown, k: unknown, path: FieldPath): void => {
    if (JSON.stringify(f) === JSON.stringify(k)) return;
    if (typeof f === 'string' && k === `${f}${PRIMARY_SUFFIX}`) return; // a tracked config's primary copy
    if (isPlainObject(f) && isPlainObject(k)) {
      for (const key of new Set([...Object.keys(f), ...Object.keys(k)])) walk(f[key], k[key], [...path, key]);
      return;
    }
    if (Array.isArray(f) && Array.isArray(k) && f.length === k.length) {
      f.forEach((item, i) => walk(item, k[i], [...path, i]));
      return;
    }
    if (isScalarValue(k) && f !== undefined && isScalarValue(f)) edits.push({ path, value: k });
    else problems.push(describePath(path));
  };
  walk(failed, kept, []);
  if (problems.length)
    return {
      ok: false,
      reason: `the rolled-back revision changes the structure of the pod template (${problems.slice(0, 5).join(', ')}), which write-back does not rebuild`,
    };
  return { ok: true, edits };
}

export interface DeploymentRef {
  name: string;
  namespace: string;
  /** Namespace of documents that name none (the GitSync's targetNamespace or namespace). */
  defaultNamespace: string;
}

export type FileEdit =
  | { ok: true; found: true; text: string; changed: string[] }
  | { ok: true; found: false }
  | { ok: false; reason: string };

/** Whether a parsed document is the Deployment `ref` (multi-document files hold several). */
function isDeployment(doc: Document, ref: DeploymentRef): boolean {
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return false; // an alias bomb or a broken document: the build refuses it anyway
  }
  if (!isPlainObject(js) || js.kind !== 'Deployment') return false;
  if (typeof js.apiVersion !== 'string' || !js.apiVersion.startsWith('apps/')) return false;
  const meta = isPlainObject(js.metadata) ? js.metadata : {};
  const ns = typeof meta.namespace === 'string' ? meta.namespace : ref.defaultNamespace;
  return meta.name === ref.name && ns === ref.namespace;
}

/** The YAML source of `value` in the style of the scalar it replaces. */
function scalarSource(old: Scalar, value: Scalarish): string {
  if (typeof value === 'string' && old.type === 'QUOTE_DOUBLE') return JSON.stringify(value);
  if (typeof value === 'string' && old.type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  // Plain (or a block scalar, rewritten inline): quoted only when a plain scalar would not read back
  // as this string, by YAML 1.1 rules too (Kubernetes tools read `yes` as a boolean).
  return stringify(value, { lineWidth: 0, version: '1.1' }).trimEnd();
}

/**
 * `text` (one YAML file, maybe several documents) with `edits` applied to the Deployment `ref`.
 * found: false when no document of the file is that Deployment.
 */
export function editDeploymentFile(text: string, ref: DeploymentRef, edits: TemplateEdit[]): FileEdit {
  const docs = parseAllDocuments(text, { keepSourceTokens: false });
  if (!Array.isArray(docs)) return { ok: true, found: false }; // an empty file
  const doc = docs.find((d) => d.errors.length === 0 && isDeployment(d, ref));
  if (!doc) return { ok: true, found: false };
  const splices: Array<{ start: number; end: number; source: string }> = [];
  const changed: string[] = [];
  for (const edit of edits) {
    const full = [...POD_SPEC, ...edit.path];
    const node = doc.getIn(full, true);
    if (!isScalar(node) || !node.range) {
      const parent = doc.getIn(full.slice(0, -1), true);
      const why = isMap(parent) || !parent ? 'is not set in the file' : 'is not a plain value in the file';
      return { ok: false, reason: `${describePath(full)} ${why} (set elsewhere, e.g. by a generator)` };
    }
    if (node.value === edit.value) continue;
    const [start, valueEnd] = node.range;
    splices.push({ start, end: valueEnd, source: scalarSource(node, edit.value) });
    changed.push(`${describePath(full)}: ${String(node.value)} -> ${String(edit.value)}`);
  }
  let out = text;
  for (const s of splices.sort((a, b) => b.start - a.start))
    out = out.slice(0, s.start) + s.source + out.slice(s.end);
  return { ok: true, found: true, text: out, changed };
}
