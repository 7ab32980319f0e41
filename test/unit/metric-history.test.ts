// status.metrics[].history: each tick appends the metric's measurement, oldest dropped past 10.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC_HISTORY_LENGTH, type MetricStatus } from '../../src/api/canary.ts';
import { withHistory } from '../../src/canary/metric-history.ts';

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
const measured = (i: number, result: MetricStatus['result'] = 'Successful'): MetricStatus[] => [
  { name: 'm', value: i, result, time: at(i), message: `m ${i}` },
];

test('each tick appends the measurement, value, verdict and time, oldest first', () => {
  let status: MetricStatus[] = [];
  status = withHistory(status, measured(1));
  status = withHistory(status, [{ name: 'm', result: 'NoData', time: at(2) }]);
  status = withHistory(status, measured(3, 'Failed'));
  assert.deepEqual(status[0]?.history, [
    { value: 1, result: 'Successful', time: at(1) },
    { result: 'NoData', time: at(2) },
    { value: 3, result: 'Failed', time: at(3) },
  ]);
  assert.equal(status[0]?.message, 'm 3', 'the latest measurement stays the entry itself');
});

test(`at most ${METRIC_HISTORY_LENGTH} measurements are kept: the oldest go`, () => {
  let status: MetricStatus[] = [];
  for (let i = 1; i <= 13; i++) status = withHistory(status, measured(i));
  assert.deepEqual(
    status[0]?.history?.map((h) => h.value),
    [4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
  );
});

test('a metric keeps its own history; a new one starts empty', () => {
  const before = withHistory([], measured(1));
  const after = withHistory(before, [...measured(2), { name: 'n', value: 7, result: 'Failed', time: at(2) }]);
  assert.deepEqual(
    after.map((m) => [m.name, m.history?.length]),
    [
      ['m', 2],
      ['n', 1],
    ],
  );
});
