// Kubernetes Events for Canaries and GitSyncs (core/v1), best effort: an event that cannot be
// written is logged, never fails a reconcile.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Kube, Obj } from './client.ts';
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
  return {
    async record(target, type, reason, message) {
      const now = new Date();
      const body: CoreV1Event = {
        apiVersion: 'v1',
        kind: 'Event',
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
        await kube.create(body as unknown as Obj);
      } catch (err) {
        log.warn({ err, reason }, 'could not record event');
      }
    },
  };
}

/**
 * A recorder whose record() resolves at once: each Event is written after the earlier ones of the
 * same object (so they keep their order), off the caller's path. A reconcile then never holds its
 * worker for an Event write, which is best effort anyway; `idle()` resolves when all are written.
 */
export function recordInBackground(inner: EventRecorder): EventRecorder & { idle(): Promise<void> } {
  const chains = new Map<string, Promise<void>>();
  return {
    record(target, type, reason, message) {
      const key = `${target.kind}/${target.namespace}/${target.name}`;
      const next = (chains.get(key) ?? Promise.resolve()).then(() =>
        inner.record(target, type, reason, message),
      );
      chains.set(key, next);
      void next.finally(() => {
        if (chains.get(key) === next) chains.delete(key);
      });
      return Promise.resolve();
    },
    idle: () => Promise.all(chains.values()).then(() => undefined),
  };
}
