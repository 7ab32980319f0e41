// Which Canaries a workload's watch event requeues (src/canary/target-index.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TargetIndex } from '../../src/canary/target-index.ts';

const of = (i: TargetIndex, ns: string, workload: string) => [...i.of(ns, workload)].sort();

test('a workload concerns the Canaries targeting it or the workload it is the primary of', () => {
  const i = new TargetIndex();
  i.set('a/web', 'a', 'web');
  i.set('a/web-2', 'a', 'web');
  i.set('a/api', 'a', 'api');
  assert.deepEqual(of(i, 'a', 'web'), ['a/web', 'a/web-2']);
  assert.deepEqual(of(i, 'a', 'web-primary'), ['a/web', 'a/web-2']);
  assert.deepEqual(of(i, 'a', 'api-primary'), ['a/api']);
  assert.deepEqual(of(i, 'a', 'other'), []);
  assert.deepEqual(of(i, 'b', 'web'), [], 'another namespace');
});

test('a changed targetRef moves the Canary; a deleted Canary leaves the index', () => {
  const i = new TargetIndex();
  i.set('a/web', 'a', 'web');
  i.set('a/web', 'a', 'web-v2');
  assert.deepEqual(of(i, 'a', 'web'), []);
  assert.deepEqual(of(i, 'a', 'web-v2-primary'), ['a/web']);
  i.delete('a/web');
  assert.deepEqual(of(i, 'a', 'web-v2'), []);
  i.set('a/x', 'a', undefined);
  assert.deepEqual(of(i, 'a', 'undefined'), [], 'a Canary without a target is filed nowhere');
});
