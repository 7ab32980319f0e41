// The demo's stand-in for a gateway's data plane: it reads the weights Weir writes into the
// HTTPRoute and sends each request to the primary or the canary app accordingly. Bounded in rate,
// count and time.
import { request } from 'node:http';
import type { Kube } from '../../src/kube/client.ts';
import { httpRouteWeights } from '../../test/cluster/route-weights.ts';

export interface WeightedLoad {
  stop(): void;
  sent(): { primary: number; canary: number };
}

function get(address: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`http://${address}/`, { timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function startWeightedLoad(
  kube: Kube,
  route: { namespace: string; name: string },
  backends: { primary: string; canary: string },
  opts: { perTick?: number; tickMs?: number; maxRequests?: number; maxDurationMs?: number } = {},
): WeightedLoad {
  const perTick = opts.perTick ?? 5;
  const started = Date.now();
  const counts = { primary: 0, canary: 0 };
  let canaryWeight = 0;
  const readWeights = setInterval(() => {
    void httpRouteWeights(kube, route.namespace, route.name)
      .then((r) => {
        const total = (r?.primary ?? 0) + (r?.canary ?? 0);
        canaryWeight = total > 0 ? (r?.canary ?? 0) / total : 0;
      })
      .catch(() => undefined);
  }, 500);
  const tick = setInterval(() => {
    const done =
      counts.primary + counts.canary >= (opts.maxRequests ?? 200_000) ||
      Date.now() - started > (opts.maxDurationMs ?? 30 * 60_000);
    if (done) return load.stop();
    for (let i = 0; i < perTick; i++) {
      const toCanary = Math.random() < canaryWeight;
      counts[toCanary ? 'canary' : 'primary']++;
      void get(toCanary ? backends.canary : backends.primary);
    }
  }, opts.tickMs ?? 100);
  const load: WeightedLoad = {
    stop() {
      clearInterval(readWeights);
      clearInterval(tick);
    },
    sent: () => ({ ...counts }),
  };
  return load;
}
