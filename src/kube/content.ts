// Secrets and ConfigMaps without their data in memory, except the few that something uses.
// The informer stores every Secret/ConfigMap with `data`, `stringData` and `binaryData` removed
// (metadata is enough to find and watch them), so memory does not grow with the size of every Secret
// in the cluster. A consumer that needs an object's content asks `content()`: the first time, the
// object is read once with a GET and "held"; from then on each watch event for it refreshes the held
// copy (the watch stream carries full objects; only held ones are kept). An object nobody asked for
// within `idleMs` is released. While a GET is in flight `content()` throws LOADING, so a reconcile
// requeues instead of computing anything (a revision, a checksum, a copy) from a stripped object;
// when the GET lands, `onLoaded` fires so the waiting objects are requeued.
import type { KubernetesObject } from '@kubernetes/client-node';
import { WeirError } from '../errors.ts';

const CONTENT_FIELDS = ['data', 'stringData', 'binaryData'] as const;

/** The object without its content fields (a shallow copy; the input is not modified). */
export function stripContent<T extends object>(obj: T): T {
  const out = { ...obj } as Record<string, unknown>;
  for (const f of CONTENT_FIELDS) delete out[f];
  return out as T;
}

export interface ContentOptions<T> {
  /** Reads the full object from the API server (undefined when it does not exist). */
  read(namespace: string, name: string): Promise<T | undefined>;
  /** Called when a GET finishes, with the object as the informer stores it. */
  onLoaded(namespace: string, name: string): void;
  onError?(namespace: string, name: string, err: unknown): void;
  idleMs?: number;
  now?: () => number;
}

interface Held<T> {
  obj?: T;
  usedAt: number;
  loading?: Promise<T | undefined>;
}

export class ContentStore<T extends KubernetesObject> {
  private readonly held = new Map<string, Held<T>>();
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(private readonly o: ContentOptions<T>) {
    this.idleMs = o.idleMs ?? 15 * 60_000;
    this.now = o.now ?? Date.now;
  }

  /**
   * The informer's transform: keeps a full copy of a held object, returns what the informer stores.
   * A DELETED event also passes here; the held copy then goes with `forget()`.
   */
  observe(obj: T): T {
    const h = this.held.get(keyOf(obj));
    if (h) h.obj = obj;
    return stripContent(obj);
  }

  forget(obj: T): void {
    this.held.delete(keyOf(obj));
  }

  /**
   * The full object when it is held; undefined when `cached` (the informer's stripped copy) says it
   * does not exist; otherwise starts loading it and throws a LOADING WeirError.
   */
  content(namespace: string, name: string, cached: T | undefined): T | undefined {
    this.sweep();
    if (!cached) return undefined;
    const key = `${namespace}/${name}`;
    const h = this.held.get(key);
    if (h?.obj) {
      h.usedAt = this.now();
      return h.obj;
    }
    // load() reports its failure through onError; the caller learns it on its next content() call.
    if (!h?.loading) this.load(namespace, name).catch(() => undefined);
    throw new WeirError(
      'LOADING',
      `${cached.kind ?? 'object'} ${namespace}/${name}: content is being read from the API server`,
    );
  }

  /** The full object, read with a GET unless it is held (for callers that can wait). */
  async load(namespace: string, name: string): Promise<T | undefined> {
    const key = `${namespace}/${name}`;
    const h = this.held.get(key) ?? { usedAt: this.now() };
    h.usedAt = this.now();
    if (h.obj) return h.obj;
    if (h.loading) return h.loading;
    this.held.set(key, h);
    h.loading = this.o.read(namespace, name).then(
      (obj) => {
        h.loading = undefined;
        // A watch event that arrived during the GET is newer than the GET's answer: keep it.
        if (obj && !h.obj) h.obj = obj;
        if (!h.obj) this.held.delete(key);
        this.o.onLoaded(namespace, name);
        return h.obj;
      },
      (err: unknown) => {
        h.loading = undefined;
        if (!h.obj) this.held.delete(key);
        this.o.onError?.(namespace, name, err);
        this.o.onLoaded(namespace, name);
        throw err;
      },
    );
    return h.loading;
  }

  /** Objects whose content is in memory (for tests and the bench). */
  get size(): number {
    let n = 0;
    for (const h of this.held.values()) if (h.obj) n++;
    return n;
  }

  private sweep(): void {
    const limit = this.now() - this.idleMs;
    for (const [key, h] of this.held) if (!h.loading && h.usedAt < limit) this.held.delete(key);
  }
}

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
