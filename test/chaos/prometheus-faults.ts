// Prometheus faults, one Canary each, side by side in one namespace: Prometheus gone (connections
// refused), answering NaN (a real query over an app that stopped serving: 0/0), answering slower than
// the query timeout, and flapping between up and down. The first three are healthy apps whose data
// cannot be read: they must roll back. The flapping one may go either way, but, like every run here,
// it must never advance or promote on a result that is not Successful.
import { startFaultProxy, type FaultMode, type FaultProxy } from '../cluster/fault-proxy.ts';
import { startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';
import type { Release } from './invariants.ts';
import { closeOut, record, setupApp, ship, tally, type AppPlan, type Scenario } from './kit.ts';

const CANARY_PODS = 'namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';
/** The built-in request-success-rate query, behind a MetricTemplate so it can go through a proxy. */
const SUCCESS_RATE = `100 * (1 - (sum(rate(http_request_duration_seconds_count{${CANARY_PODS}, status=~"5.*"}[{{ interval }}])) or vector(0)) / sum(rate(http_request_duration_seconds_count{${CANARY_PODS}}[{{ interval }}])))`;
const QUERY_TIMEOUT_MS = 2_000;

interface Fault {
  app: string;
  /** Fault applied once the run has had one Successful check (undefined: from the start). */
  mode?: FaultMode;
  expect: Release['expect'];
}

const FAULTS: Fault[] = [
  { app: 'prom-down', mode: { kind: 'down' }, expect: 'Failed' },
  { app: 'prom-slow', mode: { kind: 'slow', delayMs: QUERY_TIMEOUT_MS * 2 }, expect: 'Failed' },
  { app: 'prom-flap', mode: { kind: 'flap', periodMs: 1_500 }, expect: 'any' },
  { app: 'prom-nan', expect: 'Failed' },
];

export const prometheusFaults: Scenario = {
  name: 'prometheus-faults',
  async run(env) {
    const t0 = Date.now();
    const w = await startWorld('chaos-prom', { controller: 'child', cluster: env.cluster });
    const proxies: FaultProxy[] = [];
    try {
      const plans: AppPlan[] = [];
      const proxyOf = new Map<string, FaultProxy>();
      for (const f of FAULTS.filter((x) => x.mode)) {
        const proxy = await startFaultProxy(w.prom.url);
        proxies.push(proxy);
        proxyOf.set(f.app, proxy);
        await w.apply({
          apiVersion: 'weir.dev/v1alpha1',
          kind: 'MetricTemplate',
          metadata: { name: `${f.app}-success` },
          spec: {
            provider: { type: 'prometheus', address: proxy.url, timeout: `${QUERY_TIMEOUT_MS / 1000}s` },
            query: SUCCESS_RATE,
          },
        });
      }
      const metrics = (app: string) =>
        proxyOf.has(app)
          ? [{ name: 'success-rate', templateRef: { name: `${app}-success` }, thresholdRange: { min: 95 } }]
          : undefined; // the built-in request-success-rate, straight to Prometheus
      for (const f of FAULTS) {
        const m = metrics(f.app);
        plans.push(
          await setupApp(w, f.app, {
            good: true,
            stepWeight: 20,
            maxWeight: 60,
            analysis: m ? { metrics: m } : {},
          }),
        );
      }
      await silence(
        w,
        plans.find((p) => p.name === 'prom-nan')!,
      );
      const rec = record(w);
      const releases: Release[] = FAULTS.map((f) => ({
        canary: f.app,
        image: `example.com/${f.app}:2.0.0`,
        expect: f.expect,
      }));
      const faultAt = new Map<string, number>();
      const figures: Record<string, string | number> = {};
      await Promise.all(
        FAULTS.map(async (f, k) => {
          const running = ship(w, releases[k]!, 240_000);
          if (f.mode) {
            await waitFor(
              `${f.app}: one Successful check before the fault`,
              async () =>
                (await w.canary(f.app)).status?.metrics?.some(
                  (m) => m.name === 'success-rate' && m.result === 'Successful',
                ),
              120_000,
              250,
            ).catch(() => undefined);
            await proxyOf.get(f.app)!.set(f.mode);
            faultAt.set(f.app, Date.now());
            env.log(`prometheus-faults: ${f.app} now ${f.mode.kind}`);
          } else faultAt.set(f.app, Date.now());
          const r = await running;
          const st = (await w.canary(f.app)).status;
          const last = st?.metrics?.find(
            (m) => m.name === 'success-rate' || m.name === 'request-success-rate',
          );
          figures[`${f.app}`] =
            `${r.outcome ?? 'unfinished'} ${Math.round((Date.now() - faultAt.get(f.app)!) / 1000)}s after the fault; last result ${last?.result ?? '-'}${last?.message ? ` (${last.message.slice(0, 80)})` : ''}`;
        }),
      );
      const { violations, watchGaps } = await closeOut(w, rec, plans, releases);
      return {
        name: 'prometheus-faults',
        durationMs: Date.now() - t0,
        kills: 0,
        recoveryMs: [],
        outcomes: tally(releases),
        figures: { ...figures, watchGaps },
        violations,
      };
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
      await w.stop();
    }
  },
};

/**
 * The canary pods of `app` stop receiving traffic: once the query window has passed, the success
 * rate is a real 0/0 = NaN from Prometheus (the series exist, their rate is 0).
 */
async function silence(w: World, plan: AppPlan): Promise<void> {
  const q = `sum(rate(http_request_duration_seconds_count{namespace="${w.ns}", pod=~"${plan.name}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[10s]))`;
  await w.prom.waitForSeries(q, 60_000); // traffic was seen
  plan.exporters?.canary.stopTraffic();
  await w.prom.waitForSeries(q, 60_000, (s) => s[0]?.value[1] === '0');
}
