// The run's own network namespace (issue 11). `npm test` and `npm run demo` do their set-up outside
// (packages, npm ci, Go builds that need the module proxy), then re-exec themselves inside a new
// network namespace in which `lo` is up and the whole pod CIDR is local. Pod IPs then belong to this
// namespace alone: a request to 10.244.x.y can only reach a process of this run, never the machine's
// network. Data-plane code calls assertRunNetns() before sending anything to a pod IP.
import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { constants } from 'node:os';

/** KWOK hands out pod IPs from this range (components.ts kwokArgs: --cidr=10.244.0.1/16). */
export const POD_CIDR = '10.244.0.0/16';
/**
 * An address of the run's namespace outside the pod CIDR (on `lo`): the pod runner gives each pod its
 * own namespace with a default route through it, and routes to the pods use it as their source.
 */
export const RUN_NETNS_GATEWAY = '169.254.1.1';
/** Set by reexecInRunNetns to the id of the namespace it left (e.g. `net:[4026531840]`). */
export const NETNS_ENV = 'WEIR_NETNS';

/** Commands run inside the new namespace before the script: lo up, pod CIDR local, the gateway address. */
const SETUP = [
  'ip link set lo up',
  `ip route add local ${POD_CIDR} dev lo`,
  `ip addr add ${RUN_NETNS_GATEWAY}/32 dev lo`,
].join(' && ');

function currentNetns(): string {
  return readlinkSync('/proc/self/ns/net');
}

/** True in a process of the run's namespace: the re-exec marked it and this is not the namespace it left. */
export function insideRunNetns(): boolean {
  const outer = process.env[NETNS_ENV];
  return !!outer && outer !== currentNetns();
}

/** Throws unless this process runs inside the run's namespace; `what` names the traffic refused. */
export function assertRunNetns(what = 'traffic to pod IPs'): void {
  if (insideRunNetns()) return;
  throw new Error(
    `refusing to send ${what} outside the test run's own network namespace: run it through ` +
      '`npm test -- <file>` (or `npm run demo`), which re-executes itself inside one (see test/cluster/netns.ts)',
  );
}

/** The unshare flags for this user: root makes a network namespace, anyone else a user namespace first. */
export function unshareFlags(): string[] {
  return process.getuid?.() === 0 ? ['--net'] : ['--user', '--map-root-user', '--net'];
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Why a run namespace cannot be made here, with what to run about it; undefined when it can. Tries the
 * real thing (unshare plus the set-up commands) so a refusal is seen before anything starts.
 */
export function runNetnsProblem(): string | undefined {
  for (const [cmd, pkg] of [
    ['unshare', 'util-linux'],
    ['ip', 'iproute2'],
  ] as const) {
    if (!hasCommand(cmd)) return `\`${cmd}\` is missing: apt-get install ${pkg}`;
  }
  const flags = unshareFlags();
  const probe = spawnSync('unshare', [...flags, '--', 'sh', '-c', SETUP], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim();
  const hint =
    process.getuid?.() === 0
      ? 'root could not make a network namespace (a container without CAP_SYS_ADMIN?): run on a machine or container that allows `unshare --net`'
      : 'unprivileged user namespaces look disabled: run as root, or allow them (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also sysctl kernel.apparmor_restrict_unprivileged_userns=0)';
  return `\`unshare ${flags.join(' ')}\` failed: ${why}\n${hint}`;
}

/**
 * Runs `node <execArgv> script ...args` inside a new run namespace and resolves with its exit code
 * (128 + signal number when killed). If no namespace can be made it prints why and what to run, and
 * resolves 69 — it never falls back to running outside.
 */
export async function reexecInRunNetns(script: string, args: string[]): Promise<number> {
  const problem = runNetnsProblem();
  if (problem) {
    console.error(`weir: cannot make the run's own network namespace.\n${problem}`);
    return 69;
  }
  const child = spawn(
    'unshare',
    [
      ...unshareFlags(),
      '--',
      'sh',
      '-c',
      `${SETUP} && exec "$@"`,
      'weir-netns',
      process.execPath,
      ...process.execArgv,
      script,
      ...args,
    ],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: currentNetns() } },
  );
  // unshare and sh exec into node, so the child is the script itself: pass termination on to it.
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = forward(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(69));
    child.on('close', (c, sig) => resolve(c ?? 128 + (sig ? constants.signals[sig] : 1)));
  });
  for (const [sig, h] of handlers) process.off(sig, h);
  return code;
}
