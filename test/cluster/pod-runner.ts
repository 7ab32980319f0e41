// The pod runner: the part of a kubelet KWOK leaves out, for podinfo only. It watches Pods bound to
// KWOK nodes and, for each Running pod with a podinfo container (ghcr.io/stefanprodan/podinfo:*), runs
// the real podinfo binary with the container's own args and env, in the pod's own network and UTS
// namespaces holding the pod IP (pod-netns.ts). So a request to <podIP>:<port> is answered by that pod,
// whose JSON names it (`hostname` = pod name) and its image tag (`message`, unless the pod sets
// PODINFO_UI_MESSAGE or --ui-message). The process stops when the pod is deleted (deletionTimestamp),
// leaves Running or changes IP; every process stops with the runner. Processes that exit on their own
// are not restarted (their log says why). One process per pod: its first podinfo container.
// Scope runners to their test's namespaces: two runners playing the same pod would clash.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { awaitBin } from './tool-build.ts';
import { KWOK_NODE_ANNOTATION } from './components.ts';
import { assertRunNetns } from './netns.ts';
import { loadKubeConfig } from './pki.ts';
import { podinfoPlan, type PodinfoPlan } from './podinfo-container.ts';
import { startPodProcess, type PodProcess } from './pod-netns.ts';
import { waitFor } from './proc.ts';

export interface PodRunnerOptions {
  kubeconfigPath: string;
  /** Only pods in these namespaces (default: every namespace). */
  namespaces?: string[];
  /** Each pod's output goes to `<logDir>/podinfo-<namespace>-<pod>.log`. */
  logDir: string;
  /** The podinfo binary (default: the cached build at PODINFO_VERSION, see tools/versions.env). */
  podinfoBin?: string;
}

export interface RunningPod {
  namespace: string;
  name: string;
  uid: string;
  podIP: string;
  image: string;
  tag: string;
  httpPort: number;
  metricsPort?: number;
  /** `http://<podIP>:<httpPort>` */
  url: string;
  pid: number;
  logFile: string;
}

export interface PodRunner {
  /** Pods whose process runs now. */
  pods(): RunningPod[];
  /** The running pod `namespace/name` (by pod name alone if unique), undefined if none. */
  pod(name: string, namespace?: string): RunningPod | undefined;
  /** Waits until the pod's process runs and answers HTTP on its port (any status). */
  waitForPod(namespace: string, name: string, timeoutMs?: number): Promise<RunningPod>;
  /** Stops the watch and every process (SIGTERM; podinfo drains ~3 s; SIGKILL after 8 s). */
  stop(): Promise<void>;
}

interface Entry {
  pod: RunningPod;
  proc: PodProcess;
}

