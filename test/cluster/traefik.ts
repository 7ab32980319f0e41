// The real Traefik (built from its Go module by tools/build.sh) as the data plane of data-plane tests:
// its Kubernetes Gateway API provider (HTTPRoute weights and matches) and its Kubernetes CRD provider
// (IngressRoute, TraefikService weights) read the local API server with a ServiceAccount token of
// their own, scoped to the test's namespaces. One `web` entrypoint serves routed traffic on a loopback
// port; Prometheus metrics and /ping live on a second `metrics` entrypoint.
//
// Traefik maps a Gateway listener to the entrypoint whose address ends in the listener's port, so the
// Gateway of each instance (createGateway) listens on that instance's `web` port. Each instance has
// its own GatewayClass, selected by label, so parallel instances never reconcile each other's.
// Traefik forwards to pod IPs (EndpointSlices): it only starts inside the run's network namespace.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KubeConfig, type V1PolicyRule } from '@kubernetes/client-node';
import { createKube, type Kube } from '../../src/kube/client.ts';
import { serviceAccountCredentials, type ApiCredentials } from './api-credentials.ts';
import { awaitBin } from './tool-build.ts';
import { assertRunNetns } from './netns.ts';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';
import { loadKubeConfig } from './pki.ts';

/** Gateway API's controllerName for Traefik's provider. */
export const TRAEFIK_CONTROLLER = 'traefik.io/gateway-controller';

export interface StartTraefikOptions {
  kubeconfigPath: string;
  /** Namespaces both providers watch; Traefik's ServiceAccount lives in the first. */
  namespaces: string[];
  /** Where traefik.log goes. */
  logDir: string;
  /** Traefik's log level; default INFO. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  startTimeoutMs?: number;
}

export interface Traefik {
  /** http://127.0.0.1:<port> of the `web` entrypoint: send routed requests here (with a Host header). */
  url: string;
  /** The `web` entrypoint's port; a Gateway listener on this port is served by it. */
  port: number;
  /** http://127.0.0.1:<port>/metrics (Prometheus format). */
  metricsUrl: string;
  /** 127.0.0.1:<port> of the metrics entrypoint, for a static Prometheus target. */
  metricsAddress: string;
  /** Name of the GatewayClass this instance reconciles (created and Accepted by startTraefik). */
  gatewayClassName: string;
  /** IngressRoutes name this entrypoint in `spec.entryPoints`. */
  entryPoint: 'web';
  process: Managed;
  credentials: ApiCredentials;
  /** Stops Traefik; deletes its GatewayClass and RBAC objects. */
  stop(): Promise<void>;
}

/** What Traefik v3.6's Gateway API and CRD providers list, watch and write (status), nothing more. */
export const TRAEFIK_RULES: V1PolicyRule[] = [
  {
    apiGroups: [''],
    resources: ['namespaces', 'services', 'secrets', 'configmaps'],
    verbs: ['get', 'list', 'watch'],
  },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  {
    apiGroups: ['gateway.networking.k8s.io'],
    resources: [
      'gatewayclasses',
      'gateways',
      'httproutes',
      'grpcroutes',
      'referencegrants',
      'backendtlspolicies',
      'tcproutes',
      'tlsroutes',
    ],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: ['gateway.networking.k8s.io'],
    resources: [
      'gatewayclasses/status',
      'gateways/status',
      'httproutes/status',
      'grpcroutes/status',
      'backendtlspolicies/status',
    ],
    verbs: ['update'],
  },
  {
    apiGroups: ['traefik.io'],
    resources: [
      'ingressroutes',
      'ingressroutetcps',
      'ingressrouteudps',
      'middlewares',
      'middlewaretcps',
      'serverstransports',
      'serverstransporttcps',
      'tlsoptions',
      'tlsstores',
      'traefikservices',
    ],
    verbs: ['get', 'list', 'watch'],
  },
];

