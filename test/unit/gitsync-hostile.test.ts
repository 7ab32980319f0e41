// GitSync against a hostile tenant, the pure parts: a CustomResourceDefinition in Git cannot decide
// the scope of a kind the cluster serves (else a "CRD" claiming that CustomResourceDefinition or
// ClusterRoleBinding is namespaced slips cluster-scoped objects past the confinement); apiVersions,
// kinds, names and namespaces that would walk a request URL elsewhere are refused before any request
// (discovery goes out with the controller's own identity, whatever the impersonation); the raw client
// never sends a namespace for a cluster-scoped kind (the API server would silently drop it); YAML that
// costs the parser gigabytes is refused by counting tokens first, without holding the event loop; a
// confined GitSync's prune deletes nothing outside what it may write.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import {
  DEFAULT_LIMITS,
  assemble,
  build,
  describeProblems,
  parseSources,
  wellKnownScope,
  type BuildResult,
} from '../../src/gitsync/build.ts';
import { LABEL_NAME, LABEL_NAMESPACE } from '../../src/gitsync/apply.ts';
import { OPEN_POLICY, confinementOf } from '../../src/gitsync/policy.ts';
import { prune } from '../../src/gitsync/prune.ts';
import { nextStatus } from '../../src/gitsync/status.ts';
import { createApiClient, type ApiClient, type Json, type ObjectRef } from '../../src/kube/rest.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const confined = confinementOf('team', { ...OPEN_POLICY, noCrossNamespace: true });
const docs = async (text: string) => (await parseSources([{ file: 'x.yaml', text }])).docs;
const problems = (r: BuildResult) => {
  assert.equal(r.ok, false, 'the build must fail');
  return r.ok ? '' : describeProblems(r.problems, 20);
};

const crd = (
  group: string,
  kind: string,
  scope: string,
  apiVersion = 'apiextensions.k8s.io/v1',
  version = 'v1',
) => `---
apiVersion: ${apiVersion}
kind: CustomResourceDefinition
metadata: {name: ${kind.toLowerCase()}s.${group}}
spec:
  group: ${group}
  names: {kind: ${kind}, plural: ${kind.toLowerCase()}s}
  scope: ${scope}
  versions: [{name: ${version}, served: true, storage: true}]
`;

test('a CRD in Git cannot make a served cluster-scoped kind namespaced (confinement holds)', async () => {
  const repo = [
    crd('evil.example.com', 'Widget', 'Cluster'),
    crd('apiextensions.k8s.io', 'CustomResourceDefinition', 'Namespaced'),
    crd('rbac.authorization.k8s.io', 'ClusterRoleBinding', 'Namespaced'),
    `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: me-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: team}]
`,
  ].join('');
  const msg = problems(
    assemble(await docs(repo), { namespace: 'team', scopeOf: wellKnownScope, confinement: confined }),
  );
  for (const name of [
    'CustomResourceDefinition widgets.evil.example.com',
    'CustomResourceDefinition customresourcedefinitions.apiextensions.k8s.io',
    'CustomResourceDefinition clusterrolebindings.rbac.authorization.k8s.io',
    'ClusterRoleBinding me-admin',
  ])
    assert.match(msg, new RegExp(`${name.replace(/\./g, '\\.')}: cluster-scoped objects are not allowed`));

  // Unconfined, the served kind keeps its real scope too: no namespace sent for a ClusterRoleBinding.
  const open = assemble(await docs(repo), { namespace: 'team', scopeOf: wellKnownScope });
  assert.ok(open.ok, open.ok ? '' : describeProblems(open.problems));
  const crb = open.objects.find((d) => d.obj.kind === 'ClusterRoleBinding')!;
  assert.equal((crb.obj.metadata as Json).namespace, undefined);

  // Nor in a version of apiextensions that the cluster does not serve (v1beta1 here).
  const beta = assemble(
    await docs(
      crd(
        'apiextensions.k8s.io',
        'CustomResourceDefinition',
        'Namespaced',
        'apiextensions.k8s.io/v1beta1',
        'v1beta1',
      ),
    ),
    { namespace: 'team', scopeOf: (a, k) => (a.endsWith('v1beta1') ? undefined : wellKnownScope(a, k)) },
  );
  assert.match(problems(beta), /is not served by the cluster/);

  // A custom kind that is merely called CustomResourceDefinition defines nothing.
  const fake = assemble(
    await docs(
      crd('evil.example.com', 'Gadget', 'Namespaced', 'evil.example.com/v1') +
        '---\napiVersion: evil.example.com/v1\nkind: Gadget\nmetadata: {name: g}\n',
    ),
    { namespace: 'team', scopeOf: wellKnownScope },
  );
  assert.match(problems(fake), /Gadget g: kind Gadget \(evil\.example\.com\/v1\) is not served/);
});

