// `weir promote [--full | --now] | abort | retry | pause | resume NAME`: plain merge patches of the Canary's
// annotations (requestPatch), which the controller acts on once per request id. planAction() is the
// pure part: what a request does in the Canary's current phase, or why it makes no sense there.
import type { CanaryObject } from '../canary/context.ts';
import { REQUEST, requestPatch } from '../canary/requests.ts';
import { strategyOf } from '../api/strategy.ts';
import { windowState } from '../canary/window.ts';
import { WeirError } from '../errors.ts';
import type { KubeFlags } from './flags.ts';
import { call, connect, getCanary, type Cli } from './kube.ts';

export type ActionKind = 'promote' | 'promote-full' | 'promote-now' | 'abort' | 'retry' | 'pause' | 'resume';

export type Plan =
  { ok: true; patch: ReturnType<typeof requestPatch>; effect: string } | { ok: false; reason: string };

const RUNNING = new Set(['Waiting', 'Progressing', 'WaitingPromotion']);

/** `promote` while Progressing: what holds the run at this step, if anything. */
function planStepPromote(
  c: CanaryObject,
  where: string,
  later: string,
  accept: (effect: string) => Plan,
  refuse: (reason: string) => Plan,
): Plan {
  const index = c.status?.stepIndex ?? 0;
  const step = strategyOf(c.spec) === 'steps' ? c.spec.analysis.steps?.[index] : undefined;
  const full = `\`weir promote ${c.metadata.name} --full\` skips all remaining steps`;
  if (step?.pause)
    return accept(
      `ends the pause at step ${index + 1}${step.pause.duration ? ` (before its ${step.pause.duration})` : ''}: the run goes on with the next step${later}`,
    );
  if (step?.analysis)
    return accept(
      `ends the analysis step ${index + 1} (${step.analysis.metrics.join(', ')}) at the next analysis, passed or not, unless a metric exceeds its limits there: the run goes on with the next step${later}`,
    );
  const gates = new Set((c.spec.analysis.webhooks ?? []).map((w) => w.type));
  if (!gates.has('confirm-traffic-increase') && !gates.has('confirm-promotion'))
    return refuse(
      `${where}: no pause step or confirm-traffic-increase/confirm-promotion gate holds it, it advances at every passing analysis: ${full}`,
    );
  return accept(`lets the next passing analysis advance past the closed confirm-* gate${later}`);
}

/** Queued because spec.schedule is closed now (not, or not only, by a concurrency limit). */
function heldByWindow(c: CanaryObject, now: Date): boolean {
  if (c.status?.phase !== 'Queued' || !c.spec.schedule) return false;
  return !windowState(c.spec.schedule, now).open;
}

/** `promote --now`: only a run the release window holds in Queued. */
function planPromoteNow(
  c: CanaryObject,
  now: Date,
  where: string,
  accept: (e: string) => Plan,
  refuse: (r: string) => Plan,
): Plan {
  if (heldByWindow(c, now))
    return accept(
      'starts the queued run now, outside its release window (a concurrency limit still applies); an Event records who asked',
    );
  return refuse(
    `${where}: --now overrides spec.schedule for a run waiting in Queued outside its release window only`,
  );
}

