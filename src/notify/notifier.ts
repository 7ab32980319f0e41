// An alert provider turns a Notification into one HTTP call to Slack, Teams, Discord or a generic
// webhook. Adding a provider is one file, one test and one line in registry.ts.
import type { Logger } from '../log.ts';

export type Severity = 'info' | 'warn' | 'error';

export interface Notification {
  canary: string;
  namespace: string;
  severity: Severity;
  /** What happened, e.g. 'new-revision', 'rolled-back' (AlertKind in src/canary/model.ts). */
  kind: string;
  message: string;
  fields: {
    phase: string;
    revision: string; // images of the canary, e.g. "ghcr.io/acme/app:1.2.3"
    weight: number;
    failedChecks: number;
    threshold: number;
  };
}

export interface Notifier {
  readonly type: string;
  send(n: Notification): Promise<void>;
}

export interface NotifierOptions {
  address: string;
  channel?: string;
  username?: string;
  token?: string;
  timeoutMs: number;
  log: Logger;
}

export type NotifierFactory = (opts: NotifierOptions) => Notifier;

const RANK: Record<Severity, number> = { info: 0, warn: 1, error: 2 };

/** An alert with severity `min` receives notifications at that level and above. */
export function passesSeverity(min: Severity, n: Severity): boolean {
  return RANK[n] >= RANK[min];
}
