// Weir's controller on the real data plane (issue 11): the weights it writes split real requests in
// real Traefik between real podinfo pods, through Gateway API (HTTPRoute) and Traefik's own CRD
// (TraefikService), and a release that really fails is rolled back by analysis of the real 5xx that
// real Prometheus scraped from the pods. Each step's split is measured with 500 requests while a
// confirm-traffic-increase gate holds the step, and printed. The tests run one after the other: a
// step counts as served after a Traefik reload, and another test's changes would reload it too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CanaryObject } from '../../src/canary/context.ts';
import { percent, share, type LoadResult } from '../cluster/load.ts';
import { waitFor } from '../cluster/proc.ts';
import { waitForHTTPRouteAccepted } from '../cluster/traefik.ts';
import { startGate, storedCanaryWeight, takeStep } from './dataplane-gate.ts';
import {
  assertAnswers,
  assertSplit,
  backgroundLoad,
  by,
  canaryOn,
  initialized,
  ingressRouteTo,
  measure,
  measurePromoted,
  NEW,
  OLD,
  releasePodinfo,
  startKit,
  untilServed,
  waitServing,
  type Kit,
} from './dataplane-kit.ts';

let k: Kit;
before(async () => {
  k = await startKit('dataplane-rollout');
});
after(async () => k?.stop());

const host = (name: string) => `${name}.dataplane.test`;
/** Weir's built-in checks, on real metrics: podinfo's histogram (gatewayapi) or Traefik's (traefik). */
const BUILTINS = [
  { name: 'request-success-rate', thresholdRange: { min: 99 } },
  { name: 'request-duration', thresholdRange: { max: 500 } },
];
const STEPS = [20, 40, 60];

interface AnalysedMetric {
  name: string;
  result?: string;
  value?: number;
  message?: string;
}

/** The checks of the Canary's last analysis tick, as its status reports them. */
async function lastAnalysis(name: string): Promise<AnalysedMetric[]> {
  const status = (await k.w.canary(name)).status as { metrics?: AnalysedMetric[] } | undefined;
  return status?.metrics ?? [];
}

/**
 * A stepWeight run of a healthy release (6.0.0 → 6.0.1, two pods each) through `provider`: at every
 * step the measured share of the canary pods is within ±5 points of the weight Weir wrote, the
 * built-in metrics pass on real data, and after promotion the primary answers everything with 6.0.1.
 */
async function weightedRun(provider: 'gatewayapi' | 'traefik', name: string): Promise<void> {
  const gate = await startGate(k.dp.traefik);
  try {
    if (provider === 'traefik') await ingressRouteTo(k, name, host(name));
    await initialized(
      k,
      name,
      host(name),
      canaryOn(k, provider, name, host(name), {
        stepWeight: 20,
        maxWeight: 60,
        metrics: BUILTINS,
        webhooks: [{ name: 'measured', type: 'confirm-traffic-increase', url: gate.url, timeout: '5s' }],
      }),
      2,
    );

    // The rates the built-in metrics read need traffic through every analysis interval.
    const bg = backgroundLoad(k, host(name), 20, 240_000);
    let background: LoadResult;
    try {
      await releasePodinfo(k, name, NEW);
      await waitServing(k, name, 'canary', NEW, 2);
      for (const weight of STEPS) {
        await takeStep(k, provider, name, weight, gate);
        const r = await measure(k, host(name));
        assertSplit(r, name, weight, `${provider} step ${weight}%`);
        assert.equal(
          await storedCanaryWeight(k, provider, name),
          weight,
          'the step held while it was measured',
        );
        const checks = await lastAnalysis(name);
        if (checks.length) console.log(`  last analysis: ${checks.map((m) => m.message).join('; ')}`);
      }
      const analysed = await lastAnalysis(name);
      assert.deepEqual(
        analysed.map((m) => `${m.name} ${m.result}`).sort(),
        BUILTINS.map((m) => `${m.name} Successful`).sort(),
        `the built-in metrics passed on real data: ${JSON.stringify(analysed)}`,
      );
      await k.w.waitPhase(name, 'Succeeded', 120_000);
    } finally {
      background = await bg.stop();
    }
    console.log(
      `${provider} background load during the run: ${background.sent} requests, statuses ${JSON.stringify(background.byStatus)}`,
    );

    const promoted = await measurePromoted(k, name, host(name), 2);
    console.log(
      `${provider} after promotion: ${percent(promoted, (x) => x.tag === NEW)} requests answered by ${NEW} (primary pods ${JSON.stringify(promoted.byPod)})`,
    );
    // Whether the gate also answered 403 depends on the machine's speed (a step measured within one
    // interval is never asked again: a CI run saw none); the hold is proven by the weight read back
    // after each measurement, and here that Weir asked the gate before every step.
    assert.ok(
      (gate.calls[200] ?? 0) >= STEPS.length,
      `Weir asked the gate before every step (${JSON.stringify(gate.calls)})`,
    );
  } finally {
    await gate.stop();
  }
}

