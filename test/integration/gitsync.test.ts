// GitSync end to end on the real control plane with a real git server on loopback and the whole Weir
// controller (canary controller included) watching one namespace: first sync, prune on and off, a
// broken commit that changes nothing, basic auth without leaking the password, the push receiver
// and its signatures, and hostile repositories.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { commitFiles } from '../cluster/git-server.ts';
import {
  createSecret,
  githubSignature,
  pushTree,
  readyOf,
  startGitSyncWorld,
  type GitSyncWorld,
} from '../cluster/gitsync-kit.ts';
import { waitFor } from '../cluster/proc.ts';

let w: GitSyncWorld;
before(async () => {
  w = await startGitSyncWorld('gitsync');
});
after(async () => w?.stop());

type Meta = {
  metadata: {
    resourceVersion: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: Array<{ manager: string; operation: string; time?: string }>;
  };
};
type Deploy = Meta & {
  spec: { replicas?: number; template: { spec: { containers: Array<{ image: string }> } } };
};
type ConfigMap = Meta & { data?: Record<string, string> };

const cm = (name: string, value = 'v1') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: ${value}\n`;
const deployment = (name: string, image: string, replicas = 2) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: {app: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: app
          image: ${image}
          ports: [{containerPort: 8080}]
`;
const canary = (name: string) => `apiVersion: weir.dev/v1alpha1
kind: Canary
metadata:
  name: ${name}
spec:
  provider: gatewayapi
  targetRef: {kind: Deployment, name: ${name}}
  service:
    port: 8080
    gatewayRefs: [{name: public, namespace: gateway}]
  analysis:
    interval: 10s
    stepWeight: 20
    maxWeight: 60
    metrics: [{name: request-success-rate, thresholdRange: {min: 95}}]
`;
const getCm = (name: string) => w.object<ConfigMap>('v1', 'ConfigMap', name);
const getDeploy = (name: string) => w.object<Deploy>('apps/v1', 'Deployment', name);
const applied = (sha: string) => (s: { lastAppliedRevision?: string; conditions?: unknown }) =>
  s.lastAppliedRevision === sha && readyOf(s as never)?.status === 'True';

