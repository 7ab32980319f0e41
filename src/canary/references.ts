// References from a Canary to objects in other namespaces. A MetricTemplate or AlertProvider carries
// credentials (its secretRef, always read from its own namespace) and an address chosen by its owner;
// a Canary in another namespace that may name it would use those credentials with its own variables.
// So, as with Flux's --no-cross-namespace-refs, the controller can refuse such references: the Canary
// then reports an invalid spec naming the field, and nothing is applied.
import type { CanarySpec } from '../api/canary.ts';
import { WeirError } from '../errors.ts';

export interface ReferencePolicy {
  /** False with --no-cross-namespace-refs: every reference stays in the Canary's namespace. */
  crossNamespaceRefs: boolean;
}

/** One refused reference: the field and the sentence that goes into the Ready condition. */
export interface RefusedReference {
  field: string;
  message: string;
}

export function refusedReferences(
  spec: CanarySpec,
  namespace: string,
  policy: ReferencePolicy,
): RefusedReference[] {
  if (policy.crossNamespaceRefs) return [];
  const out: RefusedReference[] = [];
  const refuse = (field: string, kind: string, ref: { name: string; namespace?: string | undefined }) => {
    // An explicit namespace equal to the Canary's own is not a cross-namespace reference.
    if (ref.namespace === undefined || ref.namespace === namespace) return;
    out.push({
      field,
      message:
        `${field}: cross-namespace references are disabled (--no-cross-namespace-refs): ` +
        `${kind} ${ref.namespace}/${ref.name} is not in namespace ${namespace}`,
    });
  };
  (spec.analysis.metrics ?? []).forEach((m, i) => {
    if (m.templateRef)
      refuse(`spec.analysis.metrics[${i}].templateRef.namespace`, 'MetricTemplate', m.templateRef);
  });
  (spec.analysis.alerts ?? []).forEach((a, i) => {
    refuse(`spec.analysis.alerts[${i}].providerRef.namespace`, 'AlertProvider', a.providerRef);
  });
  // gloo: the -primary/-canary Upstreams copy the referenced Upstream's TLS and connection settings.
  if (spec.upstreamRef) refuse('spec.upstreamRef.namespace', 'Upstream', spec.upstreamRef);
  return out;
}

/** Throws INVALID_SPEC naming every refused field of Canary `namespace/name`. */
export function checkReferences(
  spec: CanarySpec,
  namespace: string,
  name: string,
  policy: ReferencePolicy,
): void {
  const refused = refusedReferences(spec, namespace, policy);
  if (refused.length === 0) return;
  throw new WeirError(
    'INVALID_SPEC',
    `Canary ${namespace}/${name}: ${refused.map((r) => r.message).join('; ')}`,
  );
}
