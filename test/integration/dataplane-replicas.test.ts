// Provider `kubernetes` with weights on the real data plane: no proxy object of Weir's, only the apex
// Service `<svc>` selecting the pods of both Deployments while the canary's replicas follow the weight
// (dynamicStableScale shrinks the primary). A user's own IngressRoute to the apex Service sends real
// requests through real Traefik, which balances the Service's EndpointSlice endpoints round robin: the
// share answered by canary pods must be canaryPods/(canaryPods+primaryPods). Each step is held by a
// confirm-traffic-increase gate while it is measured, the last one by a confirm-promotion gate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { percent, share, type LoadResult } from '../cluster/load.ts';
import { waitFor } from '../cluster/proc.ts';
import { startGate, type Gate } from './dataplane-gate.ts';
import {
  assertAnswers,
  by,
  groupOf,
  initialized,
  measure,
  measurePromoted,
  NEW,
  OLD,
  releasePodinfo,
  startKit,
  TOLERANCE,
  untilServed,
  waitServing,
  type Kit,
} from './dataplane-kit.ts';

let k: Kit;
before(async () => {
  k = await startKit('dataplane-replicas');
});
after(async () => k?.stop());

const NAME = 'ratio';
const HOST = `${NAME}.dataplane.test`;
/** podinfo's port, which the apex Service exposes (as canaryOn's service.port). */
const PORT = 9898;
const TOTAL = 4;
const STEPS = [25, 50, 75];
/** Requests per measured step (the brief asks for 400; the rollout tests measure 500). */
const MEASURED = 400;

/** The Canary a user of provider kubernetes writes: weights, dynamicStableScale, no metric checks. */
function replicaCanary(traffic: Gate, promotion: Gate): Record<string, unknown> {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: NAME },
    spec: {
      provider: 'kubernetes',
      targetRef: { kind: 'Deployment', name: NAME },
      service: { port: PORT },
      analysis: {
        interval: '10s',
        threshold: 2,
        stepWeights: STEPS,
        dynamicStableScale: true,
        // No metrics: the split is the subject, and it needs no background load to pass analysis.
        webhooks: [
          { name: 'step-measured', type: 'confirm-traffic-increase', url: traffic.url, timeout: '5s' },
          // Without it Weir could promote after one interval at 75%, while that step is measured.
          { name: 'last-measured', type: 'confirm-promotion', url: promotion.url, timeout: '5s' },
        ],
      },
    },
  };
}

/** The user's own route: `host` to the apex Service, which Traefik balances over its endpoints. */
async function ingressRouteToApex(): Promise<void> {
  await k.w.apply({
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'IngressRoute',
    metadata: { name: NAME },
    spec: {
      entryPoints: [k.dp.traefik.entryPoint],
      routes: [
        {
          match: `Host(\`${HOST}\`)`,
          kind: 'Rule',
          services: [{ name: NAME, kind: 'Service', port: PORT }],
        },
      ],
    },
  });
}

interface Apex {
  metadata: { annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}

/** The weight Weir wrote on the apex Service: set last, after both Deployments were scaled. */
async function apexWeight(): Promise<number | undefined> {
  const svc = await k.w.kube.get<Apex & Record<string, never>>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace: k.w.ns,
    name: NAME,
  });
  const w = svc?.metadata.annotations?.['weir.dev/canary-weight'];
  return w === undefined ? undefined : Number(w);
}

/** `canary/primary` spec.replicas of the two Deployments. */
async function counts(): Promise<string | undefined> {
  const [canary, primary] = [await k.w.deployment(NAME), await k.w.deployment(`${NAME}-primary`)];
  if (!canary || !primary) return undefined;
  return `${canary.spec.replicas}/${primary.spec.replicas}`;
}

/** Lets exactly the next weight through `gate`: open until Weir wrote `weight` (or failed). */
async function takeStep(weight: number, gate: Gate): Promise<void> {
  gate.open();
  try {
    const outcome = await waitFor(
      `weight ${weight} written on the apex ${NAME}`,
      async () => {
        if ((await apexWeight()) === weight) return 'written';
        // A failed run never takes the step: say why now rather than time out.
        const status = (await k.w.canary(NAME)).status;
        return status?.phase === 'Failed' && `Failed: ${status.message}`;
      },
      // Generous: the first step also waits for both Deployments' pods to carry the shared label.
      120_000,
      250,
    );
    if (outcome !== 'written') throw new Error(`${NAME} rolled back before weight ${weight}: ${outcome}`);
  } finally {
    // Ticks are 10 s apart: closing within 250 ms of the write lets one step through, never two.
    gate.close();
  }
}

/**
 * Waits until exactly the pods of this step serve through Traefik: `canaryPods` running 6.0.1 and
 * `primaryPods` running 6.0.0, and a probe answered by every one of them and by no other pod (a pod
 * scaled away still in Traefik's endpoints would answer or fail, never pass). Returns the pod names.
 */
