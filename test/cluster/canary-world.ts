// An end-to-end scenario for the canary engine on the real local control plane: its own namespace,
// a real Prometheus, a Slack capture server, real exporters standing in for the primary's and the
// canary's pods (KWOK pods run no process), and a Weir controller watching only that namespace —
// in this process, or as a child process that a test can SIGKILL.
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { parseConfig } from '../../src/config.ts';
import { runController } from '../../src/controller-main.ts';
import { createKube, type Kube } from '../../src/kube/client.ts';
import { createLogger } from '../../src/log.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import type { Phase } from '../../src/api/canary.ts';
import { httpRouteWeights } from './route-weights.ts';
import { startAppExporter, type AppBehaviour, type AppExporter } from './app-exporter.ts';
import { createNamespace, projectRoot, sharedCluster, type Cluster } from './cluster.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';
import { startPrometheus, type PrometheusInstance } from './prometheus.ts';
import { startSlackCapture, type SlackCapture } from './slack-capture.ts';

/** The parts of a Deployment the scenarios read back. */
export interface DeploymentObject {
  metadata: { generation?: number; annotations?: Record<string, string> };
  spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } };
  status?: { observedGeneration?: number; updatedReplicas?: number };
}

/** The metric check most scenarios analyse: at least 95% of requests succeed. */
export const successRate = [{ name: 'request-success-rate', thresholdRange: { min: 95 } }];

/**
 * A Canary for the Deployment of the same name on Gateway API (port 8080, Gateway gateway/public).
 * `analysis` is merged over a 10s interval, threshold 2 and `successRate`; a key given as undefined
 * is left out (`metrics: undefined`: no metric checks). `spec` adds (or replaces) other spec fields.
 */
export function gatewayCanary(
  name: string,
  analysis: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): Record<string, unknown> {
  const merged = { interval: '10s', threshold: 2, metrics: successRate, ...analysis };
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name },
    spec: {
      provider: 'gatewayapi',
      targetRef: { kind: 'Deployment', name },
      service: { port: 8080, gatewayRefs: [{ name: 'public', namespace: 'gateway' }] },
      ...spec,
      analysis: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)),
    },
  };
}

export interface World {
  cluster: Cluster;
  ns: string;
  kube: Kube;
  prom: PrometheusInstance;
  slack: SlackCapture;
  logFile: string;
  /**
   * Restarts the controller (after kill()); the in-process one cannot be killed. `env` adds to the
   * controller's environment for this start only (a child controller), e.g. WEIR_FAILPOINT.
   */
  startController(env?: Record<string, string>): Promise<void>;
  /** The current controller child process, if the world runs one. */
  controllerProcess(): Managed | undefined;
  /** SIGKILL of the controller child process. */
  killController(): Promise<void>;
  deploy(
    name: string,
    image: string,
    opts?: { replicas?: number; extra?: Partial<V1Deployment['spec']> },
  ): Promise<void>;
  setImage(name: string, image: string): Promise<void>;
  /** The Deployment `name` in the world's namespace, or undefined. */
  deployment(name: string): Promise<DeploymentObject | undefined>;
  /** The image of the first container of Deployment `name`. */
  image(name: string): Promise<string | undefined>;
  apply(obj: Record<string, unknown>): Promise<void>;
  canary(name: string): Promise<CanaryObject>;
  waitPhase(name: string, phases: Phase | Phase[], timeoutMs?: number): Promise<CanaryObject>;
  /** Weights of the HTTPRoute's default rule. */
  routeWeights(name: string): Promise<{ primary: number; canary: number } | undefined>;
  /**
   * Records the canary weight of the HTTPRoute every 250 ms, in order, without repeats; stop() takes
   * one last sample, so a weight written just before stop() is never missed.
   */
  recordWeights(name: string): Promise<Recorder<number>>;
  /** Records the Canary's status.phase the same way. */
  recordPhases(name: string): Promise<Recorder<Phase>>;
  /** Merge patch on the Canary (what the CLI's actions send, see requestPatch()). */
  patchCanary(name: string, patch: Record<string, unknown>): Promise<void>;
  /** Stops the world's Prometheus (once; stop() then skips it). */
  stopPrometheus(): Promise<void>;
  /** Kubernetes Events recorded for the Canary, oldest first. */
  events(name: string): Promise<Array<{ type: string; reason: string; message: string }>>;
  /** Waits until the Canary's Ready condition is False with a message matching `text`; returns it. */
  notReady(name: string, text: RegExp, timeoutMs?: number): Promise<{ reason?: string; message?: string }>;
  /**
   * Exporters for `<app>-primary-…` and `<app>-…` pods, scraped by Prometheus, with traffic on; the
   * primary is healthy unless `primary` says otherwise.
   */
  exporters(
    app: string,
    canary: AppBehaviour,
    primary?: AppBehaviour,
  ): Promise<{ primary: AppExporter; canary: AppExporter }>;
  stop(): Promise<void>;
}

