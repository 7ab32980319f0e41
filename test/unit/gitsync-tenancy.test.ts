// GitSync tenancy, the pure parts: the controller flags parsed into a policy, the identity a GitSync
// impersonates (always a ServiceAccount of its own namespace), the build refusing objects outside
// the GitSync's namespace and cluster-scoped ones (file and object named, nothing returned to apply),
// the adoption rule for existing objects, file:// URLs behind --allow-file-urls and never into the
// checkouts, private checkout paths, the raw client's Impersonate-User header, the schema's bounds on
// interval/timeout and the clamp on every timer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { validateObject } from '../../src/api/validate.ts';
import { parseConfig } from '../../src/config.ts';
import { ADOPT_ANNOTATION, LABEL_NAME, LABEL_NAMESPACE, adoptionRefusal } from '../../src/gitsync/apply.ts';
import { assemble, describeProblems, parseSources, wellKnownScope } from '../../src/gitsync/build.ts';
import {
  MAX_TIMER_MS,
  OPEN_POLICY,
  checkUrl,
  checkoutDir,
  clampDelay,
  confinementOf,
  impersonationOf,
  isCheckoutOf,
} from '../../src/gitsync/policy.ts';
import { createApiClient } from '../../src/kube/rest.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('controller flags (and WEIR_* env) become the GitSync policy; bad names are refused', () => {
  const c = parseConfig(
    {
      defaultServiceAccount: 'gitsync',
      gitsyncNoCrossNamespace: true,
      gitsyncCrossNamespaceAllowed: 'platform, infra',
      gitsyncClusterScopedAllowed: 'platform',
      allowFileUrls: true,
    },
    {},
  );
  assert.deepEqual(c.gitsync, {
    defaultServiceAccount: 'gitsync',
    noCrossNamespace: true,
    crossNamespaceAllowed: ['platform', 'infra'],
    clusterScopedAllowed: ['platform'],
    allowFileUrls: true,
  });
  const fromEnv = parseConfig(
    {},
    { WEIR_GITSYNC_NO_CROSS_NAMESPACE: 'true', WEIR_DEFAULT_SERVICE_ACCOUNT: 'default' },
  );
  assert.equal(fromEnv.gitsync.noCrossNamespace, true);
  assert.equal(fromEnv.gitsync.defaultServiceAccount, 'default');
  assert.equal(fromEnv.gitsync.allowFileUrls, false, 'file:// is off unless asked for');
  assert.deepEqual(parseConfig({}, {}).gitsync, OPEN_POLICY);
  assert.throws(
    () => parseConfig({ gitsyncCrossNamespaceAllowed: 'Bad_NS' }, {}),
    /--gitsync-cross-namespace-allowed: "Bad_NS" is not a namespace name/,
  );
  assert.throws(() => parseConfig({ defaultServiceAccount: 'A B' }, {}), /--default-service-account/);
});

test('a GitSync impersonates its own ServiceAccount, else the default one, else nobody', () => {
  const p = { ...OPEN_POLICY, defaultServiceAccount: 'locked' };
  assert.equal(impersonationOf('team', 'deployer', p), 'system:serviceaccount:team:deployer');
  assert.equal(impersonationOf('team', undefined, p), 'system:serviceaccount:team:locked');
  assert.equal(impersonationOf('team', undefined, OPEN_POLICY), undefined);
});

const docs = async (text: string) => (await parseSources([{ file: 'apps/all.yaml', text }])).docs;
const repo = `apiVersion: v1
kind: ConfigMap
metadata: {name: own}
---
apiVersion: v1
kind: Secret
metadata: {name: stolen, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: me-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: me}]
`;

