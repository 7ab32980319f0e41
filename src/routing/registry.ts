// Routing providers by name: registering one is one line in PROVIDER_LIST. A name the schema accepts
// without a descriptor here is refused as "not supported yet" (src/canary/context.ts, `weir lint`).
import type { ProviderName } from '../api/canary.ts';
import { cacheKeyOf } from '../kube/resources.ts';
import { gatewayapi } from './gatewayapi/index.ts';
import { kubernetes } from './kubernetes/index.ts';
import { istio } from './istio/index.ts';
import { smi } from './smi/index.ts';
import { linkerd } from './linkerd/index.ts';
import { traefik } from './traefik/index.ts';
import { contour } from './contour/index.ts';
import { nginx } from './nginx/index.ts';
import { skipper } from './skipper/index.ts';
import { apisix } from './apisix/index.ts';
import { kuma } from './kuma/index.ts';
import { gloo } from './gloo/index.ts';
import type { ProviderDescriptor, ProviderResource } from './provider.ts';

const PROVIDER_LIST: readonly ProviderDescriptor[] = [
  kubernetes,
  gatewayapi,
  istio,
  traefik,
  contour,
  nginx,
  smi,
  linkerd,
  skipper,
  apisix,
  kuma,
  gloo,
];

export const PROVIDER_DESCRIPTORS: ReadonlyMap<string, ProviderDescriptor> = new Map(
  PROVIDER_LIST.map((d) => [d.name, d]),
);

/** The descriptor of a provider, or undefined when Weir has no router for it yet. */
export function descriptorOf(name: ProviderName | string): ProviderDescriptor | undefined {
  return PROVIDER_DESCRIPTORS.get(name);
}

export function supportedProviders(): string[] {
  return [...PROVIDER_DESCRIPTORS.keys()];
}

/** `spec.provider: X is not supported yet (supported: …)`, the refusal for a name without descriptor. */
export function notSupportedMessage(name: string): string {
  return `spec.provider: ${name} is not supported yet (supported: ${supportedProviders().join(', ')})`;
}

/**
 * Every resource the registered providers read or write, one entry per cache key, verbs merged;
 * optional only when every provider naming it says so.
 */
export function providerResources(): Array<ProviderResource & { key: string }> {
  const out = new Map<string, ProviderResource & { key: string }>();
  for (const d of PROVIDER_LIST) {
    for (const r of d.resources) {
      const key = cacheKeyOf(r.type);
      const had = out.get(key);
      out.set(
        key,
        had
          ? {
              ...had,
              verbs: [...new Set([...had.verbs, ...r.verbs])],
              optional: !!had.optional && !!r.optional,
              why: had.why.split('; ').includes(r.why) ? had.why : `${had.why}; ${r.why}`,
            }
          : { ...r, key },
      );
    }
  }
  return [...out.values()];
}
