// Built-in metrics: `request-success-rate` (percent of non-5xx requests) and `request-duration`
// (milliseconds). Their query templates belong to the routing provider and live in its descriptor
// (src/routing/<name>/index.ts); this file looks them up.
import { BUILTIN_METRICS, type CanarySpec } from '../api/canary.ts';
import { WeirError } from '../errors.ts';
import { descriptorOf, supportedProviders } from '../routing/registry.ts';
import type { BuiltinMetric } from '../routing/provider.ts';

export type { BuiltinMetric };

export function isBuiltinMetric(name: string): name is BuiltinMetric {
  return (BUILTIN_METRICS as readonly string[]).includes(name);
}

/** Unit appended to values in messages, e.g. `request-duration 740ms > max 500`. */
export const BUILTIN_UNITS: Record<BuiltinMetric, string> = {
  'request-success-rate': '',
  'request-duration': 'ms',
};

/** The query template of a built-in metric for a routing provider; render it with renderQuery. */
export function builtinQuery(provider: string, metric: string): string {
  if (!isBuiltinMetric(metric)) {
    throw new WeirError(
      'INVALID_SPEC',
      `metric ${metric} is not a built-in metric (${BUILTIN_METRICS.join(', ')}): it needs a templateRef`,
    );
  }
  const set = descriptorOf(provider)?.builtinQueries;
  if (!set) {
    const known = supportedProviders().join(', ');
    throw new WeirError(
      'INVALID_SPEC',
      `built-in metric ${metric} is not available for provider ${provider} (available for: ${known}); use a MetricTemplate with templateRef`,
    );
  }
  return set[metric];
}

/** Query template variables the provider adds (`{{ route }}`…) for this Canary. */
export function providerVariables(
  provider: string,
  spec: CanarySpec,
  namespace?: string,
): Record<string, string> {
  return descriptorOf(provider)?.templateVariables?.(spec, namespace) ?? {};
}

/** Providers whose built-in queries can be rendered for the primary (`compare` on a built-in). */
export function providersMeasuringPrimary(): string[] {
  return supportedProviders().filter((p) => descriptorOf(p)?.builtinsMeasurePrimary);
}

/** Why a built-in metric with `compare` (or `judge`) is refused on `provider`. */
export function builtinCompareRefusal(provider: string, metric: string, field = 'compare'): string {
  return (
    `${field}: provider ${provider}'s built-in ${metric} selects the canary by a name the primary does ` +
    `not share, so it cannot be measured for the primary (built-ins support ${field} on: ` +
    `${providersMeasuringPrimary().join(', ')}); use a MetricTemplate whose query selects pods by {{ target }}`
  );
}
