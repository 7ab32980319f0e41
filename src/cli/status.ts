// `weir status NAME [--timeout 10m]`, for CI pipelines: follows a Canary by watching it and its target
// Deployment, prints each change once, and exits 0 when the current revision is promoted (Succeeded,
// or idle with nothing to roll out), 1 when it Failed, 2 on timeout. "Current" matters: right after
// `kubectl apply` the Canary still shows the previous run's Succeeded until the controller sees the
// new pod template, so the verdict waits until status.lastAppliedSpec is the target's revision.
import type { V1ConfigMap, V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { CanaryObject } from '../canary/context.ts';
import { REQUEST } from '../canary/requests.ts';
import { parseDuration } from '../vocab/duration.ts';
import { referencedConfigs, revisionFor } from '../canary/targets.ts';
import { DURATION_PATTERN } from '../api/schema-kit.ts';
import { WeirError } from '../errors.ts';
import { progressText } from './canary-view.ts';
import { RESOURCES, type KubeFlags } from './flags.ts';
import { call, collectionPath, connect, getCanary, type Cli } from './kube.ts';
import { watchCollection } from './watch.ts';

export type Verdict = 'succeeded' | 'failed' | 'pending';

/** The pure verdict; `revision` is the target's current revision when it could be computed. */
export function verdictOf(c: CanaryObject, revision: string | undefined): Verdict {
  const s = c.status ?? {};
  if ((s.observedGeneration ?? 0) < (c.metadata.generation ?? 0)) return 'pending';
  if (revision && s.lastAppliedSpec && revision !== s.lastAppliedSpec) return 'pending';
  const retry = c.metadata.annotations?.[REQUEST.retry];
  if (retry && s.handledRequests?.retry !== retry) return 'pending'; // `weir retry` not picked up yet
  if (s.phase === 'Failed') return 'failed';
  if ((s.phase === 'Succeeded' || s.phase === 'Initialized') && s.lastAppliedSpec === s.lastPromotedSpec)
    return 'succeeded';
  return 'pending';
}

/** Why a Canary has no verdict yet, for the timeout message ("Canary ns/name <reason>"). */
export function pendingReason(c: CanaryObject, revision: string | undefined): string {
  const s = c.status ?? {};
  if ((s.observedGeneration ?? 0) < (c.metadata.generation ?? 0))
    return `has generation ${c.metadata.generation} not yet observed by the controller`;
  if (revision && s.lastAppliedSpec && revision !== s.lastAppliedSpec)
    return `has not picked up the target's revision ${revision} yet (status.lastAppliedSpec ${s.lastAppliedSpec}): is the controller running?`;
  return `is ${s.phase ?? 'not initialized'}`;
}

/** One line per observed change: phase, weight, step, failed checks and message. */
export function statusLine(c: CanaryObject): string {
  const s = c.status ?? {};
  const parts = [s.phase ?? 'Pending'];
  if (c.spec?.analysis && s.phase) {
    const p = progressText(c.spec, s);
    parts.push(`weight ${s.canaryWeight ?? 0}%`, `${p.label.toLowerCase()} ${p.value}`);
    parts.push(`failed ${s.failedChecks ?? 0}/${c.spec.analysis.threshold ?? 1}`);
  }
  return `${parts.join('  ')}  ${s.message ?? ''}`.trimEnd();
}

/**
 * The revision the controller would compute for the target (pod template + tracked configs), or
 * undefined when it cannot be read (e.g. no permission on Secrets): then only the phase decides.
 */
async function targetRevision(cli: Cli, target: V1Deployment | undefined): Promise<string | undefined> {
  if (!target) return undefined;
  const ns = target.metadata?.namespace ?? cli.namespace;
  try {
    const refs = referencedConfigs(target.spec?.template?.spec);
    const cms = new Map<string, V1ConfigMap>();
    const secrets = new Map<string, V1Secret>();
    await Promise.all([
      ...refs.configMaps.map(async (n) => {
        const o = await cli.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: n });
        if (o) cms.set(n, o as V1ConfigMap);
      }),
      ...refs.secrets.map(async (n) => {
        const o = await cli.kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: n });
        if (o) secrets.set(n, o as V1Secret);
      }),
    ]);
    return revisionFor(
      target,
      (n) => cms.get(n),
      (n) => secrets.get(n),
    ).revision;
  } catch {
    return undefined;
  }
}

export function parseTimeout(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text))
    throw new WeirError('USAGE', `--timeout: expected a duration like 30s, 10m or 1h, got "${text}"`);
  return parseDuration(text);
}

export async function statusCommand(name: string, flags: KubeFlags & { timeout: string }): Promise<number> {
  const timeoutMs = parseTimeout(flags.timeout);
  const cli = connect(flags);
  const ns = cli.namespace;
  let canary = await getCanary(cli, ns, name);
  const targetName = canary.spec?.targetRef?.name ?? '';
  // Read before watching, so the first verdict already knows the revision to wait for.
  let target = (await call(cli, `get Deployment ${ns}/${targetName}`, () =>
    cli.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: targetName }),
  )) as V1Deployment | undefined;
  let revision = await targetRevision(cli, target);
  let printed = '';
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  // Verdicts are computed in order, one at a time, so a slow revision read never reorders output.
  let chain = Promise.resolve();
  const evaluate = (refreshRevision: boolean) => {
    chain = chain.then(async () => {
      if (refreshRevision) revision = await targetRevision(cli, target);
      const text = statusLine(canary);
      if (text !== printed) console.log(`${new Date().toISOString()}  ${text}`);
      printed = text;
      const v = verdictOf(canary, revision);
      if (v === 'succeeded') {
        console.log(`✔ Canary ${ns}/${name} is promoted (${canary.status?.phase})`);
        finish(0);
      } else if (v === 'failed') {
        console.log(`✖ Canary ${ns}/${name} failed: ${canary.status?.message ?? ''}`);
        finish(1);
      }
    });
  };
  const watches = [
    watchCollection<CanaryObject>(cli.kc, {
      path: collectionPath(RESOURCES.canary, ns),
      fieldSelector: `metadata.name=${name}`,
      onEvent: (e) => {
        if (e.type === 'DELETED') {
          console.log(`✖ Canary ${ns}/${name} was deleted`);
          return finish(1);
        }
        canary = e.object;
        evaluate(false);
      },
    }),
    watchCollection<V1Deployment>(cli.kc, {
      path: collectionPath(RESOURCES.deployment, ns),
      fieldSelector: `metadata.name=${targetName}`,
      onEvent: (e) => {
        target = e.type === 'DELETED' ? undefined : e.object;
        evaluate(true);
      },
    }),
  ];
  const timer = setTimeout(() => {
    console.log(
      `◌ timed out after ${flags.timeout}: Canary ${ns}/${name} ${pendingReason(canary, revision)}`,
    );
    finish(2);
  }, timeoutMs);
  const code = await done;
  clearTimeout(timer);
  for (const w of watches) w.stop();
  return code;
}
