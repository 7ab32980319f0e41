// Kubernetes Events for Canaries and GitSyncs (core/v1), best effort: an event that cannot be
// written is logged, never fails a reconcile.
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { Kube } from './client.ts';
import type { Logger } from '../log.ts';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface EventRecorder {
  record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export function createEventRecorder(kube: Kube, log: Logger, component = 'weir'): EventRecorder {
  const core = kube.kc.makeApiClient(CoreV1Api);
  return {
    async record(target, type, reason, message) {
      const now = new Date();
      const body: CoreV1Event = {
        metadata: { generateName: `${target.name}.`, namespace: target.namespace },
        involvedObject: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          namespace: target.namespace,
          name: target.name,
          ...(target.uid ? { uid: target.uid } : {}),
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        reportingComponent: component,
      };
      try {
        await core.createNamespacedEvent({ namespace: target.namespace, body });
      } catch (err) {
        log.warn({ err, reason }, 'could not record event');
      }
    },
  };
}
