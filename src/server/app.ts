// The controller's HTTP surface, built by a factory and kept apart from listen(): /metrics,
// /healthz, /readyz, plus routes that other components register (the GitSync receiver).
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';

export interface AppOptions {
  metrics: Metrics;
  /** True once informer caches have synced. */
  ready: () => boolean;
  log: Logger;
  register?: Array<(app: FastifyInstance) => void>;
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    // Request logs at info would log every scrape of /metrics and every probe: warn and above only.
    loggerInstance: opts.log.child({ component: 'http' }, { level: 'warn' }),
  }) as unknown as FastifyInstance;
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
