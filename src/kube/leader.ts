// Leader election on a coordination.k8s.io Lease, with client-go's timing (lease 15 s, renew
// deadline 10 s, retry 2 s) and its two safety rules:
// - The leader steps down on a LOCAL timer at lastRenew + renewDeadline, whatever its lease requests
//   are doing: a request that hangs (a partition, a frozen API server) cannot keep a stale leader
//   acting. Every lease request also carries a timeout (aborted, so it does not linger).
// - Another holder's lease is judged expired on locally observed time: when this process last saw
//   the lease record change, plus leaseDuration. The holder's renewTime is written with the holder's
//   clock and is never compared with ours (clock skew between nodes would otherwise let a candidate
//   take a live lease, or wait forever for a dead one).
// After stepping down the process exits (controller-main), so leadership is never re-acquired in place.
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
  /** Timeout of each lease request (default: half the renew deadline). */
  requestTimeoutMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/** The lease calls, each bounded by `signal`. */
export interface LeaseClient {
  get(signal: AbortSignal): Promise<V1Lease | undefined>;
  create(lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
  /** Replace guarded by the lease's resourceVersion (a concurrent writer gets 409). */
  replace(lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export function leaseClient(kube: Kube, namespace: string, name: string): LeaseClient {
  const api = kube.kc.makeApiClient(CoordinationV1Api);
  // client-node passes a RequestContext's signal to fetch; a middleware puts ours there. The
  // object-parameter API takes its (observable-style) middleware: anything with toPromise().
  const settled = <V>(v: V) => ({ toPromise: () => Promise.resolve(v) });
  const withSignal = (signal: AbortSignal) => ({
    middleware: [
      {
        pre: (ctx: { setSignal(s: AbortSignal): void }) => {
          ctx.setSignal(signal);
          return settled(ctx);
        },
        post: <R>(r: R) => settled(r),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  });
  return {
    async get(signal) {
      try {
        return await api.readNamespacedLease({ name, namespace }, withSignal(signal) as never);
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    },
    create: (body, signal) => api.createNamespacedLease({ namespace, body }, withSignal(signal) as never),
    replace: (body, signal) =>
      api.replaceNamespacedLease({ name, namespace, body }, withSignal(signal) as never),
  };
}

export function runLeaderElection(kube: Kube, log: Logger, o: LeaderOptions): { stop(): void } {
  const elector = new LeaderElector(leaseClient(kube, o.namespace, o.name), log, o);
  elector.start();
  return elector;
}

/** What this process last saw of the lease, and when (its own clock). */
interface Observed {
  record: string;
  at: number;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private observed: Observed | undefined;
  private loopTimer: unknown;
  private deadlineTimer: unknown;
  private inflight: AbortController | undefined;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly client: LeaseClient,
    private readonly log: Logger,
    private readonly o: LeaderOptions,
    private readonly clock: Clock = realClock,
  ) {
    this.leaseMs = (o.leaseSeconds ?? 15) * 1000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryMs ?? 2_000;
    this.requestTimeoutMs = o.requestTimeoutMs ?? Math.max(1, Math.floor(this.renewDeadlineMs / 2));
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.loopTimer);
    this.clock.clearTimeout(this.deadlineTimer);
    this.inflight?.abort();
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      if (ok) this.renewed();
      else if (this.leading) this.stepDown('lost the lease to another replica');
    } catch (err) {
      if (this.stopped) return;
      this.log.warn({ err: String((err as Error)?.message ?? err) }, 'lease update failed');
    }
    if (!this.stopped) this.loopTimer = this.clock.setTimeout(() => void this.loop(), this.retryMs);
  }

  private renewed(): void {
    this.lastRenew = this.clock.now();
    // The step-down timer runs on our clock from the last successful renewal: only a renewal that
    // the API server answered in time moves it.
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.clock.setTimeout(
      () => this.stepDown('could not renew the lease in time, stepping down'),
      this.renewDeadlineMs,
    );
    if (!this.leading) {
      this.leading = true;
      this.log.info(
        { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
        'became leader',
      );
      this.o.onStartedLeading();
    }
  }

  private stepDown(why: string): void {
    if (!this.leading || this.stopped) return;
    this.leading = false;
    this.log.error({ sinceRenewMs: this.clock.now() - this.lastRenew }, why);
    this.stop();
    this.o.onStoppedLeading();
  }

  /** One request, aborted after requestTimeoutMs (or when a step-down stops everything). */
  private async call<R>(fn: (signal: AbortSignal) => Promise<R>): Promise<R> {
    const ac = new AbortController();
    this.inflight = ac;
    const timer = this.clock.setTimeout(
      () => ac.abort(new Error('lease request timed out')),
      this.requestTimeoutMs,
    );
    try {
      return await new Promise<R>((resolve, reject) => {
        // Settle on abort even if the transport ignores the signal.
        ac.signal.addEventListener('abort', () => reject(ac.signal.reason ?? new Error('aborted')), {
          once: true,
        });
        fn(ac.signal).then(resolve, reject);
      });
    } finally {
      this.clock.clearTimeout(timer);
      if (this.inflight === ac) this.inflight = undefined;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const lease = await this.call((s) => this.client.get(s));
    const now = this.clock.now();
    const stamp = new V1MicroTime(now); // Lease times must carry microseconds
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.leaseMs / 1000,
      renewTime: stamp,
    };
    if (!lease) {
      await this.call((s) =>
        this.client.create(
          {
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: { ...spec, acquireTime: stamp, leaseTransitions: 0 },
          },
          s,
        ),
      );
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const record = JSON.stringify([lease.metadata?.resourceVersion, holder, lease.spec?.renewTime]);
    if (this.observed?.record !== record) this.observed = { record, at: now };
    const duration = (lease.spec?.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
    const expired = this.observed.at + duration <= now;
    if (holder && holder !== this.o.identity && !expired) return false;
    const ours = holder === this.o.identity;
    await this.call((s) =>
      this.client.replace(
        {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (ours ? 0 : 1),
            ...(ours ? {} : { acquireTime: stamp }),
          },
        },
        s,
      ),
    );
    return true;
  }
}
