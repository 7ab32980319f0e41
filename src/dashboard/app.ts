// The dashboard's HTTP surface, built by a factory and kept apart from listen() (as src/server/app.ts):
// the login exchange, the server-rendered pages, the Server-Sent Events stream of Canary changes and
// the actions. Every route but the login page and the static files needs a session (a cookie from
// the login exchange) or a bearer token, and every view or action asks the Authenticator.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ActionKind } from '../cli/actions.ts';
import type { Kube } from '../kube/client.ts';
import type { Logger } from '../log.ts';
import { DASHBOARD_ACTIONS, performAction } from './actions.ts';
import { clientScript, uplotCss } from './assets.ts';
import {
  clearedCookie,
  COOKIE,
  cookieValue,
  sameSecret,
  sessionCookie,
  Sessions,
  type Authenticator,
  type Resource,
  type Session,
  type Verb,
} from './auth.ts';
import { canaryPage, errorPage, listPage, loginPage, type PageContext } from './html.ts';
import { metricSeries, summarize, type CanaryView, type Deployed } from './model.ts';
import type { CanaryEntry, CanaryStore } from './store.ts';
import { crossSiteReason } from './csrf.ts';
import { registerGitSyncRoutes } from './gitsync-routes.ts';
import { openEventStream } from './sse.ts';
import { deployedOf, pageExtras } from './extras.ts';
import { metricHistory, type HistorySources } from './metric-history.ts';

export interface DashboardOptions {
  /** Reads (Events, Deployments, GitSyncs) and the actions' patches: the user's (local) or the controller's. */
  kube: Kube;
  store: CanaryStore;
  auth: Authenticator;
  log: Logger;
  /** Served over TLS: the session cookie gets Secure. */
  secure?: boolean;
  /** Only this namespace's GitSyncs (as the store's Canaries); all namespaces otherwise. */
  namespace?: string;
  /** Where the metric charts' history comes from (Prometheus `query_range`). */
  history: HistorySources;
}

type Req = FastifyRequest;

/** Authorisation decisions are cached this long per session (SubjectAccessReviews are not free). */
const DECISION_MS = 10_000;

