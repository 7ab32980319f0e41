// A real, throw-away Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler built from source (see tools/build.sh), plus KWOK faking the nodes and kubelets so
// pods are scheduled, become Running/Ready and Deployments become Available without any containers.
// Everything listens on 127.0.0.1 on free ports, lives in its own temp dir, and is killed when the
// test process exits, so parallel test processes never collide.
import { spawn } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Node,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The annotation KWOK selects the nodes it fakes by (passed to `--manage-nodes-with-annotation-selector`). */
export const KWOK_NODE_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  /** Admin kubeconfig (bearer token of a `system:masters` user). */
  kubeconfigPath: string;
  /** API server URL, always https://127.0.0.1:<port>. */
  server: string;
  /** Client configuration loaded from `kubeconfigPath`. */
  kc: KubeConfig;
  /** Directory holding one `<component>.log` per component ('' when the cluster was started elsewhere and no log dir is known). */
  logDir: string;
  /** Start-up figures, only for clusters this process started. */
  timings?: { apiReadyMs: number; clusterReadyMs: number };
  /** Runs the real kubectl against this cluster; never throws on a non-zero exit, only on a timeout. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Stops every component and removes the temp dir; a no-op for a cluster started elsewhere. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** CRD files or directories (recursively *.yaml / *.yml) applied before startCluster resolves. */
  crds?: string[];
  /** Where component logs go; default `$WEIR_CLUSTER_LOG_DIR/<unique>` if set, else inside the temp dir (removed on stop). */
  logDir?: string;
  /** Number of fake KWOK nodes (default 2). */
  nodes?: number;
}

type Component = 'etcd' | 'kubernetes' | 'kwok' | 'helm';

/** Path of a cached binary built by `npm run tools`, at the version pinned in tools/versions.env. */
export function binPath(component: Component, name: string): string {
  const version = readVersions()[`${component.toUpperCase()}_VERSION`];
  if (!version) throw new Error(`no ${component.toUpperCase()}_VERSION in test/cluster/tools/versions.env`);
  const dir = join(process.env.WEIR_CACHE ?? join(homedir(), '.cache', 'weir'), `${component}-${version}`);
  const bin = join(dir, 'bin', name);
  // The marker, not the binary, says a build finished: an interrupted build may leave a partial file.
  if (!existsSync(join(dir, '.complete')) || !existsSync(bin)) {
    throw new Error(`${name} ${version} is not built (expected ${bin}); run \`npm run tools\` first`);
  }
  return bin;
}

