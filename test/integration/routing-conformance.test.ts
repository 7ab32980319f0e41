// The routing conformance suite: every provider with a descriptor (src/routing/<name>/) passes the
// same scenarios on the real API server (Gateway API CRDs from ../shared/crds/gateway-api), each
// result read back from the stored objects: init at 100/0, every step's routes, A/B match and
// mirroring where the descriptor says they are supported (and refused, naming the field, where not),
// promotion back to 100/0, rollback, revertOnDeletion, drift repaired (routes edited by hand, the
// routing object deleted) within one reconcile with a DriftRepaired event, the primary Deployment
// deleted (PrimaryRepaired), an object the API server refuses reported as Ready=False, and weight
// verification where the provider reports it.
// A provider is added by one row in ROWS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Kube, Ref } from '../../src/kube/client.ts';
import type { ProviderName } from '../../src/api/canary.ts';
import type { Capabilities } from '../../src/routing/provider.ts';
import { descriptorOf } from '../../src/routing/registry.ts';
import { startWorld, recordChanges, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import {
  apexServiceRoutes,
  httpProxyRoutes,
  httpRouteRoutes,
  nginxIngressRoutes,
  skipperIngressRoutes,
  apisixRouteRoutes,
  traefikServiceRoutes,
  trafficSplitRoutes,
  virtualServiceRoutes,
  type StoredRoutes,
} from '../cluster/route-weights.ts';
import { meshHttpRouteRoutes, routeTableRoutes } from '../cluster/route-weights-kuma-gloo.ts';

interface Row {
  provider: ProviderName;
  /** Short prefix for object names. */
  short: string;
  /** spec.service fields the provider needs besides the port. */
  service: Record<string, unknown>;
  /** The analysis of the promoted run, and the routes read back at each of its steps, in order. */
  run: Record<string, unknown>;
  steps: StoredRoutes[];
  /** Routes seen once the run is under way, when an abort rolls it back. */
  rollbackAt?: StoredRoutes;
  /** Reads the routes from the stored routing object(s). */
  read(kube: Kube, ns: string, name: string): Promise<StoredRoutes | undefined>;
  /** Edits the routes by hand, as a person with kubectl would. */
  editRoutes(kube: Kube, ns: string, name: string): Promise<void>;
  /** The object that carries the routes (deleted by hand in the drift test). */
  routeObject(ns: string, name: string): Ref;
  /**
   * spec fields that make the API server refuse the routing object, and how the message names it;
   * absent where the object's schema refuses nothing Weir writes that the Services would not refuse first.
   */
  refused?: { spec: Record<string, unknown>; names: RegExp };
  /** Objects the user writes before the Canary (nginx: the Ingress of spec.ingressRef). */
  setup?(kube: Kube, ns: string, name: string): Promise<void>;
  /** spec fields besides service and analysis the provider needs (nginx: ingressRef). */
  spec?(name: string): Record<string, unknown>;
  /** Writes a parent status on the routing object (weight verification), where the provider reads one. */
  reportAccepted?(kube: Kube, ns: string, name: string, accepted: boolean | 'none'): Promise<void>;
}

const HTTP_ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' };
const TRAFFIC_SPLIT = { apiVersion: 'split.smi-spec.io/v1alpha1', kind: 'TrafficSplit' };
const MESH_HTTP_ROUTE = { apiVersion: 'kuma.io/v1alpha1', kind: 'MeshHTTPRoute' };
const GLOO_UPSTREAM = { apiVersion: 'gloo.solo.io/v1', kind: 'Upstream' };
const ROUTE_TABLE = { apiVersion: 'gateway.solo.io/v1', kind: 'RouteTable' };
const APISIX_ROUTE = { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute' };

/** The user's Ingress (nginx, skipper: spec.ingressRef), sending app.example.com to the apex Service. */
async function userIngress(
  kube: Kube,
  ns: string,
  name: string,
  ingressClassName: string,
  annotations: Record<string, string> = {},
): Promise<void> {
  await kube.apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: ns, annotations },
    spec: {
      ingressClassName,
      rules: [
        {
          host: 'app.example.com',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 8080 } } } },
            ],
          },
        },
      ],
    },
  });
}

