// GitSync tenancy on the real control plane, with the real RBAC authorizer deciding: a GitSync that
// names a ServiceAccount applies as it (impersonation), so a push cannot create a Secret in
// kube-system when that account may only write its own namespace; --default-service-account does
// the same for GitSyncs that name none; --gitsync-no-cross-namespace refuses other namespaces and
// cluster-scoped objects before anything is applied; an existing object that no GitSync applied is
// not taken over until it is annotated (or the GitSync sets spec.adopt); file:// URLs are refused
// without --allow-file-urls. Two controllers: one with the default flags, one locked down.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { commitFiles } from '../cluster/git-server.ts';
import { createNamespace } from '../cluster/cluster.ts';
import { chartTestKit } from '../cluster/helm.ts';
import { readyOf, startGitSyncWorld, type GitSyncWorld } from '../cluster/gitsync-kit.ts';
import { waitFor } from '../cluster/proc.ts';

const chart = chartTestKit();
let open: GitSyncWorld;
let locked: GitSyncWorld;
before(async () => {
  [open, locked] = await Promise.all([
    startGitSyncWorld('gs-tenancy'),
    startGitSyncWorld('gs-locked', {
      env: {
        WEIR_DEFAULT_SERVICE_ACCOUNT: 'locked',
        WEIR_GITSYNC_NO_CROSS_NAMESPACE: 'true',
      },
    }),
  ]);
});
after(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
});

type ConfigMap = {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
};

const cm = (name: string, value = 'git', namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}data:\n  value: ${value}\n`;
const secret = (name: string, namespace?: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}stringData:\n  token: from-git\n`;

/** A ServiceAccount that may read and write ConfigMaps and Secrets in its own namespace only. */
async function namespaceWriter(w: GitSyncWorld, sa: string): Promise<void> {
  const verbs = ['get', 'list', 'create', 'patch', 'delete'];
  for (const obj of [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: w.ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: sa, namespace: w.ns },
      rules: [{ apiGroups: [''], resources: ['configmaps', 'secrets'], verbs }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: sa, namespace: w.ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: w.ns }],
    },
  ])
    await w.kube.apply(obj as never, 'weir-test');
  // The authorizer sees a new RoleBinding through its informer: wait until it answers yes.
  await waitFor(
    `RBAC for ${w.ns}/${sa} in effect`,
    async () => {
      const r = await w.cluster.kubectl([
        'auth',
        'can-i',
        'create',
        'secrets',
        '-n',
        w.ns,
        `--as=system:serviceaccount:${w.ns}:${sa}`,
      ]);
      return r.stdout.trim() === 'yes';
    },
    15_000,
    100,
  );
}

const failed = (s: Parameters<typeof readyOf>[0]) => readyOf(s)?.status === 'False';
const appliedSha = (sha: string) => (s: Parameters<typeof readyOf>[0] & { lastAppliedRevision?: string }) =>
  s?.lastAppliedRevision === sha && readyOf(s)?.status === 'True';

