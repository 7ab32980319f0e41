// The dashboard's GitSync routes: the list and one GitSync's page, with the dashboard's credentials,
// after the same SubjectAccessReview as Canaries but on gitsyncs.weir.dev. The list is read when it
// is asked for; a GitSync's page stays live through its own stream: a watch of that one GitSync (the
// CLI's watchCollection, narrowed by a field selector) for as long as the page is open.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GitSyncObject } from '../cli/gitsync.ts';
import type { Kube } from '../kube/client.ts';
import { RESOURCES } from '../kube/resources.ts';
import { collectionPath } from '../cli/kube.ts';
import { watchCollection } from '../cli/watch.ts';
import type { Resource, Session, Verb } from './auth.ts';
import { gitSyncBody, gitSyncListPage, gitSyncPage } from './gitsync-html.ts';
import { openEventStream } from './sse.ts';
import { errorPage, type PageContext } from './html.ts';

export interface GitSyncRouteDeps {
  kube: Kube;
  namespace?: string | undefined;
  sessionOf(req: FastifyRequest): Promise<Session | undefined>;
  may(s: Session, verb: Verb, namespace: string, name?: string, resource?: Resource): Promise<boolean>;
  ctx(s: Session): PageContext;
  login(reply: FastifyReply, message: string): FastifyReply;
  refused(s: Session, verb: Verb, what: string, resource?: Resource): string;
  /** Whether the request's session still exists, asked by the stream's heartbeat. */
  sessionAlive(req: FastifyRequest): () => Promise<boolean>;
}

export function registerGitSyncRoutes(app: FastifyInstance, deps: GitSyncRouteDeps): void {
  const { sessionOf, may, ctx, login, refused } = deps;
  app.get('/gitsyncs', async (req, reply) => {
    const s = await sessionOf(req);
    if (!s) return login(reply, '');
    const { apiVersion, kind } = RESOURCES.gitSync;
    let problem = '';
    const items = await deps.kube.objects
      .list<GitSyncObject>(apiVersion, kind, deps.namespace)
      .then((l) => l.items)
      .catch((err: unknown) => {
        problem = `cannot list GitSyncs: ${String(err)}`;
        return [];
      });
    const allowed = await Promise.all(
      items.map((g) => may(s, 'list', g.metadata.namespace, undefined, 'gitsyncs')),
    );
    const rows = items.filter((_, i) => allowed[i]).sort((a, b) => key(a).localeCompare(key(b)));
    return reply.type('text/html').send(gitSyncListPage(rows, ctx(s), problem));
  });

  app.get('/gitsyncs/:namespace/:name', async (req, reply) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    const s = await sessionOf(req);
    if (!s) return login(reply, '');
    const what = `GitSync ${namespace}/${name}`;
    if (!(await may(s, 'get', namespace, name, 'gitsyncs')))
      return reply
        .code(403)
        .type('text/html')
        .send(errorPage(403, refused(s, 'get', what, 'gitsyncs'), ctx(s)));
    let g: GitSyncObject | undefined;
    try {
      // list with a field selector: the chart gives the controller list on gitsyncs, not get.
      const { apiVersion, kind } = RESOURCES.gitSync;
      const l = await deps.kube.objects.list<GitSyncObject>(
        apiVersion,
        kind,
        namespace,
        undefined,
        undefined,
        undefined,
        `metadata.name=${name}`,
      );
      g = l.items[0];
    } catch (err) {
      return reply
        .code(502)
        .type('text/html')
        .send(errorPage(502, `cannot read ${what}: ${String(err)}`, ctx(s)));
    }
    if (!g)
      return reply
        .code(404)
        .type('text/html')
        .send(errorPage(404, `${what} not found`, ctx(s)));
    return reply.type('text/html').send(gitSyncPage(g, ctx(s)));
  });

  app.get('/gitsyncs/:namespace/:name/events', async (req, reply) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    const s = await sessionOf(req);
    if (!s) return reply.code(401).send({ error: 'not logged in' });
    if (!(await may(s, 'get', namespace, name, 'gitsyncs')))
      return reply.code(403).send({ error: refused(s, 'get', `GitSync ${namespace}/${name}`, 'gitsyncs') });
    let stop = () => {};
    const { send } = openEventStream(reply, deps.sessionAlive(req), () => stop());
    // A watch without resourceVersion first sends the GitSync as it is now: nothing between the
    // page's render and this stream is missed.
    const watcher = watchCollection<GitSyncObject>(deps.kube.kc, {
      path: collectionPath(RESOURCES.gitSync, namespace),
      fieldSelector: `metadata.name=${name}`,
      onEvent: ({ type, object }) =>
        type === 'DELETED'
          ? send('deleted', { namespace, name })
          : send('gitsync', { html: gitSyncBody(object) }),
    });
    stop = () => watcher.stop();
  });
}

const key = (g: GitSyncObject): string => `${g.metadata.namespace}/${g.metadata.name}`;