export function buildDashboardApp(opts: DashboardOptions): FastifyInstance {
  const app = Fastify({
    // warn and above only: request logs (info) would carry the one-time token of the login URL.
    loggerInstance: opts.log.child({ component: 'dashboard' }, { level: 'warn' }),
  }) as unknown as FastifyInstance;
  const audit = opts.log.child({ component: 'dashboard' });
  const sessions = new Sessions(opts.auth);
  const local = opts.auth.mode === 'local';
  const decisions = new WeakMap<Session, Map<string, { at: number; allowed: Promise<boolean> }>>();

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  const may = (
    s: Session,
    verb: Verb,
    namespace: string,
    name?: string,
    resource: Resource = 'canaries',
  ): Promise<boolean> => {
    const cache = decisions.get(s) ?? new Map();
    decisions.set(s, cache);
    const k = `${verb} ${resource} ${namespace}/${name ?? ''}`;
    const hit = cache.get(k);
    if (hit && Date.now() - hit.at < DECISION_MS) return hit.allowed;
    const allowed = opts.auth.may(s, verb, namespace, name, resource).catch((err: unknown) => {
      app.log.warn({ err: String(err) }, 'SubjectAccessReview failed');
      return false;
    });
    cache.set(k, { at: Date.now(), allowed });
    return allowed;
  };

  /** The request's session: its cookie, or (API clients) an Authorization: Bearer token. */
  const sessionOf = async (req: Req): Promise<Session | undefined> => {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer && !local) {
      const s = await sessions.open(bearer).catch(() => undefined);
      if (s) sessions.close(s.id); // one request only: nothing of it outlives the request
      return s;
    }
    return sessions.find(cookieValue(req.headers.cookie, COOKIE));
  };
  /** The request's session cookie still has a session (a bearer-token stream has no cookie). */
  const sessionAlive = (req: Req) => {
    const cookie = cookieValue(req.headers.cookie, COOKIE);
    return async () => !cookie || !!(await sessions.find(cookie));
  };

  const ctx = (s: Session): PageContext => ({ user: s.identity.username, csrf: s.csrf });
  const login = (reply: FastifyReply, message: string, code = 401) =>
    reply.code(code).type('text/html').send(loginPage(message, local));
  const refused = (s: Session, verb: Verb, what: string, resource: Resource = 'canaries') =>
    `${s.identity.username} may not ${verb} ${what}: a SubjectAccessReview refused "${verb}" on ${resource}.weir.dev`;

  app.get('/assets/dashboard.js', async (_req, reply) =>
    reply
      .type('text/javascript')
      .header('Cache-Control', 'no-cache')
      .send(await clientScript()),
  );
  app.get('/assets/uPlot.min.css', async (_req, reply) => reply.type('text/css').send(uplotCss()));

  app.get('/login', async (_req, reply) => login(reply, '', 200));
  app.post('/login', async (req, reply) => {
    const why = crossSiteReason(req.headers);
    if (why)
      return reply
        .code(403)
        .type('text/html')
        .send(errorPage(403, `cross-site login refused (${why})`));
    const token = String((req.body as Record<string, unknown> | undefined)?.token ?? '');
    return exchange(token, reply);
  });
  app.post('/logout', async (req, reply) => {
    sessions.close(cookieValue(req.headers.cookie, COOKIE));
    return reply.header('Set-Cookie', clearedCookie).redirect('/login', 303);
  });

  async function exchange(token: string, reply: FastifyReply) {
    const s = await sessions.open(token).catch((err: unknown) => {
      app.log.warn({ err: String(err) }, 'TokenReview failed');
      return undefined;
    });
    if (!s) return login(reply, 'The token was not accepted: it is forged, expired or already used.');
    return reply.header('Set-Cookie', sessionCookie(s.id, !!opts.secure)).redirect('/', 303);
  }

  app.get('/', async (req, reply) => {
    // The one-time URL of `weir dashboard` only: a long-lived bearer token does not belong in a URL
    // (proxies and browser histories keep URLs), so the listener takes it from the login form only.
    const token = (req.query as Record<string, string | undefined>).token;
    if (token !== undefined && local) return exchange(token, reply);
    const s = await sessionOf(req);
    if (!s) return login(reply, '');
    await opts.store.synced();
    const rows = await visible(s, opts.store.list());
    return reply.type('text/html').send(
      listPage(
        rows.map((e) => summarize(e.canary)),
        ctx(s),
      ),
    );
  });

  const visible = async (s: Session, entries: CanaryEntry[]): Promise<CanaryEntry[]> => {
    const allowed = await Promise.all(entries.map((e) => may(s, 'list', e.canary.metadata.namespace ?? '')));
    return entries.filter((_, i) => allowed[i]);
  };

  app.get('/canaries/:namespace/:name', async (req, reply) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    const s = await sessionOf(req);
    if (!s) return login(reply, '');
    if (!(await may(s, 'get', namespace, name)))
      return reply
        .code(403)
        .type('text/html')
        .send(errorPage(403, refused(s, 'get', `Canary ${namespace}/${name}`), ctx(s)));
    await opts.store.synced();
    const entry = opts.store.get(namespace, name);
    if (!entry)
      return reply
        .code(404)
        .type('text/html')
        .send(errorPage(404, `Canary ${namespace}/${name} not found`, ctx(s)));
    const [extras, deployed] = await Promise.all([
      pageExtras(opts.kube, entry.canary),
      deployedOf(opts.kube, entry.canary),
    ]);
    return reply.type('text/html').send(canaryPage(entry.canary, viewOf(entry, deployed), extras, ctx(s)));
  });

  // The metric charts' history, fetched by the page's script (the page renders without waiting for it).
  app.get('/canaries/:namespace/:name/metric-history', async (req, reply) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    const s = await sessionOf(req);
    if (!s) return reply.code(401).send({ error: 'not logged in (or the session expired): log in again' });
    if (!(await may(s, 'get', namespace, name)))
      return reply.code(403).send({ error: refused(s, 'get', `Canary ${namespace}/${name}`) });
    await opts.store.synced();
    const entry = opts.store.get(namespace, name);
    if (!entry) return reply.code(404).send({ error: `Canary ${namespace}/${name} not found` });
    return reply.send(await metricHistory(opts.kube, entry.canary, opts.history));
  });

  registerGitSyncRoutes(app, {
    kube: opts.kube,
    namespace: opts.namespace,
    sessionOf,
    may,
    ctx,
    login,
    refused,
    sessionAlive,
  });

  app.post('/canaries/:namespace/:name/actions/:kind', async (req, reply) => {
    const { namespace, name, kind } = req.params as { namespace: string; name: string; kind: string };
    const why = crossSiteReason(req.headers);
    if (why) return reply.code(403).send({ error: `cross-site request refused (${why})` });
    const s = await sessionOf(req);
    if (!s) return reply.code(401).send({ error: 'not logged in (or the session expired): log in again' });
    const bearer = !!req.headers.authorization;
    if (!bearer && !sameSecret(String(req.headers['x-csrf-token'] ?? ''), s.csrf))
      return reply.code(403).send({ error: 'missing or wrong CSRF token: reload the page' });
    if (!DASHBOARD_ACTIONS.includes(kind as ActionKind))
      return reply.code(404).send({ error: `no action ${kind}: one of ${DASHBOARD_ACTIONS.join(', ')}` });
    if (!(await may(s, 'patch', namespace, name)))
      return reply.code(403).send({ error: refused(s, 'patch', `Canary ${namespace}/${name}`) });
    const result = await performAction(
      opts.kube,
      kind as ActionKind,
      opts.store.get(namespace, name)?.canary,
      namespace,
      name,
      `${s.identity.username} (weir dashboard)`,
    );
    audit.info(
      { user: s.identity.username, action: kind, canary: `${namespace}/${name}`, status: result.status },
      'dashboard action',
    );
    return reply.code(result.status).send(result);
  });

  app.get('/events', async (req, reply) => {
    const q = req.query as { namespace?: string; name?: string };
    const s = await sessionOf(req);
    if (!s) return reply.code(401).send({ error: 'not logged in' });
    if (q.namespace && q.name && !(await may(s, 'get', q.namespace, q.name)))
      return reply.code(403).send({ error: refused(s, 'get', `Canary ${q.namespace}/${q.name}`) });
    await opts.store.synced();
    stream(req, reply, s, q);
  });

  function stream(req: Req, reply: FastifyReply, s: Session, q: { namespace?: string; name?: string }) {
    let unsubscribe = () => {};
    const { send } = openEventStream(reply, sessionAlive(req), () => unsubscribe());
    const one = q.namespace && q.name ? { namespace: q.namespace, name: q.name } : undefined;
    const push = async (namespace: string, name: string, entry: CanaryEntry | undefined) => {
      if (one) {
        if (namespace !== one.namespace || name !== one.name) return;
        // Images and revisions read again: a new revision or a promotion changes the Canary too.
        if (entry) send('view', viewOf(entry, await deployedOf(opts.kube, entry.canary)));
        else send('deleted', { namespace, name });
        return;
      }
      if (!(await may(s, 'list', namespace))) return;
      if (entry) send('canary', summarize(entry.canary));
      else send('deleted', { namespace, name });
    };
    // One after the other: a push awaits reads (SubjectAccessReview, images), and a later change
    // must not overtake an earlier one on the stream.
    let queue = Promise.resolve();
    const enqueue = (ns: string, name: string, entry: CanaryEntry | undefined) =>
      (queue = queue.then(() => push(ns, name, entry)).catch(() => undefined));
    unsubscribe = opts.store.subscribe(enqueue);
    // The state now, so a change between the page's render and this connection is not missed.
    const current = one ? [opts.store.get(one.namespace, one.name)].filter((e) => !!e) : opts.store.list();
    for (const e of current) void enqueue(e.canary.metadata.namespace ?? '', e.canary.metadata.name ?? '', e);
  }

  return app;
}

export const viewOf = (e: CanaryEntry, deployed?: Deployed): CanaryView => ({
  summary: summarize(e.canary),
  timeline: e.timeline,
  metrics: metricSeries(e.canary),
  ...(deployed ? { deployed } : {}),
});