async function editTrafficSplit(kube: Kube, ns: string, name: string): Promise<void> {
  await kube.mergePatch(
    { ...TRAFFIC_SPLIT, namespace: ns, name },
    {
      spec: {
        backends: [
          { service: `${name}-canary`, weight: 50 },
          { service: `${name}-primary`, weight: 50 },
        ],
      },
    },
  );
}

const ROWS: Row[] = [
  {
    provider: 'kubernetes',
    short: 'k8s',
    service: {},
    run: { iterations: 2 },
    steps: ['100/0'],
    read: apexServiceRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { apiVersion: 'v1', kind: 'Service', namespace: ns, name },
        { spec: { selector: { app: name } } },
      );
    },
    routeObject: (ns, name) => ({ apiVersion: 'v1', kind: 'Service', namespace: ns, name }),
    refused: {
      spec: { service: { port: 8080, apex: { labels: { tier: 'not a label value!' } } } },
      names: /Service/,
    },
  },
  {
    provider: 'gatewayapi',
    short: 'gw',
    service: { gatewayRefs: [{ name: 'public', namespace: 'gateway' }] },
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: httpRouteRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { ...HTTP_ROUTE, namespace: ns, name },
        {
          spec: {
            rules: [
              {
                backendRefs: [
                  { name: `${name}-primary`, port: 8080, weight: 50 },
                  { name: `${name}-canary`, port: 8080, weight: 50 },
                ],
              },
            ],
          },
        },
      );
    },
    routeObject: (ns, name) => ({ ...HTTP_ROUTE, namespace: ns, name }),
    refused: {
      spec: {
        service: {
          port: 8080,
          gatewayRefs: [{ name: 'public', namespace: 'gateway' }],
          hosts: ['Not_A_Host'],
        },
      },
      names: /HTTPRoute/,
    },
    reportAccepted: async (kube, ns, name, accepted) => {
      const route = await kube.get<{ metadata: { generation?: number } } & Record<string, never>>({
        ...HTTP_ROUTE,
        namespace: ns,
        name,
      });
      const parents =
        accepted === 'none'
          ? []
          : [
              {
                parentRef: { name: 'public', namespace: 'gateway' },
                controllerName: 'example.com/conformance-gateway',
                conditions: [
                  {
                    type: 'Accepted',
                    status: accepted ? 'True' : 'False',
                    reason: accepted ? 'Accepted' : 'Pending',
                    message: 'set by the conformance suite',
                    lastTransitionTime: new Date().toISOString(),
                    observedGeneration: route?.metadata.generation ?? 1,
                  },
                ],
              },
            ];
      await kube.patchStatus(
        {
          ...HTTP_ROUTE,
          namespace: ns,
          name,
          group: 'gateway.networking.k8s.io',
          version: 'v1',
          plural: 'httproutes',
        },
        { parents },
      );
    },
  },
  {
    provider: 'istio',
    short: 'ist',
    service: {
      gateways: ['public-gateway.istio-system.svc.cluster.local'],
      hosts: ['app.example.com'],
      timeout: '15s',
      retries: { attempts: 3, perTryTimeout: '5s', retryOn: 'gateway-error,connect-failure' },
      headers: { request: { add: { 'x-envoy-upstream-rq-timeout-ms': '15000' } } },
    },
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: virtualServiceRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', namespace: ns, name },
        {
          spec: {
            http: [
              {
                route: [
                  { destination: { host: `${name}-primary` }, weight: 50 },
                  { destination: { host: `${name}-canary` }, weight: 50 },
                ],
              },
            ],
          },
        },
      );
    },
    routeObject: (ns, name) => ({
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      namespace: ns,
      name,
    }),
    // Istio's schema: an http timeout must be a duration of at least 1ms (Weir's schema takes 0s).
    refused: { spec: { service: { port: 8080, timeout: '0s' } }, names: /VirtualService/ },
  },
  {
    provider: 'traefik',
    short: 'tfk',
    service: {},
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: traefikServiceRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { apiVersion: 'traefik.io/v1alpha1', kind: 'TraefikService', namespace: ns, name },
        {
          spec: {
            weighted: {
              services: [
                { name: `${name}-primary`, port: 8080, weight: 50 },
                { name: `${name}-canary`, port: 8080, weight: 50 },
              ],
            },
          },
        },
      );
    },
    routeObject: (ns, name) => ({
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'TraefikService',
      namespace: ns,
      name,
    }),
    // No `refused`: TraefikService's schema constrains nothing Weir writes there (names, ports,
    // weights ≥ 0, the apex metadata the apex Service would refuse first).
  },
  {
    provider: 'contour',
    short: 'ctr',
    service: { timeout: '15s', retries: { attempts: 3, perTryTimeout: '5s', retryOn: '5xx,reset' } },
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: httpProxyRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { apiVersion: 'projectcontour.io/v1', kind: 'HTTPProxy', namespace: ns, name },
        {
          spec: {
            routes: [
              {
                conditions: [{ prefix: '/' }],
                services: [
                  { name: `${name}-primary`, port: 8080, weight: 50 },
                  { name: `${name}-canary`, port: 8080, weight: 50 },
                ],
              },
            ],
          },
        },
      );
    },
    routeObject: (ns, name) => ({
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      namespace: ns,
      name,
    }),
    // retryPolicy.retryOn is an enum of Envoy's retry conditions in Contour's schema.
    refused: {
      spec: { service: { port: 8080, retries: { attempts: 2, retryOn: 'when-it-rains' } } },
      names: /HTTPProxy/,
    },
  },
  {
    provider: 'nginx',
    short: 'ngx',
    service: {},
    // The user's Ingress, named like the target, sends app.example.com to the apex Service.
    setup: (kube, ns, name) =>
      userIngress(kube, ns, name, 'nginx', { 'nginx.ingress.kubernetes.io/rewrite-target': '/' }),
    spec: (name) => ({ ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name } }),
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: nginxIngressRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: ns, name: `${name}-canary` },
        { metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '50' } } },
      );
    },
    routeObject: (ns, name) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      namespace: ns,
      name: `${name}-canary`,
    }),
    // No `refused`: the canary Ingress is the user's Ingress (already accepted) with other
    // backends and annotations, which the API server does not constrain.
  },
  {
    provider: 'smi',
    short: 'smi',
    service: {},
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: trafficSplitRoutes,
    editRoutes: editTrafficSplit,
    routeObject: (ns, name) => ({ ...TRAFFIC_SPLIT, namespace: ns, name }),
    // No `refused`: TrafficSplit's schema constrains nothing Weir writes there.
  },
  {
    provider: 'linkerd',
    short: 'l5d',
    service: {},
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: trafficSplitRoutes,
    editRoutes: editTrafficSplit,
    routeObject: (ns, name) => ({ ...TRAFFIC_SPLIT, namespace: ns, name }),
    // No `refused`: TrafficSplit's schema constrains nothing Weir writes there.
  },
  {
    provider: 'skipper',
    short: 'skp',
    service: {},
    // The user's Ingress, named like the target, sends app.example.com to the apex Service.
    setup: (kube, ns, name) =>
      userIngress(kube, ns, name, 'skipper', { 'zalando.org/skipper-predicate': 'Method("GET")' }),
    spec: (name) => ({ ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name } }),
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: skipperIngressRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: ns, name: `${name}-canary` },
        {
          metadata: {
            annotations: {
              'zalando.org/backend-weights': JSON.stringify({
                [`${name}-canary`]: 50,
                [`${name}-primary`]: 50,
              }),
            },
          },
        },
      );
    },
    routeObject: (ns, name) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      namespace: ns,
      name: `${name}-canary`,
    }),
    // No `refused`: the canary Ingress is the user's Ingress (already accepted) with other
    // backends and annotations, which the API server does not constrain.
  },
  {
    provider: 'apisix',
    short: 'apx',
    service: {},
    // The user's ApisixRoute, named like the target, sends app.example.com to the apex Service.
    setup: async (kube, ns, name) => {
      await kube.apply({
        ...APISIX_ROUTE,
        metadata: { name, namespace: ns },
        spec: {
          http: [
            {
              name: 'main',
              match: { hosts: ['app.example.com'], paths: ['/*'] },
              backends: [{ serviceName: name, servicePort: 8080 }],
            },
          ],
        },
      });
    },
    spec: (name) => ({ routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name } }),
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: apisixRouteRoutes,
    editRoutes: async (kube, ns, name) => {
      await kube.mergePatch(
        { ...APISIX_ROUTE, namespace: ns, name: `${name}-${name}-canary` },
        {
          spec: {
            http: [
              {
                name: 'main',
                match: { hosts: ['app.example.com'], paths: ['/*'] },
                priority: 10000,
                backends: [
                  { serviceName: `${name}-primary`, servicePort: 8080, weight: 50 },
                  { serviceName: `${name}-canary`, servicePort: 8080, weight: 50 },
                ],
              },
            ],
          },
        },
      );
    },
    routeObject: (ns, name) => ({ ...APISIX_ROUTE, namespace: ns, name: `${name}-${name}-canary` }),
    // No `refused`: the canary ApisixRoute is the user's route (already accepted) with other
    // backends and a priority, which the API server does not constrain.
  },
  {
    provider: 'kuma',
    short: 'kma',
    service: {},
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: meshHttpRouteRoutes,
    editRoutes: async (kube, ns, name) => {
      const backend = (n: string) => ({
        kind: 'MeshService',
        labels: { 'kuma.io/display-name': n, 'k8s.kuma.io/namespace': ns },
        port: 8080,
        weight: 50,
      });
      const rule = {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        default: { backendRefs: [backend(`${name}-primary`), backend(`${name}-canary`)] },
      };
      await kube.mergePatch(
        { ...MESH_HTTP_ROUTE, namespace: ns, name },
        {
          spec: {
            to: [
              { targetRef: { kind: 'MeshService', labels: { 'kuma.io/display-name': name } }, rules: [rule] },
            ],
          },
        },
      );
    },
    routeObject: (ns, name) => ({ ...MESH_HTTP_ROUTE, namespace: ns, name }),
    // No `refused`: MeshHTTPRoute's schema constrains nothing Weir writes there from the spec
    // (ports are 1..65535 in Weir's schema too; names and labels are the Services').
  },
  {
    provider: 'gloo',
    short: 'glo',
    service: {},
    // The user's Gloo Upstream whose settings the -primary/-canary Upstreams copy (spec.upstreamRef).
    setup: async (kube, ns, name) => {
      await kube.apply({
        ...GLOO_UPSTREAM,
        metadata: { name: `${name}-base`, namespace: ns, labels: { team: 'conformance' } },
        spec: {
          kube: { serviceName: name, serviceNamespace: ns, servicePort: 8080 },
          connectionConfig: { maxRequestsPerConnection: 10 },
          loadBalancerConfig: { roundRobin: {} },
        },
      });
    },
    spec: (name) => ({ upstreamRef: { name: `${name}-base` } }),
    run: { stepWeights: [20, 50] },
    steps: ['100/0', '80/20', '50/50', '100/0'],
    rollbackAt: '80/20',
    read: routeTableRoutes,
    editRoutes: async (kube, ns, name) => {
      const to = (role: string) => ({
        destination: { upstream: { name: `${ns}-${name}-${role}upstream-8080`, namespace: ns } },
        weight: 50,
      });
      await kube.mergePatch(
        { ...ROUTE_TABLE, namespace: ns, name },
        { spec: { routes: [{ routeAction: { multi: { destinations: [to('primary'), to('canary')] } } }] } },
      );
    },
    routeObject: (ns, name) => ({ ...ROUTE_TABLE, namespace: ns, name }),
    // No `refused`: the RouteTable and Upstream schemas constrain nothing Weir writes there
    // (weights 0..100, names, and settings copied from an Upstream the API server accepted).
  },
];