test('apiVersions, kinds, names and namespaces that would walk a URL are refused, without discovery', async () => {
  const root = await mkdtemp(join(tmpdir(), 'weir-hostile-'));
  dirs.push(root);
  await writeFile(
    join(root, 'walk.yaml'),
    [
      'apiVersion: ../api/v1/namespaces/kube-system/secrets/token\nkind: Secret\nmetadata: {name: a}\n',
      'apiVersion: v1?x=1\nkind: ConfigMap\nmetadata: {name: b}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ..}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "a/b"}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: [kube-system]}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, namespace: ..}\n',
      'apiVersion: v1\nkind: Config/Map\nmetadata: {name: e}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n',
    ].join('---\n'),
  );
  const asked: string[] = [];
  const r = await build(root, '.', {
    namespace: 'team',
    scopeOf: (a, k) => {
      asked.push(`${a} ${k}`);
      return wellKnownScope(a, k);
    },
  });
  const msg = problems(r);
  assert.deepEqual(asked, ['v1 ConfigMap'], 'discovery is asked only for well-formed API versions');
  assert.match(
    msg,
    /walk\.yaml:1: Secret a: apiVersion "\.\.\/api\/v1\/namespaces\/kube-system\/secrets\/token" is not a valid API version/,
  );
  assert.match(msg, /walk\.yaml:5: ConfigMap b: apiVersion "v1\?x=1" is not a valid API version/);
  assert.match(msg, /walk\.yaml:9: ConfigMap \.\.: metadata\.name "\.\." is not a valid name/);
  assert.match(msg, /ConfigMap a\/b: metadata\.name "a\/b" is not a valid name/);
  assert.match(msg, /ConfigMap c: metadata\.namespace \["kube-system"\] is not a valid namespace name/);
  assert.match(msg, /ConfigMap d: metadata\.namespace "\.\." is not a valid namespace name/);
  assert.match(msg, /Config\/Map e: kind "Config\/Map" is not a valid kind/);
  assert.doesNotMatch(msg, /fine/);
});

