// The dashboard's GitSync routes: the list and one GitSync's page. GitSyncs are read when a page is
// asked for (no watch: these pages are not live), with the dashboard's credentials, after the same
// SubjectAccessReview as Canaries but on gitsyncs.weir.dev.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GitSyncObject } from '../cli/gitsync.ts';
import type { Kube } from '../kube/client.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { Resource, Session, Verb } from './auth.ts';
import { gitSyncListPage, gitSyncPage } from './gitsync-html.ts';
import { errorPage, type PageContext } from './html.ts';

export interface GitSyncRouteDeps {
  kube: Kube;
  namespace?: string | undefined;
  sessionOf(req: FastifyRequest): Promise<Session | undefined>;
  may(s: Session, verb: Verb, namespace: string, name?: string, resource?: Resource): Promise<boolean>;
  ctx(s: Session): PageContext;
  login(reply: FastifyReply, message: string): FastifyReply;
  refused(s: Session, verb: Verb, what: string, resource?: Resource): string;
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
}

const key = (g: GitSyncObject): string => `${g.metadata.namespace}/${g.metadata.name}`;
