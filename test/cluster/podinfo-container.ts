// Which containers of a Pod the pod runner plays with the real podinfo binary, and how: the command
// line and environment a container runtime would give it (the container's own command/args and env,
// `$(VAR)` references expanded as the kubelet does), plus the image tag the pod runs. Pure: no I/O.
import type { V1Container, V1Pod } from '@kubernetes/client-node';

/** Image repositories that are podinfo (any tag or digest). */
export const PODINFO_REPOSITORIES = [
  'ghcr.io/stefanprodan/podinfo',
  'stefanprodan/podinfo',
  'docker.io/stefanprodan/podinfo',
  'docker.io/library/stefanprodan/podinfo',
];
/** podinfo's own default HTTP port (`--port`). */
export const PODINFO_DEFAULT_PORT = 9898;

/** `ghcr.io/x/y:1.2` → { repository: 'ghcr.io/x/y', tag: '1.2' }; no tag means `latest`; a digest is the tag. */
export function parseImage(image: string): { repository: string; tag: string } {
  const at = image.indexOf('@');
  const named = at >= 0 ? image.slice(0, at) : image;
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  const repository = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : at >= 0 ? image.slice(at + 1) : 'latest';
  return { repository, tag };
}

export function isPodinfoImage(image: string | undefined): boolean {
  return !!image && PODINFO_REPOSITORIES.includes(parseImage(image).repository);
}

export interface PodinfoPlan {
  container: string;
  image: string;
  /** The image tag; podinfo answers it as its `message` unless the pod sets PODINFO_UI_MESSAGE / --ui-message. */
  tag: string;
  /** Flags for the podinfo binary (the container's command without the program, then its args). */
  args: string[];
  /** The container's environment (literal values and the pod fields the runner knows), plus the tag message. */
  env: Record<string, string>;
  /** The port podinfo serves HTTP on (`--port`, PODINFO_PORT, else 9898). */
  httpPort: number;
  /** The metrics port (`--port-metrics`, PODINFO_PORT_METRICS), if any. */
  metricsPort?: number;
  /** What the runner could not honour (env from ConfigMaps/Secrets, say): logged, never silently dropped. */
  notes: string[];
}

/** The plan for the pod's first podinfo container, or undefined when it has none (or runs another program). */
export function podinfoPlan(pod: V1Pod): PodinfoPlan | undefined {
  const c = pod.spec?.containers.find((x) => isPodinfoImage(x.image));
  if (!c?.image) return undefined;
  const notes: string[] = [];
  const { tag } = parseImage(c.image);
  const env = containerEnv(pod, c, notes);
  const expand = (s: string) => expandRefs(s, env);
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map(expand);
  // The image's entrypoint is ./podinfo: a command naming it is the program, anything else is not podinfo.
  if (argv.length && !argv[0]!.startsWith('-')) {
    if (!/(^|\/)podinfo$/.test(argv[0]!)) return undefined;
    argv.shift();
  }
  const uiMessageSet = 'PODINFO_UI_MESSAGE' in env || flagValue(argv, 'ui-message') !== undefined;
  if (!uiMessageSet) env.PODINFO_UI_MESSAGE = tag;
  const httpPort = Number(flagValue(argv, 'port') ?? env.PODINFO_PORT ?? PODINFO_DEFAULT_PORT);
  const metrics = Number(flagValue(argv, 'port-metrics') ?? env.PODINFO_PORT_METRICS ?? 0);
  return {
    container: c.name,
    image: c.image,
    tag,
    args: argv,
    env,
    httpPort,
    ...(metrics > 0 ? { metricsPort: metrics } : {}),
    notes,
  };
}

/** Value of `--name=v` or `--name v` (last one wins, as pflag does); undefined when absent. */
export function flagValue(argv: string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
    else if (a === `--${name}` && i + 1 < argv.length) value = argv[++i];
  }
  return value;
}

const FIELD_REFS: Record<string, (pod: V1Pod) => string | undefined> = {
  'metadata.name': (p) => p.metadata?.name,
  'metadata.namespace': (p) => p.metadata?.namespace,
  'metadata.uid': (p) => p.metadata?.uid,
  'spec.nodeName': (p) => p.spec?.nodeName,
  'spec.serviceAccountName': (p) => p.spec?.serviceAccountName,
  'status.podIP': (p) => p.status?.podIP,
  'status.hostIP': (p) => p.status?.hostIP,
};

function containerEnv(pod: V1Pod, c: V1Container, notes: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = expandRefs(e.value, env);
    else if (e.valueFrom?.fieldRef) {
      const v = FIELD_REFS[e.valueFrom.fieldRef.fieldPath]?.(pod);
      if (v !== undefined) env[e.name] = v;
      else notes.push(`env ${e.name}: fieldRef ${e.valueFrom.fieldRef.fieldPath} not supported`);
    } else if (e.valueFrom) notes.push(`env ${e.name}: only literal values and pod fieldRefs are supported`);
    else env[e.name] = '';
  }
  if (c.envFrom?.length) notes.push('envFrom is not supported');
  return env;
}

/** The kubelet's `$(VAR)` expansion: defined variables are replaced, `$$` escapes, others stay as written. */
export function expandRefs(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m,
  );
}