test('spec.serviceAccountName: the apply runs as that account, which cannot create a Secret in kube-system', async () => {
  const w = open;
  await namespaceWriter(w, 'deployer');
  const stolen = `stolen-${w.ns}`;
  const repo = await w.git.createRepo('impersonate');
  await commitFiles(
    repo.url,
    { 'app/settings.yaml': cm('settings'), 'app/stolen.yaml': secret(stolen, 'kube-system') },
    'one',
  );
  await w.apply('tenant', { url: repo.url, path: 'app', interval: '1h', serviceAccountName: 'deployer' });
  const g = await w.wait('tenant', 'refused by RBAC', failed, 30_000);
  const ready = readyOf(g.status)!;
  const message = ready.message ?? '';
  assert.equal(ready.reason, 'ApplyFailed');
  assert.match(message, new RegExp(`Secret kube-system/${stolen} \\(app/stolen\\.yaml:1\\)`));
  assert.match(
    message,
    new RegExp(`forbidden: User "system:serviceaccount:${w.ns}:deployer" cannot \\w+ resource "secrets"`),
  );
  assert.equal(await w.object('v1', 'Secret', stolen, 'kube-system'), undefined, 'no Secret in kube-system');

  // The same account writes its own namespace: with the kube-system Secret gone from Git, all
  // applies (Secret included), and prune deletes as the account too.
  const sha = await commitFiles(
    repo.url,
    { 'app/stolen.yaml': null, 'app/own.yaml': secret('own') },
    'own namespace only',
  );
  await w.apply('tenant', {
    url: repo.url,
    path: 'app',
    interval: '1h',
    serviceAccountName: 'deployer',
    prune: true,
  });
  await w.wait('tenant', 'applied as the account', appliedSha(sha), 30_000);
  assert.ok(await w.object('v1', 'Secret', 'own'));
  assert.equal((await w.object<ConfigMap>('v1', 'ConfigMap', 'settings'))?.data?.value, 'git');
  const pruned = await commitFiles(repo.url, { 'app/settings.yaml': null }, 'drop settings');
  await w.syncNow('tenant');
  await w.wait('tenant', 'pruned', appliedSha(pruned), 30_000);
  assert.equal(await w.object('v1', 'ConfigMap', 'settings'), undefined, 'pruned as the account');
});

test('--default-service-account: a GitSync naming none applies as that account (403 naming the object)', async () => {
  const w = locked;
  const repo = await w.git.createRepo('default-sa');
  const sha = await commitFiles(repo.url, { 'settings.yaml': cm('settings') }, 'one');
  // `locked` exists in no RoleBinding: it may do nothing.
  await w.kube.apply(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'locked', namespace: w.ns } } as never,
    'weir-test',
  );
  await w.apply('nameless', { url: repo.url, interval: '1h' });
  const g = await w.wait('nameless', 'refused by RBAC', failed, 30_000);
  assert.equal(readyOf(g.status)?.reason, 'ApplyFailed');
  assert.match(
    readyOf(g.status)?.message ?? '',
    new RegExp(
      `ConfigMap ${w.ns}/settings \\(settings\\.yaml:1\\): .*forbidden: User "system:serviceaccount:${w.ns}:locked"`,
    ),
  );
  assert.equal(await w.object('v1', 'ConfigMap', 'settings'), undefined);

  // spec.serviceAccountName overrides the default.
  await namespaceWriter(w, 'deployer');
  await w.apply('named', { url: repo.url, interval: '1h', serviceAccountName: 'deployer' });
  await w.wait('named', 'applied as deployer', appliedSha(sha), 30_000);
});

test('--gitsync-no-cross-namespace: other namespaces and cluster-scoped kinds are refused before any apply', async () => {
  const w = locked;
  await namespaceWriter(w, 'writer');
  const repo = await w.git.createRepo('confined');
  const files = {
    'a-own.yaml': cm('confined-own'),
    'b-elsewhere.yaml': secret(`elsewhere-${w.ns}`, 'kube-system'),
    'c-namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: made-by-${w.ns}\n`,
  };
  await commitFiles(repo.url, files, 'one');
  await w.apply('confined', { url: repo.url, interval: '1h', serviceAccountName: 'writer' });
  const g = await w.wait('confined', 'refused', failed, 30_000);
  const ready = readyOf(g.status)!;
  const message = ready.message ?? '';
  assert.equal(ready.reason, 'BuildFailed');
  assert.match(
    message,
    new RegExp(
      `b-elsewhere\\.yaml:1: Secret elsewhere-${w.ns} in namespace kube-system: outside the GitSync's namespace ${w.ns}`,
    ),
  );
  assert.match(
    message,
    new RegExp(`c-namespace\\.yaml:1: Namespace made-by-${w.ns}: cluster-scoped objects are not allowed`),
  );
  assert.equal(await w.object('v1', 'ConfigMap', 'confined-own'), undefined, 'nothing applied, not even own');
  assert.equal(await w.object('v1', 'Namespace', `made-by-${w.ns}`, ''), undefined);
});

