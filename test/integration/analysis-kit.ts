// What the runAnalysis tests against a real Prometheus share: a validated Canary spec around a list
// of metrics, and analysis dependencies with no templates or secrets.
import assert from 'node:assert/strict';
import type { CanarySpec } from '../../src/api/canary.ts';
import { validateObject } from '../../src/api/validate.ts';
import type { AnalysisDeps } from '../../src/analysis/evaluate.ts';
import { silentLogger } from '../../src/log.ts';

/** The spec of a Canary of Deployment `target` in `prod`, analysed every minute with `metrics`. */
export function analysisCanarySpec(target: string, metrics: unknown[]): CanarySpec {
  const { object, problems } = validateObject({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: target, namespace: 'prod' },
    spec: {
      targetRef: { kind: 'Deployment', name: target },
      service: { port: 80 },
      analysis: { interval: '1m', iterations: 5, metrics },
    },
  });
  assert.deepEqual(problems, []);
  return object.spec as CanarySpec;
}

/** Built-in metrics only, against the Prometheus at `address`, with a 5 s query timeout. */
export function builtinAnalysisDeps(address: string): AnalysisDeps {
  return {
    getTemplate: () => undefined,
    getSecret: () => undefined,
    defaultAddress: address,
    defaultTimeoutMs: 5000,
    log: silentLogger(),
  };
}
