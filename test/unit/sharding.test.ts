// Sharding's pure parts (docs/sharding.md): the --shard flag and WEIR_SHARD, the Lease per shard, the
// informers' label selector, `weir lint` on the weir.dev/shard label, and how GitSync recognises a
// Deployment whose Canary another shard runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isShardName, shardSelector } from '../../src/api/shard.ts';
import { lintText } from '../../src/cli/lint.ts';
import { parseConfig } from '../../src/config.ts';
import { isWeirError } from '../../src/errors.ts';
import { targetOfPrimary } from '../../src/gitsync/controller.ts';

test('--shard (or WEIR_SHARD) names the shard and gives it a Lease of its own', () => {
  const none = parseConfig({}, {});
  assert.equal(none.shard, undefined);
  assert.equal(none.leaseName, 'weir-controller', 'the shard-less Lease keeps its name (upgrades)');
  const a = parseConfig({ shard: 'team-a' }, {});
  assert.equal(a.shard, 'team-a');
  assert.equal(a.leaseName, 'weir-controller-team-a');
  assert.equal(parseConfig({}, { WEIR_SHARD: 'b' }).shard, 'b');
  assert.equal(parseConfig({ shard: 'a' }, { WEIR_SHARD: 'b' }).shard, 'a', 'the flag wins');
  assert.equal(parseConfig({}, { WEIR_SHARD: '' }).shard, undefined, 'empty is no shard');
});

test('a shard name that is not a DNS label is refused, naming the flag', () => {
  for (const bad of ['Team-A', 'a_b', 'a.b', '-a', 'a-', 'x'.repeat(64)]) {
    assert.throws(
      () => parseConfig({ shard: bad }, {}),
      (e) => isWeirError(e, 'CONFIG') && e.message.startsWith(`--shard: "${bad}" is not a shard name`),
      bad,
    );
  }
  assert.ok(isShardName('x'.repeat(63)));
  assert.ok(isShardName('0'));
});

test('the informers select their shard, or the objects without the label', () => {
  assert.equal(shardSelector('a'), 'weir.dev/shard=a');
  assert.equal(shardSelector(undefined), '!weir.dev/shard');
});

const canary = (labels: string) => `apiVersion: weir.dev/v1alpha1
kind: Canary
metadata:
  name: app
  labels: ${labels}
spec:
  targetRef: { kind: Deployment, name: app }
  service: { port: 80 }
  analysis: { interval: 1m, stepWeight: 10, maxWeight: 50 }
`;

test('weir lint accepts a shard label and refuses one no controller could own', () => {
  assert.deepEqual(lintText('ok.yaml', canary('{ weir.dev/shard: team-a }')).problems, []);
  const bad = lintText('bad.yaml', canary('{ weir.dev/shard: Team_A }')).problems;
  assert.equal(bad.length, 1);
  assert.match(
    bad[0]!,
    /^bad\.yaml: document 1 \(Canary\/app\): metadata\.labels\.weir\.dev\/shard: "Team_A" is not a shard name/,
  );
  assert.match(bad[0]!, /never be reconciled/);
});

test('GitSync knows a Canary target by its -primary copy, owned by a Canary (whichever shard runs it)', () => {
  const primary = (name: string, owner?: { kind: string; apiVersion: string }) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'ns',
      ...(owner ? { ownerReferences: [{ ...owner, name: 'x', uid: 'u' }] } : {}),
    },
  });
  const byCanary = { kind: 'Canary', apiVersion: 'weir.dev/v1alpha1' };
  assert.equal(targetOfPrimary(primary('web-primary', byCanary)), 'web');
  assert.equal(targetOfPrimary(primary('web-primary')), undefined, 'a user Deployment named -primary');
  assert.equal(targetOfPrimary(primary('web', byCanary)), undefined);
  assert.equal(
    targetOfPrimary(primary('web-primary', { kind: 'Canary', apiVersion: 'flagger.app/v1beta1' })),
    undefined,
    "Flagger's primaries are not Weir's",
  );
});
