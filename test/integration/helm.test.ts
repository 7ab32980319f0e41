// The Helm chart with the real Helm binary and the real API server: lint, what it renders (exactly
// the least-privilege rules), that the API server accepts it (with the Prometheus Operator's real
// ServiceMonitor CRD, and pods admitted at the restricted Pod Security level), and what the chart's
// ServiceAccount may and may not do (kubectl auth can-i). helm-rbac.test.ts runs the controller as it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { applyCrds, createNamespace, projectRoot } from '../cluster/cluster.ts';
import {
  CHART_DIR,
  chartTestKit,
  findManifest,
  helm,
  kubectlApply,
  renderChart,
  type Manifest,
  type Values,
} from '../cluster/helm.ts';
import { waitFor } from '../cluster/proc.ts';

const chart = chartTestKit();
const { release, installRbac } = chart;

/** The controller's rules exactly: the least-privilege contract (widening it must fail here). */
const CONTROLLER_RULES = [
  { apiGroups: ['weir.dev'], resources: ['canaries'], verbs: ['list', 'watch', 'patch'] },
  { apiGroups: ['weir.dev'], resources: ['canaries/status'], verbs: ['patch'] },
  { apiGroups: ['weir.dev'], resources: ['canaries/finalizers'], verbs: ['update'] },
  { apiGroups: ['weir.dev'], resources: ['metrictemplates', 'alertproviders'], verbs: ['list', 'watch'] },
  { apiGroups: ['weir.dev'], resources: ['gitsyncs'], verbs: ['list', 'watch', 'patch'] },
  { apiGroups: ['weir.dev'], resources: ['gitsyncs/status'], verbs: ['patch'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list', 'watch', 'create', 'patch'] },
  // A DaemonSet target: its -primary copy is applied, the target parked by a nodeSelector patch.
  { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch', 'create', 'patch'] },
  // get: ConfigMaps are cached without data; the ones in use are read (src/kube/content.ts).
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  {
    apiGroups: ['autoscaling'],
    resources: ['horizontalpodautoscalers'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  {
    apiGroups: ['gateway.networking.k8s.io'],
    resources: ['httproutes'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  // The routing providers' objects (src/routing/<name>/index.ts; the chart's rules are generated).
  {
    apiGroups: ['networking.istio.io'],
    resources: ['virtualservices'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  {
    apiGroups: ['networking.istio.io'],
    resources: ['destinationrules'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  { apiGroups: ['traefik.io'], resources: ['traefikservices'], verbs: ['list', 'watch', 'create', 'patch'] },
  {
    apiGroups: ['projectcontour.io'],
    resources: ['httpproxies'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  // nginx: get reads the user's Ingress (spec.ingressRef); delete removes <ingress>-canary on revert.
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
  {
    apiGroups: ['split.smi-spec.io'],
    resources: ['trafficsplits'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  // apisix: get reads the user's ApisixRoute (spec.routeRef); delete removes its -canary copy on revert.
  {
    apiGroups: ['apisix.apache.org'],
    resources: ['apisixroutes'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
  },
  // kuma: delete removes the MeshHTTPRoute on revert. gloo: the Upstreams and the RouteTable.
  {
    apiGroups: ['kuma.io'],
    resources: ['meshhttproutes'],
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
  },
  { apiGroups: ['gloo.solo.io'], resources: ['upstreams'], verbs: ['list', 'watch', 'create', 'patch'] },
  {
    apiGroups: ['gateway.solo.io'],
    resources: ['routetables'],
    verbs: ['list', 'watch', 'create', 'patch'],
  },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];
const LEASE_RULES = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    resourceNames: ['weir-controller'],
    verbs: ['get', 'update'],
  },
];

describe('Helm chart', { concurrency: true }, () => {
  test('helm lint --strict passes with the defaults and with every optional feature on', async () => {
    for (const sets of [
      [],
      [
        'rbac.namespaced=true',
        'watchNamespace=apps',
        'serviceMonitor.enabled=true',
        'grafanaDashboard.enabled=true',
        'gitsync.clusterAdmin=true',
        'slack.existingSecret=weir-slack',
        'prometheusAddress=http://prometheus:9090',
        'shards={a,b}',
        'dashboard.enabled=true',
      ],
    ]) {
      const r = await helm(['lint', '--strict', CHART_DIR, ...sets.flatMap((s) => ['--set', s])]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('helm refuses values that would break the install, with a message that says why', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['logLevel=verbose'], /logLevel.*one of/],
      [['defaultProvider=istio'], /defaultProvider/],
      [['watchNamespaces=apps'], /additional properties 'watchNamespaces' not allowed/],
      [['rbac.namespaced=true'], /rbac.namespaced needs watchNamespace/],
      [['leaderElection.enabled=false'], /replicaCount > 1 needs leaderElection.enabled/],
      [['shards={Shard_A}'], /shards\/0.*does not match pattern/],
      [['shards={a,a}'], /shards.*items at 0 and 1 are equal/],
    ];
    for (const [sets, message] of cases) {
      const r = await helm(['template', 'weir', CHART_DIR, ...sets.flatMap((s) => ['--set', s])]);
      assert.notEqual(r.code, 0, `helm template accepted ${sets.join(' ')}`);
      assert.match(r.stderr, message);
    }
  });

  test('the default rendering: a hardened Deployment of `weir controller` and least-privilege RBAC', async () => {
    const { docs } = await renderChart('weir', 'weir-system', {
      'slack.existingSecret': 'weir-slack',
      prometheusAddress: 'http://prometheus.monitoring:9090',
    });
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ClusterRole/weir',
      'ClusterRole/weir-gitsync-impersonate',
      'ClusterRoleBinding/weir',
      'ClusterRoleBinding/weir-gitsync-impersonate',
      'Deployment/weir',
      'PodDisruptionBudget/weir',
      'Role/weir-leader-election',
      'RoleBinding/weir-leader-election',
      'Service/weir',
      'Service/weir-receiver',
      'ServiceAccount/weir',
    ]);
    const dep = findManifest(docs, 'Deployment');
    assert.equal(dep.spec.replicas, 2);
    const pod = dep.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'weir');
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const [c] = pod.containers;
    assert.deepEqual(c.args, [
      'controller',
      '--listen=0.0.0.0:8080',
      '--receiver-listen=0.0.0.0:9292',
      '--no-cross-namespace-refs',
      '--default-provider=gatewayapi',
      '--log-level=info',
      '--leader-elect',
      '--prometheus-address=http://prometheus.monitoring:9090',
      '--gitsync-no-cross-namespace',
      '--gitsync-cross-namespace-allowed=weir-system',
      '--gitsync-cluster-scoped-allowed=weir-system',
    ]);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.ok(c.resources.requests.memory && c.resources.limits.memory);
    const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]));
    assert.equal(env.POD_NAME.valueFrom.fieldRef.fieldPath, 'metadata.name');
    assert.equal(env.POD_NAMESPACE.valueFrom.fieldRef.fieldPath, 'metadata.namespace');
    assert.deepEqual(env.WEIR_SLACK_URL.valueFrom.secretKeyRef, { name: 'weir-slack', key: 'url' });
    assert.match(env.WEIR_GIT_CACHE_DIR.value, /^\/tmp\//);
    assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    assert.ok(pod.volumes[0].emptyDir, '/tmp is an emptyDir');
    assert.equal(findManifest(docs, 'PodDisruptionBudget').spec.minAvailable, 1);
    assert.equal(findManifest(docs, 'Service').spec.ports[0].port, 8080);
    assert.deepEqual(findManifest(docs, 'ClusterRole', 'weir').rules, CONTROLLER_RULES);
    assert.deepEqual(findManifest(docs, 'ClusterRole', 'weir-gitsync-impersonate').rules, [
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
    ]);
    assert.deepEqual(findManifest(docs, 'Role').rules, LEASE_RULES);
    assert.equal(findManifest(docs, 'Role').metadata.namespace, 'weir-system');
    assert.deepEqual(findManifest(docs, 'ClusterRoleBinding').subjects, [
      { kind: 'ServiceAccount', name: 'weir', namespace: 'weir-system' },
    ]);
  });

  test('rbac.namespaced, serviceMonitor, grafanaDashboard and gitsync switches render what they say', async () => {
    const { docs } = await renderChart('weir', 'weir-system', {
      'rbac.namespaced': true,
      watchNamespace: 'apps',
      'serviceMonitor.enabled': true,
      'grafanaDashboard.enabled': true,
      'gitsync.clusterAdmin': true,
    });
    assert.equal(
      docs.some((d) => d.kind === 'ClusterRole'),
      false,
      'no ClusterRole in a namespaced install',
    );
    const role = findManifest(docs, 'Role', 'weir');
    assert.equal(role.metadata.namespace, 'apps');
    assert.deepEqual(role.rules, CONTROLLER_RULES);
    assert.equal(findManifest(docs, 'RoleBinding', 'weir').metadata.namespace, 'apps');
    assert.ok(
      findManifest(docs, 'Deployment').spec.template.spec.containers[0].args.includes('--namespace=apps'),
    );
    const admin = findManifest(docs, 'RoleBinding', 'weir-gitsync-cluster-admin');
    assert.equal(admin.metadata.namespace, 'apps');
    assert.equal(admin.roleRef.name, 'cluster-admin');
    const sm = findManifest(docs, 'ServiceMonitor');
    assert.deepEqual(sm.spec.endpoints[0].port, 'http');
    const dash = JSON.parse(findManifest(docs, 'ConfigMap', 'weir-dashboard').data['weir.json']);
    assert.equal(dash.uid, 'weir-overview');

    const clusterWide = await renderChart('weir', 'weir-system', { 'gitsync.clusterAdmin': true });
    const binding = findManifest(clusterWide.docs, 'ClusterRoleBinding', 'weir-gitsync-cluster-admin');
    assert.equal(binding.roleRef.name, 'cluster-admin');
    const off = await renderChart('weir', 'weir-system');
    assert.deepEqual(
      off.docs.filter((d) => /gitsync/.test(d.metadata.name)).map((d) => `${d.kind}/${d.metadata.name}`),
      ['ClusterRole/weir-gitsync-impersonate', 'ClusterRoleBinding/weir-gitsync-impersonate'],
      'by default GitSync gets only impersonation (to apply as the ServiceAccounts GitSyncs name)',
    );
    const noImpersonation = await renderChart('weir', 'weir-system', { 'gitsync.impersonation': false });
    assert.equal(
      noImpersonation.docs.some((d) => /gitsync/.test(d.metadata.name)),
      false,
      'gitsync.impersonation: false grants GitSync nothing extra',
    );
  });

  test('shards: one more Deployment per shard, with --shard, its own Lease and selectors no other shares', async () => {
    const { docs } = await renderChart('weir', 'weir-system', { shards: ['a', 'b'] });
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`);
    for (const k of [
      'Deployment/weir',
      'Deployment/weir-shard-a',
      'Deployment/weir-shard-b',
      'PodDisruptionBudget/weir',
      'PodDisruptionBudget/weir-shard-a',
      'PodDisruptionBudget/weir-shard-b',
      'Service/weir-shards',
      'Service/weir-shard-a-receiver',
      'Service/weir-shard-b-receiver',
    ])
      assert.ok(kinds.includes(k), `${k} rendered`);
    assert.equal(
      kinds.filter((k) => k.startsWith('ServiceAccount/')).length,
      1,
      'one ServiceAccount for all',
    );
    const main = findManifest(docs, 'Deployment', 'weir');
    const shardA = findManifest(docs, 'Deployment', 'weir-shard-a');
    const argsOf = (d: Manifest): string[] => d.spec.template.spec.containers[0].args;
    // The same flags as the main controller, and --shard after --leader-elect.
    const mainArgs = argsOf(main);
    const at = mainArgs.indexOf('--leader-elect') + 1;
    assert.deepEqual(argsOf(shardA), [...mainArgs.slice(0, at), '--shard=a', ...mainArgs.slice(at)]);
    assert.ok(!mainArgs.some((a) => a.startsWith('--shard')), 'the main controller has no shard');
    assert.equal(shardA.spec.template.spec.serviceAccountName, main.spec.template.spec.serviceAccountName);
    assert.equal(shardA.spec.replicas, 2);
    // Who selects whose pods: each Deployment and PodDisruptionBudget its own only; the main Services
    // the main controller's, weir-shards every shard's.
    const pods = Object.fromEntries(
      ['weir', 'weir-shard-a', 'weir-shard-b'].map((n) => [
        n,
        findManifest(docs, 'Deployment', n).spec.template.metadata.labels as Record<string, string>,
      ]),
    );
    const selects = (sel: Record<string, string>) =>
      Object.keys(pods)
        .filter((n) => Object.entries(sel).every(([k, v]) => pods[n]![k] === v))
        .sort();
    for (const n of Object.keys(pods)) {
      assert.deepEqual(selects(findManifest(docs, 'Deployment', n).spec.selector.matchLabels), [n]);
      assert.deepEqual(selects(findManifest(docs, 'PodDisruptionBudget', n).spec.selector.matchLabels), [n]);
    }
    assert.deepEqual(selects(findManifest(docs, 'Service', 'weir').spec.selector), ['weir']);
    assert.deepEqual(selects(findManifest(docs, 'Service', 'weir-receiver').spec.selector), ['weir']);
    // A controller knows only its shard's GitSyncs: each shard has its own receiver Service.
    assert.deepEqual(selects(findManifest(docs, 'Service', 'weir-shard-a-receiver').spec.selector), [
      'weir-shard-a',
    ]);
    assert.equal(findManifest(docs, 'Service', 'weir-shard-a-receiver').spec.ports[0].targetPort, 'receiver');
    assert.deepEqual(selects(findManifest(docs, 'Service', 'weir-shards').spec.selector), [
      'weir-shard-a',
      'weir-shard-b',
    ]);
    assert.equal(pods['weir-shard-a']!['weir.dev/shard'], 'a');
    // One Lease per shard, and the Role lets the ServiceAccount hold exactly those.
    assert.deepEqual(findManifest(docs, 'Role').rules, [
      LEASE_RULES[0],
      { ...LEASE_RULES[1], resourceNames: ['weir-controller', 'weir-controller-a', 'weir-controller-b'] },
    ]);
    // Without shards the chart renders as before: no shard objects at all.
    const plain = await renderChart('weir', 'weir-system');
    assert.equal(plain.docs.filter((d) => /shard/.test(d.metadata.name)).length, 0);
    assert.deepEqual(findManifest(plain.docs, 'Role').rules, LEASE_RULES);
  });

  test('the API server accepts every rendering; pods pass the restricted Pod Security level', async () => {
    await applyCrds(chart.cluster, [join(projectRoot, '..', 'shared', 'crds', 'prometheus-operator')]);
    // The chart's CRDs: a server-side dry run (the shared cluster's CRDs stay as the runner installed them).
    const crds = (await renderChart('weir', 'default', {}, { includeCrds: true })).docs.filter(
      (d) => d.kind === 'CustomResourceDefinition',
    );
    assert.equal(crds.length, 4);
    const dry = await kubectlApply(chart.cluster, crds, ['--dry-run=server']);
    assert.equal(dry.code, 0, `the chart's CRDs: ${dry.stderr}`);
    assert.equal((dry.stdout.match(/customresourcedefinition/g) ?? []).length, 4);

    const variants: Array<[string, (ns: string, watch: string) => Values]> = [
      ['defaults', () => ({})],
      ['shards', () => ({ shards: ['a'] })],
      ['namespaced', (_ns, watch) => ({ 'rbac.namespaced': true, watchNamespace: watch })],
      ['monitoring', () => ({ 'serviceMonitor.enabled': true, 'grafanaDashboard.enabled': true })],
    ];
    await Promise.all(
      variants.map(async ([what, values]) => {
        const ns = await createNamespace(chart.cluster, `helm-${what}`);
        const watch = await createNamespace(chart.cluster, `helm-${what}-apps`);
        const label = await chart.cluster.kubectl([
          'label',
          'namespace',
          ns,
          'pod-security.kubernetes.io/enforce=restricted',
          'pod-security.kubernetes.io/warn=restricted',
        ]);
        assert.equal(label.code, 0, label.stderr);
        const rel = release(what);
        const { yaml, docs } = await renderChart(rel, ns, values(ns, watch));
        const r = await kubectlApply(chart.cluster, yaml);
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /PodSecurity/, `${what}: no Pod Security warning`);
        assert.equal(r.stdout.trim().split('\n').length, docs.length, `${what}: every object applied`);
        // KWOK runs the pods: two ready replicas prove the ReplicaSet's pods were admitted.
        await waitFor(
          `${what}: Deployment ${ns}/${rel} with 2 ready replicas`,
          async () => {
            const g = await chart.cluster.kubectl(['get', 'deployment', rel, '-n', ns, '-o', 'json']);
            return JSON.parse(g.stdout).status?.readyReplicas === 2;
          },
          60_000,
          500,
        );
      }),
    );
  });

  test('the ServiceAccount can do what Weir needs and nothing more (kubectl auth can-i)', async () => {
    const ns = await createNamespace(chart.cluster, 'helm-authz');
    const watch = await createNamespace(chart.cluster, 'helm-authz-apps');
    const wide = release('authz');
    const narrow = release('authz-ns');
    const installs = await Promise.all([
      installRbac(wide, ns, { shards: ['a'] }),
      installRbac(narrow, ns, { 'rbac.namespaced': true, watchNamespace: watch }),
    ]);
    const canI = async (sa: string, args: string[]) => {
      const r = await chart.cluster.kubectl([
        'auth',
        'can-i',
        ...args,
        `--as=system:serviceaccount:${ns}:${sa}`,
      ]);
      return r.stdout.trim();
    };
    const expect = async (sa: string, answer: 'yes' | 'no', checks: string[][]) => {
      const got = await Promise.all(checks.map((a) => canI(sa, a)));
      checks.forEach((a, i) => assert.equal(got[i], answer, `${sa}: can-i ${a.join(' ')}`));
    };
    const [saWide, saNarrow] = installs.map((i) => i.serviceAccount) as [string, string];
    await expect(saWide, 'yes', [
      ['list', 'canaries.weir.dev', '-A'],
      ['patch', 'canaries.weir.dev', '--subresource=status', '-n', watch],
      ['create', 'deployments.apps', '-n', watch],
      ['patch', 'httproutes.gateway.networking.k8s.io', '-n', watch],
      ['create', 'events', '-n', watch],
      ['update', 'leases.coordination.k8s.io/weir-controller', '-n', ns],
      // shards: [a] (docs/sharding.md): shard a's Lease.
      ['update', 'leases.coordination.k8s.io/weir-controller-a', '-n', ns],
    ]);
    await expect(saWide, 'no', [
      ['delete', 'deployments.apps', '-n', watch],
      ['update', 'deployments.apps', '-n', watch],
      ['list', 'pods', '-A'],
      ['delete', 'canaries.weir.dev', '-n', watch],
      ['create', 'canaries.weir.dev', '-n', watch],
      ['delete', 'secrets', '-n', watch],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ['list', 'nodes'],
      ['update', 'leases.coordination.k8s.io/other', '-n', ns],
      ['create', 'leases.coordination.k8s.io', '-n', watch],
      ['impersonate', 'users'],
      ['impersonate', 'groups'],
    ]);
    // GitSync's impersonation: ServiceAccounts only (and only in watchNamespace when namespaced).
    await expect(saWide, 'yes', [['impersonate', 'serviceaccounts', '-A']]);
    await expect(saNarrow, 'yes', [
      ['list', 'canaries.weir.dev', '-n', watch],
      ['patch', 'deployments.apps', '-n', watch],
    ]);
    await expect(saNarrow, 'no', [
      ['list', 'canaries.weir.dev', '-A'],
      ['list', 'canaries.weir.dev', '-n', 'default'],
      ['create', 'deployments.apps', '-n', 'default'],
      ['impersonate', 'serviceaccounts', '-n', 'default'],
    ]);
    await expect(saNarrow, 'yes', [['impersonate', 'serviceaccounts', '-n', watch]]);
  });
});
