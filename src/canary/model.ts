// The inputs and outputs of the pure canary decision. The controller builds a CanaryView and
// Observations from informer caches and probes, calls decide(), and applies the Actions it returns.
import type { CanarySpec, CanaryStatus, WebhookType } from '../api/canary.ts';

import type { MetricResult } from '../vocab/metric-result.ts';
import type { Admission } from './admission.ts';
import type { WindowState } from './window.ts';
import type { Traffic } from '../vocab/traffic.ts';

export type { MetricResult, Traffic };

export interface CanaryView {
  name: string;
  namespace: string;
  generation: number;
  spec: CanarySpec; // defaulted
  status: CanaryStatus;
  /** User requests, as annotations (see requests.ts). */
  annotations: Record<string, string>;
}

export interface PodsObservation {
  exists: boolean;
  /** Percent of desired pods available (0-100); 0 when desired is 0 (see scaledToZero). */
  readyPercent: number;
  /** The Deployment asks for no pods (spec.replicas 0): scaled down, not merely starting up. */
  scaledToZero?: boolean;
  /** The revision (hash) the Deployment's pod template carries: for the primary, what it really runs. */
  revision?: string;
}

export type GateResult = { ok: true } | { ok: false; message: string };

export interface UserRequests {
  promote?: { id: string; full: boolean };
  abort?: { id: string };
  retry?: { id: string };
  /** `weir promote --now`: start a run queued by spec.schedule outside its window; by: who asked. */
  promoteNow?: { id: string; by?: string };
  paused: boolean;
}

export interface Observations {
  now: Date;
  /** Hash of the target's pod template plus tracked config data. */
  revision: string;
  primary: PodsObservation;
  canary: PodsObservation;
  requests: UserRequests;
  /** Results of gate webhooks the controller was asked to run (see needs()). */
  gates: Partial<Record<WebhookType, GateResult>>;
  /** Metric results, present when an analysis tick was due. */
  metrics?: MetricResult[];
  /**
   * Why the data plane has not taken the stored routes yet (the router's weight verification, e.g.
   * an HTTPRoute parent that has not accepted the current generation): the run holds its step.
   */
  routesPending?: string;
  /**
   * Whether a new run may start under the concurrency limits (admission.ts). Undefined: no limit
   * configured, any run may start.
   */
  admission?: Admission;
  /**
   * Whether spec.schedule lets a new run start now (window.ts). Undefined: no schedule, or a run
   * already holds its slot (a closing window does not stop a run).
   */
  window?: WindowState;
}

export type AlertKind =
  'initialized' | 'new-revision' | 'waiting-approval' | 'promoted' | 'rolled-back' | 'restarted' | 'frozen';

export type Action =
  | { type: 'ensurePrimary' } // primary Deployment (+HPA, config copies), Services, routes at 100/0
  /** 'restore': the canary's usual size (the primary's); an object: a setCanaryScale step's. */
  | { type: 'scaleCanary'; replicas: 'restore' | 0 | { replicas: number } | { weight: number } }
  | { type: 'setTraffic'; traffic: Traffic }
  | { type: 'promotePrimary' } // copy target template and configs to primary
  | { type: 'runHooks'; hookType: 'pre-rollout' | 'post-rollout' | 'event' }
  | { type: 'alert'; kind: AlertKind; severity: 'info' | 'warn' | 'error'; message: string }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

export interface Decision {
  status: CanaryStatus;
  actions: Action[];
  /** When the controller should look again even without a watch event (ms). */
  requeueAfterMs: number;
}
