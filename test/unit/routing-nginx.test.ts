// The nginx provider's pure parts: the canary Ingress cloned from spec.ingressRef for each Traffic,
// the routes read back from its annotations, its refusals (one header, one exact cookie) and its
// built-in queries rendered (Flagger v1.44's, token for token).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinQuery, providerVariables } from '../../src/analysis/builtin.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import type { Obj } from '../../src/kube/client.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { desiredCanaryIngress, readIngressTraffic } from '../../src/routing/nginx/router.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

const P = 'nginx.ingress.kubernetes.io';

function target(analysis: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({
    analysis,
    spec: {
      provider: 'nginx',
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web' },
    },
  });
}

const backend = (name: string) => ({ service: { name, port: { number: 9898 } } });
const userIngress: Obj = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    name: 'web',
    namespace: 'test',
    labels: { team: 'a' },
    annotations: {
      [`${P}/canary`]: 'false',
      [`${P}/rewrite-target`]: '/',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    },
  },
  spec: {
    ingressClassName: 'nginx',
    rules: [
      {
        host: 'app.example.com',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: backend('podinfo') },
            { path: '/other', pathType: 'Prefix', backend: backend('other') },
          ],
        },
      },
    ],
  },
};

test('nginx: the canary Ingress is the user Ingress pointing at <svc>-canary, weights as annotations', () => {
  const t = target({ stepWeight: 10 });
  const init = desiredCanaryIngress(userIngress, t, { primary: 100, canary: 0 });
  assert.equal(init.metadata?.name, 'web-canary');
  const paths = (init.spec as { rules: Array<{ http: { paths: Array<{ backend: unknown }> } }> }).rules[0]!
    .http.paths;
  assert.deepEqual(paths[0]!.backend, backend('podinfo-canary'));
  assert.deepEqual(paths[1]!.backend, backend('other'), 'other backends stay');
  assert.equal((init.spec as { ingressClassName: string }).ingressClassName, 'nginx');
  const a = init.metadata!.annotations!;
  assert.equal(a[`${P}/canary`], 'true');
  assert.equal(a[`${P}/canary-weight`], '0');
  assert.equal(a[`${P}/rewrite-target`], '/', "the user's other annotations are kept");
  assert.equal(a['kubectl.kubernetes.io/last-applied-configuration'], undefined);
  assert.equal(init.metadata?.labels?.team, 'a');
  assert.equal(init.metadata?.labels?.['app.kubernetes.io/managed-by'], 'weir');
  assert.deepEqual(readIngressTraffic(init), { primary: 100, canary: 0 });
  const step = desiredCanaryIngress(userIngress, t, { primary: 70, canary: 30 });
  assert.equal(step.metadata!.annotations![`${P}/canary-weight`], '30');
  assert.deepEqual(readIngressTraffic(step), { primary: 70, canary: 30 });
  // The user's object is not touched by the copy.
  const userPaths = (userIngress.spec as { rules: Array<{ http: { paths: typeof paths } }> }).rules[0]!.http
    .paths;
  assert.deepEqual(userPaths[0]!.backend, backend('podinfo'));
});

test('nginx: no backend for the apex Service is an error naming the Ingress', () => {
  const other = { ...userIngress, spec: { rules: [{ http: { paths: [{ backend: backend('x') }] } }] } };
  assert.throws(
    () => desiredCanaryIngress(other, target(), { primary: 100, canary: 0 }),
    /Ingress test\/web \(spec\.ingressRef\) has no backend for Service podinfo/,
  );
});

test('nginx A/B: one header (value or pattern) and one cookie, read back as match', () => {
  const exact = target({
    iterations: 2,
    match: [{ headers: { 'x-canary': { exact: 'insider' }, cookie: { exact: 'canary' } } }],
  });
  const ab = desiredCanaryIngress(userIngress, exact, { primary: 100, canary: 0, match: true });
  const a = ab.metadata!.annotations!;
  assert.equal(a[`${P}/canary-by-header`], 'x-canary');
  assert.equal(a[`${P}/canary-by-header-value`], 'insider');
  assert.equal(a[`${P}/canary-by-cookie`], 'canary');
  assert.deepEqual(readIngressTraffic(ab), { primary: 100, canary: 0, match: true });
  const pattern = (m: Record<string, string>) =>
    desiredCanaryIngress(userIngress, target({ iterations: 2, match: [{ headers: { 'x-tier': m } }] }), {
      primary: 100,
      canary: 0,
      match: true,
    }).metadata!.annotations![`${P}/canary-by-header-pattern`];
  assert.equal(pattern({ regex: '^b.*' }), '^b.*');
  assert.equal(pattern({ prefix: 'beta.' }), '^beta\\..*');
  assert.equal(pattern({ suffix: '.x' }), '.*\\.x$');
  // After the run the A/B keys are gone.
  const after = desiredCanaryIngress(userIngress, exact, { primary: 100, canary: 0 });
  assert.equal(after.metadata!.annotations![`${P}/canary-by-header`], undefined);
  assert.deepEqual(readIngressTraffic(after), { primary: 100, canary: 0 });
});

test('nginx refuses what ingress-nginx cannot do, naming the field', () => {
  const spec = (analysis: Record<string, unknown>) => target(analysis).spec;
  const two = capabilityProblems(
    spec({ iterations: 2, match: [{ headers: { a: { exact: '1' } } }, { headers: { b: { exact: '2' } } }] }),
    'nginx',
  );
  assert.deepEqual(
    two.map((p) => p.path),
    ['spec.analysis.match[1].headers.b'],
  );
  assert.match(two[0]!.message, /provider nginx matches one header only/);
  const cookie = capabilityProblems(
    spec({ iterations: 2, match: [{ headers: { cookie: { regex: 'x' } } }] }),
    'nginx',
  );
  assert.deepEqual(
    cookie.map((p) => p.path),
    ['spec.analysis.match[0].headers.cookie'],
  );
  assert.deepEqual(
    capabilityProblems(spec({ iterations: 2, match: [{ queryParams: { a: { exact: '1' } } }] }), 'nginx').map(
      (p) => p.path,
    ),
    ['spec.analysis.match[0].queryParams'],
  );
  assert.deepEqual(
    capabilityProblems(spec({ iterations: 2, mirror: true }), 'nginx').map((p) => p.path),
    ['spec.analysis.mirror'],
  );
  assert.deepEqual(capabilityProblems(spec({ stepWeight: 10 }), 'nginx'), []);
  assert.deepEqual(capabilityProblems(spec({ iterations: 2 }), 'nginx'), [], 'blue/green');
});

test("nginx built-in queries are Flagger's, rendered with {{ ingress }} = spec.ingressRef.name", () => {
  const spec = target().spec;
  const ctx = {
    name: 'podinfo',
    namespace: 'test',
    target: 'podinfo',
    primary: 'podinfo-primary',
    service: 'podinfo',
    interval: '1m',
    variables: {},
    provider: providerVariables('nginx', spec),
  };
  const render = (m: string) => renderQuery(builtinQuery('nginx', m), ctx);
  const s = 'namespace="test",ingress="web",canary!=""';
  assert.equal(
    render('request-success-rate'),
    `sum(rate(nginx_ingress_controller_requests{${s},status!~"5.*"}[1m])) / sum(rate(nginx_ingress_controller_requests{${s}}[1m])) * 100`,
  );
  assert.equal(
    render('request-duration'),
    `sum(rate(nginx_ingress_controller_response_duration_seconds_sum{${s}}[1m])) / sum(rate(nginx_ingress_controller_response_duration_seconds_count{${s}}[1m])) * 1000`,
  );
});
