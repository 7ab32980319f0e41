// What a Canary asks of its routing provider, checked against the provider's capabilities
// (its descriptor). The same check runs in `weir lint` (after schema validation) and in the
// controller (Ready=False), so a Canary is refused the same way in both, naming the field.
import type { CanarySpec } from '../api/canary.ts';
import { SERVICE_OPTIONS, type Capabilities, type ProviderDescriptor } from './provider.ts';
import { descriptorOf, notSupportedMessage, PROVIDER_DESCRIPTORS } from './registry.ts';
import { builtinCompareRefusal, isBuiltinMetric } from '../analysis/builtin.ts';

export interface CapabilityProblem {
  /** Field path from the object's root, e.g. `spec.analysis.mirror`. */
  path: string;
  message: string;
}

type Ask = { path: string; needs: keyof Capabilities; what: string };

/** Every capability the spec relies on, with the field that asks for it. */
function asks(spec: CanarySpec): Ask[] {
  const a = spec.analysis;
  const out: Ask[] = [];
  const weighted: Array<[keyof typeof a, string]> = [
    ['stepWeight', 'stepWeight'],
    ['stepWeights', 'stepWeights'],
    ['steps', 'steps'],
  ];
  for (const [key, field] of weighted)
    if (a[key] !== undefined)
      out.push({ path: `spec.analysis.${field}`, needs: 'weights', what: 'weighted traffic splitting' });
  (a.match ?? []).forEach((m, i) => {
    for (const name of Object.keys(m.headers ?? {})) {
      const cookie = name.toLowerCase() === 'cookie';
      out.push({
        path: `spec.analysis.match[${i}].headers.${name}`,
        needs: cookie ? 'cookieMatch' : 'headerMatch',
        what: cookie ? 'cookie matching (A/B)' : 'header matching (A/B)',
      });
    }
    if (Object.keys(m.queryParams ?? {}).length)
      out.push({
        path: `spec.analysis.match[${i}].queryParams`,
        needs: 'queryMatch',
        what: 'query matching (A/B)',
      });
    if (Object.keys(m.sourceLabels ?? {}).length)
      out.push({
        path: `spec.analysis.match[${i}].sourceLabels`,
        needs: 'sourceLabelsMatch',
        what: 'source label matching (A/B)',
      });
  });
  if (a.dynamicStableScale)
    out.push({
      path: 'spec.analysis.dynamicStableScale',
      needs: 'dynamicStableScale',
      what: 'dynamicStableScale (it splits requests, not pods)',
    });
  if (a.mirror) out.push({ path: 'spec.analysis.mirror', needs: 'mirror', what: 'traffic mirroring' });
  if (a.sessionAffinity)
    out.push({ path: 'spec.analysis.sessionAffinity', needs: 'sessionAffinity', what: 'session affinity' });
  const strategyFree = !a.stepWeight && !a.stepWeights && !a.steps && !a.match;
  if (a.iterations !== undefined && strategyFree)
    out.push({ path: 'spec.analysis.iterations', needs: 'blueGreen', what: 'blue/green' });
  return out;
}

/**
 * Built-in metrics with `compare` or `judge` on a provider whose built-ins cannot be rendered for the
 * primary.
 */
function builtinCompareProblems(spec: CanarySpec, d: ProviderDescriptor): CapabilityProblem[] {
  if (d.builtinsMeasurePrimary) return [];
  return (spec.analysis.metrics ?? []).flatMap((m, i) => {
    const field = m.judge ? 'judge' : m.compare ? 'compare' : undefined;
    if (!field || m.templateRef || !isBuiltinMetric(m.name)) return [];
    return [
      {
        path: `spec.analysis.metrics[${i}].${field}`,
        message: builtinCompareRefusal(d.name, m.name, field).replace(/^[a-z]+: /, ''),
      },
    ];
  });
}

/**
 * setCanaryScale on a provider whose weights are pod counts (kubernetes: descriptor capability
 * dynamicStableScale): there the canary's size is its weight, so a size apart from it has no meaning
 * (Argo Rollouts likewise accepts setCanaryScale only with trafficRouting).
 */
function canaryScaleProblems(spec: CanarySpec, d: ProviderDescriptor): CapabilityProblem[] {
  if (!d.capabilities.dynamicStableScale) return [];
  return (spec.analysis.steps ?? []).flatMap((s, i) =>
    s.setCanaryScale
      ? [
          {
            path: `spec.analysis.steps[${i}].setCanaryScale`,
            message: `provider ${d.name} splits traffic by pod counts, so the canary's size is its weight: setCanaryScale needs a provider that splits requests`,
          },
        ]
      : [],
  );
}

/** setHeaderRoute/setMirrorRoute steps on a provider that cannot add named routes. */
function stepRouteProblems(spec: CanarySpec, d: ProviderDescriptor): CapabilityProblem[] {
  if (d.capabilities.stepRoutes) return [];
  const by = [...PROVIDER_DESCRIPTORS.values()].filter((p) => p.capabilities.stepRoutes).map((p) => p.name);
  return (spec.analysis.steps ?? []).flatMap((s, i) =>
    (['setHeaderRoute', 'setMirrorRoute'] as const)
      .filter((kind) => s[kind])
      .map((kind) => ({
        path: `spec.analysis.steps[${i}].${kind}`,
        message: `provider ${d.name} does not support ${kind} steps (only ${by.join(', ')})`,
      })),
  );
}

/** Problems of `spec` on `provider`: not supported at all, or asking for what it cannot do. */
export function capabilityProblems(spec: CanarySpec, provider: string): CapabilityProblem[] {
  const d = descriptorOf(provider);
  if (!d)
    return [
      { path: 'spec.provider', message: notSupportedMessage(provider).replace(/^spec\.provider: /, '') },
    ];
  const problems: CapabilityProblem[] = [];
  for (const ask of asks(spec)) {
    if (d.capabilities[ask.needs]) continue;
    const hint = d.capabilities.weights ? '' : ': it does blue/green only, use analysis.iterations';
    problems.push({ path: ask.path, message: `provider ${d.name} does not support ${ask.what}${hint}` });
  }
  for (const field of SERVICE_OPTIONS) {
    const v = spec.service[field];
    if (v === undefined || v === false || d.serviceOptions?.includes(field)) continue;
    const by = [...PROVIDER_DESCRIPTORS.values()].filter((p) => p.serviceOptions?.includes(field));
    const hint = by.length ? ` (only ${by.map((p) => p.name).join(', ')})` : '';
    problems.push({
      path: `spec.service.${field}`,
      message: `provider ${d.name} does not support spec.service.${field}${hint}`,
    });
  }
  problems.push(
    ...(d.refuses?.(spec) ?? []),
    ...builtinCompareProblems(spec, d),
    ...canaryScaleProblems(spec, d),
    ...stepRouteProblems(spec, d),
  );
  // Without weights the only strategy left is blue/green: iterations are required.
  if (!d.capabilities.weights && spec.analysis.iterations === undefined)
    problems.push({
      path: 'spec.analysis.iterations',
      message: `provider ${d.name} does blue/green only and needs iterations`,
    });
  return problems;
}
