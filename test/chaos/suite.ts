// The chaos suite: its scenarios, the cluster they share (audit log on, one identity per controller
// replica, an API server that can be stopped), and the figures printed per scenario. `npm run chaos`
// (scripts/chaos.ts) runs the full profile; test/integration/chaos.test.ts runs the reduced one.
import { join } from 'node:path';
import { projectRoot, startCluster, type LocalCluster } from '../cluster/cluster.ts';
import { apiserverOutage } from './apiserver-outage.ts';
import { crashLoop } from './crash-loop.ts';
import { hangingGates } from './hanging-gates.ts';
import type { Scenario, ScenarioEnv, ScenarioResult } from './kit.ts';
import { LEADER_USERS, leaderPartition } from './leader-partition.ts';
import { prometheusFaults } from './prometheus-faults.ts';
import { secretMemory } from './secret-memory.ts';

/** Scenarios that share the cluster with others; apiserver-outage stops the API server, so it runs alone, last. */
export const SHARING: Scenario[] = [crashLoop, prometheusFaults, hangingGates, leaderPartition, secretMemory];
export const ALONE: Scenario[] = [apiserverOutage];
export const SCENARIOS: Scenario[] = [...SHARING, ...ALONE];

/** A fresh control plane for the suite, with Weir's and Gateway API's CRDs. */
export function startChaosCluster(logDir?: string): Promise<LocalCluster> {
  return startCluster({
    crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
    auditLog: true,
    users: [...LEADER_USERS],
    ...(logDir ? { logDir } : {}),
  });
}

/** Runs one scenario; an exception becomes a violation, so one broken scenario never hides the rest. */
export async function runScenario(s: Scenario, env: ScenarioEnv): Promise<ScenarioResult> {
  const t0 = Date.now();
  try {
    return await s.run(env);
  } catch (err) {
    return {
      name: s.name,
      durationMs: Date.now() - t0,
      kills: 0,
      recoveryMs: [],
      outcomes: {},
      figures: {},
      violations: [`scenario error: ${(err as Error).stack ?? String(err)}`],
    };
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The figures of one scenario as printable lines. */
export function formatResult(r: ScenarioResult): string[] {
  const rec = [...r.recoveryMs].sort((a, b) => a - b);
  const lines = [
    `${r.violations.length ? 'FAIL' : 'PASS'} ${r.name}: ${secs(r.durationMs)}`,
    `  kills: ${r.kills}` +
      (rec.length
        ? `; recovery min ${secs(rec[0]!)}, median ${secs(rec[Math.floor(rec.length / 2)]!)}, max ${secs(rec[rec.length - 1]!)}`
        : ''),
    `  outcomes: ${
      Object.entries(r.outcomes)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-'
    }`,
    ...Object.entries(r.figures).map(([k, v]) => `  ${k}: ${v}`),
    ...r.violations.map((v) => `  violation: ${v}`),
  ];
  return lines;
}
