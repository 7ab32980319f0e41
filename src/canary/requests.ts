// User requests are plain annotation patches on the Canary (what `weir promote|abort|retry|pause|
// resume` write). Annotations set by the CLI belong to its own field manager, so a Git reconciler
// applying the Canary's manifest never takes them back. Each request carries an id (a timestamp);
// the controller records handled ids in status.handledRequests and acts on each id once.
import type { UserRequests } from './model.ts';

export const REQUEST = {
  promote: 'weir.dev/promote',
  promoteFull: 'weir.dev/promote-full',
  abort: 'weir.dev/abort',
  retry: 'weir.dev/retry',
  paused: 'weir.dev/paused',
  promoteNow: 'weir.dev/promote-now',
  /** Who asked for promote-now (the CLI's kubeconfig user), for the Event. */
  promoteNowBy: 'weir.dev/promote-now-by',
} as const;

export function readRequests(annotations: Record<string, string> | undefined): UserRequests {
  const a = annotations ?? {};
  const out: UserRequests = { paused: a[REQUEST.paused] === 'true' };
  if (a[REQUEST.promote])
    out.promote = { id: a[REQUEST.promote]!, full: a[REQUEST.promoteFull] === a[REQUEST.promote] };
  if (a[REQUEST.abort]) out.abort = { id: a[REQUEST.abort]! };
  if (a[REQUEST.retry]) out.retry = { id: a[REQUEST.retry]! };
  if (a[REQUEST.promoteNow]) {
    const by = a[REQUEST.promoteNowBy];
    out.promoteNow = { id: a[REQUEST.promoteNow]!, ...(by ? { by } : {}) };
  }
  return out;
}

/** The merge patch a CLI action sends. */
export function requestPatch(
  kind: 'promote' | 'promote-full' | 'promote-now' | 'abort' | 'retry' | 'pause' | 'resume',
  id = new Date().toISOString(),
  by = '',
): { metadata: { annotations: Record<string, string | null> } } {
  switch (kind) {
    case 'promote-now':
      return { metadata: { annotations: { [REQUEST.promoteNow]: id, [REQUEST.promoteNowBy]: by || null } } };
    case 'promote':
      return { metadata: { annotations: { [REQUEST.promote]: id, [REQUEST.promoteFull]: null } } };
    case 'promote-full':
      return { metadata: { annotations: { [REQUEST.promote]: id, [REQUEST.promoteFull]: id } } };
    case 'abort':
      return { metadata: { annotations: { [REQUEST.abort]: id } } };
    case 'retry':
      return { metadata: { annotations: { [REQUEST.retry]: id } } };
    case 'pause':
      return { metadata: { annotations: { [REQUEST.paused]: 'true' } } };
    case 'resume':
      return { metadata: { annotations: { [REQUEST.paused]: null } } };
  }
}