/**
 * A/B, mirroring, source labels and session affinity: the analysis asking for each, and the field a
 * refusal names.
 */
const OPTIONAL_FEATURES: Array<{
  needs: keyof Capabilities;
  analysis: Record<string, unknown>;
  field: string;
  seen: string;
}> = [
  {
    needs: 'headerMatch',
    analysis: { iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
    field: 'spec.analysis.match[0].headers.x-canary',
    seen: '100/0 match',
  },
  {
    needs: 'mirror',
    analysis: { iterations: 2, mirror: true, mirrorWeight: 30 },
    field: 'spec.analysis.mirror',
    seen: '100/0 mirror',
  },
  {
    needs: 'sourceLabelsMatch',
    analysis: { iterations: 2, match: [{ sourceLabels: { app: 'frontend' } }] },
    field: 'spec.analysis.match[0].sourceLabels',
    seen: '100/0 match',
  },
  {
    needs: 'sessionAffinity',
    analysis: { stepWeights: [20, 50], sessionAffinity: { cookieName: 'weir-canary' } },
    field: 'spec.analysis.sessionAffinity',
    seen: '80/20',
  },
];

let w: World;
before(async () => {
  w = await startWorld('routing-conf');
});
after(async () => w?.stop());

function canaryOf(
  row: Row,
  name: string,
  analysis: Record<string, unknown>,
  spec: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name },
    spec: {
      provider: row.provider,
      targetRef: { kind: 'Deployment', name },
      service: { port: 8080, ...row.service },
      ...row.spec?.(name),
      ...spec,
      analysis: { interval: '10s', threshold: 2, ...analysis },
    },
  };
}