export function planAction(kind: ActionKind, c: CanaryObject, id = new Date().toISOString(), by = ''): Plan {
  const phase = c.status?.phase;
  const name = c.metadata.name;
  const paused = c.metadata.annotations?.[REQUEST.paused] === 'true';
  const refuse = (reason: string): Plan => ({ ok: false, reason });
  const accept = (effect: string): Plan => ({ ok: true, patch: requestPatch(kind, id, by), effect });
  const where = `Canary ${c.metadata.namespace}/${name} is ${phase ?? 'not initialized yet'}`;
  if (c.spec?.suspend && kind !== 'pause' && kind !== 'resume')
    return refuse(`${where} but spec.suspend is true: the controller ignores it until suspend is removed`);

  switch (kind) {
    case 'promote-now':
      return planPromoteNow(c, new Date(id), where, accept, refuse);
    case 'promote':
    case 'promote-full': {
      if (phase === 'Failed')
        return refuse(`${where}: there is no run to promote; \`weir retry ${name}\` runs the revision again`);
      if (phase === 'Frozen')
        return accept(
          'ends the freeze by promoting: the frozen canary is copied to primary now, without further analysis',
        );
      if (phase === 'Promoting' || phase === 'Finalising')
        return refuse(`${where}: it is already being promoted`);
      if (heldByWindow(c, new Date(id)))
        return refuse(
          `${where} outside its release window (spec.schedule): \`weir promote ${name} --now\` starts it now`,
        );
      if (phase === 'Queued')
        return refuse(
          `${where}: its run waits for a slot under a concurrency limit and has not started; raise spec.priority to move it up`,
        );
      if (!phase || !RUNNING.has(phase))
        return refuse(
          `${where}: nothing to promote (idle); a run starts when the target Deployment's pod template changes`,
        );
      if (phase === 'Waiting') return accept('opens the confirm-rollout gate: the run starts now');
      if (phase === 'WaitingPromotion')
        return accept('opens the confirm-promotion gate: promotion starts now');
      const later = paused ? ' (once resumed with `weir resume`)' : '';
      if (kind === 'promote-full')
        return accept(
          `skips the remaining steps: the next passing analysis promotes the canary to primary${later}`,
        );
      return planStepPromote(c, where, later, accept, refuse);
    }
    case 'abort':
      if (phase === 'Queued')
        return accept(
          'takes the waiting run out of the queue: nothing was changed in the cluster, phase Failed; the next revision queues again',
        );
      if (phase === 'Frozen')
        return accept(
          'ends the freeze by rolling back: all traffic to primary, canary scaled to 0, phase Failed',
        );
      if (phase && RUNNING.has(phase))
        return accept('rolls back: all traffic to primary, canary scaled to 0, phase Failed');
      if (phase === 'Promoting' || phase === 'Finalising')
        return refuse(`${where}: analysis passed and the primary is being updated; it is too late to abort`);
      return refuse(`${where}: no run to abort`);
    case 'retry':
      if (phase === 'Failed') return accept('runs the failed revision again from the first step');
      if (phase === 'Frozen')
        return accept(
          `ends the freeze: failed checks go back to 0 and analysis resumes at canary weight ${c.status?.canaryWeight ?? 0}`,
        );
      return refuse(`${where}: retry re-runs a Failed canary or resumes a Frozen one only`);
    case 'pause':
      if (paused) return refuse(`${where} and already paused; \`weir resume ${name}\` resumes it`);
      if (phase === 'Frozen')
        return refuse(
          `${where}: its weights are already held; \`weir promote\`, \`weir abort\` or \`weir retry ${name}\` ends the freeze`,
        );
      if (phase && RUNNING.has(phase))
        return accept('holds the traffic where it is; analysis keeps running and can still roll back');
      return refuse(`${where}: no run to pause`);
    case 'resume':
      if (!paused) return refuse(`${where} and not paused by \`weir pause\``);
      return accept('lets the run advance again');
  }
}

/** Who asks, for the controller's Event: the kubeconfig user of the current context. */
function requesterOf(cli: Cli): string {
  const context = cli.kc.getCurrentContext();
  const user = cli.kc.getContextObject(context)?.user ?? cli.kc.getCurrentUser()?.name;
  return user ? `${user} (context ${context})` : `context ${context}`;
}

export async function runAction(kind: ActionKind, name: string, flags: KubeFlags): Promise<number> {
  const cli = connect(flags);
  const canary = await getCanary(cli, cli.namespace, name);
  const plan = planAction(kind, canary, undefined, kind === 'promote-now' ? requesterOf(cli) : '');
  if (!plan.ok) throw new WeirError('USAGE', `${verb(kind)} refused: ${plan.reason}`);
  await call(cli, `patch Canary ${cli.namespace}/${name}`, () =>
    cli.kube.mergePatch(
      { apiVersion: canary.apiVersion!, kind: 'Canary', namespace: cli.namespace, name },
      plan.patch,
    ),
  );
  const set = Object.entries(plan.patch.metadata.annotations)
    .map(([k, v]) => (v === null ? `-${k}` : `${k}=${v}`))
    .join(' ');
  console.log(
    `Canary ${cli.namespace}/${name}: ${kind === 'promote-full' ? 'full promotion' : kind === 'promote-now' ? 'promotion outside the release window' : kind} requested (${set})`,
  );
  console.log(`  ${plan.effect}`);
  return 0;
}

const verb = (kind: ActionKind) =>
  kind === 'promote-full' ? 'promote --full' : kind === 'promote-now' ? 'promote --now' : kind;
