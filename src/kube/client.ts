// A thin layer over @kubernetes/client-node: server-side apply with Weir's field manager, merge
// patches (also on the status subresource), deletes that tolerate 404, and error classification.
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { WeirError } from '../errors.ts';
import { createApiClient, type Json } from './rest.ts';

export const FIELD_MANAGER = 'weir';

export type Obj = KubernetesObject & Record<string, unknown>;

export interface Kube {
  kc: KubeConfig;
  objects: KubernetesObjectApi;
  /** Server-side apply of the whole desired object under `manager` (force: Weir owns these fields). */
  apply<T extends KubernetesObject>(obj: T, manager?: string): Promise<T>;
  mergePatch<T extends Obj>(ref: Ref, patch: Record<string, unknown>): Promise<T>;
  /** Merge-patches `status`; resolves to the object the API server returned (its new version). */
  patchStatus(
    ref: Ref & { plural: string; group: string; version: string },
    status: unknown,
  ): Promise<Obj | undefined>;
  /**
   * JSON-patches the status subresource (RFC 6902: `test` ops make it conditional on the server's
   * state); resolves to the object the API server returned. A failed `test` rejects (HTTP 422).
   */
  jsonPatchStatus(
    ref: Ref & { plural: string; group: string; version: string },
    ops: Array<{ op: 'test' | 'remove' | 'replace' | 'add'; path: string; value?: unknown }>,
  ): Promise<Obj | undefined>;
  /** Creates `obj` (metadata.generateName allowed); resolves to the stored object. */
  create<T extends Obj>(obj: T): Promise<T>;
  remove(ref: Ref): Promise<void>;
  get<T extends Obj>(ref: Ref): Promise<T | undefined>;
}

export interface Ref {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export function loadKubeConfig(path?: string, context?: string, userAgent?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  if (userAgent) setUserAgent(kc, userAgent);
  keepConnections(kc);
  setRequestTimeout(kc, REQUEST_TIMEOUT_MS);
  return kc;
}

/**
 * How long one API request (get, list, patch, apply, delete) may take before it is abandoned: an API
 * server that accepts the connection and never answers would otherwise hold a worker (and the
 * canary it serves) forever. Long enough for a large list on a loaded server; watches are not bound.
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Bounds every typed API call made through `kc` (they all pass applySecurityAuthentication, which
 * builds each request's context; watches take another path and keep their own signal). A request
 * past `ms` rejects with an AbortError/TimeoutError, which callers see as any failed request.
 */
export function setRequestTimeout(kc: KubeConfig, ms: number): void {
  type Context = { getSignal(): AbortSignal | undefined; setSignal(s: AbortSignal): void };
  const target = kc as unknown as { applySecurityAuthentication(c: Context): Promise<void> };
  const base = target.applySecurityAuthentication.bind(kc);
  target.applySecurityAuthentication = async (context: Context) => {
    await base(context);
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(ms));
  };
}

type AgentOptions = Record<string, unknown>;

const TLS_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'];

/** What makes two requests' connections interchangeable: the cluster and the TLS material. */
interface AgentIdentity {
  server?: string;
  proxyUrl?: string;
  tls: unknown[];
}

function identityOf(cluster: { server?: string; proxyUrl?: string } | null, o: AgentOptions): AgentIdentity {
  return { server: cluster?.server, proxyUrl: cluster?.proxyUrl, tls: TLS_OPTIONS.map((k) => o[k]) };
}

// client-node hands a fresh Buffer of the CA (and client key) to every request: compare contents
// (a memcmp), not identity, and never encode them (base64 of the CA per request cost measurable CPU).
const sameValue = (a: unknown, b: unknown): boolean =>
  Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : JSON.stringify(a) === JSON.stringify(b);

function sameIdentity(a: AgentIdentity, b: AgentIdentity): boolean {
  return a.server === b.server && a.proxyUrl === b.proxyUrl && a.tls.every((v, i) => sameValue(v, b.tls[i]));
}

/**
 * Reuses connections to the API server. client-node builds a new Agent for every request, so each
 * one paid a TCP connect, a TLS handshake and a new secure context (reading the CA each time): most
 * of the controller's CPU in a rollout. Requests with the same cluster and TLS material now share
 * one keep-alive Agent (a new one when a certificate file changes); free sockets are unref'd by
 * Node, so a CLI command still exits at once. Wraps the (private) createAgent every path goes through.
 */
