// What a router that keeps its routes in one stored object decides the same way for every provider
// (kuma, gloo, contour, traefik): the routes to keep on reconcile, whether the stored object already
// says what is wanted (so steady state makes no API call), and the refusal of a 0/0 split.
import type { Obj } from '../kube/client.ts';
import { isSubset } from '../kube/compare.ts';
import type { Traffic } from '../vocab/traffic.ts';

/** Reconcile keeps the stored routes; a new object (or one without weights, 0/0) starts at 100/0. */
export function routesToKeep(stored: Traffic | undefined): Traffic {
  return stored && stored.primary + stored.canary > 0 ? stored : { primary: 100, canary: 0 };
}

/**
 * True when `now` already routes as `traffic` says (read back as `stored`) and holds every field of
 * `desired`'s spec and labels. The subset test alone would keep an A/B rule Weir no longer wants,
 * hence the routes read back too.
 */
export function alreadyStored(
  now: Obj | undefined,
  stored: Traffic | undefined,
  desired: Obj,
  traffic: Traffic,
): boolean {
  return (
    !!now &&
    !!stored &&
    stored.primary === traffic.primary &&
    stored.canary === traffic.canary &&
    !!stored.match === !!traffic.match &&
    isSubset(desired.spec, now.spec) &&
    isSubset(desired.metadata?.labels, now.metadata?.labels)
  );
}

/** A split with no weight anywhere would drop every request: refused before anything is written. */
export function refuseNoWeight(what: string, traffic: Traffic): void {
  if (traffic.primary === 0 && traffic.canary === 0) throw new Error(`${what}: refusing to route 0/0`);
}
