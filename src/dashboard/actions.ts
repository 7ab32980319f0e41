// The dashboard's buttons do exactly what `weir promote|abort|retry|pause|resume` do: planAction() on
// the Canary, then its requestPatch() as a merge patch. The Canary is the watch's copy (the
// controller's chart RBAC grants list/watch/patch on Canaries, not get).
import type { CanaryObject } from '../canary/context.ts';
import { planAction, type ActionKind } from '../cli/actions.ts';
import { RESOURCES } from '../cli/flags.ts';
import { apiMessage, statusCode, type Kube } from '../kube/client.ts';

export const DASHBOARD_ACTIONS: readonly ActionKind[] = [
  'promote',
  'promote-full',
  'promote-now',
  'abort',
  'retry',
  'pause',
  'resume',
];

export type ActionResult = { status: 200; effect: string } | { status: 403 | 404 | 409 | 502; error: string };

const cause = (err: unknown): unknown => (err as { cause?: unknown })?.cause ?? err;

export async function performAction(
  kube: Kube,
  kind: ActionKind,
  canary: CanaryObject | undefined,
  namespace: string,
  name: string,
  /** Who asked, for promote --now's Event (the CLI sends its kubeconfig user). */
  by = '',
): Promise<ActionResult> {
  const ref = { apiVersion: RESOURCES.canary.apiVersion, kind: 'Canary', namespace, name };
  try {
    if (!canary) return { status: 404, error: `Canary ${namespace}/${name} not found` };
    const plan = planAction(kind, canary, new Date().toISOString(), by);
    if (!plan.ok)
      return { status: 409, error: `${kind.replace(/-(full|now)$/, ' --$1')} refused: ${plan.reason}` };
    await kube.mergePatch(ref, plan.patch);
    return { status: 200, effect: plan.effect };
  } catch (err) {
    const code = statusCode(cause(err));
    const message = apiMessage(cause(err));
    if (code === 403) return { status: 403, error: `the Kubernetes API refused: ${message}` };
    if (code === 404) return { status: 404, error: `Canary ${namespace}/${name} not found` };
    return { status: 502, error: `${kind} on Canary ${namespace}/${name} failed: ${message}` };
  }
}
