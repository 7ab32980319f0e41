// A small raw client for API calls on arbitrary kinds: GitSync's, and the controller's writes. The
// typed client-node path (KubernetesObjectApi) re-serializes bodies through its model classes, which
// silently drops unknown fields (a typo in Git would vanish instead of being rejected) and converts
// values on the way back; its generated request pipeline (URL parsing, middleware, node-fetch
// streams, a model round trip) also cost half of a write's CPU (docs/performance.md). This client
// sends the exact JSON both ways over keep-alive connections, and counts its writes.
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { WeirError } from '../errors.ts';

export type Json = Record<string, unknown>;

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name: string;
}

export interface ApiClient {
  /**
   * Server-side apply of `obj` under `manager` (force; strict field validation unless `strict` is
   * false, when the API server's default applies); returns the live object.
   */
  apply(obj: Json, manager: string, strict?: boolean): Promise<Json>;
  /**
   * A merge patch (RFC 7386) or JSON patch (RFC 6902) of an object or its status subresource;
   * returns the object the API server stored. A failed JSON-patch `test` rejects (HTTP 422).
   */
  patch(ref: ObjectRef, body: unknown, o: PatchOptions): Promise<Json>;
  /** Creates `obj` (metadata.generateName allowed); returns the stored object. */
  create(obj: Json): Promise<Json>;
  get(ref: ObjectRef): Promise<Json | undefined>;
  /** Every object of a kind (in a namespace, or cluster-wide) matching a label selector. */
  list(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector: string,
  ): Promise<Json[]>;
  /** Background-propagation delete; false when the object was already gone. */
  remove(ref: ObjectRef): Promise<boolean>;
  /** Whether a kind is namespaced, from discovery; undefined when the cluster does not serve it. */
  scope(apiVersion: string, kind: string): Promise<'Namespaced' | 'Cluster' | undefined>;
  /** Write requests sent so far (apply and delete), for tests and benchmarks. */
  readonly writes: number;
  /** Closes kept-alive connections. */
  close(): void;
  /**
   * The same client acting as `user` (Impersonate-User; for `system:serviceaccount:<ns>:<name>` the
   * API server adds the ServiceAccount's groups). Connections, discovery and the write count are shared.
   */
  impersonate(user: string): ApiClient;
}

export interface PatchOptions {
  type: 'merge' | 'json';
  manager: string;
  subresource?: 'status';
}

export interface ClientOptions {
  /** A request whose socket stays silent this long fails (default 30 s). */
  timeoutMs?: number;
}

/** How long one computation of the request options (credentials, TLS, agent) is used. */
export const OPTIONS_TTL_MS = 10_000;

const PATCH_TYPES = { merge: 'application/merge-patch+json', json: 'application/json-patch+json' };

/**
 * What an API server refusal carries as the cause of the WeirError: `code` is the HTTP status and
 * `body` the Status object, the shape statusCode() and apiMessage() in client.ts read.
 */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: Json,
  ) {
    super(String(body.message ?? `HTTP ${code}`));
    this.name = 'ApiStatusError';
  }
}

/** group/version as the API server names them (DNS subdomain, DNS label); nothing that walks a URL. */
const API_VERSION =
  /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[a-z]([-a-z0-9]*[a-z0-9])?$/;

interface Resource {
  name: string;
  namespaced: boolean;
}

