// QuietRuns: when a Canary in a run has gone unchanged long enough to say so at info.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuietRuns } from '../../src/canary/quiet.ts';

test('a run unchanged across reconciles is told once a minute, from the first minute on', () => {
  const q = new QuietRuns(60_000);
  const told: number[] = [];
  for (let t = 0; t <= 200_000; t += 2_000) {
    const ms = q.check('ns/app', '41', 'Progressing', t);
    if (ms !== undefined) told.push(ms);
  }
  assert.deepEqual(told, [60_000, 120_000, 180_000]);
});

test('any change to the Canary restarts the clock', () => {
  const q = new QuietRuns(60_000);
  assert.equal(q.check('ns/app', '41', 'Progressing', 0), undefined);
  assert.equal(q.check('ns/app', '42', 'Progressing', 59_000), undefined);
  assert.equal(q.check('ns/app', '42', 'Progressing', 100_000), undefined, '41 s since the change');
  assert.equal(q.check('ns/app', '42', 'Progressing', 119_000), 60_000);
});

test('idle phases stay quiet however long they last; keys are independent', () => {
  const q = new QuietRuns(60_000);
  for (const phase of ['Initialized', 'Succeeded', 'Failed'])
    for (let t = 0; t <= 600_000; t += 60_000) assert.equal(q.check(`ns/${phase}`, '1', phase, t), undefined);
  assert.equal(q.check('ns/a', '1', undefined, 0), undefined);
  assert.equal(q.check('ns/b', '1', 'Promoting', 30_000), undefined);
  assert.equal(q.check('ns/a', '1', undefined, 61_000), 61_000, 'no phase yet counts as Initializing');
  assert.equal(q.check('ns/b', '1', 'Promoting', 61_000), undefined);
  q.forget('ns/a');
  assert.equal(q.check('ns/a', '1', undefined, 200_000), undefined, 'forgotten: starts over');
});
