// The CLI's access to the cluster: the common connection flags (-n, --context, --kubeconfig /
// KUBECONFIG), reads that turn API failures into WeirErrors with exit-code classes (not found,
// unreachable), and the few objects the views need.
import { CoreV1Api, type CoreV1Event, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import type { CanaryObject } from '../canary/context.ts';
import { WeirError } from '../errors.ts';
import {
  apiMessage,
  createKube,
  loadKubeConfig,
  statusCode,
  userAgentOf,
  type Kube,
  type Obj,
} from '../kube/client.ts';
import { VERSION } from '../version.ts';
import { RESOURCES, type KubeFlags, type ResourceType } from './flags.ts';

export interface Cli {
  kc: KubeConfig;
  kube: Kube;
  core: CoreV1Api;
  /** The namespace to act in (flag, else the context's, else "default"). */
  namespace: string;
  server: string;
}

export function connect(flags: KubeFlags): Cli {
  let kc: KubeConfig;
  try {
    // Without --kubeconfig, client-node reads $KUBECONFIG (all of its files), then ~/.kube/config.
    // `weir/<version> (cli)`: the API server's audit log tells people at the CLI from the controller.
    kc = loadKubeConfig(flags.kubeconfig, flags.context, userAgentOf(VERSION, 'cli'));
  } catch (err) {
    throw new WeirError('CONFIG', 'cannot load the kubeconfig', { cause: err });
  }
  if (flags.context && !kc.getContextObject(flags.context))
    throw new WeirError('USAGE', `--context: no context named "${flags.context}" in the kubeconfig`);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new WeirError('CONFIG', 'the kubeconfig has no current cluster (set --context)');
  const namespace = flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return {
    kc,
    kube: createKube(kc),
    core: kc.makeApiClient(CoreV1Api),
    namespace,
    server,
  };
}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|socket hang up|fetch failed/i;

/** Classifies any failure of an API call: 404 NOT_FOUND, no connection UNREACHABLE, else KUBE_API. */
export function apiError(what: string, err: unknown, server = ''): WeirError {
  const text = `${(err as Error)?.message ?? ''} ${String((err as { cause?: unknown })?.cause ?? '')}`;
  if (err instanceof WeirError && err.code !== 'KUBE_API') return err;
  if (UNREACHABLE.test(text) || UNREACHABLE.test(String((err as { code?: string })?.code)))
    return new WeirError('UNREACHABLE', `cannot reach the Kubernetes API${server ? ` at ${server}` : ''}`, {
      cause: err,
    });
  const code = statusCode(err);
  if (code === 404) return new WeirError('NOT_FOUND', `${what}: not found`, { cause: err });
  return new WeirError('KUBE_API', err instanceof WeirError ? err.message : `${what}: ${apiMessage(err)}`, {
    cause: err,
  });
}

export async function call<T>(cli: Cli, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw apiError(what, err, cli.server);
  }
}

export async function getObject<T extends Obj>(
  cli: Cli,
  type: ResourceType,
  namespace: string,
  name: string,
): Promise<T> {
  const what = `${type.kind} ${namespace}/${name}`;
  const obj = await call(cli, `get ${what}`, () =>
    cli.kube.get<T>({ apiVersion: type.apiVersion, kind: type.kind, namespace, name }),
  );
  if (!obj) throw new WeirError('NOT_FOUND', `${what} not found`);
  return obj;
}

export const getCanary = (cli: Cli, namespace: string, name: string): Promise<CanaryObject> =>
  getObject<CanaryObject>(cli, RESOURCES.canary, namespace, name);

export async function listObjects<T extends Obj>(
  cli: Cli,
  type: ResourceType,
  namespace: string | undefined,
): Promise<T[]> {
  const list = await call(cli, `list ${type.plural}`, () =>
    cli.kube.objects.list<T>(type.apiVersion, type.kind, namespace),
  );
  return [...list.items].sort((a, b) =>
    `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(
      `${b.metadata?.namespace}/${b.metadata?.name}`,
    ),
  );
}

/** The primary and the canary (the target) Deployments of a Canary; absent ones are undefined. */
export async function deploymentsOf(
  cli: Cli,
  canary: CanaryObject,
): Promise<{ primary?: V1Deployment; canary?: V1Deployment }> {
  const ns = canary.metadata.namespace;
  const target = canary.spec?.targetRef?.name;
  if (!target) return {};
  const read = (name: string) =>
    call(cli, `get Deployment ${ns}/${name}`, () =>
      cli.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name }),
    ) as Promise<V1Deployment | undefined>;
  const [primary, can] = await Promise.all([read(`${target}-primary`), read(target)]);
  return { ...(primary ? { primary } : {}), ...(can ? { canary: can } : {}) };
}

export const eventSelector = (kind: string, name: string): string =>
  `involvedObject.kind=${kind},involvedObject.name=${name}`;

export async function eventsOf(
  cli: Cli,
  kind: string,
  namespace: string,
  name: string,
): Promise<CoreV1Event[]> {
  const list = await call(cli, `list events of ${kind} ${namespace}/${name}`, () =>
    cli.core.listNamespacedEvent({ namespace, fieldSelector: eventSelector(kind, name) }),
  );
  return list.items;
}

/** API path of a collection, for watches. */
export function collectionPath(type: ResourceType, namespace?: string): string {
  const [group, version] = type.apiVersion.includes('/') ? type.apiVersion.split('/') : ['', type.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return `${base}${namespace ? `/namespaces/${namespace}` : ''}/${type.plural}`;
}

export { EVENTS } from './flags.ts';
