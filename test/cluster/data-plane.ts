// The whole real data plane for one namespace, started in one call: what a test or the demo needs so
// that the objects Weir writes carry real requests to real pods and real metrics reach analysis.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceAccountCredentials, type ApiCredentials } from './api-credentials.ts';
import { loadKubeConfig } from './pki.ts';
import { startPodRunner, type PodRunner } from './pod-runner.ts';
import { POD_SD_RULES, startPrometheus, type PrometheusInstance } from './prometheus.ts';
import { createGateway, startTraefik, type GatewayRef, type Traefik } from './traefik.ts';

export interface DataPlaneOptions {
  kubeconfigPath: string;
  /** The one namespace the pods, routes and Gateway live in; it must exist. */
  namespace: string;
  /** Logs of Traefik, Prometheus and every pod's podinfo go here. */
  logDir: string;
  /** Name of the Gateway created in `namespace`; default `gateway`. */
  gatewayName?: string;
  /** Prometheus' scrape and evaluation interval; default 1s. */
  scrapeInterval?: string;
}

export interface DataPlane {
  /** Plays every Running podinfo pod of the namespace as a real podinfo process on its pod IP. */
  pods: PodRunner;
  /** Serves HTTPRoutes (Gateway API) and IngressRoutes/TraefikServices (CRD) of the namespace. */
  traefik: Traefik;
  /** The Gateway (listener on `traefik.port`, routes from the same namespace), Accepted and Programmed. */
  gateway: GatewayRef;
  /**
   * Scrapes the namespace's pods annotated `prometheus.io/scrape: "true"` (port `prometheus.io/port`,
   * labels `namespace` and `pod`) and Traefik (job `traefik`): point Weir's analysis here.
   */
  prometheus: PrometheusInstance;
  /** Stops Prometheus, Traefik and every pod process; removes the Gateway's class and the RBAC objects. */
  stop(): Promise<void>;
}

/**
 * Starts the real data plane for `namespace`: the pod runner (KWOK pods with a podinfo image run the
 * real podinfo binary on their pod IP), Traefik with a Gateway `gatewayName` of its own GatewayClass,
 * and a Prometheus that finds the pods through kubernetes_sd with a ServiceAccount token of its own.
 * Only inside the run's network namespace (netns.ts): the parts send traffic to pod IPs. On a failure
 * it stops what it started before throwing.
 *
 * ```ts
 * const dp = await startDataPlane({ kubeconfigPath, namespace: ns, logDir });
 * // Canary: service.gatewayRefs [{ name: dp.gateway.name, namespace: ns }], WEIR_PROMETHEUS_ADDRESS dp.prometheus.url
 * await runLoad({ url: dp.traefik.url, host: 'app.example', count: 500, rps: 100, timeoutMs: 30_000 });
 * await dp.stop();
 * ```
 */
export async function startDataPlane(opts: DataPlaneOptions): Promise<DataPlane> {
  const { kubeconfigPath, namespace, logDir } = opts;
  const kc = loadKubeConfig(kubeconfigPath);
  const stops: Array<() => Promise<void>> = [];
  const stop = once(async () => {
    // Last started, first stopped: Prometheus before Traefik and the pods it scrapes.
    for (const s of stops.reverse()) await s().catch(() => undefined);
  });
  try {
    const pods = await startPodRunner({ kubeconfigPath, namespaces: [namespace], logDir });
    stops.push(() => pods.stop());
    const traefik = await startTraefik({ kubeconfigPath, namespaces: [namespace], logDir });
    stops.push(() => traefik.stop());
    const credsDir = await mkdtemp(join(tmpdir(), 'weir-dataplane-'));
    stops.push(() => rm(credsDir, { recursive: true, force: true }));
    const creds: ApiCredentials = await serviceAccountCredentials(kc, {
      name: 'prometheus',
      namespace,
      rules: POD_SD_RULES,
      dir: credsDir,
    });
    stops.push(() => creds.revoke());
    const prometheus = await startPrometheus({
      kubernetesPods: { ...creds, namespaces: [namespace] },
      targets: [{ job: 'traefik', address: traefik.metricsAddress }],
      ...(opts.scrapeInterval ? { scrapeInterval: opts.scrapeInterval } : {}),
      logDir,
    });
    stops.push(() => prometheus.stop());
    const gateway = await createGateway(kc, traefik, { namespace, name: opts.gatewayName ?? 'gateway' });
    return { pods, traefik, gateway, prometheus, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
