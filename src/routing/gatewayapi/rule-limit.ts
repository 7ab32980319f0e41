// Gateway API caps an HTTPRoute at 16 rules (spec.rules maxItems in the CRD). The route Weir writes
// has one rule per A/B match entry or per step route in force, up to two session-affinity cookie
// rules, and the weighted default rule; a Canary that needs more would be refused by the API server
// mid-run. This finds it before: `weir lint` reports it, and the controller refuses the Canary
// (InvalidSpec, naming the field) before it writes anything.
import type { CanarySpec } from '../../api/canary.ts';
import { stepRouteChange, strategyOf, withStepRoute } from '../../api/strategy.ts';
import type { StepRoute } from '../../vocab/traffic.ts';

/** spec.rules maxItems of HTTPRoute (gateway.networking.k8s.io/v1). */
export const MAX_HTTPROUTE_RULES = 16;

/** At most two cookie rules at once: canary and primary, or primary and the expiring one. */
const AFFINITY_RULES_AT_MOST = 2;

/** Where a spec first needs more rules than an HTTPRoute holds, and how many. */
export function ruleLimitRefusals(spec: CanarySpec): Array<{ path: string; message: string }> {
  const fixed = 1 + (spec.analysis.sessionAffinity ? AFFINITY_RULES_AT_MOST : 0);
  const over = (path: string, extra: number, what: string) =>
    fixed + extra > MAX_HTTPROUTE_RULES
      ? [
          {
            path,
            message: `provider gatewayapi: the HTTPRoute would need ${fixed + extra} rules (${what}), more than the ${MAX_HTTPROUTE_RULES} an HTTPRoute holds`,
          },
        ]
      : [];
  switch (strategyOf(spec)) {
    case 'ab':
      return over('spec.analysis.match', spec.analysis.match?.length ?? 0, describe(spec, 'A/B match entry'));
    case 'steps': {
      // The routes in force after each step, as the run holds them (a name replaces or removes one).
      let inForce: StepRoute[] = [];
      for (const [i, step] of (spec.analysis.steps ?? []).entries()) {
        const change = stepRouteChange(step);
        if (!change) continue;
        inForce = withStepRoute(inForce, change);
        const found = over(
          `spec.analysis.steps[${i}]`,
          inForce.length,
          describe(spec, 'step route in force'),
        );
        if (found.length) return found;
      }
      return [];
    }
    default:
      return [];
  }
}

function describe(spec: CanarySpec, routed: string): string {
  const affinity = spec.analysis.sessionAffinity ? `, ${AFFINITY_RULES_AT_MOST} session-affinity rules` : '';
  return `one per ${routed}${affinity} and the weighted default`;
}
