// Helpers for GitSync scenarios on the real local control plane: a namespace, a loopback git server,
// a Weir controller (the whole `runController`, or the GitSync controller alone with a counting API
// client for benchmarks), and small verbs — create a GitSync, wait for its status, request a sync
// the way `weir sync gitsync` does, sign a webhook, push trees with symlinks.
import { createHmac } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import type { GitSyncSpec, GitSyncStatus } from '../../src/api/gitsync.ts';
import { parseConfig } from '../../src/config.ts';
import { runController } from '../../src/controller-main.ts';
import type { Caches } from '../../src/canary/context.ts';
import { createKube, type Kube, type Obj } from '../../src/kube/client.ts';
import { createEventRecorder } from '../../src/kube/events.ts';
import { Informer, RESOURCES } from '../../src/kube/informers.ts';
import { createLogger } from '../../src/log.ts';
import { buildApp } from '../../src/server/app.ts';
import { Metrics } from '../../src/server/metrics.ts';
import {
  SYNC_REQUEST_ANNOTATION,
  createGitSyncController,
  type GitSyncController,
  type GitSyncObject,
} from '../../src/gitsync/controller.ts';
import { createNamespace, projectRoot, sharedCluster, type Cluster } from './cluster.ts';
import { git, startGitServer, type GitServer } from './git-server.ts';
import { waitFor } from './proc.ts';

export interface GitSyncWorld {
  cluster: Cluster;
  ns: string;
  kube: Kube;
  git: GitServer;
  /** Base URL of the controller's HTTP server. */
  http: string;
  logFile: string;
  /** The controller's checkout root (WEIR_GIT_CACHE_DIR). */
  cacheDir: string;
  /** Only in 'gitsync-only' mode. */
  controller?: GitSyncController;
  apply(name: string, spec: Partial<GitSyncSpec> & { url: string }): Promise<void>;
  get(name: string): Promise<GitSyncObject>;
  /** Polls the GitSync until `check(status)` holds. */
  wait(
    name: string,
    what: string,
    check: (s: GitSyncStatus) => boolean,
    timeoutMs?: number,
  ): Promise<GitSyncObject>;
  /** What `weir sync gitsync NAME` does; resolves once the controller acknowledged it. */
  syncNow(name: string, timeoutMs?: number): Promise<GitSyncObject>;
  object<T = Obj>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | undefined>;
  events(name: string): Promise<Array<{ type: string; reason: string; message: string }>>;
  /**
   * Waits (default 10 s) for an Event of the GitSync matching `check`: the controller records Events
   * after its status patch, so one read right after seeing the status can miss them.
   */
  waitEvent(
    name: string,
    what: string,
    check: (e: { type: string; reason: string; message: string }) => boolean,
    timeoutMs?: number,
  ): Promise<{ type: string; reason: string; message: string }>;
  stop(): Promise<void>;
}

export const readyOf = (s: GitSyncStatus | undefined) => s?.conditions?.find((c) => c.type === 'Ready');

