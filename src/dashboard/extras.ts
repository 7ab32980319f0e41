// What the Canary page shows beside the Canary itself: what is deployed as primary and canary (images
// and Git revisions, read again at every change the page is sent, so they are current) and the
// Canary's Events (at page load). Each may be missing: no rights, no workload yet.
import { CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import type { CanaryObject } from '../canary/context.ts';
import { GIT_REVISION_ANNOTATION } from '../gitsync/apply.ts';
import type { Kube } from '../kube/client.ts';
import type { CanaryPageExtras } from './html.ts';
import { byName } from './metric-history.ts';
import type { Deployed } from './model.ts';

/**
 * The images of the primary (`<target>-primary`) and of the target, and their Git revisions: the
 * canary's is the one GitSync stamped on the target (what it applied), the primary's the one the
 * controller recorded at the last promotion (status.lastPromotedGitRevision).
 */
export async function deployedOf(kube: Kube, c: CanaryObject): Promise<Deployed> {
  const namespace = c.metadata.namespace ?? '';
  const target = c.spec?.targetRef?.name ?? '';
  const kind = c.spec?.targetRef?.kind ?? 'Deployment';
  const read = (name: string) => byName<V1Deployment>(kube, 'apps/v1', kind, { namespace, name });
  const [primary, canary] = await Promise.all([read(`${target}-primary`), read(target)]);
  const images = (w: V1Deployment | undefined) =>
    w?.spec?.template?.spec?.containers?.map((x) => x.image).join(', ');
  const git = canary?.metadata?.annotations?.[GIT_REVISION_ANNOTATION] ?? c.status?.lastAppliedGitRevision;
  const side = (image: string | undefined, revision: string | undefined) => ({
    ...(image ? { image } : {}),
    ...(revision ? { revision } : {}),
  });
  return {
    primary: side(images(primary), c.status?.lastPromotedGitRevision),
    canary: side(images(canary), git),
  };
}

/** The Canary's latest Events, newest first. */
export async function pageExtras(kube: Kube, c: CanaryObject): Promise<CanaryPageExtras> {
  const events = await kube.kc
    .makeApiClient(CoreV1Api)
    .listNamespacedEvent({
      namespace: c.metadata.namespace ?? '',
      fieldSelector: `involvedObject.kind=Canary,involvedObject.name=${c.metadata.name}`,
    })
    .then((l) => l.items)
    .catch(() => []);
  return {
    events: events
      .map((x) => ({
        type: x.type ?? '',
        reason: x.reason ?? '',
        message: x.message ?? '',
        time: isoOf(x.lastTimestamp ?? x.eventTime ?? x.metadata.creationTimestamp),
      }))
      .sort((a, b) => b.time.localeCompare(a.time))
      .slice(0, 30),
  };
}

const isoOf = (t: Date | string | undefined): string => (t ? new Date(t).toISOString() : '');
