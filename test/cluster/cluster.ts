// A real, throw-away Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler built from source (see tools/build.sh), plus KWOK faking the nodes and kubelets so
// pods are scheduled, become Running/Ready and Deployments become Available without any containers.
// Everything listens on 127.0.0.1 on free ports, lives in its own temp dir, and is killed when the
// test process exits, so parallel test processes never collide.
// The pieces live next to this file: pki.ts (credentials, kubeconfig), components.ts (command lines
// and process supervision), readiness.ts, kubectl.ts and crds.ts; this module assembles them.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  AUDIT_ALL_POLICY,
  AUDIT_POLICY,
  Components,
  apiserverArgs,
  controllerManagerArgs,
  etcdArgs,
  kwokArgs,
  schedulerArgs,
} from './components.ts';
import { applyCrds } from './crds.ts';
import { runKubectl, type KubectlResult } from './kubectl.ts';
import { kubeconfigYaml, loadKubeConfig, writeCredentials } from './pki.ts';
import { freePort } from './ports.ts';
import { waitFor } from './proc.ts';
import { createKwokNodes, holdsLease, nodesReady, readyz, serviceAccountExists } from './readiness.ts';

// Re-exported so existing `from './cluster.ts'` imports keep working.
export { KWOK_NODE_ANNOTATION } from './components.ts';
export { applyCrds } from './crds.ts';
export type { KubectlResult } from './kubectl.ts';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

/** A cluster this process started: its API server can be stopped and started again, on the same etcd. */
export interface LocalCluster extends Cluster {
  /** The API server's CA (PEM file), for kubeconfigs pointing elsewhere (e.g. at a proxy). */
  caFile: string;
  /** The audit log (JSON lines, writes only) when started with `auditLog: true`. */
  auditLogPath?: string;
  /**
   * A kubeconfig for one of the `users` asked for at start (its own token, so its own name in the
   * audit log), pointing at `server` (default: the API server; a proxy in front of it, say).
   */
  kubeconfigFor(user: string, server?: string): string;
  /** Stops kube-apiserver (SIGTERM, then SIGKILL); etcd and every other component keep running. */
  stopApiserver(): Promise<void>;
  /**
   * Starts kube-apiserver again with the same flags (port, certs, etcd), waits for /readyz, then
   * restarts kube-controller-manager, kube-scheduler and KWOK if they exited meanwhile (the first
   * two exit when they cannot renew their leader lease) and waits for the scheduler's lease.
   */
  startApiserver(): Promise<void>;
}

export interface StartOptions {
  /**
   * Record every write in an audit log (see AUDIT_POLICY in components.ts); its path is `auditLogPath`.
   * `'all'` records every request, reads and watches too (AUDIT_ALL_POLICY).
   */
  auditLog?: boolean | 'all';
  /** Extra `system:masters` users, one bearer token each (see kubeconfigFor). */
  users?: string[];
  /** CRD files or directories (recursively *.yaml / *.yml) applied before startCluster resolves. */
  crds?: string[];
  /** Where component logs go; default `$WEIR_CLUSTER_LOG_DIR/<unique>` if set, else inside the temp dir (removed on stop). */
  logDir?: string;
  /** Number of fake KWOK nodes (default 2). */
  nodes?: number;
}

export type Component =
  'etcd' | 'kubernetes' | 'kwok' | 'helm' | 'traefik' | 'podinfo' | 'prometheus' | 'flagger';

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

/** The version of a Go-built tool pinned in tools/versions.env. */
export function toolVersion(component: Component): string | undefined {
  return readVersions()[`${component.toUpperCase()}_VERSION`];
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
export async function startCluster(opts: StartOptions = {}): Promise<LocalCluster> {
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

async function startOnce(opts: StartOptions): Promise<LocalCluster> {
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
    const pki = await writeCredentials(dir, opts.users);
    const server = `https://127.0.0.1:${apiPort}`;
    const audit = opts.auditLog
      ? { logPath: join(dir, 'audit.log'), policyPath: join(dir, 'audit-policy.json') }
      : undefined;
    if (audit) writeFileSync(audit.policyPath, opts.auditLog === 'all' ? AUDIT_ALL_POLICY : AUDIT_POLICY);

    components.start('etcd', bins.etcd, etcdArgs(dir, etcdClientPort, etcdPeerPort));
    const apiserver = components.start(
      'kube-apiserver',
      bins.apiserver,
      apiserverArgs(pki, apiPort, etcdClientPort, audit),
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

    const cm = components.start(
      'kube-controller-manager',
      bins.controllerManager,
      controllerManagerArgs(kubeconfigPath, pki, caFile),
    );
    const scheduler = components.start('kube-scheduler', bins.scheduler, schedulerArgs(kubeconfigPath));
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

    const apiReady = () =>
      components.until('kube-apiserver /readyz', () => readyz(server, pki.token), STARTUP_TIMEOUT_MS, [
        ...components.named('kube-apiserver').slice(-1),
      ]);
    const cluster: LocalCluster = {
      kubeconfigPath,
      server,
      kc,
      logDir,
      caFile,
      ...(audit ? { auditLogPath: audit.logPath } : {}),
      kubeconfigFor(user, at = server) {
        const token = pki.users[user];
        if (!token) throw new Error(`user ${user} was not asked for at cluster start (users option)`);
        const path = join(dir, `kubeconfig-${user}-${randomBytes(3).toString('hex')}`);
        writeFileSync(path, kubeconfigYaml(at, readFileSync(caFile), token, user), { mode: 0o600 });
        return path;
      },
      stopApiserver: () => components.stop('kube-apiserver'),
      async startApiserver() {
        if (!components.running('kube-apiserver')) components.restart('kube-apiserver');
        await apiReady();
        for (const name of ['kube-controller-manager', 'kube-scheduler', 'kwok'])
          if (!components.running(name)) components.restart(name);
        await waitFor(
          'kube-scheduler to hold its leader lease',
          () => holdsLease(kc, 'kube-scheduler'),
          60_000,
        );
      },
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
