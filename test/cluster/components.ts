// The component processes of a test cluster: the command lines of etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and KWOK, and the supervisor that starts them, fails
// start-up as soon as one dies, and stops them in dependency order.
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Pki } from './pki.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';

/** The annotation KWOK selects the nodes it fakes by (passed to `--manage-nodes-with-annotation-selector`). */
export const KWOK_NODE_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

// ---------------------------------------------------------------------------------------------------
// Component command lines

export function etcdArgs(dir: string, clientPort: number, peerPort: number): string[] {
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

/** Where the API server writes its audit log, and the policy saying what it records. */
export interface AuditFiles {
  logPath: string;
  policyPath: string;
}

/**
 * The audit policy of test clusters that ask for one: every write (who, what, when, status code) at
 * Metadata level, no reads or watches (they would dwarf the log), no RequestReceived stage.
 */
export const AUDIT_POLICY = JSON.stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'None', verbs: ['get', 'list', 'watch'] }, { level: 'Metadata' }],
});

/**
 * Every request (reads and watches too) at Metadata level, for attributing API load per client
 * (npm run bench:peer). A watch is logged when it starts and when it ends: count audit IDs, not lines.
 */
export const AUDIT_ALL_POLICY = JSON.stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'Metadata' }],
});

export function apiserverArgs(pki: Pki, port: number, etcdPort: number, audit?: AuditFiles): string[] {
  const auditArgs = audit
    ? [
        `--audit-log-path=${audit.logPath}`,
        `--audit-policy-file=${audit.policyPath}`,
        '--audit-log-mode=blocking',
        // Never rotate (the default rotates at 100 MB): readers read one file, and a benchmark that
        // logs every request passes 100 MB within minutes.
        '--audit-log-maxsize=1000000',
      ]
    : [];
  return [
    ...auditArgs,
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

/** kube-controller-manager; `caFile` is the apiserver's CA, handed to pods as the root CA. */
export function controllerManagerArgs(kubeconfigPath: string, pki: Pki, caFile: string): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    '--secure-port=0', // no serving endpoint at all, so parallel clusters cannot collide on a port
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${caFile}`,
    // Leader election stays on: the per-cluster lease proves the manager is up and running.
    '--leader-elect=true',
    '--kube-api-qps=100',
    '--kube-api-burst=200',
  ];
}

export function schedulerArgs(kubeconfigPath: string): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    '--secure-port=0',
    '--leader-elect=true',
    '--kube-api-qps=100',
    '--kube-api-burst=200',
  ];
}

export function kwokArgs(kubeconfigPath: string): string[] {
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
// Component supervision

/**
 * The processes of one cluster. While the cluster starts, any component exiting fails the start at
 * once with that component's log tail, instead of a timeout much later.
 */
export class Components {
  private readonly procs: Managed[] = [];
  /** Command line and environment of each component, so that it can be started again. */
  private readonly specs = new Map<string, { cmd: string; args: string[]; env: Record<string, string> }>();
  private readonly crashed: Promise<never>;
  private fail!: (err: Error) => void;
  private starting = true;
  private stopping = false;

  constructor(private readonly logDir: string) {
    this.crashed = new Promise<never>((_, reject) => (this.fail = reject));
    this.crashed.catch(() => undefined); // only observed through race()
  }

  start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Managed {
    this.specs.set(name, { cmd, args, env });
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

  /** Stops every process of component `name` (SIGTERM, SIGKILL after graceMs). */
  async stop(name: string, graceMs = 3000): Promise<void> {
    await Promise.all(this.named(name).map((p) => p.stop(graceMs)));
  }

  /** Starts component `name` again with its first command line (same ports, certs and data dir). */
  restart(name: string): Managed {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`component ${name} was never started`);
    return this.start(name, spec.cmd, spec.args, spec.env);
  }

  /** Whether the latest process of component `name` is still running. */
  running(name: string): boolean {
    const last = this.named(name).at(-1);
    return !!last && last.child.exitCode === null && last.child.signalCode === null;
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
export function componentEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (/^(https?_proxy|all_proxy|kubeconfig)$/i.test(key)) delete env[key];
  }
  return env;
}
