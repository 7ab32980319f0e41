// Informers: list + watch per resource (client-node's ListWatch re-lists on 410 Gone and reconnects
// with backoff), so reconciles read from memory instead of the API server.
import { ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import type { Kube } from './client.ts';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
}

export const RESOURCES = {
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  service: { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  configMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  hpa: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  httpRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', plural: 'httproutes' },
  canary: { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', plural: 'canaries' },
  metricTemplate: { apiVersion: 'weir.dev/v1alpha1', kind: 'MetricTemplate', plural: 'metrictemplates' },
  alertProvider: { apiVersion: 'weir.dev/v1alpha1', kind: 'AlertProvider', plural: 'alertproviders' },
  gitSync: { apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', plural: 'gitsyncs' },
} satisfies Record<string, ResourceType>;

export type Handler<T> = (obj: T, kind: 'add' | 'update' | 'delete') => void;

export class Informer<T extends KubernetesObject = KubernetesObject & Record<string, unknown>> {
  private readonly lw: ListWatch<T>;
  private synced = false;

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
    this.lw.on('error', (err) => this.log.warn({ err, resource: type.plural }, 'watch error, reconnecting'));
  }

  on(handler: Handler<T>): void {
    this.lw.on('add', (o) => handler(o, 'add'));
    this.lw.on('update', (o) => handler(o, 'update'));
    this.lw.on('delete', (o) => handler(o, 'delete'));
  }

  async start(): Promise<void> {
    await this.lw.start();
    this.synced = true;
  }

  async stop(): Promise<void> {
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
