// What the runAnalysis unit tests share: Canary `web` in `prod` of Deployment `app`, validated (and
// defaulted) with `analysis` over an interval of 30s and 3 iterations.
import assert from 'node:assert/strict';
import type { CanarySpec } from '../../src/api/canary.ts';
import type { MetricTemplateSpec } from '../../src/api/metric-template.ts';
import { validateObject } from '../../src/api/validate.ts';
import type { AnalysisDeps } from '../../src/analysis/evaluate.ts';
import type { MetricProviderFactory } from '../../src/analysis/provider.ts';
import { silentLogger } from '../../src/log.ts';

export const validatedAnalysis = (analysis: Record<string, unknown>) =>
  validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'prod' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'app' },
      service: { port: 80 },
      analysis: { interval: '30s', iterations: 3, ...analysis },
    },
  });

/** The defaulted spec; the test fails on any validation problem. */
export function analysisSpec(analysis: Record<string, unknown>): CanarySpec {
  const { object, problems } = validatedAnalysis(analysis);
  assert.deepEqual(problems, []);
  return object.spec as CanarySpec;
}

/** Analysis dependencies over `templates` (by `namespace/name`) and fake `providers`, no secrets. */
export function fakeAnalysisDeps(
  templates: Record<string, MetricTemplateSpec>,
  providers: Record<string, MetricProviderFactory>,
): AnalysisDeps {
  return {
    getTemplate: (ns, name) => templates[`${ns}/${name}`],
    getSecret: () => undefined,
    defaultAddress: 'http://prom:9090',
    defaultTimeoutMs: 5000,
    log: silentLogger(),
    providers,
  };
}
