// The smi and linkerd providers' pure parts: the TrafficSplit (v1alpha1) their router writes, the
// weights read back (v1alpha1 Quantities), their refusals (no A/B, no mirroring) and their built-in
// queries rendered (Flagger v1.44's: linkerd's response_total; smi falls through to Istio's).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanarySpec } from '../../src/api/canary.ts';
import { builtinQuery } from '../../src/analysis/builtin.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import { capabilityProblems } from '../../src/routing/capabilities.ts';
import type { RouteTarget } from '../../src/routing/router.ts';
import { desiredTrafficSplit, readSplitTraffic } from '../../src/routing/smi/router.ts';
import { podinfoTarget } from './route-target-kit.ts';

function target(service: Record<string, unknown> = {}): RouteTarget {
  return podinfoTarget({ service });
}

test('smi: the TrafficSplit lists canary then primary with the weights; read back, also as strings', () => {
  const t = target({ apex: { labels: { team: 'a' } } });
  const ts = desiredTrafficSplit(t, { primary: 80, canary: 20 });
  assert.equal(ts.apiVersion, 'split.smi-spec.io/v1alpha1');
  assert.deepEqual(ts.spec, {
    service: 'podinfo',
    backends: [
      { service: 'podinfo-canary', weight: 20 },
      { service: 'podinfo-primary', weight: 80 },
    ],
  });
  assert.equal(ts.metadata?.labels?.team, 'a');
  assert.deepEqual(readSplitTraffic(ts, t), { primary: 80, canary: 20 });
  const stored = {
    ...ts,
    spec: { service: 'podinfo', backends: [{ service: 'podinfo-primary', weight: '100' }] },
  };
  assert.deepEqual(readSplitTraffic(stored, t), { primary: 100, canary: 0 });
  // Flagger's root service: service.hosts[0] when set.
  const hosted = desiredTrafficSplit(target({ hosts: ['podinfo.test.svc.cluster.local'] }), {
    primary: 100,
    canary: 0,
  });
  assert.equal((hosted.spec as { service: string }).service, 'podinfo.test.svc.cluster.local');
});

test('smi, linkerd: match and mirror are refused naming the field; blue/green is accepted', () => {
  for (const p of ['smi', 'linkerd']) {
    const spec = (analysis: Record<string, unknown>) =>
      ({ ...target().spec, analysis: { interval: '1m', threshold: 5, ...analysis } }) as CanarySpec;
    assert.deepEqual(
      capabilityProblems(
        spec({ iterations: 2, match: [{ headers: { 'x-canary': { exact: 'a' } } }] }),
        p,
      ).map((x) => x.path),
      ['spec.analysis.match[0].headers.x-canary'],
    );
    assert.deepEqual(
      capabilityProblems(spec({ iterations: 2, mirror: true }), p).map((x) => x.path),
      ['spec.analysis.mirror'],
    );
    assert.deepEqual(capabilityProblems(spec({ iterations: 2 }), p), []);
    assert.deepEqual(capabilityProblems(spec({ stepWeight: 10, maxWeight: 50 }), p), []);
  }
});

test("smi, linkerd: built-in queries are Flagger's, rendered", () => {
  const ctx = {
    name: 'podinfo',
    namespace: 'test',
    target: 'podinfo',
    primary: 'podinfo-primary',
    service: 'podinfo',
    interval: '1m',
    variables: {},
    provider: {},
  };
  const render = (p: string, m: string) => renderQuery(builtinQuery(p, m), ctx);
  const l5d = 'namespace="test",deployment=~"podinfo"';
  assert.equal(
    render('linkerd', 'request-success-rate'),
    `sum(rate(response_total{${l5d},classification!="failure",direction="inbound"}[1m])) / sum(rate(response_total{${l5d},direction="inbound"}[1m])) * 100`,
  );
  assert.equal(
    render('linkerd', 'request-duration'),
    `histogram_quantile(0.99,sum(rate(response_latency_ms_bucket{${l5d},direction="inbound"}[1m])) by (le))`,
  );
  assert.equal(render('smi', 'request-success-rate'), render('istio', 'request-success-rate'));
  assert.equal(render('smi', 'request-duration'), render('istio', 'request-duration'));
});