test('with --gitsync-no-cross-namespace the build refuses other namespaces and cluster-scoped objects', async () => {
  const policy = { ...OPEN_POLICY, noCrossNamespace: true };
  const r = assemble(await docs(repo), {
    namespace: 'team',
    scopeOf: wellKnownScope,
    confinement: confinementOf('team', policy),
  });
  assert.equal(r.ok, false, 'nothing is returned to apply');
  const msg = r.ok ? '' : describeProblems(r.problems, 10);
  assert.match(
    msg,
    /apps\/all\.yaml:5: Secret stolen in namespace kube-system: outside the GitSync's namespace team \(controller flags --gitsync-no-cross-namespace, --gitsync-cross-namespace-allowed\), refused/,
  );
  assert.match(
    msg,
    /apps\/all\.yaml:9: ClusterRoleBinding me-admin: cluster-scoped objects are not allowed for GitSyncs in namespace team/,
  );
  assert.doesNotMatch(msg, /ConfigMap own/);

  // targetNamespace pointing elsewhere is cross-namespace too.
  const moved = assemble(await docs('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'), {
    namespace: 'team',
    targetNamespace: 'other',
    scopeOf: wellKnownScope,
    confinement: confinementOf('team', policy),
  });
  assert.equal(moved.ok, false);

  // The allow-lists lift each restriction for the namespaces they name, and only for them.
  const trusted = {
    ...policy,
    crossNamespaceAllowed: ['platform'],
    clusterScopedAllowed: ['platform'],
  };
  const ok = assemble(await docs(repo), {
    namespace: 'platform',
    scopeOf: wellKnownScope,
    confinement: confinementOf('platform', trusted),
  });
  assert.ok(ok.ok, ok.ok ? '' : describeProblems(ok.problems));
  assert.deepEqual(confinementOf('team', trusted), { otherNamespaces: false, clusterScoped: false });
  assert.deepEqual(confinementOf('team', { ...policy, crossNamespaceAllowed: ['team'] }), {
    otherNamespaces: true,
    clusterScoped: false,
  });
  // Without the flag nothing is confined (the controller's default; the chart turns it on).
  assert.deepEqual(confinementOf('team', OPEN_POLICY), { otherNamespaces: true, clusterScoped: true });
});

test('adoption: only objects this GitSync applied, or an explicit opt-in, are taken over', () => {
  const opts = { owner: { namespace: 'team', name: 'apps' }, owned: new Set<string>(), adopt: false };
  const key = '/ConfigMap/team/settings';
  const live = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({
    metadata: { name: 'settings', namespace: 'team', labels, annotations },
  });
  assert.equal(adoptionRefusal(undefined, key, opts), undefined, 'creating is not adopting');
  assert.match(
    adoptionRefusal(live(), key, opts) ?? '',
    /exists and was not applied by this GitSync; refused to take it over \(annotate the object weir\.dev\/gitsync-adopt: "true" or set spec\.adopt: true/,
  );
  assert.equal(
    adoptionRefusal(live({ [LABEL_NAME]: 'apps', [LABEL_NAMESPACE]: 'team' }), key, opts),
    undefined,
  );
  assert.equal(adoptionRefusal(live(), key, { ...opts, owned: new Set([key]) }), undefined);
  assert.equal(adoptionRefusal(live({}, { [ADOPT_ANNOTATION]: 'true' }), key, opts), undefined);
  assert.ok(adoptionRefusal(live({}, { [ADOPT_ANNOTATION]: 'yes' }), key, opts), 'only "true" opts in');
  assert.equal(adoptionRefusal(live(), key, { ...opts, adopt: true }), undefined);
  // A GitSync of the same name in another namespace does not make it ours.
  assert.ok(adoptionRefusal(live({ [LABEL_NAME]: 'apps', [LABEL_NAMESPACE]: 'other' }), key, opts));
});

test('file:// URLs only with --allow-file-urls, and never into the checkouts; checkouts are per uid', async () => {
  const root = await mkdtemp(join(tmpdir(), 'weir-policy-'));
  dirs.push(root);
  assert.match(
    checkUrl('file:///srv/git/app.git', OPEN_POLICY, root) ?? '',
    /file:\/\/ URLs are disabled on this controller .* --allow-file-urls/,
  );
  assert.equal(checkUrl('https://git.example.com/a.git', OPEN_POLICY, root), undefined);
  const allow = { ...OPEN_POLICY, allowFileUrls: true };
  assert.equal(checkUrl('file:///srv/git/app.git', allow, root), undefined);
  const other = checkoutDir(root, 'team-b', 'apps', '0f4d1a57-57c4-4d44-9d4c-2b3c4d5e6f70');
  assert.equal(other, join(root, 'team-b', 'apps-0f4d1a57-57c4-4d44-9d4c-2b3c4d5e6f70'));
  assert.match(
    checkUrl(`file://${other}`, allow, root) ?? '',
    /may not point into the controller's GitSync checkouts/,
  );
  assert.match(checkUrl(`FILE://${root}/../${root.split('/').pop()}/x`, allow, root) ?? '', /checkouts/);
  assert.ok(isCheckoutOf('apps-0f4d1a57-57c4-4d44-9d4c-2b3c4d5e6f70', 'apps'));
  assert.ok(!isCheckoutOf('apps-b-0f4d1a57-57c4-4d44-9d4c-2b3c4d5e6f70', 'apps'), "another GitSync's");
});

test('the raw client sends Impersonate-User on every object call, not on discovery', async () => {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1')
      return res.end(
        JSON.stringify({ resources: [{ kind: 'ConfigMap', name: 'configmaps', namespaced: true }] }),
      );
    if (req.method === 'GET' && req.url?.includes('labelSelector')) return res.end('{"items":[]}');
    res.statusCode = req.method === 'GET' ? 404 : 200;
    res.end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'controller-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const api = createApiClient(kc);
  try {
    const tenant = api.impersonate('system:serviceaccount:team:deployer');
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team', name: 'x' };
    await tenant.get(ref);
    await tenant.list('v1', 'ConfigMap', 'team', 'a=b');
    await tenant.apply(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'team' } },
      'm',
    );
    await tenant.remove(ref);
    await api.get(ref);
    const calls = seen.map(
      (s) => `${s.method} ${s.url!.split('?')[0]} ${s.headers['impersonate-user'] ?? '-'}`,
    );
    assert.deepEqual(calls, [
      'GET /api/v1 -',
      'GET /api/v1/namespaces/team/configmaps/x system:serviceaccount:team:deployer',
      'GET /api/v1/namespaces/team/configmaps system:serviceaccount:team:deployer',
      'PATCH /api/v1/namespaces/team/configmaps/x system:serviceaccount:team:deployer',
      'DELETE /api/v1/namespaces/team/configmaps/x system:serviceaccount:team:deployer',
      'GET /api/v1/namespaces/team/configmaps/x -',
    ]);
    assert.equal(api.writes, 2, 'the write count is shared');
  } finally {
    api.close();
    server.close();
  }
});

