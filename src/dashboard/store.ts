// The dashboard's live copy of the Canaries: one watch (the CLI's watchCollection) over the Canaries
// the credentials can see, the weight/phase timeline of each recorded from that watch's events, and
// listeners (the Server-Sent Events streams) told of every change.
import type { KubeConfig } from '@kubernetes/client-node';
import type { CanaryObject } from '../canary/context.ts';
import { collectionPath } from '../cli/kube.ts';
import { RESOURCES } from '../cli/flags.ts';
import { watchCollection, type Watcher } from '../cli/watch.ts';
import { extendTimeline, key, type TimelinePoint } from './model.ts';

export interface CanaryEntry {
  canary: CanaryObject;
  timeline: TimelinePoint[];
}

export type ChangeListener = (namespace: string, name: string, entry: CanaryEntry | undefined) => void;

export interface CanaryStore {
  list(): CanaryEntry[];
  get(namespace: string, name: string): CanaryEntry | undefined;
  /** Resolves once the first list of the watch arrived (or at once if it failed). */
  synced(): Promise<void>;
  subscribe(listener: ChangeListener): () => void;
  stop(): void;
}

export function startCanaryStore(
  kc: KubeConfig,
  opts: { namespace?: string; onError?: (err: unknown) => void } = {},
): CanaryStore {
  const entries = new Map<string, CanaryEntry>();
  const listeners = new Set<ChangeListener>();
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  // A watch without resourceVersion replays every object as ADDED first; a quiet moment after the
  // first event, or an empty collection, ends the initial sync. The list page renders after it.
  let quiet: NodeJS.Timeout | undefined = setTimeout(() => markSynced(), 1000);
  const watcher: Watcher = watchCollection<CanaryObject>(kc, {
    path: collectionPath(RESOURCES.canary, opts.namespace),
    onEvent({ type, object }) {
      const ns = object.metadata.namespace ?? '';
      const name = object.metadata.name ?? '';
      const k = key(ns, name);
      if (quiet) {
        clearTimeout(quiet);
        quiet = setTimeout(() => markSynced(), 200);
      }
      if (type === 'DELETED') {
        entries.delete(k);
        for (const l of listeners) l(ns, name, undefined);
        return;
      }
      const entry = {
        canary: object,
        timeline: extendTimeline(entries.get(k)?.timeline ?? [], object, Date.now()),
      };
      entries.set(k, entry);
      for (const l of listeners) l(ns, name, entry);
    },
    onError(err) {
      markSynced();
      opts.onError?.(err);
    },
  });
  return {
    list: () => [...entries.values()].sort((a, b) => order(a).localeCompare(order(b))),
    get: (namespace, name) => entries.get(key(namespace, name)),
    synced: () => synced,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      clearTimeout(quiet);
      quiet = undefined;
      watcher.stop();
    },
  };
}

const order = (e: CanaryEntry) => key(e.canary.metadata.namespace ?? '', e.canary.metadata.name ?? '');