test('first sync applies a Deployment, Service and Canary from a path; inventory and Ready with the SHA', async () => {
  const repo = await w.git.createRepo('first');
  const sha = await commitFiles(
    repo.url,
    {
      'clusters/prod/web/deployment.yaml': deployment('web', 'example.com/web:1.0.0'),
      'clusters/prod/web/service.yaml':
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: web-external\nspec:\n  selector: {app: web-primary}\n  ports: [{port: 80, targetPort: 8080}]\n',
      'clusters/prod/web/canary.yaml': canary('web'),
      // A Service named like the one Weir generates for the Canary: Weir's once it exists.
      'clusters/prod/web/generated.yaml':
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: web-canary\nspec:\n  selector: {app: from-git}\n  ports: [{port: 8080}]\n',
      'clusters/staging/other.yaml': cm('not-this-path'),
    },
    'web',
  );
  await w.apply('first', { url: repo.url, path: 'clusters/prod', interval: '1h' });
  const gs = await w.wait('first', 'applied', applied(sha));
  const ready = readyOf(gs.status)!;
  assert.match(ready.message ?? '', new RegExp(`main@${sha}`), 'Ready names the commit SHA');
  assert.deepEqual(gs.status?.inventory?.map((e) => `${e.kind}/${e.name}`).sort(), [
    'Canary/web',
    'Deployment/web',
    'Service/web-canary',
    'Service/web-external',
  ]);
  assert.equal(await getCm('not-this-path'), undefined, 'only spec.path is applied');
  const web = (await getDeploy('web'))!;
  assert.equal(web.metadata.labels?.['weir.dev/gitsync-name'], 'first');
  assert.ok(web.metadata.managedFields?.some((m) => m.manager === 'weir-gitsync' && m.operation === 'Apply'));
  assert.equal(
    web.metadata.annotations?.['weir.dev/git-revision'],
    sha,
    'canary target carries its Git revision',
  );
  await w.waitEvent(
    'first',
    'Applied … created',
    (e) => e.reason === 'Applied' && e.message.includes('created'),
  );

  // The canary controller takes the target over: primary with Git's replicas, target at 0.
  await waitFor(
    'canary web Initialized',
    async () =>
      (await w.object<{ status?: { phase?: string } }>('weir.dev/v1alpha1', 'Canary', 'web'))?.status
        ?.phase === 'Initialized',
    60_000,
  );
  assert.equal(
    (await getDeploy('web-primary'))?.spec.replicas,
    2,
    'the primary copied the replicas Git created the target with',
  );
  assert.equal((await getDeploy('web'))?.spec.replicas, 0);

  // Syncing the same revision again writes nothing and does not take spec.replicas back.
  const before = (await getDeploy('web'))!;
  const svcBefore = (await w.object<Meta>('v1', 'Service', 'web-external'))!;
  const appliedEvents = async () => (await w.events('first')).filter((e) => e.reason === 'Applied').length;
  const eventsBefore = await appliedEvents();
  const canBefore = (await w.object<Meta>('weir.dev/v1alpha1', 'Canary', 'web'))!;
  for (let i = 0; i < 3; i++) await w.syncNow('first');
  const afterSync = (await getDeploy('web'))!;
  assert.equal(afterSync.spec.replicas, 0, 'Weir keeps owning the target replicas');
  assert.equal(afterSync.metadata.generation, before.metadata.generation, 'no spec write on the target');
  const gitsyncTime = (d: Meta) => d.metadata.managedFields?.find((m) => m.manager === 'weir-gitsync')?.time;
  assert.deepEqual(gitsyncTime(afterSync), gitsyncTime(before), 'weir-gitsync wrote nothing on the target');
  assert.equal(
    (await w.object<Meta>('v1', 'Service', 'web-external'))!.metadata.resourceVersion,
    svcBefore.metadata.resourceVersion,
  );
  assert.equal(
    (await w.object<Meta>('weir.dev/v1alpha1', 'Canary', 'web'))!.metadata.generation,
    canBefore.metadata.generation,
  );
  assert.equal(
    await appliedEvents(),
    eventsBefore,
    'no object was written (an Applied event names every write)',
  );
  type Svc = Meta & { spec: { selector: Record<string, string> } };
  const generated = (await w.object<Svc>('v1', 'Service', 'web-canary'))!;
  assert.equal(generated.metadata.labels?.['app.kubernetes.io/managed-by'], 'weir');
  assert.deepEqual(generated.spec.selector, { app: 'web' }, "Weir's selector, not Git's");
  // A Skipped event names the Weir-managed object.
  await w.waitEvent(
    'first',
    'Skipped naming web-canary',
    (e) => e.reason === 'Skipped' && e.message.includes('Service ' + w.ns + '/web-canary'),
  );
  const gs2 = await w.get('first');
  assert.ok(!gs2.status?.inventory?.some((e) => e.name === 'web-canary'), 'left out of the inventory');
  assert.deepEqual(gs2.status?.canaries, [
    { name: 'web', namespace: w.ns, phase: 'Initialized', gitRevision: sha },
  ]);
});

test('a commit removing an object prunes it with prune: true and leaves it with prune: false', async () => {
  const repo = await w.git.createRepo('prune');
  const first = await commitFiles(
    repo.url,
    {
      'on/a.yaml': cm('on-a'),
      'on/b.yaml': cm('on-b'),
      'off/a.yaml': cm('off-a'),
      'off/b.yaml': cm('off-b'),
    },
    'four',
  );
  await w.apply('prune-on', { url: repo.url, path: 'on', prune: true, interval: '1h' });
  await w.apply('prune-off', { url: repo.url, path: 'off', interval: '1h' });
  await Promise.all(['prune-on', 'prune-off'].map((n) => w.wait(n, 'first commit', applied(first))));
  const second = await commitFiles(repo.url, { 'on/b.yaml': null, 'off/b.yaml': null }, 'drop b');
  await Promise.all(['prune-on', 'prune-off'].map((n) => w.syncNow(n)));
  const on = await w.wait('prune-on', 'second commit', applied(second));
  const off = await w.wait('prune-off', 'second commit', applied(second));
  assert.equal(await getCm('on-b'), undefined, 'pruned');
  assert.ok(await getCm('on-a'));
  assert.ok(await getCm('off-b'), 'kept without prune');
  assert.deepEqual(
    on.status?.inventory?.map((e) => e.name),
    ['on-a'],
  );
  assert.deepEqual(
    off.status?.inventory?.map((e) => e.name),
    ['off-a'],
    'inventory is what Git holds',
  );
  await w.waitEvent(
    'prune-on',
    'Pruned ConfigMap',
    (e) => e.reason === 'Pruned' && e.message.includes('ConfigMap'),
  );
  assert.ok(!(await w.events('prune-off')).some((e) => e.reason === 'Pruned'));
});

