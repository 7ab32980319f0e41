// The controller's HTTP surface, built by factories and kept apart from listen(). The main listener
// (--listen) serves /metrics, /healthz and /readyz, plus the routes other components register (the
// GitSync receivers) unless those have a listener of their own (--receiver-listen): a receiver is
// often exposed to the Internet for Git hosts to call, and /metrics should not be.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';

export type RouteRegistrar = (app: FastifyInstance) => void;

export interface AppOptions {
  metrics: Metrics;
  /** True once informer caches have synced. */
  ready: () => boolean;
  log: Logger;
  register?: RouteRegistrar[];
}

function server(log: Logger, component: string): FastifyInstance {
  return Fastify({
    // Request logs at info would log every scrape of /metrics and every probe: warn and above only.
    loggerInstance: log.child({ component }, { level: 'warn' }),
  }) as unknown as FastifyInstance;
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = server(opts.log, 'http');
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!opts.ready()) return reply.code(503).send({ status: 'caches not synced' });
    return { status: 'ok' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
  for (const r of opts.register ?? []) r(app);
  return app;
}

/** The receivers' own server (--receiver-listen): their routes and nothing else; all else is 404. */
export function buildReceiverApp(opts: { log: Logger; register: RouteRegistrar[] }): FastifyInstance {
  const app = server(opts.log, 'receiver');
  for (const r of opts.register) r(app);
  return app;
}

/** The port a listening server is bound to (port 0 in tests picks a free one). */
export function boundPort(app: FastifyInstance, fallback: number): number {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : fallback;
}