function readVersions(): Record<string, string> {
  const text = readFileSync(join(projectRoot, 'test', 'cluster', 'tools', 'versions.env'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(\S+)/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// startCluster

/** Starts a fresh control plane with KWOK nodes; resolves once pods can be scheduled and run. */
export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  // Free ports are picked by binding and releasing, so another process can grab one in between:
  // a bind failure is retried with new ports rather than failing the test run.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

const STARTUP_TIMEOUT_MS = 90_000;

async function startOnce(opts: StartOptions): Promise<Cluster> {
  const t0 = Date.now();
  const bins = {
    etcd: binPath('etcd', 'etcd'),
    apiserver: binPath('kubernetes', 'kube-apiserver'),
    controllerManager: binPath('kubernetes', 'kube-controller-manager'),
    scheduler: binPath('kubernetes', 'kube-scheduler'),
    kubectl: binPath('kubernetes', 'kubectl'),
    kwok: binPath('kwok', 'kwok'),
  };
  const dir = mkdtempSync(join(tmpdir(), 'weir-cluster-'));
  removeOnExit(dir);
  const logDir = opts.logDir ?? defaultLogDir(dir);
  const components = new Components(logDir);
  try {
    const ports = await distinctFreePorts(3);
    const [etcdClientPort, etcdPeerPort, apiPort] = ports as [number, number, number];
    const pki = await writeCredentials(dir);
    const server = `https://127.0.0.1:${apiPort}`;

    components.start('etcd', bins.etcd, etcdArgs(dir, etcdClientPort, etcdPeerPort));
    const apiserver = components.start(
      'kube-apiserver',
      bins.apiserver,
      apiserverArgs(pki, apiPort, etcdClientPort),
    );
    await components.until('kube-apiserver /readyz', () => readyz(server, pki.token), STARTUP_TIMEOUT_MS, [
      apiserver,
      ...components.named('etcd'),
    ]);
    const apiReadyMs = Date.now() - t0;

    // The apiserver wrote its self-signed serving cert (followed by its CA) while starting up.
    const caFile = join(pki.certDir, 'apiserver.crt');
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, readFileSync(caFile), pki.token), { mode: 0o600 });
    const kc = loadKubeConfig(kubeconfigPath);

    const cm = components.start('kube-controller-manager', bins.controllerManager, [
      `--kubeconfig=${kubeconfigPath}`,
      '--secure-port=0', // no serving endpoint at all, so parallel clusters cannot collide on a port
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${caFile}`,
      // Leader election stays on: the per-cluster lease proves the manager is up and running.
      '--leader-elect=true',
      '--kube-api-qps=100',
      '--kube-api-burst=200',
    ]);
    const scheduler = components.start('kube-scheduler', bins.scheduler, [
      `--kubeconfig=${kubeconfigPath}`,
      '--secure-port=0',
      '--leader-elect=true',
      '--kube-api-qps=100',
      '--kube-api-burst=200',
    ]);
    const kwok = components.start('kwok', bins.kwok, kwokArgs(kubeconfigPath), {
      // kwok also reads $KWOK_WORKDIR/kwok.yaml: point it at our empty dir so a developer's
      // ~/.kwok config can never change the stages; with no config kwok uses its built-in
      // node-fast/pod-fast stages (node init + heartbeat, pod ready/complete/delete).
      KWOK_WORKDIR: join(dir, 'kwok'),
    });

    const nodeNames = await components.race(createKwokNodes(kc, opts.nodes ?? 2));
    await components.until(
      `KWOK nodes ${nodeNames.join(', ')} Ready and untainted`,
      () => nodesReady(kc, nodeNames),
      STARTUP_TIMEOUT_MS,
      [kwok, cm],
    );
    await components.until(
      'kube-scheduler to hold its leader lease',
      () => holdsLease(kc, 'kube-scheduler'),
      STARTUP_TIMEOUT_MS,
      [scheduler],
    );
    await components.until(
      'ServiceAccount default/default (serviceaccount controller)',
      () => serviceAccountExists(kc, 'default'),
      STARTUP_TIMEOUT_MS,
      [cm],
    );

    const cluster: Cluster = {
      kubeconfigPath,
      server,
      kc,
      logDir,
      timings: { apiReadyMs, clusterReadyMs: 0 },
      kubectl: (args, o) =>
        runKubectl(bins.kubectl, kubeconfigPath, ['--cache-dir', join(dir, 'kube-cache'), ...args], o),
      stop: once(async () => {
        await components.stopAll();
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        forgetOnExit(dir);
      }),
    };
    if (opts.crds?.length) await components.race(applyCrds(cluster, opts.crds));
    cluster.timings!.clusterReadyMs = Date.now() - t0;
    components.started();
    return cluster;
  } catch (err) {
    await components.stopAll();
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    forgetOnExit(dir);
    throw err;
  }
}

function defaultLogDir(dir: string): string {
  const base = process.env.WEIR_CLUSTER_LOG_DIR;
  return base ? mkdtempSync(join(resolve(base), `cluster-${process.pid}-`)) : join(dir, 'logs');
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// ---------------------------------------------------------------------------------------------------
// Component command lines

function etcdArgs(dir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=weir',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=weir=${peer}`,
    // A test cluster is thrown away, so durability buys nothing and fsync is most of etcd's latency.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

interface Pki {
  certDir: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
  token: string;
}

function apiserverArgs(pki: Pki, port: number, etcdPort: number): string[] {
  return [
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--cert-dir=${pki.certDir}`, // self-signed serving cert (SAN 127.0.0.1), generated at start
    `--token-auth-file=${pki.tokenFile}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--authorization-mode=Node,RBAC',
    // Only an allocation range for Service ClusterIPs; nothing ever routes to it.
    '--service-cluster-ip-range=10.96.0.0/16',
    // The `kubernetes` Service's endpoints would be 127.0.0.1, which endpoint validation rejects.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
}

function kwokArgs(kubeconfigPath: string): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION.key}=${KWOK_NODE_ANNOTATION.value}`,
    // Fake kubelets renew node Leases, so the node lifecycle controller never marks them unreachable.
    '--node-lease-duration-seconds=40',
    // Node addresses are bookkeeping only; loopback keeps a stray connection (kubectl logs) local.
    '--node-ip=127.0.0.1',
    // Pod IPs: Endpoint(Slice) validation rejects loopback, so they come from the usual private
    // pod range. No container exists behind them; nothing may ever dial them.
    '--cidr=10.244.0.1/16',
  ];
}

// ---------------------------------------------------------------------------------------------------
// Credentials and kubeconfig

async function writeCredentials(dir: string): Promise<Pki> {
  const certDir = join(dir, 'pki');
  mkdirSync(certDir, { recursive: true });
  // The service-account key pair signs and verifies ServiceAccount tokens (apiserver + token controller).
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saKey = join(certDir, 'sa.key');
  const saPub = join(certDir, 'sa.pub');
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  writeFileSync(saPub, publicKey);
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(certDir, 'tokens.csv');
  // token,user,uid,"groups": an admin who bypasses RBAC, while RBAC stays enforced for everyone else.
  writeFileSync(tokenFile, `${token},weir-admin,weir-admin,"system:masters"\n`, { mode: 0o600 });
  return { certDir, saKey, saPub, tokenFile, token };
}

function kubeconfigYaml(server: string, ca: Buffer, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'weir', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: 'weir-admin', user: { token } }],
    contexts: [{ name: 'weir', context: { cluster: 'weir', user: 'weir-admin' } }],
    'current-context': 'weir',
  });
}

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** GET /readyz with the admin token; the serving cert is not known yet, so it is not verified here. */
function readyz(server: string, token: string): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      `${server}/readyz`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        res.resume();
        resolvePromise(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy(new Error('/readyz request timed out')));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------
// Readiness checks

async function createKwokNodes(kc: KubeConfig, count: number): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names = Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
  // Ample room so tests never hit scheduling limits; kwok keeps status it finds on the node.
  const resources = { cpu: '64', memory: '256Gi', pods: '500' };
  await Promise.all(
    names.map((name) =>
      core.createNode({
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            annotations: {
              [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value,
              'node.alpha.kubernetes.io/ttl': '0',
            },
            labels: {
              type: 'kwok',
              'kubernetes.io/hostname': name,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'amd64',
              'node-role.kubernetes.io/agent': '',
            },
          },
          status: { allocatable: resources, capacity: resources },
        },
      }),
    ),
  );
  return names;
}

/** Ready=True (KWOK's fake kubelet) and no not-ready taint left (the node lifecycle controller removed it). */
async function nodesReady(kc: KubeConfig, names: string[]): Promise<boolean> {
  const { items } = await kc.makeApiClient(CoreV1Api).listNode();
  return names.every((name) => {
    const node = items.find((n) => n.metadata?.name === name);
    return (
      node !== undefined &&
      isReady(node) &&
      !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'))
    );
  });
}

function isReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

async function holdsLease(kc: KubeConfig, name: string): Promise<boolean> {
  const lease = await kc
    .makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ name, namespace: 'kube-system' });
  return Boolean(lease.spec?.holderIdentity);
}

async function serviceAccountExists(kc: KubeConfig, namespace: string): Promise<boolean> {
  await kc.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: 'default', namespace });
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Component supervision

/**
 * The processes of one cluster. While the cluster starts, any component exiting fails the start at
 * once with that component's log tail, instead of a timeout much later.
 */
class Components {
  private readonly procs: Managed[] = [];
  private readonly crashed: Promise<never>;
  private fail!: (err: Error) => void;
  private starting = true;
  private stopping = false;

  constructor(private readonly logDir: string) {
    this.crashed = new Promise<never>((_, reject) => (this.fail = reject));
    this.crashed.catch(() => undefined); // only observed through race()
  }

  start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Managed {
    const m = startProcess(name, cmd, args, { logDir: this.logDir, env: componentEnv(env) });
    detachFromEventLoop(m);
    this.procs.push(m);
    // 'close' comes once the child's output pipes drained, i.e. its last words reached the log.
    const closed = new Promise<void>((r) => m.child.once('close', () => r()));
    void m.exited.then(async (code) => {
      if (!this.starting || this.stopping) return;
      await Promise.race([closed, delay(2000)]);
      await delay(100); // the log file's write stream flushes asynchronously
      if (this.stopping) return;
      this.fail(
        new Error(`${name} exited (code ${code}) during cluster start-up; its log ends:\n${m.tail(40)}`),
      );
    });
    return m;
  }

  named(name: string): Managed[] {
    return this.procs.filter((p) => p.name === name);
  }

  /** Resolves with `work`, or rejects as soon as a component dies. */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.crashed]);
  }

  /** A bounded wait; on timeout the error carries the log tails of the components to blame. */
  async until<T>(
    what: string,
    check: () => Promise<T | false>,
    timeoutMs: number,
    blame: Managed[],
  ): Promise<T> {
    try {
      return await this.race(waitFor(what, check, timeoutMs));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('timed out')) throw err;
      const tails = blame.map((m) => `--- ${m.name} (${m.logFile}) ---\n${m.tail(30)}`).join('\n');
      throw new Error(`${err.message}\n${tails}`);
    }
  }

  started(): void {
    this.starting = false;
  }

  /** Clients of the apiserver first, then the apiserver, then etcd. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    const core = ['kube-apiserver', 'etcd'];
    await Promise.all(this.procs.filter((p) => !core.includes(p.name)).map((p) => p.stop(2000)));
    for (const name of core) await Promise.all(this.named(name).map((p) => p.stop(3000)));
  }
}

/**
 * Component processes must not keep a finished test process alive (node:test waits for the event
 * loop to drain): proc.ts kills them on exit, and sharedCluster stops them on 'beforeExit'.
 */
function detachFromEventLoop(m: Managed): void {
  m.child.unref();
  for (const stream of [m.child.stdout, m.child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
}

/** The parent's environment minus anything that could send component traffic elsewhere. */
function componentEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (/^(https?_proxy|all_proxy|kubeconfig)$/i.test(key)) delete env[key];
  }
  return env;
}

// Temp dirs are removed on stop(); this is the backstop for a process that exits without stopping.
const tempDirs = new Set<string>();
let cleanupHooked = false;

function removeOnExit(dir: string): void {
  tempDirs.add(dir);
  if (cleanupHooked) return;
  cleanupHooked = true;
  process.on('exit', () => {
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  });
}

function forgetOnExit(dir: string): void {
  tempDirs.delete(dir);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}

// ---------------------------------------------------------------------------------------------------
// kubectl

function runKubectl(
  kubectl: string,
  kubeconfigPath: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(kubectl, [`--kubeconfig=${kubeconfigPath}`, ...args], {
      env: componentEnv({}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms waiting for \`kubectl ${args.join(' ')}\``));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

// ---------------------------------------------------------------------------------------------------
// CRDs

/**
 * Server-side applies the given YAML files / directories (recursively *.yaml, *.yml) with the real
 * kubectl, then waits until every CustomResourceDefinition among them is Established. Returns the
 * CRD names. Errors name the file that failed.
 */
export async function applyCrds(
  cluster: Pick<Cluster, 'kc' | 'kubectl'>,
  paths: string[],
  timeoutMs = 60_000,
): Promise<string[]> {
  const crdFiles = new Map<string, string>(); // CRD name -> file it came from
  // kubectl (Go YAML) rather than the yaml package: some published CRDs (e.g. Flagger's) carry
  // multi-line quoted scalars that only Go's more lenient parser accepts, as users' kubectl does.
  await inBatches(paths.flatMap(yamlFiles), 3, async (file) => {
    const args = [
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=weir-test',
      '-o',
      'name',
      '-f',
      file,
    ];
    const { code, stdout, stderr } = await cluster.kubectl(args, { timeoutMs });
    if (code !== 0) throw new Error(`kubectl apply of ${file} failed (exit ${code}): ${stderr.trim()}`);
    for (const line of stdout.split('\n')) {
      const name = /^customresourcedefinition\.apiextensions\.k8s\.io\/(\S+)$/.exec(line.trim())?.[1];
      if (name) crdFiles.set(name, file);
    }
  });
  await waitEstablished(cluster.kc, crdFiles, timeoutMs);
  return [...crdFiles.keys()];
}

function yamlFiles(path: string): string[] {
  if (!existsSync(path)) throw new Error(`CRD path ${path} does not exist`);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile());
}

async function waitEstablished(
  kc: KubeConfig,
  crdFiles: Map<string, string>,
  timeoutMs: number,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  let pending = [...crdFiles.keys()];
  let why = new Map<string, string>();
  try {
    await waitFor(
      `${crdFiles.size} CRDs to become Established`,
      async () => {
        const { items } = await api.listCustomResourceDefinition();
        why = new Map();
        for (const crd of items) {
          const bad = (crd.status?.conditions ?? []).find((c) => c.status !== 'True' && c.message);
          if (bad) why.set(crd.metadata!.name!, `${bad.type}: ${bad.message}`);
        }
        const established = new Set(
          items
            .filter((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
            .map((c) => c.metadata!.name!),
        );
        pending = pending.filter((n) => !established.has(n));
        return pending.length === 0;
      },
      timeoutMs,
    );
  } catch (err) {
    const list = pending
      .map((n) => `  ${n} (from ${crdFiles.get(n)})${why.has(n) ? `: ${why.get(n)}` : ''}`)
      .join('\n');
    throw new Error(`${(err as Error).message}; not Established:\n${list}`);
  }
}

async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------------
// Shared cluster and namespaces

let shared: Promise<Cluster> | undefined;

/**
 * One cluster per test run. A runner that already started one passes its kubeconfig in
 * WEIR_TEST_KUBECONFIG (and optionally its log dir in WEIR_TEST_LOG_DIR); otherwise this process
 * starts its own with Weir's CRDs (`crds/`, when present) and stops it before exiting.
 */
export function sharedCluster(): Promise<Cluster> {
  shared ??= openSharedCluster();
  return shared;
}

async function openSharedCluster(): Promise<Cluster> {
  const external = process.env.WEIR_TEST_KUBECONFIG;
  if (external) return connectCluster(external, process.env.WEIR_TEST_LOG_DIR ?? '');
  // Weir's CRDs and Gateway API's (the canary engine's default provider), as the test runner installs.
  const crds = [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')].filter(
    (p) => existsSync(p),
  );
  const cluster = await startCluster({ crds });
  // 'beforeExit' fires once the tests are done and nothing else is pending: stop gracefully then.
  process.once('beforeExit', () => void cluster.stop());
  return cluster;
}

/** Wraps a cluster started elsewhere; stop() leaves it running. */
export function connectCluster(kubeconfigPath: string, logDir = ''): Cluster {
  const kc = loadKubeConfig(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`${kubeconfigPath} has no current cluster`);
  const kubectl = binPath('kubernetes', 'kubectl');
  return {
    kubeconfigPath,
    server,
    kc,
    logDir,
    kubectl: (args, o) => runKubectl(kubectl, kubeconfigPath, args, o),
    stop: async () => undefined,
  };
}

/**
 * Creates a namespace named `<prefix>-<random>` and waits for its default ServiceAccount, without
 * which the API server rejects pods. Returns the name.
 */
export async function createNamespace(cluster: Pick<Cluster, 'kc'>, prefix: string): Promise<string> {
  const base =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'test';
  const name = `${base}-${randomBytes(4).toString('hex')}`;
  await cluster.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  await waitFor(`ServiceAccount ${name}/default`, () => serviceAccountExists(cluster.kc, name), 30_000);
  return name;
}