export function keepConnections(kc: KubeConfig): void {
  type Factory = (cluster: { server?: string; proxyUrl?: string } | null, o: AgentOptions) => unknown;
  const target = kc as unknown as { createAgent: Factory };
  const base = target.createAgent.bind(kc);
  let shared: { identity: AgentIdentity; agent: unknown } | undefined;
  target.createAgent = (cluster, o) => {
    const identity = identityOf(cluster, o);
    if (!shared || !sameIdentity(shared.identity, identity)) {
      shared = { identity, agent: base(cluster, { ...o, keepAlive: true }) };
    }
    return shared.agent;
  };
}

/** `weir/<version> (<component>)`, the User-Agent the API server's audit log and metrics show. */
export function userAgentOf(version: string, component: string): string {
  return `weir/${version} (${component})`;
}

/**
 * Sends `userAgent` on every request made through `kc`: typed API clients, watches and
 * applyToHTTPSOptions users (GitSync's REST client). Without it node-fetch announces itself as
 * "node-fetch/1.0", which tells an operator reading the audit log nothing. client-node has no
 * option for it; every request path goes through the (private) applyOptions, so it is wrapped here.
 */
export function setUserAgent(kc: KubeConfig, userAgent: string): void {
  type Opts = { headers?: Record<string, unknown> };
  const target = kc as unknown as { applyOptions(opts: Opts): Promise<void> };
  const base = target.applyOptions.bind(kc);
  target.applyOptions = async (opts: Opts) => {
    await base(opts);
    opts.headers = { ...opts.headers, 'User-Agent': userAgent };
  };
}

export function statusCode(err: unknown): number | undefined {
  const e = err as { code?: number; statusCode?: number; response?: { httpStatusCode?: number } };
  return e?.code ?? e?.statusCode ?? e?.response?.httpStatusCode;
}

/** A readable message from an API error (the Status object's message when there is one). */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (typeof e?.body === 'string') {
    try {
      return (JSON.parse(e.body) as { message?: string }).message ?? e.body;
    } catch {
      return e.body;
    }
  }
  if (e?.body && typeof e.body === 'object' && 'message' in e.body)
    return String((e.body as { message: unknown }).message);
  return e?.message ?? String(err);
}

function header(ref: Ref): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

function wrap(what: string, err: unknown): WeirError {
  if (/Failed to fetch resource metadata/.test(String((err as Error)?.message))) {
    return new WeirError(
      'KUBE_API',
      `${what}: this API is not served by the cluster (is its CRD installed?)`,
      { cause: err },
    );
  }
  return new WeirError(statusCode(err) === 404 ? 'NOT_FOUND' : 'KUBE_API', `${what}: ${apiMessage(err)}`, {
    cause: err,
  });
}

export function createKube(kc: KubeConfig): Kube {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  // Writes go through the raw client (rest.ts): the exact JSON both ways, half the CPU of the typed
  // path. Reads and deletes keep client-node's typed objects, which the CLI formats.
  const rest = createApiClient(kc, { timeoutMs: REQUEST_TIMEOUT_MS });
  const describe = (o: Ref) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
  /** A custom object's status subresource, by its group/version (its kind comes from discovery). */
  const statusTarget = (ref: Ref & { group: string; version: string }): Ref => ({
    ...ref,
    apiVersion: `${ref.group}/${ref.version}`,
  });
  return {
    kc,
    objects,
    async apply<T extends KubernetesObject>(obj: T, manager = FIELD_MANAGER) {
      const body = {
        ...obj,
        metadata: { ...obj.metadata, managedFields: undefined, resourceVersion: undefined },
      };
      return (await rest.apply(body as unknown as Json, manager, false)) as unknown as T;
    },
    async mergePatch<T extends Obj>(ref: Ref, patch: Record<string, unknown>) {
      const body = { ...patch, metadata: { ...header(ref).metadata, ...((patch.metadata as object) ?? {}) } };
      return (await rest.patch(ref, body, { type: 'merge', manager: FIELD_MANAGER })) as T;
    },
    patchStatus: async (ref, status) =>
      (await rest.patch(
        statusTarget(ref),
        { status },
        {
          type: 'merge',
          manager: FIELD_MANAGER,
          subresource: 'status',
        },
      )) as Obj,
    jsonPatchStatus: async (ref, ops) =>
      (await rest.patch(statusTarget(ref), ops, {
        type: 'json',
        manager: FIELD_MANAGER,
        subresource: 'status',
      })) as Obj,
    create: async <T extends Obj>(obj: T) => (await rest.create(obj)) as T,
    async remove(ref) {
      try {
        await objects.delete(header(ref), undefined, undefined, undefined, undefined, 'Background');
      } catch (err) {
        if (statusCode(err) !== 404) throw wrap(`delete ${describe(ref)}`, err);
      }
    },
    async get(ref) {
      try {
        return (await objects.read(header(ref) as never)) as never;
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw wrap(`get ${describe(ref)}`, err);
      }
    },
  };
}
