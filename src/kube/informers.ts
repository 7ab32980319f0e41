// Informers: list + watch per resource (client-node's ListWatch re-lists on 410 Gone), so reconciles
// read from memory instead of the API server. Restarting a failed watch is ours: with a backoff that
// grows through an outage (backoff.ts). Watches carry timeoutSeconds and local deadlines (watch.ts).
// With `stripContent`, Secrets and ConfigMaps are stored without their data and the content of the
// ones in use is held on demand (content.ts); the list is read in pages so that even the initial
// list never holds every Secret's data at once.
import { ListWatch, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { describeError, WeirError } from '../errors.ts';
import type { ResourceType } from './resources.ts';
import { statusCode, type Kube } from './client.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { ContentStore } from './content.ts';
import { BoundedWatch, type WatchOptions } from './watch.ts';

export { RESOURCES, type ResourceType } from './resources.ts';

export type Handler<T> = (obj: T, kind: 'add' | 'update' | 'delete') => void;

export interface InformerOptions {
  backoff?: BackoffOptions;
  watch?: Omit<WatchOptions, 'transform'>;
  /** Store objects without data/stringData/binaryData; content() reads them on demand. */
  stripContent?: boolean;
  /** Page size of the initial list and of re-lists (default 500 as client-go; 25 when stripping content). */
  pageSize?: number;
  /** Held content unused this long is released (default 15 min). */
  contentIdleMs?: number;
  /**
   * Only objects this label selector matches, in the list and the watch (sharding: the server sends
   * an object that stops matching as a deletion, and one that starts matching as an addition).
   */
  labelSelector?: string;
}

/**
 * managedFields (who set which field, often larger than the rest of the object) is never read from
 * a cache: server-side apply computes ownership on the server. Dropped on ingest, so every cached
 * Deployment, Service and route costs a fraction of the memory.
 */
function dropManagedFields(obj: unknown): void {
  const meta = (obj as { metadata?: { managedFields?: unknown } } | undefined)?.metadata;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
}

export class Informer<T extends KubernetesObject = KubernetesObject & Record<string, unknown>> {
  private readonly lw: ListWatch<T>;
  private readonly backoff: Backoff;
  private readonly handlers: Handler<T>[] = [];
  private readonly store: ContentStore<T> | undefined;
  private synced = false;
  private stopped = false;
  private lastError: unknown;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    kube: Kube,
    readonly type: ResourceType,
    namespace: string | undefined,
    private readonly log: Logger,
    o: InformerOptions = {},
  ) {
    const [group, version] = type.apiVersion.includes('/')
      ? type.apiVersion.split('/')
      : ['', type.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const path = `${base}${namespace ? `/namespaces/${namespace}` : ''}/${type.plural}`;
    this.backoff = new Backoff({ jitter: 0.2, ...o.backoff });
    this.store = o.stripContent
      ? new ContentStore<T>({
          read: (ns, name) =>
            kube.get({ apiVersion: type.apiVersion, kind: type.kind, namespace: ns, name }) as Promise<
              T | undefined
            >,
          onLoaded: (ns, name) => {
            const obj = this.lw.get(name, ns);
            if (obj) this.emit(obj, 'update');
          },
          onError: (ns, name, err) =>
            log.warn(
              { resource: type.plural, object: `${ns}/${name}`, err: describeError(err) },
              'read failed',
            ),
          ...(o.contentIdleMs !== undefined ? { idleMs: o.contentIdleMs } : {}),
        })
      : undefined;
    const transform = (obj: unknown) => {
      dropManagedFields(obj);
      return this.store ? this.store.observe(obj as T) : obj;
    };
    // A page of large Secrets is parsed whole (text, JSON, model objects) before it is stripped, and
    // V8 keeps the heap it grew to: small pages keep that peak, and so the resident size, low.
    const pageSize = o.pageSize ?? (o.stripContent ? 25 : 500);
    const list = async (): Promise<KubernetesListObject<T>> => {
      const items: T[] = [];
      let page: KubernetesListObject<T> | undefined;
      let cont: string | undefined;
      do {
        page = (await kube.objects.list(
          type.apiVersion,
          type.kind,
          namespace,
          undefined, // pretty
          undefined, // exact
          undefined, // export
          undefined, // fieldSelector
          o.labelSelector,
          pageSize,
          cont,
        )) as KubernetesListObject<T>;
        for (const item of page.items) items.push(transform(item) as T);
        cont = page.metadata?._continue;
      } while (cont);
      return { ...page, items };
    };
    const watch = new BoundedWatch(kube.kc, { ...o.watch, transform });
    this.lw = new ListWatch<T>(path, watch, list as never, false, o.labelSelector);
    // ListWatch reports a failed list or a broken watch and then stops: restarting is ours to do.
    this.lw.on('error', (err) => {
      this.lastError = err;
      if (this.synced && !this.stopped) this.restartLater();
    });
    this.lw.on('add', (o) => this.emit(o, 'add'));
    this.lw.on('update', (o) => this.emit(o, 'update'));
    this.lw.on('delete', (o) => {
      this.store?.forget(o);
      this.emit(o, 'delete');
    });
  }

  private emit(obj: T, kind: 'add' | 'update' | 'delete'): void {
    for (const h of this.handlers) h(obj, kind);
  }

  private restartLater(): void {
    const delay = this.backoff.failed();
    this.log.warn(
      {
        resource: this.type.plural,
        err: describeError(this.lastError),
        retryInMs: delay,
        failures: this.backoff.consecutiveFailures,
      },
      'watch failed, restarting',
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.backoff.started();
      void this.lw.start();
    }, delay);
    this.restartTimer.unref();
  }

  on(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  /** Resolves after the first successful list; retries transient errors (e.g. 429 while a new CRD's storage starts) up to `timeoutMs`. */
  async start(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      this.lastError = undefined;
      this.backoff.started();
      await this.lw.start();
      if (!this.lastError) break;
      const code = statusCode(this.lastError);
      if (code === 404 || code === 403 || Date.now() > deadline) {
        throw new WeirError(
          code === 404 ? 'NOT_FOUND' : 'KUBE_API',
          `cannot list ${this.type.plural} (${this.type.apiVersion})`,
          { cause: this.lastError },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
    }
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.lw.stop();
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** The stored object (without data/stringData/binaryData when the informer strips content). */
  get(namespace: string, name: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.lw.list(namespace);
  }

  /**
   * The object with its content: undefined when it does not exist; throws a LOADING WeirError while
   * its first read is in flight (an update event follows when it lands). Same as get() when the
   * informer keeps content.
   */
  content(namespace: string, name: string): T | undefined {
    const cached = this.get(namespace, name);
    return this.store ? this.store.content(namespace, name, cached) : cached;
  }

  /** The object with its content, waiting for the read if needed (GETs even if the cache lacks it). */
  async load(namespace: string, name: string): Promise<T | undefined> {
    return this.store ? this.store.load(namespace, name) : this.get(namespace, name);
  }

  /** How many objects' content is held (0 when the informer keeps every object whole). */
  get heldContent(): number {
    return this.store?.size ?? 0;
  }
}