export interface Recorder<T> {
  /** Ends the recording after one final sample and returns every value seen, in order. */
  stop(): Promise<T[]>;
}

/**
 * Samples one after another (never two GETs in flight, so values cannot arrive out of order) every
 * 250 ms and keeps each change; failed samples are skipped. Resolves once the first sample is taken,
 * so what the caller does next (a new image, a patch) cannot land before the starting value is seen.
 */
export async function recordChanges<T>(sample: () => Promise<T | undefined>): Promise<Recorder<T>> {
  const seen: T[] = [];
  let stopped = false;
  const take = async () => {
    const value = await sample().catch(() => undefined);
    if (value !== undefined && seen[seen.length - 1] !== value) seen.push(value);
  };
  await take();
  const loop = (async () => {
    while (!stopped) {
      await delay(250);
      if (!stopped) await take();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await take();
      return seen;
    },
  };
}

export interface WorldOptions {
  controller?: 'in-process' | 'child';
  /** The CLI a child controller runs (default bin/weir.js), e.g. a bundle scripts/build.ts wrote. */
  entry?: string;
  /** Kubeconfig the controller runs with (default: the cluster's admin one), e.g. a ServiceAccount's token. */
  kubeconfig?: string;
  /** More environment for the controller (e.g. WEIR_LEADER_ELECT, WEIR_LEASE_NAMESPACE). */
  env?: Record<string, string>;
  /** Leave the controller stopped: the test calls startController() once its setup (RBAC…) is done. */
  deferController?: boolean;
  /** The cluster to work in (default: the shared one), e.g. one whose API server a test restarts. */
  cluster?: Cluster;
  /**
   * Starts the Prometheus the controller queries, once the namespace exists (default: one fed through
   * file_sd, scraping every 1 s), e.g. the real data plane's (data-plane.ts). The world stops it.
   */
  prometheus?: (ns: string, logDir: string) => Promise<PrometheusInstance>;
}

export async function startWorld(prefix: string, opts: WorldOptions = {}): Promise<World> {
  const cluster = opts.cluster ?? (await sharedCluster());
  const ns = await createNamespace(cluster, prefix);
  const kube = createKube(cluster.kc);
  const apps = cluster.kc.makeApiClient(AppsV1Api);
  const logDir = join(process.env.WEIR_TEST_LOG_DIR ?? join(projectRoot, '.weir', 'test-logs'), ns);
  mkdirSync(logDir, { recursive: true });
  const prom = opts.prometheus
    ? await opts.prometheus(ns, logDir)
    : await startPrometheus({ scrapeInterval: '1s' });
  const slack = await startSlackCapture();
  const logFile = join(logDir, 'controller.log');
  const exporters: AppExporter[] = [];
  const env = {
    WEIR_NAMESPACE: ns,
    WEIR_LISTEN: '127.0.0.1:0',
    WEIR_PROMETHEUS_ADDRESS: prom.url,
    WEIR_SLACK_URL: slack.url,
    WEIR_LOG_LEVEL: 'debug',
    WEIR_WORKERS: '2',
    ...opts.env,
  };
  const controllerKubeconfig = opts.kubeconfig ?? cluster.kubeconfigPath;
  let inProcess: { stop(): Promise<void> } | undefined;
  let promStopped: Promise<void> | undefined;
  let child: Managed | undefined;

  const world: World = {
    cluster,
    ns,
    kube,
    prom,
    slack,
    logFile,
    controllerProcess: () => child,
    async startController(extraEnv = {}) {
      if (opts.controller === 'child') {
        child = startProcess(
          'controller',
          process.execPath,
          [
            opts.entry ?? join(projectRoot, 'bin', 'weir.js'),
            'controller',
            '--kubeconfig',
            controllerKubeconfig,
          ],
          {
            logDir,
            env: { ...process.env, ...env, ...extraEnv },
          },
        );
        return;
      }
      const config = parseConfig({ kubeconfig: controllerKubeconfig }, env);
      inProcess = await runController(
        config,
        createLogger('debug', createWriteStream(logFile, { flags: 'a' })),
      );
    },
    async killController() {
      child?.child.kill('SIGKILL');
      await child?.exited;
    },
    async deploy(name, image, o = {}) {
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name, labels: { app: name } },
          spec: {
            replicas: o.replicas ?? 2,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
            },
            ...o.extra,
          },
        },
      });
    },
    async setImage(name, image) {
      await kube.mergePatch(
        { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name },
        { spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
      );
    },
    deployment(name) {
      return kube.get<DeploymentObject & Record<string, never>>({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: ns,
        name,
      });
    },
    async image(name) {
      return (await world.deployment(name))?.spec.template.spec.containers[0]?.image;
    },
    async apply(obj) {
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      await kube.apply({ ...obj, metadata: { ...meta, namespace: ns } } as never, 'weir-test');
    },
    async canary(name) {
      const c = await kube.get<CanaryObject>({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'Canary',
        namespace: ns,
        name,
      });
      if (!c) throw new Error(`Canary ${ns}/${name} not found`);
      return c;
    },
    async waitPhase(name, phases, timeoutMs = 120_000) {
      const want = Array.isArray(phases) ? phases : [phases];
      let last: CanaryObject | undefined;
      try {
        return await waitFor(
          `Canary ${ns}/${name} phase ${want.join('|')}`,
          async () => {
            last = await world.canary(name);
            return last.status?.phase && want.includes(last.status.phase) ? last : undefined;
          },
          timeoutMs,
          500,
        );
      } catch (err) {
        throw new Error(
          `${(err as Error).message}; last status: ${JSON.stringify(last?.status)} (controller log: ${logFile})`,
        );
      }
    },
    routeWeights: (name) => httpRouteWeights(kube, ns, name),
    recordWeights: (name) => recordChanges(async () => (await world.routeWeights(name))?.canary),
    recordPhases: (name) => recordChanges(async () => (await world.canary(name)).status?.phase),
    async patchCanary(name, patch) {
      await kube.mergePatch({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: ns, name }, patch);
    },
    async events(name) {
      const list = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedEvent({
        namespace: ns,
        fieldSelector: `involvedObject.kind=Canary,involvedObject.name=${name}`,
      });
      return list.items
        .sort(
          (a, b) =>
            (a.metadata.creationTimestamp?.getTime() ?? 0) - (b.metadata.creationTimestamp?.getTime() ?? 0),
        )
        .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' }));
    },
    notReady(name, text, timeoutMs = 60_000) {
      return waitFor(
        `Canary ${name} Ready=False matching ${text}`,
        async () => {
          const ready = (await world.canary(name)).status?.conditions?.find((c) => c.type === 'Ready');
          return ready?.status === 'False' && text.test(ready.message ?? '') ? ready : undefined;
        },
        timeoutMs,
      );
    },
    stopPrometheus() {
      promStopped ??= prom.stop();
      return promStopped;
    },
    async exporters(app, canary, primaryBehaviour = {}) {
      const primary = await startAppExporter({
        pod: `${app}-primary-7d4b9c-x1a2b`,
        namespace: ns,
        ...primaryBehaviour,
      });
      const can = await startAppExporter({ pod: `${app}-5f6d8b-q9w8e`, namespace: ns, ...canary });
      exporters.push(primary, can);
      for (const e of [primary, can]) {
        await prom.addTarget(e.target(`app-${e.pod}`));
        e.startTraffic({ perTick: 2, tickMs: 100, maxRequests: 20_000, maxDurationMs: 600_000 });
      }
      await Promise.all([primary, can].map((e) => prom.waitForTargetUp(e.address, 30_000)));
      return { primary, canary: can };
    },
    async stop() {
      await inProcess?.stop();
      await child?.stop();
      await Promise.all(exporters.map((e) => e.stop()));
      await world.stopPrometheus();
      await slack.stop();
    },
  };
  if (!opts.deferController) await world.startController();
  return world;
}
