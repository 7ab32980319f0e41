// Provider `nginx`: ingress-nginx canary Ingress `<ingress>-canary` (weights, one header and one
// cookie for A/B; no mirroring, as Flagger's nginx router).
import type { CanarySpec } from '../../api/canary.ts';
import type { ProviderDescriptor } from '../provider.ts';
import { CANARY_INGRESS_RESOURCE, userIngressName } from '../clone-router.ts';
import { createNginxRouter } from './router.ts';

// ingress-nginx's own metrics of the canary Ingress' series (`canary!=""`), token-exact from Flagger
// v1.44 pkg/metrics/observers/nginx.go. The duration is a mean (sum/count) in ms, not a p99.
const SERIES = 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""';

/** ingress-nginx takes one canary-by-header and one canary-by-cookie annotation: more is refused. */
function oneHeaderOneCookie(spec: CanarySpec): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const headers: string[] = [];
  const cookies: string[] = [];
  (spec.analysis.match ?? []).forEach((m, i) => {
    for (const [name, v] of Object.entries(m.headers ?? {})) {
      const path = `spec.analysis.match[${i}].headers.${name}`;
      if (name.toLowerCase() !== 'cookie') headers.push(path);
      else {
        cookies.push(path);
        if ((v as { exact?: string }).exact === undefined)
          out.push({
            path,
            message: 'provider nginx matches a cookie by its exact name only (canary-by-cookie)',
          });
      }
    }
  });
  if (headers.length > 1)
    out.push({
      path: headers[1]!,
      message: `provider nginx matches one header only (canary-by-header), already used by ${headers[0]}`,
    });
  if (cookies.length > 1)
    out.push({
      path: cookies[1]!,
      message: `provider nginx matches one cookie only (canary-by-cookie), already used by ${cookies[0]}`,
    });
  return out;
}

export const nginx: ProviderDescriptor = {
  name: 'nginx',
  summary:
    'Ingress `<ingress>-canary` (networking.k8s.io/v1), a copy of spec.ingressRef pointing at `<svc>-canary`, with ingress-nginx canary annotations',
  resources: [CANARY_INGRESS_RESOURCE],
  capabilities: {
    weights: true,
    headerMatch: true,
    cookieMatch: true,
    queryMatch: false,
    sourceLabelsMatch: false,
    mirror: false,
    sessionAffinity: false,
    blueGreen: true,
  },
  refuses: oneHeaderOneCookie,
  builtinQueries: {
    'request-success-rate': `sum(rate(nginx_ingress_controller_requests{${SERIES},status!~"5.*"}[{{ interval }}])) / sum(rate(nginx_ingress_controller_requests{${SERIES}}[{{ interval }}])) * 100`,
    'request-duration': `sum(rate(nginx_ingress_controller_response_duration_seconds_sum{${SERIES}}[{{ interval }}])) / sum(rate(nginx_ingress_controller_response_duration_seconds_count{${SERIES}}[{{ interval }}])) * 1000`,
  },
  templateVariables: (spec) => ({ ingress: userIngressName(spec) }),
  createRouter: createNginxRouter,
};
