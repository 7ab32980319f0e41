// The real data plane without Weir: real Traefik reading HTTPRoutes (Gateway API provider) and
// TraefikServices (CRD provider) from the local API server splits real requests between real podinfo
// processes bound to KWOK pod IPs, and a real Prometheus finds those pods through kubernetes_sd and
// scrapes them and Traefik. What Weir's gatewayapi and traefik providers rely on is checked here, so a
// failure in a canary test on the real data plane can be told apart from a failure of the proxy.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { createKube, type Kube } from '../../src/kube/client.ts';
import { createNamespace, projectRoot, sharedCluster, type Cluster } from '../cluster/cluster.ts';
import { startDataPlane, type DataPlane } from '../cluster/data-plane.ts';
import { percent, runLoad, share, type LoadOptions, type LoadResult } from '../cluster/load.ts';
import { waitFor } from '../cluster/proc.ts';
import type { PrometheusInstance } from '../cluster/prometheus.ts';
import { waitForHTTPRouteAccepted, type Traefik } from '../cluster/traefik.ts';

const HOST = 'app.dataplane.test';
const PRIMARY_TAG = '6.0.0';
const CANARY_TAG = '6.0.1';
/** Requests per measured split; at 100 rps a measurement takes ~5 s. */
const REQUESTS = 500;
const TOLERANCE = 5;

let cluster: Cluster;
let kube: Kube;
let ns: string;
let dp: DataPlane | undefined;
let traefik: Traefik;
let prom: PrometheusInstance;

before(async () => {
  cluster = await sharedCluster();
  kube = createKube(cluster.kc);
  ns = await createNamespace(cluster, 'dataplane-proxy');
  const logDir = join(process.env.WEIR_TEST_LOG_DIR ?? join(projectRoot, '.weir', 'test-logs'), ns);
  mkdirSync(logDir, { recursive: true });
  dp = await startDataPlane({
    kubeconfigPath: cluster.kubeconfigPath,
    namespace: ns,
    logDir,
    gatewayName: 'gw',
  });
  ({ traefik, prometheus: prom } = dp);
  await Promise.all([
    deployPodinfo('app-primary', PRIMARY_TAG, 2),
    deployPodinfo('app-canary', CANARY_TAG, 1),
  ]);
});

after(async () => {
  await dp?.stop();
});

/** A Deployment of `replicas` podinfo pods (scraped through their annotations) and its Service. */
async function deployPodinfo(name: string, tag: string, replicas: number): Promise<void> {
  const labels = { app: name };
  await kube.apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: {
          labels,
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9898' },
        },
        spec: {
          containers: [
            {
              name: 'podinfo',
              image: `ghcr.io/stefanprodan/podinfo:${tag}`,
              ports: [{ name: 'http', containerPort: 9898 }],
            },
          ],
        },
      },
    },
  });
  await kube.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: { selector: labels, ports: [{ name: 'http', port: 9898, targetPort: 'http' }] },
  });
}

async function applyRoute(rules: unknown[]): Promise<void> {
  await kube.apply({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'app', namespace: ns },
    spec: { parentRefs: [{ name: 'gw' }], hostnames: [HOST], rules },
  });
  await waitForHTTPRouteAccepted(kube, ns, 'app');
}

const backend = (name: string, weight?: number) => ({
  name,
  port: 9898,
  ...(weight === undefined ? {} : { weight }),
});
const weighted = (primary: number, canary: number) => ({
  backendRefs: [backend('app-primary', primary), backend('app-canary', canary)],
});

const load = (extra: Partial<LoadOptions> = {}): Promise<LoadResult> =>
  runLoad({ url: traefik.url, host: HOST, count: REQUESTS, rps: 100, timeoutMs: 30_000, ...extra });

const isCanary = (r: { tag?: string }) => r.tag === CANARY_TAG;
const isPrimary = (r: { tag?: string }) => r.tag === PRIMARY_TAG;

/**
 * Waits until a short probe through the proxy sees `expect` (the route took effect: Traefik applies
 * a change asynchronously after writing the route's status), then returns.
 */
async function untilServed(
  what: string,
  expect: (r: LoadResult) => boolean,
  extra: Partial<LoadOptions> = {},
) {
  await waitFor(
    what,
    async () => expect(await load({ count: 20, rps: 50, timeoutMs: 5_000, ...extra })),
    60_000,
    250,
  );
}

function assertSplit(result: LoadResult, canaryWeight: number, label: string): void {
  const measured = share(result, isCanary) * 100;
  console.log(
    `${label}: weight ${canaryWeight}% → ${percent(result, isCanary)} requests answered by ${CANARY_TAG} (pods ${JSON.stringify(result.byPod)})`,
  );
  assert.deepEqual(result.byStatus, { 200: result.sent }, 'every request answered 200');
  assert.ok(result.sent >= 400, `at least 400 requests measured (${result.sent})`);
  assert.equal(share(result, isCanary) + share(result, isPrimary), 1, 'every answer names its tag');
  assert.ok(
    Math.abs(measured - canaryWeight) <= TOLERANCE,
    `canary share ${measured.toFixed(1)}% within ±${TOLERANCE} points of ${canaryWeight}%`,
  );
}