test(
  'gatewayapi: at every step the share answered by the canary pods is the weight Weir wrote (±5 points)',
  { timeout: 300_000 },
  () => weightedRun('gatewayapi', 'weighted'),
);

test(
  'a release adding --random-error is rolled back by request-success-rate alone, then the primary answers 100%',
  { timeout: 300_000 },
  async () => {
    const name = 'flaky';
    // podinfo --random-error fails one request in three (500, 400 or 409), about one in nine with a
    // 5xx: a success rate near 89%, far below 99. 25% steps up to 75% leave three analysed ticks to
    // fail twice before a promotion could happen.
    await initialized(
      k,
      name,
      host(name),
      canaryOn(k, 'gatewayapi', name, host(name), {
        stepWeight: 25,
        maxWeight: 75,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      }),
    );

    const weights = await k.w.recordWeights(name);
    // 50 rps: at 25% the canary gets ~125 requests per 10 s interval, so a 5xx-free window is
    // practically impossible.
    const bg = backgroundLoad(k, host(name), 50, 180_000);
    let during: LoadResult;
    let failed: CanaryObject;
    try {
      await releasePodinfo(k, name, NEW, ['--random-error']);
      failed = await k.w.waitPhase(name, 'Failed', 180_000);
    } finally {
      during = await bg.stop();
    }
    const seen = await weights.stop();
    const message = failed.status?.message ?? '';
    const value = Number(/request-success-rate ([\d.]+) < min 99/.exec(message)?.[1]);
    const fivexx = during.responses.filter((r) => r.status >= 500).length;
    console.log(
      `--random-error during analysis: ${during.sent} requests through Traefik, ${percent(during, (r) => r.status >= 500)} answered 5xx (statuses ${JSON.stringify(during.byStatus)}), ${percent(during, by(name, 'canary'))} answered 200 by the canary; weights written ${seen.join(' → ')}`,
    );
    console.log(`rolled back: ${message}`);
    assert.ok(fivexx > 0, 'the bad release answered real 5xx');
    assert.ok(value < 99, `the rollback names request-success-rate below 99 (${message})`);
    const checks = (await k.w.events(name)).filter((e) => e.reason === 'FailedCheck');
    assert.ok(checks.length >= 2, `two failed checks (${checks.length})`);
    for (const c of checks) assert.match(c.message, /request-success-rate [\d.]+ < min 99/, c.message);
    assert.equal(await k.w.image(`${name}-primary`), `ghcr.io/stefanprodan/podinfo:${OLD}`, 'never promoted');

    // The 5xx Weir analysed are podinfo's own, scraped through kubernetes_sd.
    const [scraped] = await k.dp.prometheus.queryVector(
      `sum(max_over_time(http_request_duration_seconds_count{namespace="${k.w.ns}",pod=~"${name}-[0-9a-z]+-[0-9a-z]+",status=~"5.."}[10m]))`,
    );
    console.log(`Prometheus: ${scraped?.value[1] ?? 'no'} 5xx counted by the canary pod's podinfo`);
    assert.ok(Number(scraped?.value[1]) > 0, 'the canary pod exported its 5xx to Prometheus');

    await waitFor(
      `${name}: route back to 100/0`,
      async () => (await storedCanaryWeight(k, 'gatewayapi', name)) === 0,
      30_000,
      250,
    );
    await waitForHTTPRouteAccepted(k.w.kube, k.w.ns, name);
    await untilServed(k, `${name}: only the primary serving`, host(name), (r) =>
      r.responses.every(by(name, 'primary')),
    );
    const afterwards = await measure(k, host(name), 400);
    assertAnswers(afterwards, name, OLD);
    assert.equal(share(afterwards, by(name, 'primary')), 1, 'every request answered by the primary');
    console.log(
      `after the rollback: ${percent(afterwards, by(name, 'primary'))} requests answered by the primary (${OLD})`,
    );
  },
);

test(
  'traefik (TraefikService): at every step the share answered by the canary pods is the weight Weir wrote (±5 points)',
  { timeout: 300_000 },
  () => weightedRun('traefik', 'tsvc'),
);
