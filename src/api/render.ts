// Renders every kind's CRD as YAML, the exact bytes kept in crds/.
import { stringify } from 'yaml';
import { toCrd } from './crd.ts';
import { KINDS } from './kinds.ts';

const HEADER = '# Generated from src/api by `npm run gen:crds`. Do not edit.\n---\n';

export function renderCrds(): Array<{ file: string; text: string }> {
  return KINDS.map((def) => ({
    file: `${def.plural}.weir.dev.yaml`,
    text: HEADER + stringify(toCrd(def), { lineWidth: 0 }),
  }));
}
