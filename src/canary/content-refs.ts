// The Secrets and ConfigMaps one Canary's reconcile reads the content of: the target's configs and
// their -primary copies (revision, checksums, copies), and the credentials of its MetricTemplates and
// AlertProviders. The informers keep no content (src/kube/content.ts); asking for all of them at the
// start of a reconcile starts their reads together and throws LOADING before anything is decided, so
// a reconcile never stops half-way, and analysis and alerts later find their credentials in memory.
import type { CanarySpec } from '../api/canary.ts';
import { isWeirError } from '../errors.ts';
import type { Caches } from './context.ts';
import { referencedConfigs } from './targets.ts';
import type { Workload } from './workloads.ts';

export type Want = { cache: 'configMap' | 'secret'; namespace: string; name: string };

export function contentWanted(ns: string, spec: CanarySpec, target: Workload, caches: Caches): Want[] {
  const refs = referencedConfigs(target.spec?.template?.spec);
  const out: Want[] = [];
  for (const name of refs.configMaps)
    out.push(
      { cache: 'configMap', namespace: ns, name },
      { cache: 'configMap', namespace: ns, name: `${name}-primary` },
    );
  for (const name of refs.secrets)
    out.push(
      { cache: 'secret', namespace: ns, name },
      { cache: 'secret', namespace: ns, name: `${name}-primary` },
    );
  for (const m of spec.analysis.metrics ?? []) {
    if (!m.templateRef) continue;
    const tns = m.templateRef.namespace ?? ns;
    const t = caches.metricTemplate?.get(tns, m.templateRef.name) as
      { spec?: { provider?: { secretRef?: { name: string } } } } | undefined;
    const secret = t?.spec?.provider?.secretRef?.name;
    if (secret) out.push({ cache: 'secret', namespace: tns, name: secret });
  }
  for (const a of spec.analysis.alerts ?? []) {
    const pns = a.providerRef.namespace ?? ns;
    const p = caches.alertProvider?.get(pns, a.providerRef.name) as
      { spec?: { secretRef?: { name: string } } } | undefined;
    const secret = p?.spec?.secretRef?.name;
    if (secret) out.push({ cache: 'secret', namespace: pns, name: secret });
  }
  return out;
}

/** Makes sure every wanted object's content is in memory; throws LOADING (after starting every read) if not. */
export function holdContent(wanted: Want[], caches: Caches): void {
  let loading: unknown;
  for (const w of wanted) {
    try {
      caches[w.cache]?.content(w.namespace, w.name);
    } catch (err) {
      if (!isWeirError(err, 'LOADING')) throw err;
      loading ??= err;
    }
  }
  if (loading) throw loading;
}