test('drift on a field Git sets is reverted at the next sync; fields Git does not set are left alone', async () => {
  const repo = await w.git.createRepo('drift');
  const sha = await commitFiles(repo.url, { 'd.yaml': cm('drifted', 'from-git') }, 'drift');
  await w.apply('drift', { url: repo.url, interval: '1h' });
  await w.wait('drift', 'applied', applied(sha));
  await w.kube.mergePatch(
    { apiVersion: 'v1', kind: 'ConfigMap', namespace: w.ns, name: 'drifted' },
    { data: { value: 'edited-by-hand', extra: 'kept' } },
  );
  await w.syncNow('drift');
  const now = await getCm('drifted');
  assert.equal(now?.data?.value, 'from-git', 'drift reverted');
  assert.equal(now?.data?.extra, 'kept', 'a field Git does not own stays');
  await w.waitEvent(
    'drift',
    'Applied … configured ConfigMap',
    (e) => e.reason === 'Applied' && e.message.includes('configured ConfigMap'),
  );
});

test('two GitSyncs claiming one object: the second fails clearly and does not take it over', async () => {
  const repo = await w.git.createRepo('claims');
  const sha = await commitFiles(
    repo.url,
    { 'one/c.yaml': cm('claimed', 'one'), 'two/c.yaml': cm('claimed', 'two') },
    'c',
  );
  await w.apply('claim-one', { url: repo.url, path: 'one', interval: '1h' });
  await w.wait('claim-one', 'applied', applied(sha));
  await w.apply('claim-two', { url: repo.url, path: 'two', interval: '1h' });
  const two = await w.wait('claim-two', 'refused', (s) => readyOf(s)?.status === 'False');
  assert.equal(readyOf(two.status)?.reason, 'ApplyFailed');
  assert.match(
    readyOf(two.status)?.message ?? '',
    new RegExp(
      `ConfigMap ${w.ns}/claimed \\(two/c\\.yaml:1\\): already applied by GitSync ${w.ns}/claim-one`,
    ),
  );
  assert.equal((await getCm('claimed'))?.data?.value, 'one');
});

test('a commit with one broken YAML file applies and prunes nothing, names the file; the next good commit recovers', async () => {
  const repo = await w.git.createRepo('broken');
  const good = await commitFiles(
    repo.url,
    { 'app/a.yaml': cm('br-a', 'one'), 'app/b.yaml': cm('br-b') },
    'good',
  );
  await w.apply('broken', { url: repo.url, path: 'app', prune: true, interval: '1h' });
  await w.wait('broken', 'good commit', applied(good));
  const bad = await commitFiles(
    repo.url,
    {
      'app/a.yaml': cm('br-a', 'two'),
      'app/b.yaml': null,
      'app/c.yaml': cm('br-c'),
      'app/zz-broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: br-z\ndata:\n  key: x: y\n',
    },
    'bad',
  );
  const failed = await w.syncNow('broken');
  const ready = readyOf(failed.status)!;
  assert.equal(ready.status, 'False');
  assert.equal(ready.reason, 'BuildFailed');
  assert.match(ready.message ?? '', /app\/zz-broken\.yaml:6:\d+: /, 'names file and line');
  assert.equal(failed.status?.lastAttemptedRevision, bad);
  assert.equal(failed.status?.lastAppliedRevision, good);
  assert.equal(failed.status?.conditions?.find((c) => c.type === 'Stalled')?.status, 'True');
  assert.equal((await getCm('br-a'))?.data?.value, 'one', 'nothing applied');
  assert.equal(await getCm('br-c'), undefined, 'nothing created');
  assert.ok(await getCm('br-b'), 'nothing pruned');
  await w.waitEvent(
    'broken',
    'Warning BuildFailed',
    (e) => e.type === 'Warning' && e.reason === 'BuildFailed',
  );

  const fixed = await commitFiles(repo.url, { 'app/zz-broken.yaml': cm('br-z') }, 'fix');
  await w.syncNow('broken');
  const ok = await w.wait('broken', 'fixed commit', applied(fixed));
  assert.equal((await getCm('br-a'))?.data?.value, 'two');
  assert.ok(await getCm('br-c'));
  assert.ok(await getCm('br-z'));
  assert.equal(await getCm('br-b'), undefined, 'pruned once the build is good');
  assert.equal(ok.status?.conditions?.find((c) => c.type === 'Stalled')?.status, 'False');
});

