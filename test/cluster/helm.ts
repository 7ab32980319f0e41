// The real Helm binary (built from its Go module by tools/build.sh) and what the chart tests do with
// it: render charts/weir, install parts of the rendering with the real kubectl, and give a controller
// the chart's ServiceAccount identity through a real token minted by the API server.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { binPath, projectRoot, sharedCluster, type Cluster } from './cluster.ts';

export const CHART_DIR = join(projectRoot, 'charts', 'weir');

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A rendered Kubernetes object (the parts the tests read are typed loosely on purpose). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

// Helm keeps repository caches and config under HOME; a private dir keeps the developer's untouched.
// It also holds the ServiceAccount kubeconfigs, and goes when the test process exits.
const scratch = mkdtempSync(join(tmpdir(), 'weir-helm-'));
const helmHome = join(scratch, 'home');
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** Runs the real helm; never throws on a non-zero exit, only on the timeout. */
export function helm(args: string[], timeoutMs = 60_000): Promise<HelmResult> {
  const bin = binPath('helm', 'helm');
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: 32 * 1024 * 1024,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: helmHome,
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
        },
      },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          reject(new Error(`timed out after ${timeoutMs} ms waiting for \`helm ${args.join(' ')}\``));
          return;
        }
        const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `--set` values; objects and arrays go through `--set-json`. */
export type Values = Record<string, string | number | boolean | object>;

/** `helm template` of charts/weir; throws with helm's message when rendering fails. */
export async function renderChart(
  release: string,
  namespace: string,
  values: Values = {},
  opts: { includeCrds?: boolean } = {},
): Promise<{ yaml: string; docs: Manifest[] }> {
  const sets = Object.entries(values).flatMap(([k, v]) =>
    typeof v === 'object' ? ['--set-json', `${k}=${JSON.stringify(v)}`] : ['--set', `${k}=${v}`],
  );
  const crds = opts.includeCrds ? ['--include-crds'] : [];
  const r = await helm(['template', release, CHART_DIR, '--namespace', namespace, ...crds, ...sets]);
  if (r.code !== 0) throw new Error(`helm template failed (exit ${r.code}): ${r.stderr.trim()}`);
  return { yaml: r.stdout, docs: parseManifests(r.stdout) };
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => !!d && typeof d === 'object' && 'kind' in d);
}

export function findManifest(docs: Manifest[], kind: string, name?: string): Manifest {
  const found = docs.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered chart`);
  return found;
}

/** Server-side apply of manifests with the real kubectl (what `helm template | kubectl apply` does). */
export async function kubectlApply(
  cluster: Pick<Cluster, 'kubectl'>,
  manifests: Manifest[] | string,
  extra: string[] = [],
): Promise<HelmResult> {
  const input = typeof manifests === 'string' ? manifests : manifests.map((m) => stringify(m)).join('---\n');
  return cluster.kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=weir-helm-test', ...extra, '-f', '-'],
    { input },
  );
}

export const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/**
 * A kubeconfig that authenticates as a ServiceAccount with a token the API server minted for it
 * (TokenRequest, `kubectl create token`): exactly what a pod of the chart's Deployment presents.
 */
export async function serviceAccountKubeconfig(
  cluster: Pick<Cluster, 'kubectl' | 'kc' | 'server'>,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const r = await cluster.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=2h']);
  if (r.code !== 0) throw new Error(`kubectl create token failed: ${r.stderr.trim()}`);
  const ca = cluster.kc.getCurrentCluster()?.caData;
  if (!ca) throw new Error('the admin kubeconfig carries no certificate-authority-data');
  const dir = mkdtempSync(join(scratch, 'sa-'));
  const path = join(dir, 'kubeconfig');
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'weir', cluster: { server: cluster.server, 'certificate-authority-data': ca } }],
      users: [{ name: user, user: { token: r.stdout.trim() } }],
      contexts: [{ name: 'weir', context: { cluster: 'weir', user } }],
      'current-context': 'weir',
    }),
    { mode: 0o600 },
  );
  return path;
}

/**
 * Release names unique to this process, remembered so that their cluster-scoped objects
 * (ClusterRoles, ClusterRoleBindings) can be deleted when the file is done.
 */
export function chartReleases(cluster: () => Pick<Cluster, 'kubectl'>): {
  name(what: string): string;
  cleanup(): Promise<void>;
} {
  const names: string[] = [];
  return {
    name(what) {
      const n = `weir-${what}-${process.pid}-${names.length}`;
      names.push(n);
      return n;
    },
    async cleanup() {
      for (const r of names)
        await cluster().kubectl([
          'delete',
          'clusterrole,clusterrolebinding',
          '-l',
          `app.kubernetes.io/instance=${r}`,
          '--ignore-not-found',
        ]);
    },
  };
}

/** Applies the chart's ServiceAccount and RBAC objects (optionally altered) and mints a token. */
export async function installChartRbac(
  cluster: Pick<Cluster, 'kubectl' | 'kc' | 'server'>,
  release: string,
  namespace: string,
  values: Values,
  alter?: (docs: Manifest[]) => void,
): Promise<{ kubeconfig: string; serviceAccount: string; kinds: string[] }> {
  const { docs } = await renderChart(release, namespace, values);
  const rbac = docs.filter((d) => RBAC_KINDS.includes(d.kind));
  alter?.(rbac);
  const r = await kubectlApply(cluster, rbac);
  if (r.code !== 0) throw new Error(`kubectl apply of the chart's RBAC failed: ${r.stderr.trim()}`);
  const serviceAccount = findManifest(rbac, 'ServiceAccount').metadata.name;
  await rbacInEffect(cluster, rbac, `system:serviceaccount:${namespace}:${serviceAccount}`);
  return {
    kubeconfig: await serviceAccountKubeconfig(cluster, namespace, serviceAccount),
    serviceAccount,
    kinds: rbac.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
  };
}