test('the raw client sends nothing for a URL-walking apiVersion or name, or a scope that does not match', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url!.split('?')[0]}`);
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1')
      return res.end(
        JSON.stringify({
          resources: [
            { kind: 'ConfigMap', name: 'configmaps', namespaced: true },
            { kind: 'Namespace', name: 'namespaces', namespaced: false },
          ],
        }),
      );
    res.end('{"kind":"Namespace","metadata":{"name":"team"}}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const api = createApiClient(kc);
  const tenant = api.impersonate('system:serviceaccount:team:deployer');
  try {
    await assert.rejects(
      tenant.scope('../api/v1/namespaces/kube-system/secrets/token', 'Secret'),
      /not a valid API version/,
    );
    await assert.rejects(tenant.scope('x/%2e%2e/%2e%2e/api/v1', 'Secret'), /not a valid API version/);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team' };
    await assert.rejects(tenant.get({ ...cm, name: '..' }), /not a valid name/);
    await assert.rejects(tenant.remove({ ...cm, name: '.' }), /not a valid name/);
    await assert.rejects(
      tenant.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', namespace: 'team' } }, 'm'),
      /Namespace team\/x: Namespace is cluster-scoped but a namespace was given/,
    );
    await assert.rejects(
      tenant.remove({ apiVersion: 'v1', kind: 'ConfigMap', name: 'y' }),
      /ConfigMap y: ConfigMap is namespaced but no namespace was given/,
    );
    assert.deepEqual(seen, ['GET /api/v1'], 'only the discovery of v1 went out');
    assert.equal(api.writes, 0);
  } finally {
    api.close();
    server.close();
  }
});

test('YAML that would cost the parser gigabytes is refused by a token count that keeps the event loop turning', async () => {
  // 4 MiB (the per-file byte limit) of a flow sequence is 2 million tokens: about 2 GB of parser
  // nodes and 15 s of a blocked event loop if parsed.
  const bomb = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: [${'1,'.repeat(2 * 1024 * 1024 - 64)}1]}\n`;
  let maxGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 10);
  const t0 = performance.now();
  const r = await parseSources([{ file: 'big.yaml', text: bomb }]);
  clearInterval(ticker);
  const ms = performance.now() - t0;
  assert.equal(r.docs.length, 0);
  assert.match(
    describeProblems(r.problems),
    /big\.yaml: a YAML document has more than 500000 tokens: refused as a resource exhaustion attack/,
  );
  // Parsed whole, the loop would be held ~15 s; a loaded machine alone can stall it a second or two.
  assert.ok(maxGap < 5000, `the event loop was held ${Math.round(maxGap)} ms (in ${Math.round(ms)} ms)`);

  // A plain scalar "---" does not start a new document (it cannot reset the count).
  const limits = { ...DEFAULT_LIMITS, maxDocumentTokens: 1000 };
  const dashes = (await parseSources([{ file: 'd.yaml', text: `items:\n${'- ---\n'.repeat(400)}` }], limits))
    .problems;
  assert.match(describeProblems(dashes), /d\.yaml: a YAML document has more than 1000 tokens/);
  // Separate documents each get the budget; the build's total is bounded as well.
  const many = `${'---\na: 1\n'.repeat(400)}`;
  assert.deepEqual((await parseSources([{ file: 'm.yaml', text: many }], limits)).problems, []);
  const total = await parseSources([{ file: 'm.yaml', text: many }], { ...limits, maxTotalTokens: 1000 });
  assert.match(describeProblems(total.problems), /more than 1000 YAML tokens in total/);

  // A kustomization is counted the same way before it is parsed.
  const kroot = await mkdtemp(join(tmpdir(), 'weir-hostile-'));
  dirs.push(kroot);
  await writeFile(join(kroot, 'kustomization.yaml'), `resources: [${'a.yaml,'.repeat(2000)}a.yaml]\n`);
  await writeFile(join(kroot, 'a.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
  assert.match(
    problems(await build(kroot, '.', { namespace: 'team', scopeOf: wellKnownScope }, limits)),
    /kustomization\.yaml: a YAML document has more than 1000 tokens/,
  );

  // Millions of tiny documents: parsing stops once there are more objects than allowed.
  const tiny = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n'.repeat(50_000);
  const stopped = await parseSources([{ file: 't.yaml', text: tiny }], {
    ...DEFAULT_LIMITS,
    maxObjects: 100,
  });
  assert.match(describeProblems(stopped.problems), /more than 100 objects/);
  assert.ok(stopped.docs.length <= 101, `${stopped.docs.length} documents built`);
});

