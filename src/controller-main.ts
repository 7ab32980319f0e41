// `weir controller`: wires config, logger, kube client, informers, the canary controller, leader
// election and the HTTP server, and shuts all of it down on SIGTERM/SIGINT.
import { createKube, loadKubeConfig, statusCode, userAgentOf, type Obj } from './kube/client.ts';
import { createEventRecorder, recordInBackground } from './kube/events.ts';
import { Informer, RESOURCES, type ResourceType } from './kube/informers.ts';
import { runLeaderElection } from './kube/leader.ts';
import { CanaryController } from './canary/controller.ts';
import { createGitSyncController } from './gitsync/controller.ts';
import { shardSelector } from './api/shard.ts';
import type { Caches } from './canary/context.ts';
import type { Config } from './config.ts';
import { describeError } from './errors.ts';
import { providerResources } from './routing/registry.ts';
import type { Logger } from './log.ts';
import { startClusterDashboard } from './dashboard/serve.ts';
import { boundPort, buildApp, buildReceiverApp, type RouteRegistrar } from './server/app.ts';
import { Metrics } from './server/metrics.ts';
import { VERSION } from './version.ts';

/** The controller's own kinds; the routing providers add theirs (their descriptors' resources). */
const OWN = [
  'canary',
  'metricTemplate',
  'alertProvider',
  'deployment',
  'daemonSet',
  'service',
  'configMap',
  'secret',
  'hpa',
  'gitSync',
] as const;

/** The kinds a controller owns by their weir.dev/shard label (src/api/shard.ts). */
const SHARDED = new Set<string>(['canary', 'gitSync']);

/** What the controller watches: cache key, type, and whether the API may be absent (a CRD, HPA). */
export function watchedResources(): Array<{ key: string; type: ResourceType; optional: boolean }> {
  const out = OWN.map((key) => ({
    key: key as string,
    type: RESOURCES[key] as ResourceType,
    optional: key === 'hpa',
  }));
  for (const r of providerResources())
    if (!out.some((o) => o.key === r.key)) out.push({ key: r.key, type: r.type, optional: !!r.optional });
  return out;
}

export async function runController(
  config: Config,
  log: Logger,
): Promise<{ stop(): Promise<void>; port: number; receiverPort?: number; dashboardPort?: number }> {
  const kube = createKube(
    loadKubeConfig(config.kubeconfig, config.context, userAgentOf(VERSION, 'controller')),
  );
  const metrics = new Metrics(VERSION);
  const caches: Caches = {};
  const wanted = watchedResources();
  // Secrets and ConfigMaps are stored without their data; the content of the ones in use is read on
  // demand (src/kube/content.ts), so memory does not grow with every Secret in the cluster.
  const stripContent = new Set<string>(['secret', 'configMap']);
  // Sharding: only the Canaries and GitSyncs of this controller's shard reach its caches (and so its
  // queues). Their targets, routes and templates are watched whole: events of a Deployment whose
  // Canary is in another shard find no Canary here and change nothing (docs/sharding.md).
  const labelSelector = shardSelector(config.shard);
  for (const { key, type } of wanted)
    caches[key] = new Informer<Obj>(kube, type, config.namespace, log, {
      stripContent: stripContent.has(key),
      ...(SHARDED.has(key) ? { labelSelector } : {}),
    });
  // Events are written off the workers: a slow API server then delays an Event, not the next Canary.
  const canaryEvents = recordInBackground(createEventRecorder(kube, log));
  const controller = new CanaryController({
    kube,
    caches,
    config,
    metrics,
    recorder: canaryEvents,
    log,
  });
  controller.watch();
  const gitSync = createGitSyncController({
    kube,
    caches,
    config,
    metrics,
    recorder: createEventRecorder(kube, log, 'weir-gitsync'),
    log: log.child({ component: 'gitsync' }),
  });
  gitSync.watch();

  // With --receiver-listen the receivers move to their own listener and leave the main one.
  const receivers: RouteRegistrar[] = [(a) => gitSync.registerReceiver(a)];
  const own = config.receiverListen;
  const app = buildApp({
    metrics,
    ready: () => Object.values(caches).every((c) => c?.hasSynced),
    log,
    register: own ? [] : receivers,
  });
  await app.listen({ host: config.listenHost, port: config.listenPort });
  const port = boundPort(app, config.listenPort);
  const receiverApp = own ? buildReceiverApp({ log, register: receivers }) : undefined;
  let receiverPort: number | undefined;
  if (receiverApp && own) {
    await receiverApp.listen({ host: own.host, port: own.port });
    receiverPort = boundPort(receiverApp, own.port);
  }
  // The web dashboard (off unless --dashboard-listen): on every replica, it only reads and patches.
  const dashboard = config.dashboardListen
    ? await startClusterDashboard({
        kc: kube.kc,
        log,
        host: config.dashboardListen.host,
        port: config.dashboardListen.port,
        ...(config.namespace ? { namespace: config.namespace } : {}),
        history: {
          defaultProvider: config.defaultProvider,
          ...(config.prometheusAddress ? { prometheusAddress: config.prometheusAddress } : {}),
          timeoutMs: config.metricTimeoutMs,
          crossNamespaceRefs: config.crossNamespaceRefs,
        },
      })
    : undefined;
  const dashboardPort = dashboard ? boundPort(dashboard.app, 0) : undefined;
  log.info(
    {
      version: VERSION,
      port,
      receiverPort: receiverPort ?? port,
      dashboardPort,
      namespace: config.namespace ?? '(all)',
      shard: config.shard ?? '(none)',
      owns: labelSelector,
      lease: config.leaderElection ? config.leaseName : undefined,
    },
    'weir controller started',
  );

  await Promise.all(
    wanted.map(async ({ key, type, optional }) => {
      try {
        await caches[key]!.start();
      } catch (err) {
        // Optional APIs (Gateway API CRDs, HPA) may be absent (404); routing to them then reports an
        // error. A refused list (403) is missing RBAC, not a missing API: without the cache the
        // router would rewrite the route on every reconcile, so that stops the controller instead.
        if (!optional || statusCode((err as Error).cause) === 403) throw err;
        log.warn({ resource: type.plural, err: describeError(err) }, 'optional resource not watched');
        delete caches[key];
      }
    }),
  );

  let running: Promise<void> | undefined;
  const startLeading = () => {
    running = Promise.all([controller.run(), gitSync.run()]).then(() => undefined);
  };
  let elector: { stop(): void } | undefined;
  if (config.leaderElection) {
    elector = runLeaderElection(kube, log, {
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity: config.identity,
      onStartedLeading: startLeading,
      onStoppedLeading: () => {
        log.error('leadership lost; exiting so that only the leader acts');
        process.exit(1);
      },
    });
  } else {
    startLeading();
  }

  return {
    port,
    ...(receiverPort !== undefined ? { receiverPort } : {}),
    ...(dashboardPort !== undefined ? { dashboardPort } : {}),
    async stop() {
      await dashboard?.stop();
      elector?.stop();
      controller.stop();
      gitSync.stop();
      await Promise.all(Object.values(caches).map((c) => c?.stop()));
      await app.close();
      await receiverApp?.close();
      await running;
      await canaryEvents.idle();
    },
  };
}
