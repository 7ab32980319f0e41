// The watch request behind an informer: client-node's Watch with `timeoutSeconds` and local deadlines.
// - The API server ends each watch after `timeoutSeconds` (randomised in [5, 10) min as client-go's
//   reflector does, so many watches do not all re-establish at once); the informer then resumes from
//   its last resourceVersion. A watch that is never renewed can sit forever on a connection a load
//   balancer or a partition has silently dropped.
// - Because a partition also swallows the server's close, the request is aborted locally a little
//   after `timeoutSeconds`, and a request whose response headers do not come within `connectTimeoutMs`
//   fails (then the informer's backoff applies).
// - `transform` sees each object before the informer stores it (used to drop Secret/ConfigMap data).
import { Watch, type KubeConfig } from '@kubernetes/client-node';

export interface WatchOptions {
  /** Seconds the server keeps one watch open; default random in [300, 600). */
  timeoutSeconds?: () => number;
  /** Local abort this long after timeoutSeconds when the server's close never arrives. */
  graceMs?: number;
  connectTimeoutMs?: number;
  transform?: (obj: unknown) => unknown;
}

type Callback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;

export function randomWatchTimeout(random: () => number = Math.random): number {
  return Math.floor(300 + 300 * random());
}

export class BoundedWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly o: WatchOptions = {},
  ) {
    // node-fetch's `timeout` bounds the wait for response headers (a hung connect or a frozen peer).
    const connectTimeoutMs = o.connectTimeoutMs ?? 30_000;
    super({
      getCurrentCluster: () => kc.getCurrentCluster(),
      applyToFetchOptions: async (opts: object) => ({
        ...(await kc.applyToFetchOptions(opts)),
        timeout: connectTimeoutMs,
      }),
    } as unknown as KubeConfig);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: Callback,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const timeoutSeconds = (this.o.timeoutSeconds ?? randomWatchTimeout)();
    const transform = this.o.transform;
    const request: { controller?: AbortController; expired?: boolean } = {};
    const deadline = setTimeout(
      () => {
        request.expired = true;
        request.controller?.abort();
      },
      timeoutSeconds * 1000 + (this.o.graceMs ?? 30_000),
    );
    deadline.unref();
    const finish = (err: unknown) => {
      clearTimeout(deadline);
      // An abort of ours is the end of a watch that outlived its time, not a failure.
      done(request.expired ? null : err);
    };
    const controller = await super.watch(
      path,
      { ...queryParams, timeoutSeconds, allowWatchBookmarks: true },
      transform ? (phase, obj, raw) => callback(phase, transform(obj), raw) : callback,
      finish,
    );
    request.controller = controller;
    return controller;
  }
}
