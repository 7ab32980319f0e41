// The chart's dashboard option: off by default; on, it adds a listener, a Service and a ClusterRole
// granting create on tokenreviews and subjectaccessreviews and nothing more (the controller's own
// rules are unchanged). Proven on the real API server: the chart's ServiceAccount can review tokens
// and access with the option and is refused without it, and a dashboard running with exactly those
// credentials logs a user in and shows the list.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import { startClusterDashboard } from '../../src/dashboard/serve.ts';
import { loadKubeConfig, statusCode } from '../../src/kube/client.ts';
import { silentLogger } from '../../src/log.ts';
import { createNamespace } from '../cluster/cluster.ts';
import { canaryToken, login } from '../cluster/dashboard-kit.ts';
import { chartTestKit, findManifest, renderChart, type Manifest } from '../cluster/helm.ts';

const chart = chartTestKit();
const DASHBOARD_RULES = [
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
];
const rbacOf = (docs: Manifest[], without = '') =>
  docs
    .filter((d) => /Role/.test(d.kind) && d.metadata.name !== without)
    .map((d) => JSON.stringify(d))
    .sort();
const args = (docs: Manifest[]): string[] =>
  findManifest(docs, 'Deployment').spec.template.spec.containers[0].args;

/** What the chart's ServiceAccount gets from a TokenReview and a SubjectAccessReview: ok or the HTTP code. */
async function reviews(kubeconfig: string): Promise<Array<number | 'ok'>> {
  const kc = loadKubeConfig(kubeconfig);
  const outcome = (p: Promise<unknown>) =>
    p.then(() => 'ok' as const).catch((err: unknown) => statusCode(err) ?? -1);
  return Promise.all([
    outcome(
      kc.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: 'not-a-token' } } }),
    ),
    outcome(
      kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
        body: {
          spec: {
            user: 'someone',
            resourceAttributes: {
              group: 'weir.dev',
              resource: 'canaries',
              verb: 'patch',
              namespace: 'default',
            },
          },
        },
      }),
    ),
  ]);
}

describe('chart: dashboard option', { concurrency: true }, () => {
  test('rendered: off by default; on, a listener, a Service and a ClusterRole with exactly the two create rights', async () => {
    const off = (await renderChart('weir', 'weir-system')).docs;
    const on = (await renderChart('weir', 'weir-system', { 'dashboard.enabled': true })).docs;
    assert.ok(!off.some((d) => d.metadata.name === 'weir-dashboard'), 'nothing of the dashboard by default');
    assert.ok(!args(off).some((a) => a.startsWith('--dashboard-listen')));
    assert.deepEqual(findManifest(on, 'ClusterRole', 'weir-dashboard').rules, DASHBOARD_RULES);
    const binding = findManifest(on, 'ClusterRoleBinding', 'weir-dashboard');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'weir-dashboard',
    });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'weir', namespace: 'weir-system' }]);
    assert.deepEqual(rbacOf(on, 'weir-dashboard'), rbacOf(off), 'every other role and binding is unchanged');
    assert.ok(args(on).includes('--dashboard-listen=0.0.0.0:9300'));
    assert.equal(findManifest(on, 'Service', 'weir-dashboard').spec.ports[0].targetPort, 'dashboard');

    // TokenReview and SubjectAccessReview are cluster-scoped: a ClusterRole even with rbac.namespaced.
    const ns = (
      await renderChart('weir', 'weir-system', {
        'dashboard.enabled': true,
        'rbac.namespaced': true,
        watchNamespace: 'apps',
      })
    ).docs;
    assert.deepEqual(findManifest(ns, 'ClusterRole', 'weir-dashboard').rules, DASHBOARD_RULES);
    await assert.rejects(
      renderChart('weir', 'weir-system', { 'dashboard.enabled': true, 'dashboard.port': 8080 }),
      /dashboard.port must differ/,
    );
  });

  test("on the API server: the chart's ServiceAccount may review tokens and access only with the option", async () => {
    const withNs = await createNamespace(chart.cluster, 'helm-dash-on');
    const withoutNs = await createNamespace(chart.cluster, 'helm-dash-off');
    const [withOption, without] = await Promise.all([
      chart.installRbac(chart.release('dash-on'), withNs, { 'dashboard.enabled': true }),
      chart.installRbac(chart.release('dash-off'), withoutNs, {}),
    ]);
    assert.deepEqual(await reviews(without.kubeconfig), [403, 403]);
    assert.deepEqual(await reviews(withOption.kubeconfig), ['ok', 'ok']);

    // The dashboard with exactly the chart's credentials: a real user's token logs in, the list shows.
    const user = await canaryToken(chart.cluster.kc, withNs, 'dash-chart-user', ['get', 'list', 'watch']);
    const dash = await startClusterDashboard({
      kc: loadKubeConfig(withOption.kubeconfig),
      log: silentLogger(),
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const c = await login(dash.url, user.token);
      const page = await c.get('/');
      assert.equal(page.status, 200);
      assert.match(page.body, new RegExp(user.user.replace(/[.:]/g, '\\$&')));
    } finally {
      await dash.stop();
      await user.revoke();
    }
  });
});
