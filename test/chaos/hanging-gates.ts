// Hanging gates: four Canaries whose rollout webhook never answers (a server that accepts the request
// and holds it until the webhook's timeout), and a fifth, bad release, shipped as soon as two gates
// hang, that must roll back on time: its threshold × interval plus two intervals of slack, whatever
// the hanging gates are doing.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { startWorld } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import type { Release } from './invariants.ts';
import { closeOut, record, setupApp, ship, tally, type Scenario } from './kit.ts';

const GATE_TIMEOUT = { full: '30s', reduced: '20s' } as const;
const INTERVAL_S = 10;
const VICTIM_THRESHOLD = 2;
/** On time: the failed checks it needs, plus two intervals for the first tick and the rollback. */
const ON_TIME_MS = (VICTIM_THRESHOLD + 2) * INTERVAL_S * 1000;

export const hangingGates: Scenario = {
  name: 'hanging-gates',
  async run(env) {
    const t0 = Date.now();
    const hang = await startHangingServer();
    const w = await startWorld('chaos-gates', { controller: 'child', cluster: env.cluster });
    try {
      const hangers = ['gate-0', 'gate-1', 'gate-2', 'gate-3'];
      const webhooks = [
        { name: 'hang', type: 'rollout', url: `${hang.url}/gate`, timeout: GATE_TIMEOUT[env.profile] },
      ];
      const plans = await Promise.all([
        ...hangers.map((n) => setupApp(w, n, { good: true, analysis: { threshold: 1, webhooks } })),
        setupApp(w, 'victim', { good: false, analysis: { threshold: VICTIM_THRESHOLD } }),
      ]);
      const rec = record(w);
      const releases: Release[] = [...hangers, 'victim'].map((n) => ({
        canary: n,
        image: `example.com/${n}:2.0.0`,
        expect: 'Failed', // a gate that never answers fails its check; the victim is a bad release
      }));
      const hanging = Promise.all(releases.slice(0, 4).map((r) => ship(w, r, 300_000)));
      // Ship the bad release as soon as two gates hang: two is enough to hold every worker of a
      // controller that awaits gates on its workers (WEIR_WORKERS=2), and the other two gates are
      // due at the same tick. Waiting for all four would let such a controller's first gates time
      // out meanwhile and free the workers again.
      const held = await waitFor(
        'two gates hanging',
        () => hang.pending() >= 2 && hang.pending(),
        90_000,
        50,
      );
      env.log(`hanging-gates: ${held} gate requests held; shipping the bad release`);
      const shipped = Date.now();
      const victim = await ship(w, releases[4]!, 300_000);
      const rollbackMs = Date.now() - shipped;
      await hanging;
      const { violations, watchGaps } = await closeOut(w, rec, plans, releases);
      if (victim.outcome === 'Failed' && rollbackMs > ON_TIME_MS)
        violations.push(`victim rolled back after ${rollbackMs} ms, more than ${ON_TIME_MS} ms`);
      return {
        name: 'hanging-gates',
        durationMs: Date.now() - t0,
        kills: 0,
        recoveryMs: [],
        outcomes: tally(releases),
        figures: {
          watchGaps,
          gatesHeldAtShip: held,
          gatesHeldMax: hang.maxPending(),
          victimRollbackMs: rollbackMs,
          onTimeBoundMs: ON_TIME_MS,
          gateRequests: hang.total(),
        },
        violations,
      };
    } finally {
      await w.stop();
      await hang.stop();
    }
  },
};

/** Accepts every request and never answers it (until stop()). */
async function startHangingServer() {
  const held = new Set<ServerResponse>();
  let total = 0;
  let maxPending = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    total++;
    req.resume();
    held.add(res);
    maxPending = Math.max(maxPending, held.size);
    res.on('close', () => held.delete(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    pending: () => held.size,
    maxPending: () => maxPending,
    total: () => total,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
