// Deleting a Canary. Without revertOnDeletion, owner references remove what Weir created. With it
// (finalizer), Weir first gives the user's Deployment its replicas back, waits for it to be ready,
// points the apex Service and the routing object at it and detaches them from the Canary, then lets
// the deletion finish: no request is dropped on the way out.
import type { Logger } from '../log.ts';
import type { Kube } from '../kube/client.ts';
import { FINALIZER } from './apply.ts';
import type { Caches, CanaryContext } from './context.ts';
import { readyPercent, services } from './targets.ts';

export async function finalizeCanary(
  ctx: CanaryContext,
  deps: { kube: Kube; caches: Caches; log: Logger },
): Promise<number | undefined> {
  if (!ctx.obj.metadata.finalizers?.includes(FINALIZER)) return undefined;
  const { view } = ctx;
  if (view.spec.revertOnDeletion) {
    const replicas = Math.max(1, ctx.primary?.spec?.replicas ?? 1);
    if (ctx.target.spec?.replicas !== replicas) {
      await deps.kube.apply(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: ctx.names.target, namespace: view.namespace },
          spec: { replicas },
        },
        'weir-scale',
      );
      return 2000;
    }
    if (readyPercent(ctx.target) < 100) {
      deps.log.info(`revertOnDeletion: waiting for ${ctx.names.target} to be ready`);
      return 2000;
    }
    const [apex] = services(view.spec, ctx.names, ctx.selector, view.namespace, ctx.owner);
    apex!.spec!.selector = { [ctx.selector.key]: ctx.selector.value };
    delete apex!.metadata!.ownerReferences;
    await deps.kube.apply(apex!);
    await ctx.router.finalize(ctx.route);
    deps.log.info('revertOnDeletion: traffic handed back to the target Deployment');
  }
  await deps.kube.apply(
    {
      apiVersion: ctx.obj.apiVersion,
      kind: ctx.obj.kind,
      metadata: { name: view.name, namespace: view.namespace, finalizers: [] },
    },
    'weir-finalizer',
  );
  return undefined;
}
