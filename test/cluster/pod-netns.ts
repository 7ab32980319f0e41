// One process in a pod's own network and UTS namespaces, the way a container runtime gives each pod
// its own: hostname = pod name, an `eth0` holding the pod IP, a veth to the run's namespace and a route
// there to the pod IP. Two pods can then listen on the same port, even on every interface (podinfo's
// metrics and gRPC servers bind ":port"), and each answers only on its own IP.
// Runs inside the run's network namespace (netns.ts), as root there (real or user-namespace root).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { RUN_NETNS_GATEWAY, assertRunNetns } from './netns.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';

const run = promisify(execFile);

export interface PodProcessOptions {
  /** Log file name (without .log) under logDir. */
  name: string;
  logDir: string;
  /** Hostname inside the pod (Kubernetes uses the pod name, cut to 63 characters). */
  hostname: string;
  podIP: string;
  /** Unique per pod across every process of the run (the host-side link name is derived from it). */
  uid: string;
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface PodProcess {
  process: Managed;
  /** Host-side veth in the run's namespace. */
  link: string;
  /** SIGTERM (SIGKILL after graceMs), then removes the veth and its route. */
  stop(graceMs?: number): Promise<void>;
}

// The process sets its hostname in its new UTS namespace, then becomes the program (same pid).
const SET_HOSTNAME = 'printf %s "$0" > /proc/sys/kernel/hostname && exec "$@"';

/** Starts `cmd` in a new net + UTS namespace wired to the pod IP; resolves once the network is set up. */
export async function startPodProcess(o: PodProcessOptions): Promise<PodProcess> {
  assertRunNetns('pod IPs');
  const link = linkName(o.uid);
  const hostname = o.hostname.slice(0, 63).replace(/[-.]+$/, '');
  const proc = startProcess(
    o.name,
    'unshare',
    ['--uts', '--net', '--', 'sh', '-c', SET_HOSTNAME, hostname, o.cmd, ...o.args],
    { logDir: o.logDir, env: o.env, ...(o.cwd ? { cwd: o.cwd } : {}) },
  );
  const pid = proc.child.pid;
  const stop = async (graceMs = 5000) => {
    await proc.stop(graceMs);
    // The veth goes with the namespace, but asynchronously: remove it now so the IP can be reused.
    await run('ip', ['link', 'del', link]).catch(() => undefined);
  };
  try {
    if (pid === undefined) throw new Error(`could not start unshare for ${o.name}`);
    const own = readlinkSync('/proc/self/ns/net');
    await waitFor(
      `${o.name} to enter its network namespace`,
      () => {
        if (proc.child.exitCode !== null) throw new Error(`exited: ${proc.tail(5)}`);
        return readlinkSync(`/proc/${pid}/ns/net`) !== own;
      },
      10_000,
      10,
    );
    await wire(pid, link, o.podIP);
  } catch (err) {
    await stop(0);
    throw err;
  }
  return { process: proc, link, stop };
}

async function wire(pid: number, link: string, ip: string): Promise<void> {
  await run('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
  await run('ip', ['link', 'set', link, 'up']);
  // The run's namespace has the whole pod CIDR as local (netns.ts): a /32 in the same `local` table
  // is more specific, so this pod's IP leaves through its veth while other pod IPs stay local.
  await run('ip', ['route', 'replace', `${ip}/32`, 'dev', link, 'src', RUN_NETNS_GATEWAY, 'table', 'local']);
  const inside = [
    'ip link set lo up',
    `ip addr add ${ip}/32 dev eth0`,
    'ip link set eth0 up',
    `ip route add ${RUN_NETNS_GATEWAY} dev eth0`,
    `ip route add default via ${RUN_NETNS_GATEWAY} dev eth0`,
  ].join(' && ');
  await run('nsenter', ['-t', String(pid), '-n', 'sh', '-c', inside]);
}

/** A link name (at most 15 characters) unique per pod uid, so concurrent runners never collide. */
export function linkName(uid: string): string {
  return `wp${createHash('sha256').update(uid).digest('hex').slice(0, 12)}`;
}
