// What the chaos invariants are checked against: every write the API server accepted to a
// namespace's Canaries (status), HTTPRoutes (weights) and primary Deployments (pod template image),
// from watches. A watch delivers every change, so a weight held for a millisecond is still seen;
// when the connection breaks (the API server restarted) it resumes from the last resourceVersion, so
// nothing written meanwhile is missed either (a `gaps` count says when resuming was impossible).
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import type { CanaryStatus } from '../../src/api/canary.ts';

export interface StatusSample {
  at: number;
  phase?: string;
  canaryWeight?: number;
  failedChecks?: number;
  lastAppliedSpec?: string;
  lastPromotedSpec?: string;
  metrics: Array<{ name: string; result?: string; value?: number; message?: string }>;
  message?: string;
  /** status.pendingAlerts (the alert outbox): alerts recorded with a transition, not yet removed. */
  pending?: Array<{ id: string; message: string }>;
}

export interface History {
  /** Per Canary, each distinct status as written. */
  statuses: Map<string, StatusSample[]>;
  /** Per HTTPRoute, the canary weight of its default rule, each change. */
  weights: Map<string, number[]>;
  /** Per `<name>-primary` Deployment, the first container's image, each change. */
  primaryImages: Map<string, string[]>;
  /** Per other (target) Deployment, `<spec.replicas>/<status.readyReplicas> <image>`, each change (diagnosis only). */
  targets: Map<string, string[]>;
  /**
   * Times a watch had to start over from the current state (410 Gone: after an API server restart
   * its watch cache starts at the current revision), so changes in between may be missing.
   */
  gaps: number;
  /** Per HTTPRoute, indexes k in `weights` where k-1 -> k spans such a gap (not one write). */
  weightBreaks: Map<string, Set<number>>;
}

export interface NamespaceRecorder {
  history: History;
  /** Stops the watches; returns the history. */
  stop(): Promise<History>;
}

type Obj = { metadata?: { name?: string; resourceVersion?: string }; [k: string]: unknown };
type Route = { spec?: { rules?: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> } };
type Deploy = {
  spec?: { replicas?: number; template?: { spec?: { containers?: Array<{ image?: string }> } } };
  status?: { readyReplicas?: number };
};

export function recordNamespace(kc: KubeConfig, ns: string): NamespaceRecorder {
  const history: History = {
    statuses: new Map(),
    weights: new Map(),
    primaryImages: new Map(),
    targets: new Map(),
    gaps: 0,
    weightBreaks: new Map(),
  };
  const push = <T>(m: Map<string, T[]>, key: string, v: T, same: (a: T, b: T) => boolean) => {
    const list = m.get(key) ?? [];
    const last = list[list.length - 1];
    if (last === undefined || !same(last, v)) list.push(v);
    m.set(key, list);
  };
  const onCanary = (o: Obj) => {
    const s = (o.status ?? {}) as CanaryStatus;
    const sample: StatusSample = {
      at: Date.now(),
      ...(s.phase ? { phase: s.phase } : {}),
      ...(s.canaryWeight !== undefined ? { canaryWeight: s.canaryWeight } : {}),
      ...(s.failedChecks !== undefined ? { failedChecks: s.failedChecks } : {}),
      ...(s.lastAppliedSpec ? { lastAppliedSpec: s.lastAppliedSpec } : {}),
      ...(s.lastPromotedSpec ? { lastPromotedSpec: s.lastPromotedSpec } : {}),
      ...(s.message ? { message: s.message } : {}),
      metrics: (s.metrics ?? []).map((m) => ({
        name: m.name,
        ...(m.result ? { result: m.result } : {}),
        ...(m.value !== undefined ? { value: m.value } : {}),
        ...(m.message ? { message: m.message } : {}),
      })),
      ...(s.pendingAlerts?.length
        ? { pending: s.pendingAlerts.map((p) => ({ id: p.id, message: p.message })) }
        : {}),
    };
    const key = ({ at, ...rest }: StatusSample) => (void at, JSON.stringify(rest));
    push(history.statuses, o.metadata?.name ?? '', sample, (a, b) => key(a) === key(b));
  };
  const onRoute = (o: Obj) => {
    const name = o.metadata?.name ?? '';
    const rules = (o as Route).spec?.rules ?? [];
    const w = rules[rules.length - 1]?.backendRefs?.find((b) => b.name === `${name}-canary`)?.weight ?? 0;
    push(history.weights, name, w, (a, b) => a === b);
  };
  const onDeployment = (o: Obj) => {
    const name = o.metadata?.name ?? '';
    const d = o as Deploy;
    const image = d.spec?.template?.spec?.containers?.[0]?.image ?? '';
    if (!name.endsWith('-primary')) {
      const state = `${Date.now()} ${d.spec?.replicas ?? '?'}/${d.status?.readyReplicas ?? 0} ${image}`;
      return push(
        history.targets,
        name,
        state,
        (a, b) => a.slice(a.indexOf(' ')) === b.slice(b.indexOf(' ')),
      );
    }
    push(history.primaryImages, name, image, (a, b) => a === b);
  };
  const watches = [
    watchLoop(kc, `/apis/weir.dev/v1alpha1/namespaces/${ns}/canaries`, onCanary, history),
    watchLoop(kc, `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`, onRoute, history, () => {
      for (const [route, seen] of history.weights) {
        const breaks = history.weightBreaks.get(route) ?? new Set<number>();
        breaks.add(seen.length);
        history.weightBreaks.set(route, breaks);
      }
    }),
    watchLoop(kc, `/apis/apps/v1/namespaces/${ns}/deployments`, onDeployment, history),
  ];
  return {
    history,
    async stop() {
      await Promise.all(watches.map((w) => w.stop()));
      return history;
    },
  };
}

/** A watch that reconnects (every 500 ms while it cannot) from the last resourceVersion until stopped. */
function watchLoop(
  kc: KubeConfig,
  path: string,
  onObject: (o: Obj) => void,
  history: History,
  onGap: () => void = () => undefined,
): { stop(): Promise<void> } {
  let stopped = false;
  let abort: AbortController | undefined;
  let rv: string | undefined;
  let wake: () => void = () => undefined;
  const stopping = new Promise<void>((resolve) => (wake = resolve));
  const loop = (async () => {
    while (!stopped) {
      const ended = new Promise<void>((resolve) => {
        new Watch(kc)
          .watch(
            path,
            { allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
            (type, obj: Obj) => {
              if (type === 'ERROR') {
                // 410 Gone: the resourceVersion is too old; start over from the current state.
                rv = undefined;
                history.gaps++;
                onGap();
                return;
              }
              rv = obj.metadata?.resourceVersion ?? rv;
              if (type !== 'BOOKMARK' && type !== 'DELETED') onObject(obj);
            },
            () => resolve(),
          )
          .then((a) => {
            abort = a;
            if (stopped) a.abort();
          })
          .catch(() => resolve());
      });
      await Promise.race([ended, stopping]);
      if (!stopped) await Promise.race([delay(500), stopping]);
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      abort?.abort();
      await loop;
    },
  };
}
