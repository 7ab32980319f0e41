// What each Canary did and when, seen from outside through a watch (re-listed whenever the watch
// ends): phase changes and weight changes, stamped when the bench saw them. Both controllers write
// the same status fields (phase, canaryWeight), so one recorder serves both.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Kube } from '../../../src/kube/client.ts';

export interface Change {
  at: number;
  phase: string;
  weight: number;
}

interface CanaryStatus {
  metadata: { name: string; resourceVersion?: string };
  status?: { phase?: string; canaryWeight?: number };
}

export class Timeline {
  /** Per Canary, every distinct (phase, weight) seen, in order. */
  readonly changes = new Map<string, Change[]>();
  private stopped = false;
  private abort: AbortController | undefined;

  constructor(
    private readonly kube: Kube,
    private readonly kc: KubeConfig,
    private readonly apiVersion: string,
    private readonly ns: string,
  ) {}

  async start(): Promise<void> {
    const rv = await this.relist();
    void this.watchFrom(rv);
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private record(c: CanaryStatus): void {
    const phase = c.status?.phase ?? '';
    const weight = c.status?.canaryWeight ?? 0;
    const list = this.changes.get(c.metadata.name) ?? [];
    const last = list[list.length - 1];
    if (last && last.phase === phase && last.weight === weight) return;
    list.push({ at: Date.now(), phase, weight });
    this.changes.set(c.metadata.name, list);
  }

  private async relist(): Promise<string> {
    const list = await this.kube.objects.list(this.apiVersion, 'Canary', this.ns);
    for (const c of list.items as unknown as CanaryStatus[]) this.record(c);
    return list.metadata?.resourceVersion ?? '';
  }

  private async watchFrom(rv: string): Promise<void> {
    const path = `/apis/${this.apiVersion}/namespaces/${this.ns}/canaries`;
    while (!this.stopped) {
      const ended = new Promise<void>((resolve) => {
        void new Watch(this.kc)
          .watch(
            path,
            { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 300 },
            (type, obj: CanaryStatus) => {
              if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (type !== 'BOOKMARK' && type !== 'DELETED') this.record(obj);
            },
            () => resolve(),
          )
          .then((a) => (this.abort = a))
          .catch(() => resolve());
      });
      await ended;
      if (this.stopped) return;
      rv = await this.relist().catch(() => rv);
    }
  }

  /** When `name` first reached `phase` at or after `since`, if it did. */
  reached(name: string, phase: string, since: number): number | undefined {
    return this.changes.get(name)?.find((c) => c.at >= since && c.phase === phase)?.at;
  }

  /** Names whose latest phase is one of `phases`. */
  countIn(names: string[], phases: string[]): number {
    return names.filter((n) => {
      const l = this.changes.get(n);
      return l?.length && phases.includes(l[l.length - 1]!.phase);
    }).length;
  }

  /** Times of weight increases of `name` within [from, to): each a step of the analysis. */
  steps(name: string, from: number, to: number): number[] {
    const out: number[] = [];
    let prev: number | undefined;
    for (const c of this.changes.get(name) ?? []) {
      if (c.at >= from && c.at < to && prev !== undefined && c.weight > prev) out.push(c.at);
      prev = c.weight;
    }
    return out;
  }
}
