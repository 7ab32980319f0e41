// `weir convert` runs Flagger's own manifests: every provider-specific Canary of Flagger's end-to-end
// suite (test/fixtures/flagger-e2e/<provider>/, verbatim, source named in each file) goes through the
// real `weir convert --provider <what that suite's Flagger ran with>` and `weir lint`, and is applied
// with its Deployment (Flagger's test/workloads), the objects the Canary refers to (Ingress,
// ApisixRoute, Upstream) or that its own manifest holds, and the MetricTemplates it names. The
// controller must initialise it on its provider: phase Initialized, the primary Deployment created,
// and the provider's routing object stored at 100/0. A provider Weir has not registered is refused
// with a clear "not supported" condition instead, and nothing is applied.
//
// Flagger's linkerd suite runs Flagger with -mesh-provider=gatewayapi:v1beta1 (kustomize/linkerd):
// its Canaries are Gateway API Canaries with a Service parent, which is how Linkerd >= 2.14 routes.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Kube } from '../../src/kube/client.ts';
import { startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import { meshHttpRouteRoutes, routeTableRoutes } from '../cluster/route-weights-kuma-gloo.ts';
import {
  apisixRouteRoutes,
  httpProxyRoutes,
  httpRouteRoutes,
  nginxIngressRoutes,
  skipperIngressRoutes,
  traefikServiceRoutes,
  virtualServiceRoutes,
  type StoredRoutes,
} from '../cluster/route-weights.ts';
import { documents, fixtureDocs, FLAGGER_FIXTURES, relocate, weir, type Json } from './flagger-e2e-kit.ts';

type Reader = (kube: Kube, ns: string, name: string) => Promise<StoredRoutes | undefined>;

interface Suite {
  /** Folder under test/fixtures/flagger-e2e/ (Flagger's test/<dir>/). */
  dir: string;
  /** What Flagger ran with in that suite (-mesh-provider / meshProvider), passed to --provider. */
  meshProvider: string;
  /** The Weir provider the Canaries end up on. */
  provider: string;
  /**
   * Reads the routing object's routes, given the apex Service and the Ingress of spec.ingressRef;
   * undefined while the provider is not registered in Weir (the Canary must then be refused).
   */
  read?: (
    kube: Kube,
    ns: string,
    refs: { apex: string; ingress?: string; route?: string },
  ) => Promise<StoredRoutes | undefined>;
}

const byApex =
  (r: Reader): Suite['read'] =>
  (kube, ns, refs) =>
    r(kube, ns, refs.apex);

// A provider still to be registered would have no `read`: its rows assert the refusal. Every provider
// of Flagger's suite has a descriptor in src/routing/registry.ts now.
const SUITES: Suite[] = [
  { dir: 'istio', meshProvider: 'istio', provider: 'istio', read: byApex(virtualServiceRoutes) },
  {
    dir: 'linkerd',
    meshProvider: 'gatewayapi:v1beta1',
    provider: 'gatewayapi',
    read: byApex(httpRouteRoutes),
  },
  {
    dir: 'nginx',
    meshProvider: 'nginx',
    provider: 'nginx',
    read: (kube, ns, refs) => nginxIngressRoutes(kube, ns, refs.ingress!),
  },
  { dir: 'contour', meshProvider: 'contour', provider: 'contour', read: byApex(httpProxyRoutes) },
  { dir: 'traefik', meshProvider: 'traefik', provider: 'traefik', read: byApex(traefikServiceRoutes) },
  {
    dir: 'skipper',
    meshProvider: 'skipper',
    provider: 'skipper',
    read: (kube, ns, refs) => skipperIngressRoutes(kube, ns, refs.ingress!, refs.apex),
  },
  { dir: 'kuma', meshProvider: 'kuma', provider: 'kuma', read: byApex(meshHttpRouteRoutes) },
  {
    dir: 'apisix',
    meshProvider: 'apisix',
    provider: 'apisix',
    read: (kube, ns, refs) => apisixRouteRoutes(kube, ns, refs.route!, refs.apex),
  },
  { dir: 'gloo', meshProvider: 'gloo', provider: 'gloo', read: byApex(routeTableRoutes) },
];

interface Row {
  suite: Suite;
  /** e.g. istio/test-canary-1.yaml */
  file: string;
  /** Name of this scenario's app (replaces `podinfo`). */
  id: string;
}

const ROWS: Row[] = SUITES.flatMap((suite) =>
  readdirSync(join(FLAGGER_FIXTURES, suite.dir))
    .filter((f) => /^test-.*-\d+\.yaml$/.test(f))
    .sort()
    .map((f) => ({
      suite,
      file: `${suite.dir}/${f}`,
      id: `${suite.dir}-${f.replace(/^test-/, '').replace(/\.yaml$/, '')}`,
    })),
);

/** Objects a Canary names by reference, besides its target (their kinds). */
const REFERENCED = { ingressRef: 'Ingress', routeRef: 'ApisixRoute', upstreamRef: 'Upstream' } as const;

const nameOf = (o: Json) => String((o.metadata as Json | undefined)?.name);

let w: World;
before(async () => {
  w = await startWorld('flagger-e2e');
});
after(async () => w?.stop());

/** Converts and lints the row's fixture; returns the Weir objects as YAML. */
async function convertAndLint(row: Row): Promise<string> {
  const path = join(FLAGGER_FIXTURES, row.file);
  const converted = await weir(['convert', '--provider', row.suite.meshProvider, '-f', path]);
  assert.equal(converted.code, 0, `weir convert ${row.file}: ${converted.stderr}`);
  assert.doesNotMatch(converted.stderr, /Canary not converted|fix it before applying/);
  // The MetricTemplates the script applies besides its Canaries, converted the same way.
  const setup = setupFile(row);
  const parts = [converted.stdout];
  if (setup && fixtureDocs(setup).some((o) => o.kind === 'MetricTemplate')) {
    const templates = await weir(['convert', '-f', join(FLAGGER_FIXTURES, setup)]);
    assert.equal(templates.code, 0, `weir convert ${setup}: ${templates.stderr}`);
    parts.push(templates.stdout);
  }
  const yaml = parts.join('\n---\n');
  const linted = await weir(['lint', '-f', '-'], yaml);
  assert.equal(linted.code, 0, `weir lint of the converted ${row.file}: ${linted.stdout}${linted.stderr}`);
  return yaml;
}

/** test-canary-2.yaml -> test-canary-setup.yaml, when the script applies other objects. */
function setupFile(row: Row): string | undefined {
  const setup = row.file.replace(/-\d+\.yaml$/, '-setup.yaml');
  const dir = row.file.split('/')[0]!;
  return readdirSync(join(FLAGGER_FIXTURES, dir)).includes(setup.split('/')[1]!) ? setup : undefined;
}

/**
 * Applies the row: Flagger's Secret and Deployment (named as the Canary's target), the non-Flagger
 * objects of the Canary's own manifest, the objects it refers to and the converted MetricTemplates,
 * then the Canary. Returns the Canary as applied.
 */
async function applyRow(row: Row, converted: Json[]): Promise<Json> {
  const setup = setupFile(row);
  const setupDocs = setup ? fixtureDocs(setup) : [];
  const templates = converted.filter((o) => o.kind === 'MetricTemplate');
  const prefixed = new Set(templates.map(nameOf));
  const move = <T>(o: T) => relocate(o, w.ns, row.id, prefixed);
  const canary = move(converted.find((o) => o.kind === 'Canary')!);
  const spec = canary.spec as Json;
  const target = String((spec.targetRef as Json).name);
  await w.apply(move(fixtureDocs('workloads/secret.yaml')[0]!));
  const deployment = move(fixtureDocs('workloads/deployment.yaml')[0]!);
  await w.apply({ ...deployment, metadata: { ...(deployment.metadata as Json), name: target } });
  const own = fixtureDocs(row.file).filter((o) => !String(o.apiVersion).startsWith('flagger.app/'));
  const referenced = Object.entries(REFERENCED).flatMap(([field, kind]) => {
    const ref = spec[field] as Json | undefined;
    return ref ? setupDocs.filter((o) => o.kind === kind && nameOf(move(o)) === ref.name) : [];
  });
  for (const o of [...own, ...referenced, ...templates]) await w.apply(move(o));
  await w.apply(canary);
  return canary;
}

describe('Flagger e2e Canaries converted by weir convert', { concurrency: true }, () => {
  test('every provider-specific suite has Canaries here', () => {
    for (const s of SUITES)
      assert.ok(
        ROWS.some((r) => r.suite === s),
        `no fixture under test/fixtures/flagger-e2e/${s.dir}`,
      );
  });

  for (const row of ROWS) {
    const { suite } = row;
    const read = suite.read;
    const title = read
      ? `${row.file}: Initialized on ${suite.provider}, routes at 100/0`
      : `${row.file}: refused, provider ${suite.provider} not supported yet`;
    test(title, async () => {
      const yaml = await convertAndLint(row);
      const converted = documents(yaml);
      const canary = await applyRow(row, converted);
      const spec = canary.spec as Json;
      assert.equal(spec.provider, suite.provider, 'the converted Canary names its provider');
      const name = nameOf(canary);
      if (!read) {
        const ready = await w.notReady(
          name,
          new RegExp(`spec.provider: ${suite.provider} is not supported yet`),
          120_000,
        );
        assert.equal(ready.reason, 'InvalidSpec');
        assert.equal(await w.deployment(`${String((spec.targetRef as Json).name)}-primary`), undefined);
        return;
      }
      const done = await w.waitPhase(name, ['Initialized', 'Failed'], 180_000);
      assert.equal(done.status?.phase, 'Initialized', done.status?.message);
      const target = String((spec.targetRef as Json).name);
      assert.ok(await w.deployment(`${target}-primary`), `${target}-primary created`);
      const service = spec.service as Json;
      const refs = {
        apex: String(service.name ?? target),
        ...(spec.ingressRef ? { ingress: String((spec.ingressRef as Json).name) } : {}),
        ...(spec.routeRef ? { route: String((spec.routeRef as Json).name) } : {}),
      };
      await waitFor(
        `${row.file}: ${suite.provider} routes 100/0`,
        async () => (await read(w.kube, w.ns, refs)) === '100/0',
        30_000,
      );
    });
  }
});
