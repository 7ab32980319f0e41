// Renders the API reference (docs/api.md) from the same schema as the CRDs, so docs never drift.
import { CEL, type CelRule } from './schema-kit.ts';
import { API_VERSION, KINDS } from './kinds.ts';

type Json = Record<string, unknown>;

function typeOf(s: Json): string {
  if (s['x-kubernetes-int-or-string']) return 'int or string';
  if (Array.isArray(s.enum)) return (s.enum as string[]).map((v) => `\`${v}\``).join(' \\| ');
  if (s.type === 'array') return `[]${typeOf((s.items ?? {}) as Json)}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object')
    return `map[string]${typeOf(s.additionalProperties as Json)}`;
  return String(s.type ?? 'any');
}

function constraints(s: Json): string {
  const parts: string[] = [];
  if (s.default !== undefined) parts.push(`default \`${JSON.stringify(s.default)}\``);
  if (s.minimum !== undefined) parts.push(`min ${String(s.minimum)}`);
  if (s.maximum !== undefined) parts.push(`max ${String(s.maximum)}`);
  if (s.maxLength !== undefined && s.type === 'string') parts.push(`max length ${String(s.maxLength)}`);
  if (s.pattern) parts.push(`pattern \`${String(s.pattern)}\``);
  return parts.join(', ');
}

function rows(schema: Json, path: string, required: Set<string>, out: string[], rules: string[]): void {
  for (const r of (schema[CEL] as CelRule[] | undefined) ?? [])
    rules.push(`- \`${path}${r.fieldPath ?? ''}\`: ${r.message}`);
  const props = (schema.properties ?? {}) as Record<string, Json>;
  for (const [name, sub] of Object.entries(props)) {
    const p = `${path}.${name}`;
    const desc = String(sub.description ?? '').replace(/\|/g, '\\|');
    out.push(
      `| \`${p}\` | ${typeOf(sub)} | ${required.has(name) ? 'yes' : ''} | ${constraints(sub)} | ${desc} |`,
    );
    const child = sub.type === 'array' ? ((sub.items ?? {}) as Json) : sub;
    const nested =
      child.type === 'object' && !child.properties && typeof child.additionalProperties === 'object'
        ? (child.additionalProperties as Json)
        : child;
    const suffix = sub.type === 'array' ? '[]' : nested !== child ? '.*' : '';
    if (nested.properties || nested[CEL])
      rows(nested, p + suffix, new Set((nested.required as string[]) ?? []), out, rules);
  }
}

export function renderApiReference(): string {
  const lines = [
    '# API reference',
    '',
    `Generated from \`src/api/\` by \`npm run gen:crds\`; the CRDs in \`crds/\` come from the same schema.`,
    `Group and version: \`${API_VERSION}\`. Every rule below is enforced by the API server (CEL) and by \`weir lint\`.`,
    '',
  ];
  for (const def of KINDS) {
    const spec = JSON.parse(JSON.stringify(def.spec)) as Json;
    const out: string[] = [];
    const rules: string[] = [];
    rows(spec, 'spec', new Set((spec.required as string[]) ?? []), out, rules);
    lines.push(
      `## ${def.kind}`,
      '',
      `\`kubectl get ${def.plural}\` (short: ${def.shortNames.map((s) => `\`${s}\``).join(', ')})`,
      '',
    );
    lines.push(
      '| field | type | required | constraints | description |',
      '| --- | --- | --- | --- | --- |',
      ...out,
      '',
    );
    if (rules.length) lines.push('Cross-field rules:', '', ...rules, '');
  }
  return lines.join('\n');
}
