// Bookkeeping shared by the converters: every field that is not carried over is recorded as a note
// (printed on stderr), so nothing is dropped silently; plus small helpers for metadata and names.
type Json = Record<string, unknown>;

export interface Note {
  /** `Kind/name` of the input object. */
  source: string;
  /** Field path in the input, or '' for the whole object. */
  field: string;
  message: string;
}

export class Notes {
  readonly list: Note[] = [];

  add(source: string, field: string, message: string): void {
    this.list.push({ source, field, message });
  }

  /** Notes every key of `obj` that the converter did not handle. */
  rest(
    source: string,
    obj: unknown,
    handled: readonly string[],
    path: string,
    why = 'not supported by Weir; left out',
  ): void {
    if (!isObject(obj)) return;
    for (const key of Object.keys(obj)) {
      if (!handled.includes(key) && obj[key] !== undefined && obj[key] !== null)
        this.add(source, path ? `${path}.${key}` : key, why);
    }
  }
}

export function formatNote(n: Note): string {
  return `${n.source}: ${n.field ? `${n.field}: ` : ''}${n.message}`;
}

export const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

export const obj = (v: unknown): Json => (isObject(v) ? v : {});

export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Metadata carried over: name, namespace, labels, annotations (minus kubectl's bookkeeping). */
export function carryMetadata(meta: unknown, name?: string): Json {
  const m = obj(meta);
  const annotations = { ...obj(m.annotations) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  return {
    name: name ?? m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(Object.keys(obj(m.labels)).length ? { labels: m.labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

/** A DNS-1123 label made of `parts` (lowercase, dashes, at most `max` characters). */
export function dnsName(parts: string[], max = 63): string {
  return (
    parts
      .join('-')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-+/, '')
      .slice(0, max)
      .replace(/-+$/, '') || 'converted'
  );
}

/** Only defined values: keeps output free of `key: null`. */
export function compact(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export const sourceOf = (o: Json): string => `${String(o.kind)}/${String(obj(o.metadata).name ?? '?')}`;