test('a confined GitSync prunes nothing outside what it may write (inventory from before the flags)', async () => {
  const owner = { namespace: 'team', name: 'apps' };
  const labels = { [LABEL_NAME]: 'apps', [LABEL_NAMESPACE]: 'team' };
  const removed: string[] = [];
  const key = (r: ObjectRef) => `${r.kind} ${r.namespace ?? ''}/${r.name}`;
  const api = {
    get: async (r: ObjectRef) => ({ metadata: { name: r.name, namespace: r.namespace, labels } }),
    remove: async (r: ObjectRef) => {
      removed.push(key(r));
      return true;
    },
  } as unknown as ApiClient;
  const candidates = [
    { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team', name: 'own' },
    { apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: 'old' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'old' },
  ];
  const r = await prune(api, candidates, owner, confined);
  assert.deepEqual(removed, ['ConfigMap team/own']);
  assert.deepEqual(r.kept.map((k) => `${k.object}: ${k.reason}`).sort(), [
    'ClusterRole old: cluster-scoped, which this GitSync may not write',
    "Secret kube-system/old: outside the GitSync's namespace, which it may not write",
  ]);
  // Unconfined (or allowed), its own labelled objects are pruned wherever they are.
  removed.length = 0;
  await prune(api, candidates, owner, confinementOf('team', OPEN_POLICY));
  assert.equal(removed.length, 3);
});

test("symlink answers do not tell which paths exist on the controller's filesystem", async () => {
  const outside = await mkdtemp(join(tmpdir(), 'weir-other-checkout-'));
  const root = await mkdtemp(join(tmpdir(), 'weir-hostile-'));
  dirs.push(outside, root);
  await writeFile(join(outside, 'private.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n');
  await mkdir(join(root, 'app'));
  await symlink(join(outside, 'private.yaml'), join(root, 'app', 'exists.yaml'));
  await symlink(join(outside, 'absent.yaml'), join(root, 'app', 'absent.yaml'));
  // Through a link inside the repository, and through a linked directory.
  await symlink('exists.yaml', join(root, 'app', 'hop-exists.yaml'));
  await symlink('absent.yaml', join(root, 'app', 'hop-absent.yaml'));
  await symlink(outside, join(root, 'dir'));
  await writeFile(
    join(root, 'app', 'kustomization.yaml'),
    'resources: [exists.yaml, absent.yaml, hop-exists.yaml, hop-absent.yaml, ../dir/private.yaml, ../dir/absent.yaml, typo.yaml]\n',
  );
  const r = await build(root, 'app', { namespace: 'team', scopeOf: wellKnownScope });
  assert.equal(r.ok, false);
  const byFile = new Map((r.ok ? [] : r.problems).map((p) => [p.file, p.message]));
  const refused = 'file points outside the repository or to nothing (symlink), refused';
  for (const f of ['exists', 'absent', 'hop-exists', 'hop-absent'])
    assert.equal(byFile.get(`app/${f}.yaml`), refused, f);
  assert.equal(byFile.get('dir/private.yaml'), refused);
  assert.equal(byFile.get('dir/absent.yaml'), refused);
  assert.equal(byFile.get('app/typo.yaml'), 'file does not exist in the repository');
});

test('messages a repository controls are clipped to what a status condition can hold', async () => {
  // The CRD allows 32 KiB per condition message: a longer one makes the API server refuse the status
  // patch, and the GitSync would never show why it fails.
  const kind = 'K'.repeat(50_000);
  const r = assemble(
    await docs(
      Array.from({ length: 5 }, (_, i) => `apiVersion: v1\nkind: ${kind}\nmetadata: {name: n${i}}\n`).join(
        '---\n',
      ),
    ),
    { namespace: 'team', scopeOf: wellKnownScope },
  );
  const msg = problems(r);
  assert.ok(msg.length < 8000, `${msg.length} characters`);
  assert.match(msg, /more characters\)/);
  const status = nextStatus({
    previous: {},
    generation: 1,
    outcome: { ok: false, reason: 'ApplyFailed', message: 'x'.repeat(100_000), stalled: false },
    canaries: [],
    now: new Date(),
  });
  for (const c of status.conditions ?? []) assert.ok((c.message ?? '').length <= 32_768, c.type);
});

test('a tree of very many entries (YAML or not) is refused instead of walked', async () => {
  const root = await mkdtemp(join(tmpdir(), 'weir-hostile-'));
  dirs.push(root);
  for (let d = 0; d < 4; d++) {
    await mkdir(join(root, `d${d}`));
    for (let i = 0; i < 10; i++) await writeFile(join(root, `d${d}`, `f${i}.txt`), '');
  }
  await writeFile(join(root, 'a.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
  const limits = { ...DEFAULT_LIMITS, maxFiles: 3 };
  assert.match(
    problems(await build(root, '.', { namespace: 'team', scopeOf: wellKnownScope }, limits)),
    /more than 30 directory entries under the path, refused/,
  );
  assert.ok((await build(root, '.', { namespace: 'team', scopeOf: wellKnownScope })).ok);
});
