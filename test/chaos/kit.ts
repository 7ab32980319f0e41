// Shared pieces of the chaos scenarios: the scenario contract and its result (the figures printed by
// `npm run chaos`), apps with honest exporters (a good release answers 100% OK, a bad one 50%), one
// release waited to its end, the controller's readiness and memory, and the closing invariant check.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { AppExporter } from '../cluster/app-exporter.ts';
import type { LocalCluster } from '../cluster/cluster.ts';
import { gatewayCanary, type World } from '../cluster/canary-world.ts';
import { waitFor, type Managed } from '../cluster/proc.ts';
import {
  checkInvariants,
  countAlerts,
  expectedAlerts,
  ALERT_TEXT,
  type CanaryPlan,
  type Release,
} from './invariants.ts';
import { recordNamespace, type NamespaceRecorder } from './recorder.ts';
import type { Rng } from './prng.ts';

export type Profile = 'full' | 'reduced';

export interface ScenarioEnv {
  cluster: LocalCluster;
  profile: Profile;
  rng: Rng;
  log(line: string): void;
}

export interface ScenarioResult {
  name: string;
  durationMs: number;
  kills: number;
  /** Per restart or fault end: ms until the controller (or the cluster) served again. */
  recoveryMs: number[];
  /** Releases by the phase they ended in ('unfinished' when they timed out). */
  outcomes: Record<string, number>;
  /** Scenario-specific figures (RSS, takeover time, …). */
  figures: Record<string, string | number>;
  violations: string[];
}

export interface Scenario {
  name: string;
  run(env: ScenarioEnv): Promise<ScenarioResult>;
}

export const GOOD_ERROR_RATE = 0;
export const BAD_ERROR_RATE = 0.5;

export interface AppOptions {
  good: boolean;
  stepWeight?: number;
  maxWeight?: number;
  /** Merged over the analysis (interval 10s, threshold 2, request-success-rate >= 95). */
  analysis?: Record<string, unknown>;
  /** Leave the exporters out (the scenario brings its own metrics). */
  noExporters?: boolean;
}

export interface AppPlan extends CanaryPlan {
  exporters?: { primary: AppExporter; canary: AppExporter };
}

/** Deploys `name` on image 1.0.0 with exporters and a Canary, and waits until it is Initialized. */
export async function setupApp(w: World, name: string, o: AppOptions): Promise<AppPlan> {
  const stepWeight = o.stepWeight ?? 25;
  const maxWeight = o.maxWeight ?? 50;
  const initialImage = `example.com/${name}:1.0.0`;
  await w.deploy(name, initialImage, { replicas: 1 });
  const exporters = o.noExporters
    ? undefined
    : await w.exporters(name, { errorRate: o.good ? GOOD_ERROR_RATE : BAD_ERROR_RATE });
  await w.apply(gatewayCanary(name, { stepWeight, maxWeight, ...o.analysis }));
  await w.waitPhase(name, 'Initialized', 120_000);
  return { name, initialImage, stepWeight, maxWeight, ...(exporters ? { exporters } : {}) };
}

/**
 * Ships `rel.image` to the target and waits (bounded) for the run of that new revision to end,
 * recording its phase in `rel.outcome`. API errors while waiting (the API server down, say) are
 * retried until the deadline.
 */
export async function ship(
  w: World,
  rel: Release,
  timeoutMs: number,
  aborted: () => boolean = () => false,
): Promise<Release> {
  const before = await waitFor('Canary readable', async () => (await w.canary(rel.canary)).status, 60_000);
  await waitFor(
    `image ${rel.image} set`,
    async () => (await w.setImage(rel.canary, rel.image), true),
    60_000,
    1000,
  );
  try {
    const done = await waitFor(
      `${rel.canary} run of ${rel.image} to end`,
      async () => {
        if (aborted()) return 'aborted';
        const s = (await w.canary(rel.canary)).status;
        const ended = s?.phase === 'Succeeded' || s?.phase === 'Failed';
        return ended && s?.lastAppliedSpec && s.lastAppliedSpec !== before.lastAppliedSpec ? s : undefined;
      },
      timeoutMs,
      500,
    );
    if (done !== 'aborted') rel.outcome = done.phase;
  } catch {
    rel.outcome = undefined;
  }
  return rel;
}

