// Reads the weights of an HTTPRoute's default (last) rule as Weir wrote them: used by end-to-end
// tests to assert each step and by the demo's load generator to split requests.
import type { Kube } from '../../src/kube/client.ts';

type Rule = { backendRefs?: Array<{ name: string; weight?: number }>; filters?: Array<{ type: string }> };

/** The HTTPRoute's rules and the weights of its default (last) rule; undefined without rules. */
async function defaultRule(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<{ rules: Rule[]; last: Rule; primary: number; canary: number } | undefined> {
  const r = await kube.get<{ spec?: { rules?: Rule[] } } & Record<string, never>>({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    namespace,
    name,
  });
  const rules = r?.spec?.rules ?? [];
  const last = rules[rules.length - 1];
  if (!last) return undefined;
  const w = (n: string) => last.backendRefs?.find((b) => b.name === n)?.weight ?? 0;
  return { rules, last, primary: w(`${name}-primary`), canary: w(`${name}-canary`) };
}

export async function httpRouteWeights(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<{ primary: number; canary: number } | undefined> {
  const d = await defaultRule(kube, namespace, name);
  return d && { primary: d.primary, canary: d.canary };
}

/** Routes as a string read from the stored objects: `90/10`, `100/0 match`, `100/0 mirror`. */
export type StoredRoutes = string;

/** The HTTPRoute `<name>` (gatewayapi): default rule weights, `match` when A/B rules precede it. */
export async function httpRouteRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  const d = await defaultRule(kube, namespace, name);
  if (!d) return undefined;
  const extra = [
    ...(d.rules.length > 1 ? ['match'] : []),
    ...(d.last.filters?.some((f) => f.type === 'RequestMirror') ? ['mirror'] : []),
  ];
  return [`${d.primary}/${d.canary}`, ...extra].join(' ');
}

/** The apex Service `<name>` (kubernetes): selecting the primary's pods is 100/0, the target's 0/100. */
export async function apexServiceRoutes(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<StoredRoutes | undefined> {
  const svc = await kube.get<{ spec?: { selector?: Record<string, string> } } & Record<string, never>>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace,
    name,
  });
  const app = svc?.spec?.selector?.app;
  if (!app) return undefined;
  return app === `${name}-primary` ? '100/0' : app === name ? '0/100' : `selector ${app}`;
}
