// Provider `skipper`: canary Ingress `<ingress>-canary` with `zalando.org/backend-weights` (weights
// only: Flagger's skipper router has no A/B ("TODO" in its code) and no mirroring, so both are refused).
import { WEIGHTS_ONLY, type ProviderDescriptor } from '../provider.ts';
import { CANARY_INGRESS_RESOURCE, userIngressName } from '../clone-router.ts';
import { createSkipperRouter } from './router.ts';

/** A name as Skipper writes it into route ids: every non-word character becomes `_`. */
export const skipperId = (name: string) => name.replace(/\W/g, '_');

// Skipper's route metrics of the routes its kubernetes data client builds from the canary Ingress
// for the `<svc>-canary` backend (`kube(ew)_<ns>__<ingress>_canary__<host>__<path>__<svc>_canary`).
// Token-exact from Flagger v1.44 pkg/metrics/observers/skipper.go, whose Go-template `$route` is
// written out here with the encoded names as provider variables. The duration is a mean in ms.
const ROUTE =
  'route=~"kube(ew)?_{{ skipperNamespace }}__{{ skipperIngress }}_canary__.*__{{ skipperService }}_canary(_[0-9]+)?"';

export const skipper: ProviderDescriptor = {
  name: 'skipper',
  summary:
    'Ingress `<ingress>-canary` (networking.k8s.io/v1), a copy of spec.ingressRef routing to `<svc>-primary` and `<svc>-canary` by `zalando.org/backend-weights`',
  resources: [CANARY_INGRESS_RESOURCE],
  // Flagger's skipper router ignores match and would send everyone to the canary: refused.
  capabilities: WEIGHTS_ONLY,

  builtinQueries: {
    'request-success-rate': `sum(rate(skipper_response_duration_seconds_bucket{${ROUTE},code!~"5..",le="+Inf"}[{{ interval }}])) / sum(rate(skipper_response_duration_seconds_bucket{${ROUTE},le="+Inf"}[{{ interval }}])) * 100`,
    'request-duration': `sum(rate(skipper_serve_route_duration_seconds_sum{${ROUTE}}[{{ interval }}])) / sum(rate(skipper_serve_route_duration_seconds_count{${ROUTE}}[{{ interval }}])) * 1000`,
  },
  // Flagger's skipper observer encodes namespace, ingress and service before rendering its queries.
  templateVariables: (spec, namespace) => ({
    ingress: userIngressName(spec),
    ...(namespace !== undefined ? { skipperNamespace: skipperId(namespace) } : {}),
    skipperIngress: skipperId(userIngressName(spec)),
    skipperService: skipperId(spec.service.name ?? spec.targetRef.name),
  }),
  createRouter: createSkipperRouter,
};
