// `weir convert -f FILE`: Flagger (flagger.app/v1beta1) and Argo Rollouts (Rollout + AnalysisTemplate)
// manifests to Weir objects, as YAML on stdout. Whatever is not carried over is listed on stderr;
// every Weir object produced is also run through the validator `weir lint` uses.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { API_VERSION } from '../../api/kinds.ts';
import { validateObject } from '../../api/validate.ts';
import { WeirError } from '../../errors.ts';
import { ARGO_API, convertRollout } from './argo.ts';
import { convertFlagger, FLAGGER_API, weirProvider, type FlaggerOptions } from './flagger.ts';
import { formatNote, Notes, obj, sourceOf } from './notes.ts';

type Json = Record<string, unknown>;

export interface Conversion {
  objects: Json[];
  notes: Notes;
}

export function convertDocuments(docs: Json[], opts: FlaggerOptions = {}): Conversion {
  const notes = new Notes();
  const objects: Json[] = [];
  for (const d of docs) {
    const api = String(d.apiVersion);
    if (api === FLAGGER_API) objects.push(...convertFlagger(d, notes, opts));
    else if (api === ARGO_API && d.kind === 'Rollout') objects.push(...convertRollout(d, docs, notes));
    else if (api === ARGO_API && /AnalysisTemplate$/.test(String(d.kind))) {
      // Converted through the Rollouts that reference them; an unreferenced one is noted.
      const name = obj(d.metadata).name;
      const used = docs.some(
        (r) => r.kind === 'Rollout' && JSON.stringify(r.spec).includes(`"templateName":"${String(name)}"`),
      );
      if (!used) notes.add(sourceOf(d), '', 'not referenced by any Rollout in the input; not converted');
    } else if (api === API_VERSION) objects.push(d);
    else
      notes.add(
        sourceOf(d),
        '',
        `${api} is neither Flagger nor Argo Rollouts; left out (apply it as it is if still needed)`,
      );
  }
  for (const o of objects) {
    if (o.apiVersion !== API_VERSION) continue;
    for (const p of validateObject(o).problems)
      notes.add(`${sourceOf(o)} (output)`, p.path, `${p.message}: fix it before applying`);
  }
  return { objects, notes };
}

export function parseManifests(text: string, file: string): Json[] {
  const docs: Json[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length)
      throw new WeirError(
        'INVALID_SPEC',
        `${file}: document ${i + 1}: ${doc.errors[0]!.message.split('\n')[0]}`,
      );
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) return;
    if (typeof v !== 'object' || Array.isArray(v))
      throw new WeirError('INVALID_SPEC', `${file}: document ${i + 1} is not a Kubernetes object`);
    const o = v as Json;
    if (o.kind === 'List') docs.push(...((o.items as Json[] | undefined) ?? []));
    else docs.push(o);
  });
  return docs;
}

export function toYaml(objects: Json[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 }).trimEnd()).join('\n---\n');
}

/** `weir convert`: YAML on stdout, notes on stderr; returns the exit code. */
export function runConvert(flags: { filename: string[]; strict?: boolean; provider?: string }): number {
  if (flags.provider !== undefined && !weirProvider(flags.provider))
    throw new WeirError('INVALID_SPEC', `--provider: ${flags.provider} is not a provider Weir knows`);
  const docs: Json[] = [];
  for (const f of flags.filename) {
    let text: string;
    try {
      text = readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (err) {
      throw new WeirError('NOT_FOUND', `cannot read ${f}`, { cause: err });
    }
    docs.push(...parseManifests(text, f === '-' ? '<stdin>' : f));
  }
  const { objects, notes } = convertDocuments(
    docs,
    flags.provider !== undefined ? { provider: flags.provider } : {},
  );
  if (objects.length) console.log(toYaml(objects));
  if (notes.list.length) {
    console.error(`weir convert: ${notes.list.length} thing(s) not converted as they were:`);
    for (const n of notes.list) console.error(`  ${formatNote(n)}`);
  }
  if (!objects.length) throw new WeirError('INVALID_SPEC', 'nothing to convert in the input');
  return flags.strict && notes.list.length ? 65 : 0;
}