test('HTTPRoute weights 80/20 split real requests within ±5 points, across every pod', async () => {
  await applyRoute([weighted(80, 20)]);
  await untilServed(
    'both tags answering through Traefik',
    (r) => r.responses.some(isCanary) && r.responses.some(isPrimary),
  );
  const result = await load();
  assertSplit(result, 20, 'HTTPRoute 80/20');
  assert.equal(Object.keys(result.byPod).length, 3, 'the two primary pods and the canary pod all answered');
});

test('a header match routes every matching request to the canary and no other', async () => {
  // A browser separates cookies with `; `: the cookie regex allows the space (Flagger's documented
  // `^(.*?;)?(canary=always)(;.*)?$` only matches when the canary cookie comes first).
  await applyRoute([
    { matches: [{ headers: [{ name: 'x-canary', value: 'insider' }] }], ...weighted(0, 100) },
    {
      matches: [
        {
          headers: [
            { name: 'cookie', type: 'RegularExpression', value: '^(.*?;\\s*)?(canary=always)(;.*)?$' },
          ],
        },
      ],
      ...weighted(0, 100),
    },
    weighted(100, 0),
  ]);
  await untilServed('the default rule at 100/0', (r) => share(r, isPrimary) === 1);
  const [header, cookie, others] = await Promise.all([
    load({ count: 200, headers: { 'x-canary': 'insider' } }),
    load({ count: 200, cookies: { session: 'x', canary: 'always' } }),
    load({ count: 200, headers: { 'x-canary': 'someone-else' } }),
  ]);
  console.log(
    `A/B: header → ${percent(header, isCanary)}, cookie → ${percent(cookie, isCanary)}, others → ${percent(others, isCanary)} answered by ${CANARY_TAG}`,
  );
  assert.equal(share(header, isCanary), 1, 'every request with the header reached the canary');
  assert.equal(share(cookie, isCanary), 1, 'every request with the cookie reached the canary');
  assert.equal(share(others, isPrimary), 1, 'no other request reached the canary');
});

test('Prometheus discovers the pods through kubernetes_sd and scrapes podinfo and Traefik', async () => {
  const p = prom;
  const pods = await waitFor(
    'three podinfo pods scraped with namespace and pod labels',
    async () => {
      const s = await p.queryVector(
        `sum by (namespace, pod) (http_request_duration_seconds_count{namespace="${ns}"})`,
      );
      return s.length === 3 && s.every((x) => Number(x.value[1]) > 0) ? s : undefined;
    },
    60_000,
    1000,
  );
  const names = pods.map((s) => s.metric.pod).sort();
  for (const name of names) assert.match(name!, /^app-(primary|canary)-[a-z0-9]+-[a-z0-9]+$/);
  const { items } = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
  assert.deepEqual(names, items.map((x) => x.metadata!.name!).sort(), 'every pod of the namespace');

  const traefikSeries = await p.waitForSeries(
    `sum by (service, code) (traefik_service_requests_total{job="traefik"})`,
    30_000,
    (s) =>
      ['app-primary', 'app-canary'].every((svc) =>
        s.some((x) => x.metric.service?.startsWith(`${ns}-${svc}-`) && Number(x.value[1]) > 0),
      ),
  );
  console.log(
    `traefik_service_requests_total services: ${traefikSeries.map((s) => s.metric.service).join(', ')}`,
  );
});

test('Traefik v3.6 does not mirror: an HTTPRoute RequestMirror filter makes the rule answer 500', async () => {
  await applyRoute([
    {
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: backend('app-canary') } }],
      backendRefs: [backend('app-primary', 100)],
    },
  ]);
  // Traefik refuses the filter ("unsupported filter RequestMirror") and serves the rule with a 500
  // service instead: a gatewayapi Canary with mirroring must not be run on Traefik.
  await untilServed('the mirrored rule replaced by Traefik', (r) => r.byStatus['500'] === r.sent);
  const result = await load({ count: 100 });
  assert.deepEqual(result.byStatus, { 500: 100 });
  assert.deepEqual(result.byPod, {}, 'no pod answered');
});

test('TraefikService weighted 80/20 behind an IngressRoute splits real requests within ±5 points', async () => {
  const host = `ts.${HOST}`;
  await kube.apply({
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'TraefikService',
    metadata: { name: 'app', namespace: ns },
    spec: {
      weighted: {
        services: [
          { name: 'app-primary', port: 9898, weight: 80 },
          { name: 'app-canary', port: 9898, weight: 20 },
        ],
      },
    },
  });
  await kube.apply({
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'IngressRoute',
    metadata: { name: 'app', namespace: ns },
    spec: {
      entryPoints: [traefik.entryPoint],
      routes: [
        { match: `Host(\`${host}\`)`, kind: 'Rule', services: [{ name: 'app', kind: 'TraefikService' }] },
      ],
    },
  });
  await untilServed(
    'the IngressRoute serving both tags',
    (r) => r.responses.some(isCanary) && r.responses.some(isPrimary),
    { host },
  );
  assertSplit(await load({ host }), 20, 'TraefikService 80/20');
});
