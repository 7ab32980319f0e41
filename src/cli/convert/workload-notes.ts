// What a converted DaemonSet Canary should know (Flagger shares these limits): a provider's built-in
// metric that finds the canary's pods by a Deployment's naming or labels does not find a DaemonSet's.
// Read from the provider's own built-in queries, so the notes follow the queries.
import { BUILTIN_METRICS } from '../../api/canary.ts';
import { descriptorOf } from '../../routing/registry.ts';
import { arr, obj, type Notes } from './notes.ts';

type Json = Record<string, unknown>;

/** How a built-in query can miss a DaemonSet's canary pods, and what that does. */
const MISSES: Array<{ pattern: RegExp; why: string }> = [
  {
    // `<target>-<a>-<b>`: a Deployment's pods; a DaemonSet's canary pods are `<target>-<id>`, and
    // `<target>-primary-<id>` (the primary's) matches instead.
    pattern: /pod=~"\{\{ target \}\}-/,
    why: "selects pods named like a Deployment's (<target>-<hash>-<id>), which for a DaemonSet are the primary's (<target>-primary-<id>), not the canary's (<target>-<id>)",
  },
  {
    pattern: /deployment=~?"\{\{ target \}\}"/,
    why: 'selects the `deployment` label, which DaemonSet pods do not carry (no data)',
  },
];

/** Notes on the built-in metrics of a converted DaemonSet Canary (`w` is the Weir spec). */
export function daemonSetNotes(w: Json, src: string, notes: Notes): void {
  const provider = typeof w.provider === 'string' ? w.provider : undefined;
  const queries = provider ? descriptorOf(provider)?.builtinQueries : undefined;
  arr(obj(w.analysis).metrics).forEach((m, i) => {
    const name = String(obj(m).name);
    if (obj(m).templateRef || !(BUILTIN_METRICS as readonly string[]).includes(name)) return;
    const query = queries?.[name as (typeof BUILTIN_METRICS)[number]];
    const miss = query
      ? MISSES.find((x) => x.pattern.test(query))
      : { why: 'may select pods by a Deployment’s naming (the provider is not named here)' };
    if (!miss) return;
    notes.add(
      src,
      `spec.analysis.metrics[${i}]`,
      `built-in ${name} ${miss.why}: for a DaemonSet target use a MetricTemplate that selects <target>-<id> pods`,
    );
  });
}