export async function startPodRunner(opts: PodRunnerOptions): Promise<PodRunner> {
  assertRunNetns('traffic to pod IPs');
  const bin = opts.podinfoBin ?? (await awaitBin('podinfo', 'podinfo'));
  mkdirSync(opts.logDir, { recursive: true });
  const kc = loadKubeConfig(opts.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const running = new Map<string, Entry>();
  const latest = new Map<string, V1Pod | undefined>();
  const queues = new Map<string, Promise<void>>();
  const kwokNodes = new Map<string, Promise<boolean>>();
  let stopped = false;

  const isKwokNode = (node: string) => {
    let known = kwokNodes.get(node);
    if (!known) {
      known = core
        .readNode({ name: node })
        .then((n) => n.metadata?.annotations?.[KWOK_NODE_ANNOTATION.key] === KWOK_NODE_ANNOTATION.value)
        .catch(() => {
          kwokNodes.delete(node);
          return false;
        });
      kwokNodes.set(node, known);
    }
    return known;
  };

  const log = (line: string) => console.error(`[pod-runner] ${line}`);

  async function reconcile(key: string): Promise<void> {
    const pod = stopped ? undefined : latest.get(key);
    const want = pod ? wanted(pod) : undefined;
    const have = running.get(key);
    if (have && (!want || have.pod.uid !== want.uid || have.pod.podIP !== want.podIP)) {
      running.delete(key);
      await have.proc.stop(8000);
    }
    if (!want || running.has(key) || !(await isKwokNode(want.node))) return;
    if (want.plan.notes.length) log(`${key}: ${want.plan.notes.join('; ')}`);
    const name = `podinfo-${key.replace('/', '-')}`;
    const cwd = join(opts.logDir, `${name}.d`);
    mkdirSync(cwd, { recursive: true });
    try {
      const proc = await startPodProcess({
        name,
        logDir: opts.logDir,
        hostname: want.hostname,
        podIP: want.podIP,
        uid: want.uid,
        cmd: bin,
        args: want.plan.args,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: want.hostname, ...want.plan.env },
        cwd,
      });
      running.set(key, { pod: runningPod(want, proc), proc });
    } catch (err) {
      log(`${key}: could not start podinfo: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const enqueue = (key: string) => {
    const next = (queues.get(key) ?? Promise.resolve()).then(() => reconcile(key));
    queues.set(key, next);
    void next.finally(() => {
      if (queues.get(key) === next) queues.delete(key);
    });
  };
  const onPod = (pod: V1Pod) => {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    latest.set(key, pod);
    enqueue(key);
  };
  const onDelete = (pod: V1Pod) => {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    latest.delete(key);
    enqueue(key);
  };

  const informers = (opts.namespaces?.length ? opts.namespaces : [undefined]).map((ns) =>
    podInformer(kc, core, ns),
  );
  for (const inf of informers) {
    inf.on('add', onPod);
    inf.on('update', onPod);
    inf.on('delete', onDelete);
    // The informer stops on a watch error; start it again (it relists, emitting what changed).
    inf.on('error', () => {
      if (!stopped) setTimeout(() => void (stopped ? undefined : inf.start().catch(() => undefined)), 500);
    });
  }
  await Promise.all(informers.map((inf) => inf.start()));

  const find = (name: string, namespace?: string) => {
    const all = [...running.values()].map((e) => e.pod);
    const hits = all.filter((p) => p.name === name && (namespace === undefined || p.namespace === namespace));
    return hits.length === 1 ? hits[0] : undefined;
  };

  return {
    pods: () => [...running.values()].map((e) => e.pod),
    pod: find,
    async waitForPod(namespace, name, timeoutMs = 30_000) {
      return waitFor(
        `podinfo of pod ${namespace}/${name} to answer`,
        async () => {
          const p = find(name, namespace);
          if (!p) return undefined;
          // Any answer will do: a pod started with --unready or --unhealthy still serves.
          const res = await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(2000) });
          await res.body?.cancel();
          return p;
        },
        timeoutMs,
        100,
      );
    },
    async stop() {
      stopped = true;
      await Promise.all(informers.map((inf) => inf.stop()));
      await Promise.all([...queues.values()]);
      const all = [...running.values()];
      running.clear();
      await Promise.all(all.map((e) => e.proc.stop(8000)));
    },
  };
}

interface Wanted {
  namespace: string;
  name: string;
  /** spec.hostname, else the pod name (as the kubelet sets it). */
  hostname: string;
  uid: string;
  podIP: string;
  node: string;
  plan: PodinfoPlan;
}

/** A pod the runner should play: bound, Running with an IP, not being deleted, with a podinfo container. */
function wanted(pod: V1Pod): Wanted | undefined {
  const { namespace, name, uid, deletionTimestamp } = pod.metadata ?? {};
  const node = pod.spec?.nodeName;
  const podIP = pod.status?.podIP;
  if (!namespace || !name || !uid || deletionTimestamp || !node || !podIP) return undefined;
  if (pod.status?.phase !== 'Running') return undefined;
  const plan = podinfoPlan(pod);
  return plan ? { namespace, name, hostname: pod.spec?.hostname ?? name, uid, podIP, node, plan } : undefined;
}

function runningPod(w: Wanted, proc: PodProcess): RunningPod {
  return {
    namespace: w.namespace,
    name: w.name,
    uid: w.uid,
    podIP: w.podIP,
    image: w.plan.image,
    tag: w.plan.tag,
    httpPort: w.plan.httpPort,
    ...(w.plan.metricsPort ? { metricsPort: w.plan.metricsPort } : {}),
    url: `http://${w.podIP}:${w.plan.httpPort}`,
    pid: proc.process.child.pid ?? -1,
    logFile: proc.process.logFile,
  };
}

function podInformer(kc: KubeConfig, core: CoreV1Api, namespace: string | undefined): Informer<V1Pod> {
  return namespace
    ? makeInformer(kc, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace }))
    : makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
}