type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] };
type RbacDoc = Manifest & { rules?: Rule[]; roleRef?: { kind: string; name: string } };

/**
 * Waits (up to 15 s) until the API server's authorizer grants `user` the first and last rule of every role
 * bound in `docs`: its RBAC caches follow the objects a moment after they are written, and a test
 * that starts the controller at once would see its first requests refused.
 */
async function rbacInEffect(
  cluster: Pick<Cluster, 'kubectl'>,
  docs: Manifest[],
  user: string,
): Promise<void> {
  const roles = docs as RbacDoc[];
  const checks: string[][] = [];
  for (const b of roles.filter((d) => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding')) {
    const role = roles.find((r) => r.kind === b.roleRef?.kind && r.metadata.name === b.roleRef?.name);
    const rules = role?.rules?.filter((r) => r.resources?.length && r.verbs?.length) ?? [];
    // The first and the last rule: values such as gitsync.rules append to a role already in place.
    for (const rule of new Set([rules[0], rules[rules.length - 1]])) {
      if (!rule) continue;
      const group = rule.apiGroups?.[0] ?? '';
      const resource = `${rule.resources![0]}${group ? `.${group}` : ''}`;
      const target = rule.resourceNames?.length ? `${resource}/${rule.resourceNames[0]}` : resource;
      const ns = b.kind === 'RoleBinding' ? ['-n', b.metadata.namespace ?? 'default'] : ['-A'];
      checks.push(['auth', 'can-i', rule.verbs![0]!, target, ...ns, `--as=${user}`]);
    }
  }
  const deadline = Date.now() + 15_000;
  for (const args of checks) {
    for (;;) {
      const r = await cluster.kubectl(args);
      if (r.stdout.trim() === 'yes') break;
      if (Date.now() > deadline)
        throw new Error(`RBAC not in effect after 15 s: kubectl ${args.join(' ')} -> ${r.stdout.trim()}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }
}

/**
 * The preamble of a chart test file, called at its top level: the shared cluster (set in a before
 * hook), release names whose cluster-scoped objects an after hook deletes, and installChartRbac on
 * that cluster.
 */
export function chartTestKit(): {
  readonly cluster: Cluster;
  release(what: string): string;
  installRbac(
    release: string,
    namespace: string,
    values: Values,
    alter?: (docs: Manifest[]) => void,
  ): ReturnType<typeof installChartRbac>;
} {
  let cluster: Cluster | undefined;
  const kit = {
    get cluster(): Cluster {
      if (!cluster) throw new Error('the cluster is set by the before hook of chartTestKit()');
      return cluster;
    },
    release: (what: string) => releases.name(what),
    installRbac: (rel: string, ns: string, values: Values, alter?: (docs: Manifest[]) => void) =>
      installChartRbac(kit.cluster, rel, ns, values, alter),
  };
  const releases = chartReleases(() => kit.cluster);
  before(async () => {
    cluster = await sharedCluster();
  });
  after(() => releases.cleanup());
  return kit;
}