test('confinement: a CustomResourceDefinition in Git cannot make cluster-scoped kinds look namespaced', async () => {
  // A GitSync whose account may write CRDs, confined by --gitsync-no-cross-namespace. The repository
  // adds a "CRD" that claims the kind CustomResourceDefinition itself is namespaced: if the build took
  // that claim over discovery, every CRD in the commit would look namespaced (in the GitSync's own
  // namespace) and be applied cluster-wide, the API server dropping the namespace.
  const w = locked;
  const sa = 'crd-admin';
  for (const obj of [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: w.ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${w.ns}-${sa}` },
      rules: [
        {
          apiGroups: ['apiextensions.k8s.io'],
          resources: ['customresourcedefinitions'],
          verbs: ['get', 'list', 'create', 'patch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${w.ns}-${sa}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${w.ns}-${sa}` },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: w.ns }],
    },
  ])
    await w.kube.apply(obj as never, 'weir-test');
  const group = `${w.ns}.example.com`;
  const crd = `widgets.${group}`;
  const repo = await w.git.createRepo('crd-scope');
  await commitFiles(
    repo.url,
    {
      'a-widgets.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${crd}
spec:
  group: ${group}
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
      'b-claim.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: claim
spec:
  group: apiextensions.k8s.io
  names: {kind: CustomResourceDefinition}
  scope: Namespaced
  versions: [{name: v1}]
`,
    },
    'one',
  );
  await waitFor(
    `RBAC for ${w.ns}/${sa} in effect`,
    async () =>
      (
        await w.cluster.kubectl([
          'auth',
          'can-i',
          'create',
          'customresourcedefinitions.apiextensions.k8s.io',
          `--as=system:serviceaccount:${w.ns}:${sa}`,
        ])
      ).stdout.trim() === 'yes',
    15_000,
    100,
  );
  await w.apply('crd-scope', { url: repo.url, interval: '1h', serviceAccountName: sa });
  const g = await w.wait('crd-scope', 'refused', failed, 30_000);
  const ready = readyOf(g.status)!;
  assert.equal(ready.reason, 'BuildFailed', ready.message);
  assert.match(
    ready.message ?? '',
    new RegExp(
      `a-widgets\\.yaml:1: CustomResourceDefinition ${crd.replace(/\./g, '\\.')}: cluster-scoped objects are not allowed`,
    ),
  );
  assert.equal(
    await w.object('apiextensions.k8s.io/v1', 'CustomResourceDefinition', crd, ''),
    undefined,
    'no CRD created by a confined GitSync',
  );
});

test('adoption: an unlabelled existing object is refused, then taken over once annotated (or with spec.adopt)', async () => {
  const w = open;
  for (const name of ['existing', 'existing-2'])
    await w.kube.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: w.ns },
        data: { value: 'hand-made' },
      } as never,
      'someone-else',
    );
  const repo = await w.git.createRepo('adopt');
  const sha = await commitFiles(repo.url, { 'existing.yaml': cm('existing') }, 'one');
  await w.apply('adopter', { url: repo.url, interval: '1h' });
  const g = await w.wait('adopter', 'refused to take over', failed, 30_000);
  assert.equal(readyOf(g.status)?.reason, 'ApplyFailed');
  assert.match(
    readyOf(g.status)?.message ?? '',
    new RegExp(
      `ConfigMap ${w.ns}/existing \\(existing\\.yaml:1\\): exists and was not applied by this GitSync; refused to take it over \\(annotate the object weir\\.dev/gitsync-adopt: "true"`,
    ),
  );
  const untouched = await w.object<ConfigMap>('v1', 'ConfigMap', 'existing');
  assert.equal(untouched?.data?.value, 'hand-made');
  assert.equal(untouched?.metadata.labels?.['weir.dev/gitsync-name'], undefined);

  await w.kube.mergePatch(
    { apiVersion: 'v1', kind: 'ConfigMap', namespace: w.ns, name: 'existing' },
    { metadata: { annotations: { 'weir.dev/gitsync-adopt': 'true' } } },
  );
  await w.syncNow('adopter');
  await w.wait('adopter', 'adopted', appliedSha(sha), 30_000);
  const adopted = await w.object<ConfigMap>('v1', 'ConfigMap', 'existing');
  assert.equal(adopted?.data?.value, 'git');
  assert.equal(adopted?.metadata.labels?.['weir.dev/gitsync-name'], 'adopter');

  // spec.adopt takes over without touching the object first; another GitSync's object stays refused.
  const sha2 = await commitFiles(repo.url, { 'more/e2.yaml': cm('existing-2') }, 'two');
  await w.apply('adopt-all', { url: repo.url, path: 'more', interval: '1h', adopt: true });
  await w.wait('adopt-all', 'adopted with spec.adopt', appliedSha(sha2), 30_000);
  assert.equal((await w.object<ConfigMap>('v1', 'ConfigMap', 'existing-2'))?.data?.value, 'git');
  await w.apply('thief', { url: repo.url, interval: '1h', adopt: true });
  const thief = await w.wait('thief', 'refused', failed, 30_000);
  assert.match(
    readyOf(thief.status)?.message ?? '',
    new RegExp(`already applied by GitSync ${w.ns}/(adopter|adopt-all)`),
  );
});

test('file:// URLs are refused without --allow-file-urls; checkouts are private, per namespace/name/uid', async () => {
  const w = open;
  // The checkouts of the GitSyncs above: <root>/<ns>/<name>-<uid>, 0700 like the root.
  const tenant = await w.get('tenant');
  const dir = join(w.cacheDir, w.ns, `tenant-${tenant.metadata.uid}`);
  assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
  assert.equal((await stat(w.cacheDir)).mode & 0o777, 0o700);
  assert.ok((await readdir(join(w.cacheDir, w.ns))).every((e) => e === '.home' || /-[0-9a-f-]{36}$/.test(e)));

  await w.apply('local', { url: `file://${w.git.root}/adopt.git`, interval: '1h' });
  const g = await w.wait('local', 'refused', failed, 30_000);
  assert.equal(readyOf(g.status)?.reason, 'URLNotAllowed');
  assert.match(
    readyOf(g.status)?.message ?? '',
    /file:\/\/ URLs are disabled on this controller .*--allow-file-urls/,
  );
  assert.equal(readyOf(g.status)?.status, 'False');
});

test("the chart's RBAC is enough: a controller without any GitSync rules applies as the tenant's account", async () => {
  // The controller runs with a token of the chart's ServiceAccount (default values: no gitsync.rules,
  // no clusterAdmin), so the only way it can write a ConfigMap is impersonating the GitSync's account.
  const releaseNs = await createNamespace(chart.cluster, 'gs-chart-release');
  const sa = await chart.installRbac(chart.release('gs-tenancy'), releaseNs, {});
  const w = await startGitSyncWorld('gs-chart', { controllerKubeconfig: sa.kubeconfig });
  try {
    await namespaceWriter(w, 'deployer');
    const repo = await w.git.createRepo('chart');
    const sha = await commitFiles(repo.url, { 'settings.yaml': cm('settings') }, 'one');
    await w.apply('tenant', { url: repo.url, interval: '1h', serviceAccountName: 'deployer' });
    await w.wait('tenant', 'applied through impersonation', appliedSha(sha), 60_000);
    assert.equal((await w.object<ConfigMap>('v1', 'ConfigMap', 'settings'))?.data?.value, 'git');
    // Without an account it is the controller's own rights: those of the canary controller (which
    // include writing ConfigMaps and Secrets, the primaries' copies) and nothing for ServiceAccounts.
    await commitFiles(
      repo.url,
      { 'own/x.yaml': 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: as-controller\n' },
      'two',
    );
    await w.apply('as-controller', { url: repo.url, path: 'own', interval: '1h' });
    const g = await w.wait('as-controller', 'refused', failed, 60_000);
    assert.match(
      readyOf(g.status)?.message ?? '',
      new RegExp(`forbidden: User "system:serviceaccount:${releaseNs}:${sa.serviceAccount}"`),
    );
  } finally {
    await w.stop();
  }
});
