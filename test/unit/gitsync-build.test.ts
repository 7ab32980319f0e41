// GitSync's build on real temp directories: what is read (recursive YAML, kustomization resources),
// how namespaces are settled, and every way a repository is refused before anything is applied —
// broken YAML (file and line named), duplicates, missing identity, invalid Weir objects, unknown
// kinds, symlinks and paths leaving the repository, alias bombs and oversized files.
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_LIMITS,
  build,
  describeProblems,
  wellKnownScope,
  type BuildResult,
  type Desired,
} from '../../src/gitsync/build.ts';
import { cm, tempRepos } from '../fixtures/temp-repo.ts';

const repo = tempRepos('weir-build-');

const opts = { namespace: 'team', scopeOf: wellKnownScope };

function objects(r: BuildResult): Desired[] {
  assert.ok(r.ok, r.ok ? '' : describeProblems(r.problems));
  return r.objects;
}

function problems(r: BuildResult): string {
  assert.equal(r.ok, false, 'the build must fail');
  return r.ok ? '' : describeProblems(r.problems, 20);
}

test('reads every YAML document under path recursively, skipping other files and dot directories', async () => {
  const root = await repo({
    'apps/a.yaml': `${cm('a')}---\n${cm('b')}`,
    'apps/nested/deeper/c.yml': cm('c'),
    'apps/README.md': 'not yaml',
    'apps/.github/workflow.yaml': cm('ci'),
    'apps/empty.yaml': '---\n# only a comment\n---\n',
    'other/d.yaml': cm('d'),
  });
  const got = objects(await build(root, 'apps', opts));
  assert.deepEqual(
    got.map((d) => (d.obj.metadata as { name: string }).name),
    ['a', 'b', 'c'],
  );
  assert.equal(got[1]!.file, 'apps/a.yaml');
  assert.equal(got[1]!.line, 8, 'line of the second document');
});

test('namespaces: the GitSync namespace or targetNamespace for those naming none; cluster-scoped keep none', async () => {
  const root = await repo({
    'a.yaml': `${cm('plain')}---\n${cm('pinned', '  namespace: elsewhere\n')}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n  namespace: ignored\n`,
  });
  const ns = (r: Desired[]) => r.map((d) => (d.obj.metadata as { namespace?: string }).namespace);
  assert.deepEqual(ns(objects(await build(root, '.', opts))), ['team', 'elsewhere', undefined]);
  assert.deepEqual(ns(objects(await build(root, '.', { ...opts, targetNamespace: 'prod' }))), [
    'prod',
    'elsewhere',
    undefined,
  ]);
});

test('a broken YAML file fails the whole build and names file, line and column', async () => {
  const root = await repo({
    'apps/good.yaml': cm('good'),
    // line 8 of the file: the second document's data has a nested mapping in a compact one
    'apps/broken.yaml': `${cm('first')}---\napiVersion: v1\nkind: ConfigMap\ndata:\n  bad: x: y\n`,
    'apps/also-broken.yaml': 'a: 1\na: 2\n',
    'apps/tabs.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\n\tlabels: {}\n',
  });
  const msg = problems(await build(root, 'apps', opts));
  assert.match(msg, /apps\/broken\.yaml:11:8: Nested mappings are not allowed/);
  assert.match(msg, /apps\/also-broken\.yaml:2:1: Map keys must be unique/);
  assert.match(msg, /apps\/tabs\.yaml:5:1: Tabs are not allowed as indentation/);
  assert.doesNotMatch(msg, /good\.yaml/);
});

test('objects need apiVersion, kind and metadata.name; documents must be mappings', async () => {
  const root = await repo({
    'a.yaml':
      'kind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\n- 1\n',
  });
  const msg = problems(await build(root, '.', opts));
  assert.match(msg, /a\.yaml:1: object without apiVersion/);
  assert.match(msg, /a\.yaml:5: object without metadata\.name/);
  assert.match(msg, /a\.yaml:9: a document must be a mapping/);
});

test('a duplicate object names both places; the same name in two namespaces is fine', async () => {
  const root = await repo({
    'one.yaml': cm('dup'),
    'two/two.yaml': `${cm('dup')}---\n${cm('dup', '  namespace: other\n')}`,
  });
  assert.match(
    problems(await build(root, '.', opts)),
    /two\/two\.yaml:1: ConfigMap dup in team is also defined at one\.yaml:1/,
  );
});

test('Weir objects are validated with the CRD schema and its CEL rules', async () => {
  const root = await repo({
    'canary.yaml':
      'apiVersion: weir.dev/v1alpha1\nkind: Canary\nmetadata:\n  name: web\nspec:\n  targetRef: {kind: Deployment, name: web}\n  service: {port: 80}\n  analysis: {interval: 1m, stepWeight: 10, maxWeight: 200}\n',
  });
  assert.match(problems(await build(root, '.', opts)), /canary\.yaml:1: Canary web is invalid: .*maxWeight/);
});

