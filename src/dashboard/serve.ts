// The two ways the dashboard runs: `weir dashboard` (local: the user's kubeconfig, 127.0.0.1 and a
// one-time URL token) and the controller's optional listener (cluster: TokenReview and
// SubjectAccessReview with the controller's credentials). Both watch Canaries into one store.
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { createKube } from '../kube/client.ts';
import type { Logger } from '../log.ts';
import { boundPort } from '../server/app.ts';
import { buildDashboardApp } from './app.ts';
import type { HistorySources } from './metric-history.ts';
import { clusterAuthenticator, localAuthenticator } from './auth.ts';
import { startCanaryStore } from './store.ts';

export interface RunningDashboard {
  app: FastifyInstance;
  /** Base URL (http://host:port). */
  url: string;
  stop(): Promise<void>;
}

interface ServeOptions {
  kc: KubeConfig;
  log: Logger;
  /** Only this namespace's Canaries; all namespaces otherwise. */
  namespace?: string;
  port: number;
  /** The metric charts' history: the Prometheus address and the analysis' settings (DEFAULT_HISTORY). */
  history?: Partial<Omit<HistorySources, 'log'>>;
}

/** The controller's defaults (--default-provider, --metric-timeout); no Prometheus address. */
const DEFAULT_HISTORY: Omit<HistorySources, 'log'> = {
  defaultProvider: 'gatewayapi',
  timeoutMs: 5_000,
  crossNamespaceRefs: true,
};

async function serve(
  o: ServeOptions & { host: string },
  auth: Parameters<typeof buildDashboardApp>[0]['auth'],
): Promise<RunningDashboard> {
  const store = startCanaryStore(o.kc, {
    ...(o.namespace ? { namespace: o.namespace } : {}),
    onError: (err) => o.log.warn({ err: String(err) }, 'dashboard: cannot watch Canaries'),
  });
  const app = buildDashboardApp({
    kube: createKube(o.kc),
    store,
    auth,
    log: o.log,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    history: { ...DEFAULT_HISTORY, ...o.history, log: o.log.child({ component: 'dashboard' }) },
  });
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (err) {
    store.stop();
    throw err;
  }
  return {
    app,
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${boundPort(app, o.port)}`,
    async stop() {
      store.stop();
      await app.close();
    },
  };
}

/** `weir dashboard`: bound to 127.0.0.1; `loginUrl` carries the one-time token. */
export async function startLocalDashboard(
  o: ServeOptions & { user: string },
): Promise<RunningDashboard & { loginUrl: string }> {
  const auth = localAuthenticator(o.user);
  const running = await serve({ ...o, host: '127.0.0.1' }, auth);
  return { ...running, loginUrl: `${running.url}/?token=${auth.token}` };
}

/** The controller's listener (--dashboard-listen): bearer tokens, TokenReview, SubjectAccessReview. */
export function startClusterDashboard(o: ServeOptions & { host: string }): Promise<RunningDashboard> {
  return serve(o, clusterAuthenticator(o.kc));
}
