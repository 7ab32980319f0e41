// Which computed statuses are written (src/canary/status-write.ts): nothing that says the same, and
// readiness reports at most once per analysis interval; anything else at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanaryStatus } from '../../src/api/canary.ts';
import { statusWrite } from '../../src/canary/status-write.ts';

const T = '2026-12-02T10:00:00.000Z';
const status = (message: string, extra: Partial<CanaryStatus> = {}): CanaryStatus => ({
  phase: 'Promoting',
  canaryWeight: 60,
  message,
  conditions: [{ type: 'Ready', status: 'True', reason: 'Promoting', message, lastTransitionTime: T }],
  ...extra,
});
const copying = status('Promoting: copying app to app-primary');
const half = status('Promoting: waiting for app-primary to roll out (50% ready)');
const most = status('Promoting: waiting for app-primary to roll out (75% ready)');
const alert = {
  id: 'a1',
  kind: 'promoted' as const,
  severity: 'info' as const,
  message: 'done',
  fields: { phase: 'Succeeded', revision: 'app:2', weight: 0, failedChecks: 0, threshold: 2 },
  time: T,
};

const NOW = 1_000_000;
const at = (sinceLastWriteMs: number | undefined) => ({
  now: NOW,
  lastWriteAt: sinceLastWriteMs === undefined ? undefined : NOW - sinceLastWriteMs,
  intervalMs: 10_000,
});

const cases: Array<[string, CanaryStatus | undefined, CanaryStatus, number | undefined, unknown]> = [
  ['the same status: no write', half, structuredClone(half), undefined, { write: false }],
  ['a first status', undefined, copying, undefined, { write: true }],
  [
    'an empty pendingAlerts list is the same as none',
    { ...copying, pendingAlerts: [] },
    copying,
    0,
    { write: false },
  ],
  ['a pending alert added: at once', copying, { ...copying, pendingAlerts: [alert] }, 0, { write: true }],
  ['a pending alert removed: at once', { ...copying, pendingAlerts: [alert] }, copying, 0, { write: true }],
  [
    'a readiness report 4 s after the last write waits 6 s',
    copying,
    half,
    4_000,
    { write: false, laterMs: 6_000 },
  ],
  [
    'a readiness percentage change within the interval waits',
    half,
    most,
    9_000,
    { write: false, laterMs: 1_000 },
  ],
  ['a readiness percentage change an interval after the last write', half, most, 10_000, { write: true }],
  ['a readiness report with no write by this process yet', copying, half, undefined, { write: true }],
  [
    'a readiness report with another change (the weight): at once',
    copying,
    { ...half, canaryWeight: 0 },
    0,
    { write: true },
  ],
  [
    'a readiness report with a new phase: at once',
    copying,
    { ...half, phase: 'Finalising' },
    0,
    { write: true },
  ],
  ['any other message change: at once', half, status('Promoting: something else'), 0, { write: true }],
];

for (const [name, before, after, since, want] of cases) {
  test(`statusWrite: ${name}`, () => {
    assert.deepEqual(statusWrite(before, after, at(since)), want);
  });
}
