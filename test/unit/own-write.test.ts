// The stale-cache guard of the canary controller: a reconcile must not decide from a cached Canary
// that predates the controller's own last status write (it would repeat the last step).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheHasSeen } from '../../src/canary/controller.ts';

const write = { before: '100', after: '105' };

for (const [cached, seen, why] of [
  [undefined, false, 'nothing cached'],
  ['100', false, 'the version the reconcile read'],
  ['103', false, "a user's patch that landed between our read and our write"],
  ['105', true, 'exactly our write'],
  ['230', true, 'a later write on top of ours'],
] as const) {
  test(`cache at ${cached ?? 'none'}: ${seen ? 'seen' : 'stale'} (${why})`, () => {
    assert.equal(cacheHasSeen(cached, write), seen);
  });
}

test('non-numeric resourceVersions: only a change from what was read counts', () => {
  assert.equal(cacheHasSeen('abc', { before: 'abc', after: 'abd' }), false);
  assert.equal(cacheHasSeen('abd', { before: 'abc', after: 'abd' }), true);
  assert.equal(cacheHasSeen('xyz', { before: 'abc', after: 'abd' }), true);
});

test('a patch that returned no version falls back to "changed since read"', () => {
  assert.equal(cacheHasSeen('100', { before: '100' }), false);
  assert.equal(cacheHasSeen('101', { before: '100' }), true);
});
