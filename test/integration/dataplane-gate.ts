// Holding a Canary run while the test measures what the data plane serves (see dataplane-kit.ts): a
// webhook gate Weir asks before each weight increase or before promotion, and the wait until Traefik
// serves the step Weir then wrote (object written, accepted, configuration reloaded after the gate's
// yes), so a measurement never straddles two steps however slow the machine.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../cluster/proc.ts';
import { httpRouteRoutes, traefikServiceRoutes } from '../cluster/route-weights.ts';
import { waitForHTTPRouteAccepted, type Traefik } from '../cluster/traefik.ts';
import type { Kit } from './dataplane-kit.ts';

/** Traefik's count of configuration reloads (a route Weir wrote is served once a reload follows it). */
export async function traefikReloads(traefik: Traefik): Promise<number> {
  const res = await fetch(traefik.metricsUrl, { signal: AbortSignal.timeout(5_000) });
  const m = /^traefik_config_reloads_total\s+(\S+)$/m.exec(await res.text());
  return m ? Number(m[1]) : 0;
}

/** The canary weight Weir wrote into the provider's object (`<primary>/<canary>[ match|mirror]`). */
export async function storedCanaryWeight(
  k: Kit,
  provider: 'gatewayapi' | 'traefik',
  name: string,
): Promise<number | undefined> {
  const read = provider === 'gatewayapi' ? httpRouteRoutes : traefikServiceRoutes;
  const routes = await read(k.w.kube, k.w.ns, name);
  const canary = routes?.split(' ')[0]?.split('/')[1];
  return canary === undefined ? undefined : Number(canary);
}

/**
 * Lets Weir take exactly the next step to `weight` through `gate`, then waits until Traefik serves it:
 * the weight written, accepted (HTTPRoute status; a TraefikService has none) and a configuration
 * reload after the gate said yes (Traefik reloads asynchronously after reading the object).
 */
export async function takeStep(
  k: Kit,
  provider: 'gatewayapi' | 'traefik',
  name: string,
  weight: number,
  gate: Gate,
  timeoutMs = 60_000,
): Promise<void> {
  gate.open();
  try {
    const outcome = await waitFor(
      `canary weight ${weight} written for ${name}`,
      async () => {
        if ((await storedCanaryWeight(k, provider, name)) === weight) return 'written';
        // A run that failed its checks never takes the step: say why now rather than time out.
        const status = (await k.w.canary(name)).status;
        return status?.phase === 'Failed' && `Failed: ${status.message}`;
      },
      timeoutMs,
      250,
    );
    if (outcome !== 'written') throw new Error(`${name} rolled back before weight ${weight}: ${outcome}`);
  } finally {
    // Ticks are 10 s apart: closing within 250 ms of the write lets one step through, never two.
    gate.close();
  }
  if (provider === 'gatewayapi') await waitForHTTPRouteAccepted(k.w.kube, k.w.ns, name, timeoutMs);
  await waitFor(
    `Traefik reloaded after weight ${weight} of ${name}`,
    async () => {
      const before = gate.reloadsAtGrant();
      return before !== undefined && (await traefikReloads(k.dp.traefik)) > before;
    },
    timeoutMs,
    100,
  );
}

export interface Gate {
  url: string;
  /** Answers 200 until close(); 403 otherwise. */
  open(): void;
  close(): void;
  /** Traefik's reload count sampled at the first 200 since open() (before Weir wrote the weight). */
  reloadsAtGrant(): number | undefined;
  /** Calls answered so far, by status. */
  calls: Record<number, number>;
  stop(): Promise<void>;
}

/**
 * Holds the run until the test has measured what it serves: as confirm-traffic-increase Weir asks it
 * before every weight increase, so a step cannot move while its split is measured however slow the
 * machine; as confirm-promotion it holds the last state until the test lets promotion start.
 */
export async function startGate(traefik: Traefik): Promise<Gate> {
  let isOpen = false;
  let reloads: number | undefined;
  let sampling = false;
  const calls: Record<number, number> = {};
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      void (async () => {
        const status = isOpen ? 200 : 403;
        if (status === 200 && !sampling) {
          sampling = true;
          // A failed sample is taken again at the next 200 (Weir asks again at its next tick).
          reloads = await traefikReloads(traefik).catch(() => {
            sampling = false;
            return undefined;
          });
        }
        calls[status] = (calls[status] ?? 0) + 1;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(isOpen ? 'go' : 'measuring');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    open() {
      reloads = undefined;
      sampling = false;
      isOpen = true;
    },
    close() {
      isOpen = false;
    },
    reloadsAtGrant: () => reloads,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