export async function startTraefik(opts: StartTraefikOptions): Promise<Traefik> {
  assertRunNetns('Traefik (it forwards to pod IPs)');
  const [home] = opts.namespaces;
  if (!home) throw new Error('startTraefik: namespaces must name at least one namespace');
  const kc = loadKubeConfig(opts.kubeconfigPath);
  const kube = createKube(kc);
  const id = randomBytes(3).toString('hex');
  const gatewayClassName = `weir-traefik-${id}`;
  const dir = await mkdtemp(join(tmpdir(), 'weir-traefik-'));
  let credentials: ApiCredentials | undefined;
  let proc: Managed | undefined;
  const cleanup = async () => {
    await proc?.stop();
    await kube.remove(gatewayClassRef(gatewayClassName)).catch(() => undefined);
    await credentials?.revoke();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    credentials = await serviceAccountCredentials(kc, {
      name: 'traefik',
      namespace: home,
      rules: TRAEFIK_RULES,
      dir,
    });
    await kube.apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: gatewayClassName, labels: { 'weir.test/traefik': id } },
      spec: { controllerName: TRAEFIK_CONTROLLER },
    });
    const started = await launch(opts, credentials, id);
    proc = started.proc;
    const accepted = await waitFor(
      `GatewayClass ${gatewayClassName} Accepted by Traefik`,
      async () => {
        // waitFor retries on a throw: an exit is a result, so it ends the wait at once.
        if (proc!.child.exitCode !== null || proc!.child.signalCode !== null) return 'exited';
        return conditionTrue(await kube.get(gatewayClassRef(gatewayClassName)), 'Accepted') && 'accepted';
      },
      opts.startTimeoutMs ?? 60_000,
    ).catch((err: Error) => err.message);
    if (accepted !== 'accepted') {
      throw new Error(`traefik: ${accepted}\n--- ${proc.logFile} (tail) ---\n${proc.tail()}`);
    }
    return {
      url: `http://127.0.0.1:${started.webPort}`,
      port: started.webPort,
      metricsUrl: `http://127.0.0.1:${started.metricsPort}/metrics`,
      metricsAddress: `127.0.0.1:${started.metricsPort}`,
      gatewayClassName,
      entryPoint: 'web',
      process: started.proc,
      credentials,
      stop: once(cleanup),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function traefikArgs(
  creds: ApiCredentials,
  opts: StartTraefikOptions,
  id: string,
  web: number,
  metrics: number,
) {
  const namespaces = opts.namespaces.join(',');
  const provider = (p: string) => [
    `--providers.${p}.endpoint=${creds.server}`,
    `--providers.${p}.token=${creds.tokenFile}`,
    `--providers.${p}.certauthfilepath=${creds.caFile}`,
    `--providers.${p}.namespaces=${namespaces}`,
  ];
  return [
    '--global.checknewversion=false',
    '--global.sendanonymoususage=false',
    `--log.level=${opts.logLevel ?? 'INFO'}`,
    `--entrypoints.web.address=127.0.0.1:${web}`,
    `--entrypoints.metrics.address=127.0.0.1:${metrics}`,
    '--ping=true',
    '--ping.entrypoint=metrics',
    '--metrics.prometheus=true',
    '--metrics.prometheus.entrypoint=metrics',
    '--metrics.prometheus.addentrypointslabels=true',
    '--metrics.prometheus.addserviceslabels=true',
    '--metrics.prometheus.addrouterslabels=true',
    // Apply a changed route within a fraction of a second (default 2 s), so tests wait less.
    '--providers.providersthrottleduration=200ms',
    ...provider('kubernetesgateway'),
    `--providers.kubernetesgateway.labelselector=weir.test/traefik=${id}`,
    ...provider('kubernetescrd'),
    // No Nodes (NodePortLB) or IngressClasses: the ClusterRole grants neither.
    '--providers.kubernetescrd.disableclusterscoperesources=true',
  ];
}

/** Starts the binary and waits for /ping; retries on new ports if another process took one. */
async function launch(
  opts: StartTraefikOptions,
  creds: ApiCredentials,
  id: string,
): Promise<{ proc: Managed; webPort: number; metricsPort: number }> {
  const bin = await awaitBin('traefik', 'traefik');
  // Traefik prefers $KUBECONFIG and in-cluster variables over its flags: never let them leak in.
  const env = { ...process.env };
  for (const k of ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']) delete env[k];
  for (let attempt = 1; ; attempt++) {
    const webPort = await freePort();
    let metricsPort = await freePort();
    while (metricsPort === webPort) metricsPort = await freePort();
    const proc = startProcess('traefik', bin, traefikArgs(creds, opts, id, webPort, metricsPort), {
      logDir: opts.logDir,
      env,
    });
    const ping = `http://127.0.0.1:${metricsPort}/ping`;
    const outcome = await waitFor(
      `traefik ${ping}`,
      async () => {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) return 'exited';
        const res = await fetch(ping, { signal: AbortSignal.timeout(2000) });
        return res.ok ? 'ready' : undefined;
      },
      opts.startTimeoutMs ?? 60_000,
      100,
    ).catch(async (err: Error) => {
      await proc.stop();
      throw new Error(`${err.message}\n--- ${proc.logFile} (tail) ---\n${proc.tail()}`);
    });
    if (outcome === 'ready') return { proc, webPort, metricsPort };
    await proc.exited;
    if (attempt < 3 && /address already in use/i.test(proc.tail())) continue;
    throw new Error(`traefik exited before ready\n--- ${proc.logFile} (tail) ---\n${proc.tail()}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Gateway

export interface GatewayRef {
  namespace: string;
  name: string;
}

/**
 * Creates Gateway `name` in `namespace` of the instance's GatewayClass, one HTTP listener `web` on
 * the instance's `web` port (routes from the same namespace), and waits until Traefik reports it
 * Accepted and Programmed.
 */
export async function createGateway(
  kc: KubeConfig,
  traefik: Pick<Traefik, 'gatewayClassName' | 'port'>,
  ref: GatewayRef,
  timeoutMs = 60_000,
): Promise<GatewayRef> {
  const kube = createKube(kc);
  const gateway = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', ...ref };
  await kube.apply({
    apiVersion: gateway.apiVersion,
    kind: gateway.kind,
    metadata: ref,
    spec: {
      gatewayClassName: traefik.gatewayClassName,
      listeners: [
        {
          name: 'web',
          protocol: 'HTTP',
          port: traefik.port,
          allowedRoutes: { namespaces: { from: 'Same' } },
        },
      ],
    },
  });
  await waitFor(
    `Gateway ${ref.namespace}/${ref.name} Accepted and Programmed`,
    async () => {
      const obj = await kube.get(gateway);
      return conditionTrue(obj, 'Accepted') && conditionTrue(obj, 'Programmed');
    },
    timeoutMs,
  );
  return ref;
}

/**
 * Waits until Traefik accepted `HTTPRoute` `name` on its parent Gateway with all references resolved
 * (status.parents[].conditions Accepted and ResolvedRefs True for the current generation).
 */
export async function waitForHTTPRouteAccepted(
  kube: Kube,
  namespace: string,
  name: string,
  timeoutMs = 30_000,
) {
  await waitFor(
    `HTTPRoute ${namespace}/${name} Accepted with ResolvedRefs by Traefik`,
    async () => {
      const route = await kube.get<RouteStatus>({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        namespace,
        name,
      });
      const gen = route?.metadata?.generation;
      const parent = route?.status?.parents?.find((p) => p.controllerName === TRAEFIK_CONTROLLER);
      const ok = (type: string) =>
        parent?.conditions?.some(
          (c) => c.type === type && c.status === 'True' && c.observedGeneration === gen,
        );
      return ok('Accepted') && ok('ResolvedRefs');
    },
    timeoutMs,
  );
}

type Condition = { type: string; status: string; observedGeneration?: number; reason?: string };
type RouteStatus = {
  metadata?: { generation?: number };
  status?: { parents?: Array<{ controllerName?: string; conditions?: Condition[] }> };
} & Record<string, unknown>;

function conditionTrue(obj: Record<string, unknown> | undefined, type: string): boolean {
  const conditions = (obj?.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
  return conditions.some((c) => c.type === type && c.status === 'True');
}

function gatewayClassRef(name: string) {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', name };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
