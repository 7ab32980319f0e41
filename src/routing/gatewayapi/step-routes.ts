// setHeaderRoute/setMirrorRoute (docs/steps.md) in Gateway API terms: a header route is a rule
// whose one match carries every header, sent to the canary; a mirror route is a rule with the
// route's matches, split as the default rule is, with a RequestMirror filter copying `percentage`%
// to the canary (percent: Extended support, as analysis.mirror uses it). Rules are named after the
// route; their order follows the routes' precedence among rules of equal specificity.
import type { CanarySpec } from '../../api/canary.ts';
import type { RouteStringMatch, StepRoute } from '../../vocab/traffic.ts';
import { escapeRegex } from '../string-match.ts';
import { stepRuleName } from '../step-routes.ts';
import type { Backend, Rule } from './session-affinity.ts';

type Split = { primary: number; canary: number };

/** An HTTPHeaderMatch/HTTPQueryParamMatch: Exact, or RegularExpression for regex, prefix and suffix. */
export function headerMatch(
  name: string,
  v: RouteStringMatch & { suffix?: string },
): { type: string; name: string; value: string } {
  if (v.regex !== undefined) return { type: 'RegularExpression', name, value: v.regex };
  if (v.prefix !== undefined)
    return { type: 'RegularExpression', name, value: `^${escapeRegex(v.prefix)}.*` };
  if (v.suffix !== undefined)
    return { type: 'RegularExpression', name, value: `.*${escapeRegex(v.suffix)}$` };
  return { type: 'Exact', name, value: v.exact ?? '' };
}

function pathMatch(v: RouteStringMatch): { type: string; value: string } {
  if (v.regex !== undefined) return { type: 'RegularExpression', value: v.regex };
  if (v.prefix !== undefined) return { type: 'PathPrefix', value: v.prefix };
  return { type: 'Exact', value: v.exact ?? '' };
}

function mirrorMatches(route: StepRoute): unknown[] {
  return (route.mirror?.match ?? []).map((m) => ({
    ...(m.path ? { path: pathMatch(m.path) } : {}),
    ...(m.method?.exact !== undefined ? { method: m.method.exact } : {}),
    ...(m.headers ? { headers: Object.entries(m.headers).map(([name, v]) => headerMatch(name, v)) } : {}),
  }));
}

/**
 * The rules of the step routes. `base` is the default rule without its backends (timeouts and
 * request filters, which every rule keeps; never its mirror filter); `backends` renders a split.
 */
export function stepRouteRules(
  t: { canary: string; spec: CanarySpec },
  routes: StepRoute[],
  base: Rule,
  backends: (split: Split) => Backend[],
  split: Split,
): Rule[] {
  const { backendRefs: _unused, filters, ...common } = base;
  const kept = (filters ?? []).filter((f) => (f as { type?: string }).type !== 'RequestMirror');
  return routes.map((r) => {
    if (!r.mirror)
      return {
        ...common,
        name: stepRuleName(r),
        matches: [{ headers: (r.headers ?? []).map((h) => headerMatch(h.headerName, h.headerValue)) }],
        ...(kept.length ? { filters: kept } : {}),
        backendRefs: backends({ primary: 0, canary: 100 }),
      };
    const mirror = {
      type: 'RequestMirror',
      requestMirror: {
        backendRef: { group: '', kind: 'Service', name: t.canary, port: t.spec.service.port },
        percent: r.mirror.percentage,
      },
    };
    return {
      ...common,
      name: stepRuleName(r),
      matches: mirrorMatches(r),
      filters: [...kept, mirror],
      backendRefs: backends(split),
    };
  });
}

const GATEWAY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** A setMirrorRoute method Gateway API cannot match (it matches one exact method of its list). */
export function stepRouteRefusals(spec: CanarySpec): Array<{ path: string; message: string }> {
  return (spec.analysis.steps ?? []).flatMap((s, i) =>
    (s.setMirrorRoute?.match ?? []).flatMap((m, j) => {
      if (!m.method || (m.method.exact !== undefined && GATEWAY_METHODS.includes(m.method.exact))) return [];
      return [
        {
          path: `spec.analysis.steps[${i}].setMirrorRoute.match[${j}].method`,
          message: `provider gatewayapi matches a method exactly, one of ${GATEWAY_METHODS.join(', ')}`,
        },
      ];
    }),
  );
}