test('basic-auth https repository: works with the Secret, fails clearly without it, never leaks the password', async () => {
  const auth = { username: 'deploy', password: 'Pw-7f3c9e1d-never-print-me' };
  const basic = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  // A slow remote (every answer 300 ms late) keeps each git fetch alive long enough to be sampled.
  const repo = await w.git.createRepo('private', { auth, delayMs: 300 });
  const sha = await commitFiles(repo.url, { 'x.yaml': cm('private-cm') }, 'private', { auth });
  await createSecret(w, 'git-creds', auth);
  await createSecret(w, 'git-wrong', { username: 'deploy', password: 'wrong-password' });

  // Watch the process list while git runs: the password must not be on any command line.
  const seen: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const pid of await readdir('/proc').catch(() => [])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (/(^|\/)git/.test(cmd)) seen.push(cmd.replace(/\0/g, ' '));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await w.apply('auth-ok', { url: repo.url, secretRef: { name: 'git-creds' }, interval: '1h' });
  await w.apply('auth-none', { url: repo.url, interval: '1h' });
  await w.apply('auth-wrong', { url: repo.url, secretRef: { name: 'git-wrong' }, interval: '1h' });
  await w.apply('auth-missing', { url: repo.url, secretRef: { name: 'no-such-secret' }, interval: '1h' });
  await w.wait('auth-ok', 'applied', applied(sha));
  for (const n of ['auth-none', 'auth-wrong']) {
    const g = await w.wait(n, 'failed', (s) => readyOf(s)?.status === 'False');
    assert.equal(readyOf(g.status)?.reason, 'AuthenticationFailed', n);
    assert.match(
      readyOf(g.status)?.message ?? '',
      /authentication to http:\/\/127\.0\.0\.1:\d+\/private\.git failed \(check spec\.secretRef\)/,
    );
    assert.equal(g.status?.conditions?.find((c) => c.type === 'Reconciling')?.status, 'True', 'retrying');
  }
  const missing = await w.wait('auth-missing', 'failed', (s) => readyOf(s)?.status === 'False');
  assert.equal(readyOf(missing.status)?.reason, 'SecretNotFound');
  // Sync again until the sampler has seen an authenticated fetch (fetches of a tiny repo are quick).
  for (let i = 0; i < 20 && !seen.some((c) => c.includes('private.git')); i++) await w.syncNow('auth-ok');
  sampling = false;
  await sampler;
  assert.ok(await getCm('private-cm'));
  assert.ok(
    seen.some((c) => c.includes('private.git')),
    'the sampler saw git fetching the private repo',
  );

  const haystacks = {
    'process list': seen.join('\n'),
    'controller log': await readFile(w.logFile, 'utf8'),
    events: JSON.stringify(await Promise.all(['auth-ok', 'auth-none', 'auth-wrong'].map((n) => w.events(n)))),
    status: JSON.stringify(await Promise.all(['auth-ok', 'auth-none', 'auth-wrong'].map((n) => w.get(n)))),
  };
  for (const [where, text] of Object.entries(haystacks)) {
    assert.ok(!text.includes(auth.password), `password in ${where}`);
    assert.ok(!text.includes(basic), `basic credentials in ${where}`);
    assert.ok(!text.includes('wrong-password'), `wrong password in ${where}`);
  }
});