test('interval and timeout have upper bounds in the schema (24h, 1h)', () => {
  const gs = (spec: Record<string, unknown>) =>
    validateObject({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: 'g', namespace: 'n' },
      spec: { url: 'https://git.example.com/a.git', ...spec },
    }).problems.map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(gs({ interval: '24h', timeout: '1h' }), []);
  assert.match(gs({ interval: '25h' }).join('\n'), /interval must be at most 24h/);
  assert.match(gs({ interval: '720h' }).join('\n'), /interval must be at most 24h/);
  assert.match(gs({ timeout: '61m' }).join('\n'), /timeout must be at most 1h/);
  assert.deepEqual(gs({ serviceAccountName: 'deployer', adopt: true }), []);
  assert.notDeepEqual(gs({ serviceAccountName: 'Not_A_Name' }), []);
});

test('every GitSync timer is clamped below setTimeout 2^31-1 ms overflow (which fires at once)', async () => {
  const thirtyDays = 30 * 24 * 3600 * 1000;
  assert.equal(clampDelay(thirtyDays), MAX_TIMER_MS);
  assert.equal(clampDelay(Number.POSITIVE_INFINITY), MAX_TIMER_MS);
  assert.equal(clampDelay(Number.NaN), MAX_TIMER_MS, 'never a 1 ms spin');
  assert.equal(clampDelay(-5), 0);
  assert.equal(clampDelay(1500), 1500);
  // What the clamp prevents: Node fires an overflowing delay after 1 ms; the clamped one waits.
  const fired = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(true), ms);
      setTimeout(() => {
        clearTimeout(t);
        resolve(false);
      }, 100);
    });
  const origWarn = process.emitWarning;
  process.emitWarning = () => {}; // TimeoutOverflowWarning for the unclamped demonstration
  try {
    assert.equal(await fired(thirtyDays), true, 'unclamped: fires almost at once');
  } finally {
    process.emitWarning = origWarn;
  }
  assert.equal(await fired(clampDelay(thirtyDays)), false, 'clamped: waits');
});
