// Leader election on a coordination.k8s.io Lease (client-go's algorithm: 15 s lease, renew every
// 2 s, give up after 10 s without a renewal). Only the leader acts; a replica that loses the lease
// calls onStoppedLeading at once (the process then exits, so no stale leader keeps acting).
import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { statusCode, type Kube } from './client.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds?: number;
  renewDeadlineMs?: number;
  retryMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export function runLeaderElection(kube: Kube, log: Logger, o: LeaderOptions): { stop(): void } {
  const api = kube.kc.makeApiClient(CoordinationV1Api);
  const leaseSeconds = o.leaseSeconds ?? 15;
  const renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
  const retryMs = o.retryMs ?? 2_000;
  let leading = false;
  let lastRenew = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tryAcquire = async (): Promise<boolean> => {
    const now = new V1MicroTime(); // Lease times must carry microseconds
    let lease: V1Lease | undefined;
    try {
      lease = await api.readNamespacedLease({ name: o.name, namespace: o.namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    const spec = { holderIdentity: o.identity, leaseDurationSeconds: leaseSeconds, renewTime: now };
    if (!lease) {
      await api.createNamespacedLease({
        namespace: o.namespace,
        body: {
          metadata: { name: o.name, namespace: o.namespace },
          spec: { ...spec, acquireTime: now, leaseTransitions: 0 },
        },
      });
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string).getTime() : 0;
    const expired = renewed + (lease.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000 < now.getTime();
    if (holder && holder !== o.identity && !expired) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === o.identity ? 0 : 1);
    // replace with resourceVersion: a concurrent writer makes this fail with 409 instead of both winning
    await api.replaceNamespacedLease({
      name: o.name,
      namespace: o.namespace,
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          ...spec,
          leaseTransitions: transitions,
          ...(holder === o.identity ? {} : { acquireTime: now }),
        },
      },
    });
    return true;
  };

  const loop = async () => {
    if (stopped) return;
    try {
      const ok = await tryAcquire();
      if (ok) {
        lastRenew = Date.now();
        if (!leading) {
          leading = true;
          log.info({ lease: `${o.namespace}/${o.name}`, identity: o.identity }, 'became leader');
          o.onStartedLeading();
        }
      } else if (leading) {
        leading = false;
        log.warn('lost the lease to another replica');
        o.onStoppedLeading();
      }
    } catch (err) {
      log.warn({ err }, 'lease update failed');
    }
    if (leading && Date.now() - lastRenew > renewDeadlineMs) {
      leading = false;
      log.error('could not renew the lease in time, stepping down');
      o.onStoppedLeading();
    }
    timer = setTimeout(loop, retryMs);
  };
  void loop();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