export async function startGitSyncWorld(
  prefix: string,
  opts: {
    mode?: 'controller' | 'gitsync-only';
    namespace?: string;
    /** Extra controller environment (WEIR_* flags), e.g. the GitSync tenancy flags. */
    env?: Record<string, string>;
    /** The controller's kubeconfig (default: the cluster admin's), e.g. a chart ServiceAccount's. */
    controllerKubeconfig?: string;
  } = {},
): Promise<GitSyncWorld> {
  const cluster = await sharedCluster();
  const ns = opts.namespace ?? (await createNamespace(cluster, prefix));
  const kube = createKube(cluster.kc);
  const gitServer = await startGitServer();
  const logDir = join(process.env.WEIR_TEST_LOG_DIR ?? join(projectRoot, '.weir', 'test-logs'), ns);
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'controller.log');
  const cacheDir = await mkdtemp(join(tmpdir(), 'weir-gitsync-cache-'));
  const env = {
    WEIR_NAMESPACE: ns,
    WEIR_LISTEN: '127.0.0.1:0',
    WEIR_LOG_LEVEL: 'debug',
    WEIR_WORKERS: '4',
    WEIR_GIT_CACHE_DIR: cacheDir,
    ...opts.env,
  };
  const config = parseConfig({ kubeconfig: opts.controllerKubeconfig ?? cluster.kubeconfigPath }, env);
  const log = createLogger('debug', createWriteStream(logFile, { flags: 'a' }));
  let stopController: () => Promise<void>;
  let http: string;
  let controller: GitSyncController | undefined;
  if (opts.mode === 'gitsync-only') {
    const caches: Caches = {};
    for (const key of ['gitSync', 'canary', 'deployment', 'secret'] as const)
      caches[key] = new Informer<Obj>(kube, RESOURCES[key], ns, log);
    const metrics = new Metrics('test', false);
    controller = createGitSyncController({
      kube,
      caches,
      config,
      metrics,
      recorder: createEventRecorder(kube, log, 'weir-gitsync'),
      log,
    });
    controller.watch();
    const ctl = controller;
    const app = buildApp({
      metrics,
      ready: () => true,
      log,
      register: [(a: FastifyInstance) => ctl.registerReceiver(a)],
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    http = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    await Promise.all(Object.values(caches).map((c) => c!.start()));
    const running = ctl.run();
    stopController = async () => {
      ctl.stop();
      await Promise.all(Object.values(caches).map((c) => c!.stop()));
      await app.close();
      await running;
    };
  } else {
    const ctl = await runController(config, log);
    http = `http://127.0.0.1:${ctl.port}`;
    stopController = () => ctl.stop();
  }
  const core = cluster.kc.makeApiClient(CoreV1Api);
  const ref = (name: string) => ({ apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', namespace: ns, name });
  const world: GitSyncWorld = {
    cluster,
    ns,
    kube,
    git: gitServer,
    http,
    logFile,
    cacheDir,
    ...(controller ? { controller } : {}),
    async apply(name, spec) {
      await kube.apply(
        { apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', metadata: { name, namespace: ns }, spec },
        'weir-test',
      );
    },
    async get(name) {
      const g = await kube.get<GitSyncObject>(ref(name));
      if (!g) throw new Error(`GitSync ${ns}/${name} not found`);
      return g;
    },
    async wait(name, what, check, timeoutMs = 20_000) {
      let last: GitSyncObject | undefined;
      try {
        return await waitFor(
          `GitSync ${name}: ${what}`,
          async () => {
            last = await world.get(name);
            return check(last.status ?? {}) ? last : undefined;
          },
          timeoutMs,
          50,
        );
      } catch (err) {
        throw new Error(
          `${(err as Error).message}; last status: ${JSON.stringify(last?.status)} (log: ${logFile})`,
        );
      }
    },
    async syncNow(name, timeoutMs = 20_000) {
      const value = `${new Date().toISOString()}-${Math.random().toString(36).slice(2, 8)}`;
      await kube.mergePatch(ref(name), { metadata: { annotations: { [SYNC_REQUEST_ANNOTATION]: value } } });
      return world.wait(
        name,
        `sync request ${value} handled`,
        (s) => s.lastHandledSyncRequest === value,
        timeoutMs,
      );
    },
    async object(apiVersion, kind, name, namespace = ns) {
      return (await kube.get({ apiVersion, kind, namespace, name })) as never;
    },
    async events(name) {
      const list = await core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: `involvedObject.kind=GitSync,involvedObject.name=${name}`,
      });
      return list.items
        .sort(
          (a, b) =>
            (a.metadata.creationTimestamp?.getTime() ?? 0) - (b.metadata.creationTimestamp?.getTime() ?? 0),
        )
        .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' }));
    },
    waitEvent(name, what, check, timeoutMs = 10_000) {
      return waitFor(
        `GitSync ${ns}/${name} event: ${what}`,
        async () => (await world.events(name)).find(check),
        timeoutMs,
        100,
      );
    },
    async stop() {
      await stopController();
      await gitServer.stop();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
  return world;
}

/** GitHub's signature header for `body` under `token`. */
export function githubSignature(body: string, token: string): string {
  return `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;
}

/**
 * Pushes a commit whose tree is exactly `files` (content, or `{ symlink: target }`) to `branch`,
 * replacing whatever the branch held. For trees commitFiles cannot make (symlinks).
 */
export async function pushTree(
  repoUrl: string,
  branch: string,
  files: Record<string, string | { symlink: string }>,
): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'weir-git-tree-'));
  try {
    const run = (args: string[]) => git(args, { cwd: work });
    await run(['init', '--quiet', `--initial-branch=${branch}`]);
    for (const [rel, content] of Object.entries(files)) {
      const abs = join(work, rel);
      await mkdir(dirname(abs), { recursive: true });
      if (typeof content === 'string') await writeFile(abs, content);
      else await symlink(content.symlink, abs);
    }
    await run(['add', '--all']);
    await run(['commit', '--quiet', '-m', `tree for ${branch}`]);
    await run(['push', '--quiet', '--force', repoUrl, `HEAD:refs/heads/${branch}`]);
    return await run(['rev-parse', 'HEAD']);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A secret in the world's namespace (stringData). */
export async function createSecret(
  w: GitSyncWorld,
  name: string,
  data: Record<string, string>,
): Promise<void> {
  await w.kube.apply(
    { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: w.ns }, stringData: data } as never,
    'weir-test',
  );
}
