// The routing provider descriptors: registry, capability checks (controller and `weir lint` refuse
// the same Canaries, naming the field), the chart's generated RBAC rules, provider template
// variables and Gateway API weight verification.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROVIDERS, type CanarySpec } from '../../src/api/canary.ts';
import { validateObject } from '../../src/api/validate.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import { builtinQuery, providerVariables } from '../../src/analysis/builtin.ts';
import { controllerRules, renderChartRules } from '../../src/chart-rules.ts';
import { lintText } from '../../src/cli/lint.ts';
import { watchedResources } from '../../src/controller-main.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import { routeNotTaken } from '../../src/routing/gatewayapi/router.ts';
import {
  descriptorOf,
  notSupportedMessage,
  PROVIDER_DESCRIPTORS,
  supportedProviders,
} from '../../src/routing/registry.ts';
import { refusedFixtures, validFixtures } from '../fixtures/load.ts';

const root = join(import.meta.dirname, '..', '..');

test('charts/weir/templates/_rules.tpl matches the descriptors (run `npm run gen:crds` if this fails)', () => {
  assert.equal(readFileSync(join(root, 'charts/weir/templates/_rules.tpl'), 'utf8'), renderChartRules());
});

test("every provider resource is watched and granted list, watch and the router's verbs", () => {
  const rules = controllerRules();
  const watched = watchedResources();
  for (const d of PROVIDER_DESCRIPTORS.values()) {
    for (const r of d.resources) {
      const group = r.type.apiVersion.includes('/') ? r.type.apiVersion.split('/')[0] : '';
      const rule = rules.find((x) => x.group === group && x.resources.includes(r.type.plural));
      assert.ok(rule, `${d.name}: no rule for ${r.type.plural}`);
      for (const v of ['list', 'watch', ...r.verbs])
        assert.ok(rule.verbs.includes(v), `${r.type.plural} ${v}`);
      assert.ok(
        watched.some((w) => w.type.kind === r.type.kind && w.type.apiVersion === r.type.apiVersion),
        `${d.name}: ${r.type.kind} not watched`,
      );
    }
  }
});

test('providers without a descriptor are not supported yet; with one, they have both built-ins', () => {
  for (const p of PROVIDERS) {
    const d = descriptorOf(p);
    if (!d) {
      assert.match(
        notSupportedMessage(p),
        new RegExp(
          `spec.provider: ${p} is not supported yet \\(supported: ${supportedProviders().join(', ')}\\)`,
        ),
      );
      assert.deepEqual(
        capabilityProblems({} as CanarySpec, p).map((x) => x.path),
        ['spec.provider'],
      );
      continue;
    }
    for (const m of ['request-success-rate', 'request-duration']) assert.ok(builtinQuery(p, m));
  }
  for (const p of ['kubernetes', 'gatewayapi', 'istio', 'traefik', 'contour'])
    assert.ok(PROVIDER_DESCRIPTORS.has(p), `${p} registered`);
});

for (const fx of refusedFixtures()) {
  test(`refused: ${fx.file} is valid for the schema, refused by its provider at ${fx.expectField}`, () => {
    const { object, problems } = validateObject(fx.object);
    assert.deepEqual(problems, [], 'the API server accepts it');
    const spec = object.spec as CanarySpec;
    const hit = capabilityProblems(spec, spec.provider!).find((p) => p.path === fx.expectField);
    assert.ok(hit, JSON.stringify(capabilityProblems(spec, spec.provider!)));
    assert.ok(hit.message.includes(fx.expectMessage!), hit.message);
    const lint = lintText(fx.file, readFileSync(join(root, 'test/fixtures', fx.file), 'utf8'));
    assert.ok(
      lint.problems.some((p) => p.includes(`${fx.expectField}: ${fx.expectMessage}`)),
      lint.problems.join('\n'),
    );
  });
}

test('valid fixtures ask nothing of their provider that it lacks', () => {
  for (const fx of validFixtures()) {
    if (fx.object.kind !== 'Canary') continue;
    const spec = validateObject(fx.object).object.spec as CanarySpec;
    if (!spec.provider || !descriptorOf(spec.provider)) continue;
    assert.deepEqual(capabilityProblems(spec, spec.provider), [], fx.file);
  }
});

test('kubernetes weights (by pod counts), and mirroring on a weighted gatewayapi canary are judged per capability', () => {
  const spec = (analysis: Record<string, unknown>) =>
    ({ targetRef: { name: 'a' }, service: { port: 80 }, analysis }) as unknown as CanarySpec;
  assert.deepEqual(capabilityProblems(spec({ stepWeight: 10, maxWeight: 50 }), 'kubernetes'), []);
  assert.deepEqual(capabilityProblems(spec({ iterations: 3, mirror: true }), 'gatewayapi'), []);
  assert.deepEqual(capabilityProblems(spec({ iterations: 3 }), 'kubernetes'), []);
  assert.deepEqual(
    capabilityProblems(
      spec({ iterations: 3, match: [{ queryParams: { v: { exact: '2' } } }] }),
      'kubernetes',
    ).map((p) => p.path),
    ['spec.analysis.match[0].queryParams'],
  );
});

test('gatewayapi adds {{ route }}, the HTTPRoute name, to query templates', () => {
  const spec = { targetRef: { name: 'app' }, service: { port: 80, name: 'web' } } as unknown as CanarySpec;
  const ctx = {
    name: 'c',
    namespace: 'n',
    target: 'app',
    primary: 'app-primary',
    service: 'web',
    interval: '1m',
    variables: {},
    provider: providerVariables('gatewayapi', spec),
  };
  assert.equal(renderQuery('x{route="{{ route }}"}', ctx), 'x{route="web"}');
  assert.throws(
    () => renderQuery('{{ route }}', { ...ctx, provider: providerVariables('kubernetes', spec) }),
    /unknown variable \{\{ route \}\}/,
  );
});

test('weight verification: a parent that reports status holds until it accepts the current generation', () => {
  const route = (generation: number, conditions?: unknown[]) => ({
    metadata: { generation },
    ...(conditions
      ? { status: { parents: [{ parentRef: { name: 'gw', namespace: 'g' }, conditions }] } }
      : {}),
  });
  assert.equal(routeNotTaken(route(3)), undefined, 'no gateway controller: nothing holds');
  assert.equal(
    routeNotTaken(route(3, [{ type: 'Accepted', status: 'True', observedGeneration: 3 }])),
    undefined,
  );
  assert.match(
    routeNotTaken(route(3, [{ type: 'Accepted', status: 'True', observedGeneration: 2 }])) ?? '',
    /parent g\/gw accepted generation 2, not the current 3/,
  );
  assert.match(
    routeNotTaken(
      route(3, [
        { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', observedGeneration: 3 },
      ]),
    ) ?? '',
    /Accepted=False \(NotAllowedByListeners\)/,
  );
  assert.equal(routeNotTaken(route(3, [{ type: 'ResolvedRefs', status: 'False' }])), undefined);
});

test('setCanaryScale is refused where weights are pod counts (kubernetes), naming the step', () => {
  const spec = {
    targetRef: { name: 'a' },
    service: { port: 80 },
    analysis: { steps: [{ setWeight: 10 }, { setCanaryScale: { replicas: 2 } }] },
  } as unknown as CanarySpec;
  assert.deepEqual(
    capabilityProblems(spec, 'kubernetes').map((p) => p.path),
    ['spec.analysis.steps[1].setCanaryScale'],
  );
  for (const p of ['gatewayapi', 'istio', 'traefik']) assert.deepEqual(capabilityProblems(spec, p), [], p);
});