/** Releases by outcome. */
export function tally(releases: Release[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of releases) out[r.outcome ?? 'unfinished'] = (out[r.outcome ?? 'unfinished'] ?? 0) + 1;
  return out;
}

/** Starts recording the namespace's Canary statuses, route weights and primary images. */
export function record(w: World): NamespaceRecorder {
  return recordNamespace(w.cluster.kc, w.ns);
}

/**
 * Ends a scenario: waits (bounded) for the alerts the finished releases call for, stops the
 * recorder, reads the final phases and checks every invariant.
 */
export async function closeOut(
  w: World,
  rec: NamespaceRecorder,
  plans: CanaryPlan[],
  releases: Release[],
  /** When the scenario SIGKILLed a controller (epoch ms): explains an alert delivered twice. */
  kills: number[] = [],
): Promise<{ violations: string[]; watchGaps: number }> {
  const want = expectedAlerts({ plans, releases });
  await waitFor(
    'every expected alert',
    () =>
      want.every(
        (a) =>
          countAlerts(w.slack.messages, w.ns, a.name, ALERT_TEXT.newRevision) >= a.newRevision &&
          countAlerts(w.slack.messages, w.ns, a.name, ALERT_TEXT.promoted) >= a.promoted &&
          countAlerts(w.slack.messages, w.ns, a.name, ALERT_TEXT.rolledBack) >= a.rolledBack,
      ),
    15_000,
    250,
  ).catch(() => undefined); // the invariant then says which alert is missing
  // A duplicate would follow its twin within a reconcile; leave room for one to show.
  await delay(2_000);
  const history = await rec.stop();
  const finalPhases = new Map<string, string | undefined>();
  for (const p of plans) finalPhases.set(p.name, (await w.canary(p.name)).status?.phase);
  // Kept next to the controller's log, so a violation can be traced write by write.
  writeFileSync(
    join(dirname(w.logFile), 'chaos-history.json'),
    JSON.stringify(
      {
        releases,
        statuses: Object.fromEntries(history.statuses),
        weights: Object.fromEntries(history.weights),
        primaryImages: Object.fromEntries(history.primaryImages),
        targets: Object.fromEntries(history.targets),
        slack: w.slack.messages.map((m) => ({ at: m.receivedAt, text: m.text })),
        kills: kills.map((k) => new Date(k)),
      },
      null,
      1,
    ),
  );
  const violations = checkInvariants({
    ns: w.ns,
    plans,
    releases,
    history,
    finalPhases,
    slack: w.slack.messages,
    kills,
  });
  return { violations, watchGaps: history.gaps };
}

/**
 * Waits until the controller that logged "weir controller started" after byte `offset` of its log
 * answers /readyz (informers synced); returns how long that took from `since`.
 */
export async function controllerReady(
  logFile: string,
  offset: number,
  since: number,
  timeoutMs = 120_000,
  proc?: Managed,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let port: number | undefined;
  while (Date.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null))
      throw new ControllerDied(
        `the controller exited (${proc.child.exitCode ?? proc.child.signalCode}); its log ends:\n${proc.tail(10)}`,
      );
    if (port === undefined) {
      const text = existsSync(logFile) ? readFileSync(logFile).subarray(offset).toString() : '';
      const m = /"port":(\d+)[^\n]*weir controller started/.exec(text);
      if (m) port = Number(m[1]);
    } else {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return Date.now() - since;
    }
    await delay(100);
  }
  throw new Error(`the controller was not ready (/readyz) within ${timeoutMs} ms (log ${logFile})`);
}

/** The controller process ended while a scenario waited for it. */
export class ControllerDied extends Error {}

export function logSize(file: string): number {
  try {
    return readFileSync(file).length;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(m[1]) / 1024) * 10) / 10;
}
