// Informers: list + watch per resource (client-node's ListWatch re-lists on 410 Gone and reconnects
// with backoff), so reconciles read from memory instead of the API server.
import { ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { describeError, WeirError } from '../errors.ts';
import type { ResourceType } from './resources.ts';
import { statusCode, type Kube } from './client.ts';

export { RESOURCES, type ResourceType } from './resources.ts';

export type Handler<T> = (obj: T, kind: 'add' | 'update' | 'delete') => void;

export class Informer<T extends KubernetesObject = KubernetesObject & Record<string, unknown>> {
  private readonly lw: ListWatch<T>;
  private synced = false;
  private stopped = false;
  private lastError: unknown;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    kube: Kube,
    readonly type: ResourceType,
    namespace: string | undefined,
    private readonly log: Logger,
  ) {
    const [group, version] = type.apiVersion.includes('/')
      ? type.apiVersion.split('/')
      : ['', type.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const path = `${base}${namespace ? `/namespaces/${namespace}` : ''}/${type.plural}`;
    const list = () => kube.objects.list<T>(type.apiVersion, type.kind, namespace);
    this.lw = new ListWatch<T>(path, new Watch(kube.kc), list as never, false);
    // ListWatch reports a failed list or a broken watch and then stops: restarting is ours to do.
    this.lw.on('error', (err) => {
      this.lastError = err;
      if (this.synced && !this.stopped) this.restartLater();
    });
    this.lw.on('connect', () => {
      this.failures = 0;
    });
  }

  private restartLater(): void {
    const delay = Math.min(30_000, 500 * 2 ** this.failures++);
    this.log.warn(
      { resource: this.type.plural, err: describeError(this.lastError), retryInMs: delay },
      'watch failed, restarting',
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.lw.start(), delay);
    this.restartTimer.unref();
  }

  on(handler: Handler<T>): void {
    this.lw.on('add', (o) => handler(o, 'add'));
    this.lw.on('update', (o) => handler(o, 'update'));
    this.lw.on('delete', (o) => handler(o, 'delete'));
  }

  /** Resolves after the first successful list; retries transient errors (e.g. 429 while a new CRD's storage starts) up to `timeoutMs`. */
  async start(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      this.lastError = undefined;
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

  get(namespace: string, name: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.lw.list(namespace);
  }
}
