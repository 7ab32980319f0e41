// Watches for the live views (`get --watch`, `list --watch`, `status`, `sync`): client-node's Watch on
// one collection (optionally narrowed by a field selector). A watch without resourceVersion first
// replays every matching object as ADDED, so a restarted watch (the server ends them every few
// minutes) resynchronises the view by itself. Restarts back off, and the first failure to connect
// is reported to the caller instead of retried, so a wrong context fails fast.
import { Watch, type KubeConfig } from '@kubernetes/client-node';

export type WatchEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T };

export interface Watcher {
  stop(): void;
}

export interface WatchOptions<T> {
  path: string;
  fieldSelector?: string;
  onEvent(e: WatchEvent<T>): void;
  /** A watch that could not be (re)established; the watcher keeps retrying after it. */
  onError?(err: unknown): void;
}

export function watchCollection<T>(kc: KubeConfig, o: WatchOptions<T>): Watcher {
  const watch = new Watch(kc);
  let stopped = false;
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;

  const start = async (): Promise<void> => {
    if (stopped) return;
    let connected = false;
    abort = await watch.watch(
      o.path,
      { ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}), allowWatchBookmarks: false },
      (type, object) => {
        connected = true;
        failures = 0;
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
          o.onEvent({ type, object: object as T });
      },
      (err) => {
        if (stopped) return;
        if (err && !connected) o.onError?.(err);
        // Back off only after failures; a watch the server closed normally restarts at once.
        const delay = err && !connected ? Math.min(10_000, 250 * 2 ** failures++) : 0;
        timer = setTimeout(() => void start(), delay);
      },
    );
    if (stopped) abort.abort();
  };
  void start();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      abort?.abort();
    },
  };
}

/** Calls `fn` at most once per `ms`, with the latest state (redraws that follow bursts of events). */
export function coalesce(fn: () => void, ms = 50): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}
