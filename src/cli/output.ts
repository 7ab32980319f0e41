// `-o json|yaml`: objects as kubectl prints them (managedFields hidden), a list as a `v1 List`.
import { stringify } from 'yaml';

export type Format = 'json' | 'yaml';

function clean<T>(obj: T): T {
  const o = structuredClone(obj) as { metadata?: { managedFields?: unknown } };
  if (o?.metadata) delete o.metadata.managedFields;
  return o as T;
}

export function formatObject(obj: unknown, format: Format): string {
  const o = clean(obj);
  return format === 'json' ? JSON.stringify(o, null, 2) : stringify(o).trimEnd();
}

export function formatList(items: unknown[], format: Format): string {
  return formatObject({ apiVersion: 'v1', kind: 'List', items: items.map(clean) }, format);
}

/** One document of a stream (`--watch -o yaml` separates documents with ---). */
export function formatStreamItem(obj: unknown, format: Format): string {
  return format === 'json' ? JSON.stringify(clean(obj)) : `---\n${stringify(clean(obj)).trimEnd()}`;
}
