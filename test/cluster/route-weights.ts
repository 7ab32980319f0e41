// Reads the weights of an HTTPRoute's default (last) rule as Weir wrote them: used by end-to-end
// tests to assert each step and by the demo's load generator to split requests.
import type { Kube } from '../../src/kube/client.ts';

type Route = { spec?: { rules?: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> } };

export async function httpRouteWeights(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<{ primary: number; canary: number } | undefined> {
  const r = await kube.get<Route & Record<string, never>>({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    namespace,
    name,
  });
  const rules = r?.spec?.rules ?? [];
  const last = rules[rules.length - 1];
  if (!last) return undefined;
  const w = (n: string) => last.backendRefs?.find((b) => b.name === n)?.weight ?? 0;
  return { primary: w(`${name}-primary`), canary: w(`${name}-canary`) };
}