test('receiver: a signed push syncs within a second; forged or unsigned requests get 401 and sync nothing', async () => {
  const repo = await w.git.createRepo('hooked');
  const first = await commitFiles(repo.url, { 'h.yaml': cm('hooked', 'one') }, 'one');
  await createSecret(w, 'hook-token', { token: 'hook-s3cret' });
  await w.apply('hooked', { url: repo.url, interval: '1h', webhookSecretRef: { name: 'hook-token' } });
  await w.wait('hooked', 'first', applied(first));
  const url = `${w.http}/hooks/gitsync/${w.ns}/hooked`;
  const post = (headers: Record<string, string>, body = '{"ref":"refs/heads/main"}') =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  const second = await commitFiles(repo.url, { 'h.yaml': cm('hooked', 'two') }, 'two');
  const body = JSON.stringify({ ref: 'refs/heads/main', after: second });
  const t0 = Date.now();
  const res = await post(
    { 'x-hub-signature-256': githubSignature(body, 'hook-s3cret'), 'x-github-event': 'push' },
    body,
  );
  assert.equal(res.status, 202);
  await w.wait('hooked', 'second applied', applied(second), 20_000);
  // Under 1 s on an idle machine (see the bench); the bound here allows for a loaded CI host, and is
  // still far below the 1h interval, so only the webhook can have triggered it.
  const ms = Date.now() - t0;
  assert.ok(ms < 60_000, `webhook to applied took ${ms} ms`);
  console.log(`# webhook -> applied: ${ms} ms`);
  assert.equal((await getCm('hooked'))?.data?.value, 'two');

  const third = await commitFiles(repo.url, { 'h.yaml': cm('hooked', 'three') }, 'three');
  const forged: Array<Record<string, string>> = [
    { 'x-hub-signature-256': githubSignature(body, 'not-the-token') },
    { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) },
    { 'x-gitlab-token': 'hook-s3cret-but-longer' },
    { 'x-gitea-signature': 'deadbeef' },
    { 'x-signature': githubSignature('other body', 'hook-s3cret') },
    {},
  ];
  for (const h of forged) assert.equal((await post(h, body)).status, 401, JSON.stringify(h));
  const other = await fetch(`${w.http}/hooks/gitsync/${w.ns}/no-such-gitsync`, {
    method: 'POST',
    headers: { 'x-hub-signature-256': githubSignature(body, 'hook-s3cret') },
    body,
  });
  assert.equal(other.status, 401);
  await new Promise((r) => setTimeout(r, 1500));
  const still = await w.get('hooked');
  assert.equal(still.status?.lastAttemptedRevision, second, 'forged requests triggered nothing');
  assert.equal((await getCm('hooked'))?.data?.value, 'two');

  // The other providers' forms each trigger a sync.
  const hmac = githubSignature(body, 'hook-s3cret');
  const forms: Array<Record<string, string>> = [
    { 'x-gitlab-token': 'hook-s3cret' },
    { 'x-gitea-signature': hmac.slice(7) },
    { 'x-signature': hmac },
  ];
  let expected = third;
  for (const [i, h] of forms.entries()) {
    if (i > 0) expected = await commitFiles(repo.url, { 'h.yaml': cm('hooked', `v${i}`) }, `v${i}`);
    assert.equal((await post(h, body)).status, 202, JSON.stringify(h));
    await w.wait('hooked', `applied via ${Object.keys(h)[0]}`, applied(expected), 20_000);
  }
});

