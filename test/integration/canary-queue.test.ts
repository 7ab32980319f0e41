// Concurrency limits end to end: a real controller on the local control plane with
// --max-progressing 1 (WEIR_MAX_PROGRESSING), a real Prometheus judging exporters that stand in for
// the pods. Releases past the limit wait in phase Queued with nothing changed for them (no canary
// pods, routes on the primary, nothing applied), and start when the run ahead ends: by spec.priority,
// then first come. `weir list` shows the place in line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CanaryObject } from '../../src/canary/context.ts';
import { renderCanaryList } from '../../src/cli/list-view.ts';
import { PLAIN } from '../../src/cli/style.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

let w: World;
before(async () => {
  w = await startWorld('canary-queue', { env: { WEIR_MAX_PROGRESSING: '1' } });
});
after(async () => w?.stop());

/** A healthy app at 1.0.0 with its Canary Initialized: one step of 50%, then promotion. */
async function app(name: string, spec: Record<string, unknown> = {}): Promise<void> {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  await w.exporters(name, { errorRate: 0 });
  await w.apply(gatewayCanary(name, { stepWeight: 50, maxWeight: 50 }, spec));
  await w.waitPhase(name, 'Initialized', 60_000);
}

/** The queued run changed nothing: canary at 0 pods, routes all on the primary, 2.0.0 not applied. */
async function untouched(name: string, queued: CanaryObject): Promise<void> {
  assert.equal((await w.deployment(name))?.spec.replicas, 0, `${name}: no canary pods`);
  assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 }, `${name}: routes unchanged`);
  assert.equal(await w.image(`${name}-primary`), `example.com/${name}:1.0.0`);
  assert.ok(queued.status?.queuedAt, 'queuedAt recorded');
  assert.equal(queued.status?.canaryWeight, 0);
}

const list = async (names: string[]) =>
  renderCanaryList(await Promise.all(names.map((n) => w.canary(n))), { style: PLAIN, now: new Date() });

describe('concurrency limits: --max-progressing 1', () => {
  test('two releases at once: the second waits in Queued, untouched, then runs when the first ends', async () => {
    await Promise.all([app('q-one'), app('q-two')]);
    await Promise.all([
      w.setImage('q-one', 'example.com/q-one:2.0.0'),
      w.setImage('q-two', 'example.com/q-two:2.0.0'),
    ]);
    const [one, two] = await Promise.all([
      w.waitPhase('q-one', ['Progressing', 'Queued'], 30_000),
      w.waitPhase('q-two', ['Progressing', 'Queued'], 30_000),
    ]);
    const phases = [one, two].map((c) => c.status?.phase).sort();
    assert.deepEqual(phases, ['Progressing', 'Queued'], 'exactly one admitted');
    const [first, second] = one.status?.phase === 'Progressing' ? ['q-one', 'q-two'] : ['q-two', 'q-one'];
    const waiting = await w.canary(second);
    assert.equal(
      waiting.status?.message,
      'Queued: 1 canary progressing in the cluster (limit 1, --max-progressing); 0 ahead of this one',
    );
    await untouched(second, waiting);
    const secondPhases = await w.recordPhases(second);
    // While the first runs its step and promotes, the second stays Queued and untouched.
    await w.waitPhase(first, 'Succeeded', 120_000);
    const table = await list([first, second]);
    console.log(`weir list while ${second} is next:\n${table}`);
    await untouchedOrStarted(second);
    await w.waitPhase(second, 'Succeeded', 120_000);
    const seen = await secondPhases.stop();
    assert.deepEqual(seen.slice(0, 2), ['Queued', 'Progressing'], `phases of ${second}: ${seen.join(',')}`);
    assert.equal(await w.image(`${second}-primary`), `example.com/${second}:2.0.0`);
  });

  test('three: a blocker runs; a later release of higher priority starts before an earlier one', async () => {
    await Promise.all([app('p-block'), app('p-low'), app('p-high', { priority: 10 })]);
    await w.setImage('p-block', 'example.com/p-block:2.0.0');
    await w.waitPhase('p-block', 'Progressing', 30_000);
    await w.setImage('p-low', 'example.com/p-low:2.0.0');
    const low = await w.waitPhase('p-low', 'Queued', 30_000);
    await w.setImage('p-high', 'example.com/p-high:2.0.0');
    const high = await w.waitPhase('p-high', 'Queued', 30_000);
    await untouched('p-low', low);
    await untouched('p-high', high);
    assert.match(high.status?.message ?? '', /; 0 ahead of this one$/, 'priority 10 goes first');
    const lowNow = await waitFor('p-low one behind p-high', async () => {
      const c = await w.canary('p-low');
      return /; 1 ahead of this one$/.test(c.status?.message ?? '') ? c : undefined;
    });
    assert.equal(lowNow.status?.queuedAt, low.status?.queuedAt, 'first come is kept');
    const table = await list(['p-block', 'p-low', 'p-high']);
    console.log(`weir list with two queued:\n${table}`);
    assert.match(table, /^p-low +\S+ +॥ Queued #2 /m);
    assert.match(table, /^p-high +\S+ +॥ Queued #1 /m);
    const lowPhases = await w.recordPhases('p-low');
    await w.waitPhase('p-block', 'Succeeded', 120_000);
    await w.waitPhase('p-high', 'Progressing', 30_000);
    assert.equal(
      (await w.canary('p-low')).status?.phase,
      'Queued',
      'the earlier, lower priority still waits',
    );
    await w.waitPhase('p-high', 'Succeeded', 120_000);
    await w.waitPhase('p-low', 'Succeeded', 120_000);
    const seen = await lowPhases.stop();
    assert.deepEqual(seen.slice(0, 2), ['Queued', 'Progressing'], seen.join(','));
  });
});

/** Between the first run's end and the second's start: if still Queued, nothing changed for it. */
async function untouchedOrStarted(name: string): Promise<void> {
  const c = await w.canary(name);
  if (c.status?.phase === 'Queued') await untouched(name, c);
}