export function createApiClient(kc: KubeConfig, o: ClientOptions = {}): ApiClient {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new WeirError('CONFIG', 'kubeconfig has no current cluster');
  const base = new URL(server);
  const secure = base.protocol === 'https:';
  let own: HttpsAgent | HttpAgent | undefined;
  let writes = 0;
  const timeout = o.timeoutMs ?? 30_000;
  const describe = (o: ObjectRef) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
  const fail = (what: string, status: number, json: Json) => {
    const cause = new ApiStatusError(status, json);
    return new WeirError(status === 404 ? 'NOT_FOUND' : 'KUBE_API', `${what}: ${cause.message}`, { cause });
  };

  // What applyToHTTPSOptions computes (credentials, TLS material, the shared agent) is kept for
  // OPTIONS_TTL_MS: computing it per request decoded the CA, client certificate and key (or read
  // their files) every time, 3 % of a rollout's CPU. A 401 drops it, so a rotated token is read
  // again at once.
  let applied: { opts: RequestOptions; at: number } | undefined;
  async function requestOptions(): Promise<RequestOptions> {
    if (applied && Date.now() - applied.at < OPTIONS_TTL_MS) return applied.opts;
    const opts: RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    applied = { opts, at: Date.now() };
    return opts;
  }

  function ownAgent(opts: RequestOptions): HttpsAgent | HttpAgent {
    if (!secure) return new HttpAgent({ keepAlive: true, maxSockets: 16 });
    return new HttpsAgent({
      keepAlive: true,
      maxSockets: 16,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    });
  }

  async function send(
    method: string,
    path: string,
    query: Record<string, string>,
    body?: { data: unknown; contentType: string },
    as?: string,
  ): Promise<{ status: number; json: Json }> {
    const opts = await requestOptions();
    // applyToHTTPSOptions builds a new agent per call, unless keepConnections (client.ts) shares one
    // keep-alive agent per TLS identity, as for the controller and the CLI: then that one is used.
    // Otherwise one keep-alive agent with the first call's TLS material saves a handshake per object.
    const shared = (opts.agent as { keepAlive?: boolean } | undefined)?.keepAlive
      ? (opts.agent as HttpsAgent | HttpAgent)
      : undefined;
    const agent = shared ?? (own ??= ownAgent(opts));
    const url = new URL(base.pathname.replace(/\/$/, '') + path, base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body.data));
    const headers: Record<string, string | number> = {
      ...(opts.headers as Record<string, string>),
      accept: 'application/json',
      ...(payload ? { 'content-type': body!.contentType, 'content-length': payload.length } : {}),
      ...(as ? { 'impersonate-user': as } : {}),
    };
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const req = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req(url, { method, headers, agent, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Json = {};
          try {
            json = text ? (JSON.parse(text) as Json) : {};
          } catch {
            json = { message: text.slice(0, 500) };
          }
          if (res.statusCode === 401) applied = undefined;
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      r.on('timeout', () => r.destroy(new Error(`${method} ${path}: timed out`)));
      r.on('error', (err) =>
        reject(new WeirError('UNREACHABLE', `${method} ${path}: ${err.message}`, { cause: err })),
      );
      if (payload) r.write(payload);
      r.end();
    });
  }

  // Discovery per apiVersion; a kind missing from the cached list is asked again (a CRD just applied).
  const discovered = new Map<string, Array<{ kind: string; name: string; namespaced: boolean }>>();
  async function resource(apiVersion: string, kind: string): Promise<Resource | undefined> {
    // The apiVersion becomes part of the URL: `../api/v1/namespaces/x/secrets/y` would make discovery
    // (sent with the controller's own identity) GET whatever path it names.
    if (!API_VERSION.test(apiVersion))
      throw new WeirError(
        'INVALID_SPEC',
        `apiVersion ${JSON.stringify(apiVersion)} is not a valid API version`,
      );
    const find = () => discovered.get(apiVersion)?.find((r) => r.kind === kind && !r.name.includes('/'));
    if (find()) return find();
    const root = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const { status, json } = await send('GET', root, {});
    if (status === 404) return undefined;
    if (status >= 300) throw fail(`discovery of ${apiVersion}`, status, json);
    discovered.set(
      apiVersion,
      (json.resources as Array<{ kind: string; name: string; namespaced: boolean }>) ?? [],
    );
    return find();
  }

  async function pathOf(
    ref: { apiVersion: string; kind: string; namespace?: string | undefined },
    name?: string,
  ) {
    const r = await resource(ref.apiVersion, ref.kind);
    if (!r) {
      throw new WeirError(
        'NOT_FOUND',
        `${ref.kind} (${ref.apiVersion}) is not served by the cluster (is its CRD installed?)`,
      );
    }
    if (name !== undefined) {
      // "." and ".." are removed by the URL parser (a name ".." would address the namespace itself).
      if (!name || name === '.' || name === '..' || /[/%]/.test(name))
        throw new WeirError('INVALID_SPEC', `${describe({ ...ref, name })}: not a valid name`);
      // The API server silently drops a namespace sent for a cluster-scoped kind: never let a
      // namespaced-looking object become a cluster-scoped write (or a read of one).
      if (r.namespaced !== !!ref.namespace)
        throw new WeirError(
          'INVALID_SPEC',
          `${describe({ ...ref, name })}: ${ref.kind} is ${r.namespaced ? 'namespaced but no namespace was given' : 'cluster-scoped but a namespace was given'}`,
        );
    }
    if (
      ref.namespace !== undefined &&
      (ref.namespace === '.' || ref.namespace === '..' || /[/%]/.test(ref.namespace))
    )
      throw new WeirError('INVALID_SPEC', `namespace ${JSON.stringify(ref.namespace)} is not valid`);
    const root = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const ns = r.namespaced && ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
    return `${root}${ns}/${r.name}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  const client = (as?: string): ApiClient => ({
    get writes() {
      return writes;
    },
    close() {
      if (as) return; // the connections belong to the controller's client
      own?.destroy();
      own = undefined;
    },
    impersonate(user) {
      return client(user);
    },
    async apply(obj, manager, strict = true) {
      const meta = (obj.metadata ?? {}) as Json;
      const ref = {
        apiVersion: String(obj.apiVersion),
        kind: String(obj.kind),
        namespace: meta.namespace as string | undefined,
        name: String(meta.name),
      };
      const path = await pathOf(ref, ref.name);
      writes++;
      const { status, json } = await send(
        'PATCH',
        path,
        { fieldManager: manager, force: 'true', ...(strict ? { fieldValidation: 'Strict' } : {}) },
        { data: obj, contentType: 'application/apply-patch+yaml' },
        as,
      );
      if (status >= 300) throw fail(`apply ${describe(ref)}`, status, json);
      return json;
    },
    async patch(ref, body, p) {
      const path = `${await pathOf(ref, ref.name)}${p.subresource ? `/${p.subresource}` : ''}`;
      writes++;
      const { status, json } = await send(
        'PATCH',
        path,
        { fieldManager: p.manager },
        { data: body, contentType: PATCH_TYPES[p.type] },
        as,
      );
      if (status >= 300)
        throw fail(`patch ${p.subresource ? `${p.subresource} of ` : ''}${describe(ref)}`, status, json);
      return json;
    },
    async create(obj) {
      const meta = (obj.metadata ?? {}) as Json;
      const ns = meta.namespace as string | undefined;
      const ref = { apiVersion: String(obj.apiVersion), kind: String(obj.kind), namespace: ns };
      writes++;
      const { status, json } = await send(
        'POST',
        await pathOf(ref),
        {},
        { data: obj, contentType: 'application/json' },
        as,
      );
      if (status >= 300)
        throw fail(
          `create ${describe({ ...ref, name: String(meta.name ?? meta.generateName ?? '') })}`,
          status,
          json,
        );
      return json;
    },
    async get(ref) {
      const { status, json } = await send('GET', await pathOf(ref, ref.name), {}, undefined, as);
      if (status === 404) return undefined;
      if (status >= 300) throw fail(`get ${describe(ref)}`, status, json);
      return json;
    },
    async list(apiVersion, kind, namespace, labelSelector) {
      const path = await pathOf({ apiVersion, kind, namespace });
      const out: Json[] = [];
      let cont: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const { status, json } = await send(
          'GET',
          path,
          { labelSelector, limit: '500', ...(cont ? { continue: cont } : {}) },
          undefined,
          as,
        );
        if (status >= 300) throw fail(`list ${kind} (${apiVersion})`, status, json);
        out.push(...((json.items as Json[]) ?? []));
        cont = (json.metadata as Json | undefined)?.continue as string | undefined;
        if (!cont) break;
      }
      return out;
    },
    async remove(ref) {
      const path = await pathOf(ref, ref.name);
      writes++;
      const { status, json } = await send('DELETE', path, { propagationPolicy: 'Background' }, undefined, as);
      if (status === 404) return false;
      if (status >= 300) throw fail(`delete ${describe(ref)}`, status, json);
      return true;
    },
    async scope(apiVersion, kind) {
      const r = await resource(apiVersion, kind);
      return r ? (r.namespaced ? 'Namespaced' : 'Cluster') : undefined;
    },
  });
  return client();
}