async function servedBy(canaryPods: number, primaryPods: number): Promise<Set<string>> {
  const canary = await waitServing(k, NAME, 'canary', NEW, canaryPods, 120_000);
  const primary = await waitServing(k, NAME, 'primary', OLD, primaryPods, 120_000);
  const pods = new Set([...canary, ...primary].map((p) => p.name));
  await untilServed(
    k,
    `${NAME}: Traefik serving exactly ${canaryPods} canary and ${primaryPods} primary pods`,
    HOST,
    (r) =>
      r.byStatus[200] === r.sent &&
      r.responses.every((x) => x.pod !== undefined && pods.has(x.pod)) &&
      [...pods].every((p) => (r.byPod[p] ?? 0) > 0),
    {},
    90_000,
  );
  return pods;
}

/** Pods of `NAME`'s canary Deployment that exist (not being deleted). */
async function canaryPodNames(): Promise<string[]> {
  const core = k.w.cluster.kc.makeApiClient(CoreV1Api);
  const { items } = await core.listNamespacedPod({ namespace: k.w.ns });
  return items
    .filter((p) => !p.metadata?.deletionTimestamp && groupOf(NAME, p.metadata?.name) === 'canary')
    .map((p) => p.metadata!.name!);
}

test(
  'kubernetes (replica ratio): at every step the share answered by the canary pods is their share of the apex pods (±5 points)',
  { timeout: 600_000 },
  async () => {
    const traffic = await startGate(k.dp.traefik);
    const promotion = await startGate(k.dp.traefik);
    try {
      await ingressRouteToApex();
      // initialized() waits until the primary's 4 pods answer every probe through the user's route.
      await initialized(k, NAME, HOST, replicaCanary(traffic, promotion), TOTAL);

      await releasePodinfo(k, NAME, NEW);
      for (const weight of STEPS) {
        await takeStep(weight, traffic);
        // replicas.ts: canary ceil(weight × total / 100), primary total - canary.
        const canaryPods = Math.ceil((weight * TOTAL) / 100);
        const primaryPods = TOTAL - canaryPods;
        assert.equal(await counts(), `${canaryPods}/${primaryPods}`, `replicas at ${weight}%`);
        const pods = await servedBy(canaryPods, primaryPods);
        const r: LoadResult = await measure(k, HOST, MEASURED);
        assertAnswers(r, NAME, OLD);
        assert.ok(
          r.responses.every((x) => pods.has(x.pod!)),
          `every answer from a pod of the apex at this step (${JSON.stringify(r.byPod)})`,
        );
        const expected = (100 * canaryPods) / (canaryPods + primaryPods);
        const measured = share(r, by(NAME, 'canary')) * 100;
        console.log(
          `kubernetes step ${weight}%: ${canaryPods} canary / ${primaryPods} primary pods → ${percent(r, by(NAME, 'canary'))} requests answered by ${NEW} (expected ${expected}%; pods ${JSON.stringify(r.byPod)})`,
        );
        assert.ok(r.sent >= 400, `at least 400 requests measured (${r.sent})`);
        // Traefik's round robin over equal-weight endpoints is near exact; ±5 points as the
        // other data-plane tests, which leaves room for a probe landing across a reload.
        assert.ok(
          Math.abs(measured - expected) <= TOLERANCE,
          `step ${weight}%: canary share ${measured.toFixed(1)}% within ±${TOLERANCE} points of ${expected}%`,
        );
        assert.equal(await apexWeight(), weight, 'the step held while it was measured');
        assert.equal(await counts(), `${canaryPods}/${primaryPods}`, 'the pods held while measured');
      }

      promotion.open();
      const done = await k.w.waitPhase(NAME, ['Succeeded', 'Failed'], 180_000);
      assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
      const promoted = await measurePromoted(k, NAME, HOST, TOTAL);
      await waitFor(
        `${NAME}: canary at 0 replicas and 0 pods`,
        async () => ((await counts()) === `0/${TOTAL}` && (await canaryPodNames()).length === 0) || undefined,
        120_000,
        250,
      );
      console.log(
        `kubernetes after promotion: ${percent(promoted, (x) => by(NAME, 'primary')(x) && x.tag === NEW)} requests answered by the primary with ${NEW} (pods ${JSON.stringify(promoted.byPod)}); canary 0 pods`,
      );
      // Weir asked the gates before every step and before promotion; whether one also answered 403
      // depends on the machine's speed (a step measured within one 10 s interval is never asked
      // again), so what proves the hold is the weight and the counts read back after each measurement.
      console.log(
        `gates: confirm-traffic-increase ${JSON.stringify(traffic.calls)}, confirm-promotion ${JSON.stringify(promotion.calls)}`,
      );
      assert.ok((traffic.calls[200] ?? 0) >= STEPS.length, 'Weir asked the gate before every step');
      assert.ok((promotion.calls[200] ?? 0) > 0, 'Weir asked the gate before promotion');
    } finally {
      await traffic.stop();
      await promotion.stop();
    }
  },
);
