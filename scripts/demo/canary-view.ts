// The `weir get canary` view (the CLI's own renderer) that the demo prints after each release.
import { CoreV1Api, type CoreV1Event, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import type { CanaryObject } from '../../src/canary/context.ts';
import { renderCanary } from '../../src/cli/canary-view.ts';
import { COLOR, PLAIN } from '../../src/cli/style.ts';
import type { Kube } from '../../src/kube/client.ts';

export async function printCanaryView(kc: KubeConfig, kube: Kube, namespace: string, name: string) {
  const dep = (n: string) =>
    kube.get<V1Deployment & Record<string, never>>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace,
      name: n,
    });
  const canary = await kube.get<CanaryObject>({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    namespace,
    name,
  });
  if (!canary) return;
  const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.kind=Canary,involvedObject.name=${name}`,
  });
  const view = renderCanary(
    {
      canary,
      primary: await dep(`${name}-primary`),
      target: await dep(name),
      events: events.items as CoreV1Event[],
    },
    { style: process.stdout.isTTY ? COLOR : PLAIN, now: new Date() },
  );
  console.log(`\n$ weir get canary ${name} -n ${namespace}\n${view}\n`);
}