test('an unknown kind is refused unless a CRD in the same build defines it (with its scope)', async () => {
  const widget = 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n';
  const crd =
    'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: {kind: Widget, plural: widgets}\n  versions: [{name: v1, served: true, storage: true}]\n';
  assert.match(
    problems(await build(await repo({ 'w.yaml': widget }), '.', opts)),
    /Widget w: kind Widget \(example\.com\/v1\) is not served by the cluster/,
  );
  const got = objects(await build(await repo({ 'w.yaml': widget, 'crd.yaml': crd }), '.', opts));
  const w = got.find((d) => d.obj.kind === 'Widget')!;
  assert.equal((w.obj.metadata as { namespace?: string }).namespace, undefined, 'cluster-scoped per the CRD');
});

test('kubectl List objects are unwrapped; server-owned fields are dropped', async () => {
  const root = await repo({
    'list.yaml': `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: l1, uid: x, resourceVersion: "5"}\n  status: {a: 1}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: l2}\n`,
  });
  const got = objects(await build(root, '.', opts));
  assert.deepEqual(
    got.map((d) => (d.obj.metadata as { name: string }).name),
    ['l1', 'l2'],
  );
  assert.deepEqual(got[0]!.obj.metadata, { name: 'l1', namespace: 'team' });
  assert.equal(got[0]!.obj.status, undefined);
});

test('a kustomization.yaml limits the build to its resources (files and directories)', async () => {
  const root = await repo({
    'app/kustomization.yaml': 'resources:\n  - deploy.yaml\n  - ../shared\n',
    'app/deploy.yaml': cm('listed'),
    'app/unlisted.yaml': cm('unlisted'),
    'shared/kustomization.yaml':
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [s.yaml]\n',
    'shared/s.yaml': cm('shared'),
    'shared/ignored.yaml': cm('ignored'),
  });
  const got = objects(await build(root, 'app', opts));
  assert.deepEqual(got.map((d) => (d.obj.metadata as { name: string }).name).sort(), ['listed', 'shared']);
});

test('kustomization features that would change objects, remote and outside resources are refused', async () => {
  const root = await repo({
    'kustomization.yaml':
      'resources: [a.yaml, "https://github.com/x/y//base", ../../etc]\nimages: [{name: a, newTag: b}]\n',
    'a.yaml': cm('a'),
  });
  const msg = problems(await build(root, '.', opts));
  assert.match(msg, /kustomization\.yaml: kustomization fields images are not supported/);
  assert.match(msg, /remote resource https:\/\/github\.com\/x\/y\/\/base is not supported/);
  assert.match(msg, /resource \.\.\/\.\.\/etc is outside the repository, refused/);
});

test('symlinks that leave the repository are refused; those inside are followed', async () => {
  const outside = await repo({ 'secret.yaml': cm('stolen') });
  const root = await repo({ 'apps/real/a.yaml': cm('a') });
  await symlink(join(outside, 'secret.yaml'), join(root, 'apps', 'evil.yaml'));
  await symlink(outside, join(root, 'apps', 'evildir'));
  await symlink('real', join(root, 'apps', 'alias'));
  const msg = problems(await build(root, 'apps', opts));
  assert.match(msg, /apps\/evil\.yaml: symlink points outside the repository/);
  assert.match(msg, /apps\/evildir: symlink points outside the repository/);
  assert.doesNotMatch(msg, /stolen/);

  const clean = await repo({ 'apps/real/a.yaml': cm('a') });
  await symlink('real', join(clean, 'apps', 'alias'));
  await symlink('../real/a.yaml', join(clean, 'apps', 'real', 'link.yaml'));
  assert.equal(objects(await build(clean, 'apps', opts)).length, 1, 'a file reached twice is read once');
});

test('a path outside the repository (.. or a symlink out) or missing is refused', async () => {
  const outside = await repo({ 'x.yaml': cm('x') });
  const root = await repo({ 'a.yaml': cm('a') });
  await symlink(outside, join(root, 'out'));
  assert.match(problems(await build(root, '../', opts)), /spec\.path \.\.\/ is outside the repository/);
  assert.match(problems(await build(root, 'out', opts)), /spec\.path out points outside the repository/);
  assert.match(problems(await build(root, 'nope', opts)), /nope: spec\.path nope does not exist/);
});

test('a YAML alias bomb is refused as a resource exhaustion attack', async () => {
  const lines = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: bomb}',
    'x:',
    '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ];
  let prev = 'a';
  for (const n of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']) {
    lines.push(`  ${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]`);
    prev = n;
  }
  const root = await repo({ 'bomb.yaml': `${lines.join('\n')}\n` });
  const t0 = Date.now();
  assert.match(problems(await build(root, '.', opts)), /bomb\.yaml:1: too many YAML aliases/);
  assert.ok(Date.now() - t0 < 10_000, 'refused quickly, not expanded');
});

test('files over the size limit are refused (and not parsed)', async () => {
  const root = await repo({
    'big.yaml': cm('big', `  annotations: {pad: "${'x'.repeat(5000)}"}\n`),
    'ok.yaml': cm('ok'),
  });
  const limits = { ...DEFAULT_LIMITS, maxFileBytes: 4096 };
  assert.match(
    problems(await build(root, '.', opts, limits)),
    /big\.yaml: file is \d+ bytes, over the limit of 4096 bytes/,
  );
  assert.equal(DEFAULT_LIMITS.maxFileBytes, 4 * 1024 * 1024);
});