async function initialized(
  row: Row,
  name: string,
  analysis: Record<string, unknown>,
  spec?: Record<string, unknown>,
) {
  await deploy(row, name);
  await w.apply(canaryOf(row, name, analysis, spec));
  await w.waitPhase(name, 'Initialized', 90_000);
}

/** The target Deployment, and what the user writes besides it (the row's setup). */
async function deploy(row: Row, name: string): Promise<void> {
  await row.setup?.(w.kube, w.ns, name);
  await w.deploy(name, `example.com/${name}:1.0.0`);
}

const routesOf = (row: Row, name: string) => row.read(w.kube, w.ns, name);

async function waitRoutes(row: Row, name: string, want: StoredRoutes, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${row.provider} ${name} routes ${want}`,
    async () => (await routesOf(row, name)) === want,
    timeoutMs,
  );
}

async function waitEvent(name: string, reason: string, text: RegExp): Promise<string> {
  const e = await waitFor(
    `event ${reason} ${text} for ${name}`,
    async () => (await w.events(name)).find((x) => x.reason === reason && text.test(x.message)),
    30_000,
  );
  return e.message;
}

/** No DriftRepaired event: Weir never takes its own writes for drift. */
async function noDrift(name: string): Promise<void> {
  const drift = (await w.events(name)).filter((e) => e.reason === 'DriftRepaired');
  assert.deepEqual(drift, [], 'nobody touched the routes');
}

async function waitNotReady(name: string, text: RegExp): Promise<string> {
  return (await w.notReady(name, text)).message ?? '';
}

for (const row of ROWS) {
  const caps = descriptorOf(row.provider)!.capabilities;
  const n = (scenario: string) => `${row.short}-${scenario}`;

  describe(`provider ${row.provider}`, { concurrency: true }, () => {
    test('init at 100/0, every step read back from the stored object, promotion back to 100/0', async () => {
      const name = n('run');
      await initialized(row, name, row.run);
      assert.equal(await routesOf(row, name), '100/0');
      const seen = await recordChanges(() => routesOf(row, name));
      await w.setImage(name, `example.com/${name}:2.0.0`);
      const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 150_000);
      assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
      assert.deepEqual(await seen.stop(), row.steps);
      assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
      await noDrift(name);
    });

    for (const f of OPTIONAL_FEATURES) {
      if (caps[f.needs]) {
        test(`${f.needs}: routes show it during the run, 100/0 after promotion`, async () => {
          const name = n(f.needs.toLowerCase());
          await initialized(row, name, f.analysis);
          const seen = await recordChanges(() => routesOf(row, name));
          await w.setImage(name, `example.com/${name}:2.0.0`);
          const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 150_000);
          assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
          const values = await seen.stop();
          assert.ok(values.includes(f.seen), `${f.seen} in ${JSON.stringify(values)}`);
          assert.equal(values[values.length - 1], '100/0');
          await noDrift(name);
        });
      } else {
        test(`${f.needs} is refused: Ready=False naming ${f.field}, nothing written`, async () => {
          const name = n(f.needs.toLowerCase());
          await deploy(row, name);
          await w.apply(canaryOf(row, name, f.analysis));
          const msg = await waitNotReady(name, new RegExp(f.field.replace(/[[\].]/g, '\\$&')));
          assert.match(msg, new RegExp(`provider ${row.provider} does not support`));
          assert.equal(await w.deployment(`${name}-primary`), undefined, 'nothing applied');
        });
      }
    }

    test('rollback: an aborted run goes back to 100/0 and the primary keeps the old version', async () => {
      const name = n('abort');
      await initialized(row, name, { ...row.run, ...(row.run.iterations ? { iterations: 5 } : {}) });
      await w.setImage(name, `example.com/${name}:2.0.0`);
      await w.waitPhase(name, 'Progressing', 60_000);
      if (row.rollbackAt) await waitRoutes(row, name, row.rollbackAt, 60_000);
      await w.patchCanary(name, { metadata: { annotations: { 'weir.dev/abort': 'conformance' } } });
      const done = await w.waitPhase(name, 'Failed', 60_000);
      assert.match(done.status?.message ?? '', /aborted by user/);
      assert.equal(await routesOf(row, name), '100/0');
      assert.equal(await w.image(`${name}-primary`), `example.com/${name}:1.0.0`);
    });

    test('revertOnDeletion: deleting the Canary hands the apex Service back to the target', async () => {
      const name = n('revert');
      await initialized(row, name, row.run, { revertOnDeletion: true });
      await w.kube.remove({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: w.ns, name });
      await waitFor(
        `Canary ${name} gone`,
        async () =>
          !(await w.kube.get({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: w.ns, name })),
        90_000,
      );
      assert.equal((await w.deployment(name))?.spec.replicas, 2, 'the target got its replicas back');
      assert.equal(
        await apexServiceRoutes(w.kube, w.ns, name),
        '0/100',
        'the apex Service selects the target',
      );
    });

    test('drift: routes edited by hand and the routing object deleted are restored, with an event', async () => {
      const name = n('drift');
      await initialized(row, name, row.run);
      await row.editRoutes(w.kube, w.ns, name);
      await waitRoutes(row, name, '100/0');
      const edited = await waitEvent(name, 'DriftRepaired', new RegExp(`${name}`));
      assert.match(edited, /changed|routed/);
      await w.kube.remove(row.routeObject(w.ns, name));
      await waitEvent(name, 'DriftRepaired', /deleted/);
      await waitRoutes(row, name, '100/0');
      // The primary Deployment deleted: copied back from the promoted revision (PrimaryRepaired).
      await w.kube.remove({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: w.ns,
        name: `${name}-primary`,
      });
      await waitEvent(name, 'PrimaryRepaired', new RegExp(`${name}-primary`));
      await waitFor(`${name}-primary back`, async () => !!(await w.deployment(`${name}-primary`)), 30_000);
      const c = await w.canary(name);
      assert.notEqual(c.status?.phase, 'Failed', 'the repairs failed nothing');
    });

    const refused = row.refused;
    if (refused)
      test('an object the API server refuses is reported as Ready=False naming it', async () => {
        const name = n('refused');
        await deploy(row, name);
        await w.apply(canaryOf(row, name, row.run, refused.spec));
        const msg = await waitNotReady(name, refused.names);
        assert.match(msg, new RegExp(name));
      });

    if (row.reportAccepted) {
      const report = row.reportAccepted;
      test('weight verification: a parent that has not accepted the route holds the step', async () => {
        const name = n('verify');
        await initialized(row, name, row.run);
        await report(w.kube, w.ns, name, false);
        await w.setImage(name, `example.com/${name}:2.0.0`);
        const held = await waitFor(
          `Canary ${name} holding for the routes`,
          async () => {
            const c = await w.canary(name);
            return /waiting for the routes to be taken: parent gateway\/public reports Accepted=False/.test(
              c.status?.message ?? '',
            )
              ? c
              : undefined;
          },
          60_000,
        );
        assert.equal(held.status?.canaryWeight ?? 0, 0);
        assert.equal(await routesOf(row, name), '100/0', 'no step while the parent has not accepted');
        await report(w.kube, w.ns, name, true);
        await waitRoutes(row, name, row.steps[1]!, 60_000);
        // Accepted at an older generation than the route now has: held again, until no parent reports.
        await waitFor(
          `Canary ${name} holding for generation`,
          async () =>
            /accepted generation \d+, not the current/.test((await w.canary(name)).status?.message ?? ''),
          60_000,
        );
        await report(w.kube, w.ns, name, 'none');
        const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 150_000);
        assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
      });
    }
  });
}
