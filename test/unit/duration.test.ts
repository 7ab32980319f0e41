import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../src/vocab/duration.ts';

test('parseDuration reads Go-style durations, the same answer every time it is asked', () => {
  const table: Array<[string, number]> = [
    ['500ms', 500],
    ['15s', 15_000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1.5s', 1_500],
    ['1h2m3s4ms', 3_723_004],
  ];
  for (let round = 0; round < 2; round++)
    for (const [text, ms] of table) assert.equal(parseDuration(text), ms, `${text} (round ${round})`);
});

test('parseDuration stays right past its memo bound', () => {
  for (let i = 0; i < 2_500; i++) assert.equal(parseDuration(`${i}ms`), i);
  assert.equal(parseDuration('7s'), 7_000);
  assert.equal(parseDuration('0ms'), 0);
});