test('CRDs go first: a CRD and a custom resource of its kind in one commit both apply, and both prune', async () => {
  const group = `g${Date.now().toString(36)}.weir-test.dev`;
  const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
`;
  const repo = await w.git.createRepo('crds');
  const sha = await commitFiles(
    repo.url,
    {
      'a-widget.yaml': `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n`,
      'z-crd.yaml': crd,
    },
    'crd + cr',
  );
  try {
    await w.apply('crds', { url: repo.url, prune: true, interval: '1h' });
    const g = await w.wait('crds', 'applied', applied(sha), 60_000);
    assert.deepEqual(g.status?.inventory?.map((e) => e.kind).sort(), ['CustomResourceDefinition', 'Widget']);
    const widget = await w.object<{ spec: { size: number } }>(`${group}/v1`, 'Widget', 'w1');
    assert.equal(widget?.spec.size, 3);
    // Both leave Git: the Widget is deleted before its CRD.
    const gone = await commitFiles(
      repo.url,
      { 'a-widget.yaml': null, 'z-crd.yaml': null, 'keep.yaml': cm('crds-keep') },
      'drop',
    );
    await w.syncNow('crds');
    await w.wait('crds', 'pruned', applied(gone), 30_000);
    await waitFor(
      'CRD gone',
      async () =>
        !(await w.object('apiextensions.k8s.io/v1', 'CustomResourceDefinition', `widgets.${group}`, '')),
      30_000,
    );
  } finally {
    await w.cluster.kubectl(['delete', 'crd', `widgets.${group}`, '--ignore-not-found']);
  }
});

test('hostile repositories are refused with a clear condition and nothing applied', async () => {
  const repo = await w.git.createRepo('hostile');
  const innocent = cm('hostile-innocent');
  const lines = ['x:', '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `  l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(',')}]`,
    );
  const bomb = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n${lines.join('\n')}\n`;
  const cases: Array<{
    branch: string;
    files: Record<string, string | { symlink: string }>;
    path?: string;
    expect: RegExp;
  }> = [
    {
      branch: 'symlink',
      files: { 'a.yaml': innocent, 'passwd.yaml': { symlink: '/etc/passwd' } },
      expect: /passwd\.yaml: symlink points outside the repository/,
    },
    {
      branch: 'dirlink',
      files: { 'a.yaml': innocent, apps: { symlink: '/etc' } },
      path: 'apps',
      expect: /spec\.path apps points outside the repository/,
    },
    {
      branch: 'bomb',
      files: { 'a.yaml': innocent, 'bomb.yaml': bomb },
      expect: /bomb\.yaml:1: too many YAML aliases/,
    },
    {
      branch: 'big',
      files: { 'a.yaml': innocent, 'big.yaml': `${cm('big')}  pad: "${'x'.repeat(5 * 1024 * 1024)}"\n` },
      expect: /big\.yaml: file is \d+ bytes, over the limit of 4194304 bytes/,
    },
    {
      branch: 'typo',
      files: {
        'a.yaml': innocent,
        'typo.yaml': 'apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: t}\n',
      },
      expect: /typo\.yaml:1: Deploymnet t: kind Deploymnet \(apps\/v1\) is not served by the cluster/,
    },
    {
      // Over the 32 KiB a condition message may hold, the status patch would be refused.
      branch: 'longkind',
      files: {
        'a.yaml': innocent,
        'long.yaml': Array.from(
          { length: 5 },
          (_, i) => `apiVersion: v1\nkind: ${'K'.repeat(40_000)}\nmetadata: {name: l${i}}\n`,
        ).join('---\n'),
      },
      expect: /long\.yaml:1: K+… \(\d+ more characters\)/,
    },
    {
      // Discovery goes out with the controller's identity: this would GET a Secret's path.
      branch: 'walk',
      files: {
        'a.yaml': innocent,
        'walk.yaml':
          'apiVersion: ../api/v1/namespaces/kube-system/secrets/x\nkind: Secret\nmetadata: {name: w}\n',
      },
      expect:
        /walk\.yaml:1: Secret w: apiVersion "\.\.\/api\/v1\/namespaces\/kube-system\/secrets\/x" is not a valid API version/,
    },
    {
      branch: 'flowbomb',
      files: {
        'a.yaml': innocent,
        'flow.yaml': `${cm('flow')}list: [${'1,'.repeat(1024 * 1024)}1]\n`,
      },
      expect: /flow\.yaml: a YAML document has more than 500000 tokens/,
    },
  ];
  await Promise.all(
    cases.map(async (c) => {
      await pushTree(repo.url, c.branch, c.files);
      await w.apply(`hostile-${c.branch}`, {
        url: repo.url,
        ref: { branch: c.branch },
        path: c.path ?? '.',
        interval: '1h',
      });
    }),
  );
  for (const c of cases) {
    const g = await w.wait(`hostile-${c.branch}`, 'refused', (s) => readyOf(s)?.status === 'False');
    assert.equal(readyOf(g.status)?.reason, 'BuildFailed', c.branch);
    assert.match(readyOf(g.status)?.message ?? '', c.expect, c.branch);
  }
  assert.equal(await getCm('hostile-innocent'), undefined, 'nothing from a refused build is applied');

  // A path with .. is rejected by the API server itself (CEL), before the controller sees it.
  await assert.rejects(
    w.apply('hostile-dotdot', { url: repo.url, path: 'apps/../../etc' }),
    /path must stay inside the repository/,
  );

  // A server that accepts and never answers: the fetch is abandoned at the timeout, git is killed.
  const sockets: Socket[] = [];
  const tarpit: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
  const port = (tarpit.address() as { port: number }).port;
  try {
    const gitPids = async () => {
      const out: string[] = [];
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmd.startsWith('git') && cmd.includes(`127.0.0.1:${port}`)) out.push(pid);
      }
      return out;
    };
    const t0 = Date.now();
    await w.apply('hostile-slow', {
      url: `http://127.0.0.1:${port}/slow.git`,
      timeout: '2s',
      interval: '1h',
    });
    const hanging = await waitFor(
      'git fetching from the tarpit',
      async () => {
        const p = await gitPids();
        return p.length ? p : undefined;
      },
      10_000,
      50,
    );
    const g = await w.wait('hostile-slow', 'timed out', (s) => readyOf(s)?.status === 'False', 15_000);
    assert.equal(readyOf(g.status)?.reason, 'Timeout');
    assert.match(readyOf(g.status)?.message ?? '', /took longer than the timeout \(2s\) and was abandoned/);
    assert.ok(Date.now() - t0 < 30_000, 'abandoned near the timeout, not at the 1h interval');
    const alive = (await gitPids()).filter((p) => hanging.includes(p));
    assert.deepEqual(alive, [], 'the hanging git processes were killed');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => tarpit.close(r));
  }
});
