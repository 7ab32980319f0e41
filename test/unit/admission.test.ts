// Concurrency limits: the admission order and verdict (admission.ts) from tables, and the controller's
// reservations (slots.ts) that keep two workers from admitting two runs past a limit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { admissionOrder, admit, type Contender, type Limits } from '../../src/canary/admission.ts';
import type { CanaryObject } from '../../src/canary/context.ts';
import { Slots } from '../../src/canary/slots.ts';
import { parseConfig } from '../../src/config.ts';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const c = (key: string, priority = 0, since = 0): Contender => ({
  key,
  namespace: key.split('/')[0]!,
  priority,
  since: at(since),
});

describe('admissionOrder', () => {
  const rows: Array<{ name: string; in: Contender[]; out: string[] }> = [
    { name: 'first come', in: [c('a/x', 0, 5), c('a/y', 0, 1)], out: ['a/y', 'a/x'] },
    { name: 'higher priority first', in: [c('a/x', 0, 1), c('a/y', 10, 5)], out: ['a/y', 'a/x'] },
    { name: 'negative priority last', in: [c('a/x', -1, 0), c('a/y', 0, 9)], out: ['a/y', 'a/x'] },
    { name: 'ties by key (one order for every worker)', in: [c('b/x'), c('a/x')], out: ['a/x', 'b/x'] },
  ];
  for (const r of rows)
    test(r.name, () =>
      assert.deepEqual(
        admissionOrder(r.in).map((x) => x.key),
        r.out,
      ),
    );
});

describe('admit', () => {
  const rows: Array<{
    name: string;
    self: Contender;
    queued?: Contender[];
    progressing: string[];
    limits: Limits;
    admitted: boolean;
    message?: string;
  }> = [
    { name: 'no limit', self: c('a/x'), progressing: ['a', 'a'], limits: {}, admitted: true },
    {
      name: 'under the cluster limit',
      self: c('a/x'),
      progressing: ['b'],
      limits: { cluster: 2 },
      admitted: true,
    },
    {
      name: 'at the cluster limit',
      self: c('a/x'),
      progressing: ['b'],
      limits: { cluster: 1 },
      admitted: false,
      message:
        'Queued: 1 canary progressing in the cluster (limit 1, --max-progressing); 0 ahead of this one',
    },
    {
      name: 'at the namespace limit, with one queued earlier in the namespace',
      self: c('apps/z', 0, 9),
      queued: [c('apps/y', 0, 1), c('other/w', 0, 0)],
      progressing: ['apps', 'apps'],
      limits: { perNamespace: 2 },
      admitted: false,
      message:
        'Queued: 2 canaries progressing in namespace apps (limit 2, --max-progressing-per-namespace); 1 ahead of this one',
    },
    {
      name: 'another namespace full does not hold this one',
      self: c('b/x', 0, 9),
      queued: [c('a/y', 5, 0)],
      progressing: ['a'],
      limits: { perNamespace: 1 },
      admitted: true,
    },
    {
      name: 'a free slot goes to the higher priority first',
      self: c('a/x', 0, 0),
      queued: [c('a/y', 1, 9)],
      progressing: [],
      limits: { cluster: 1 },
      admitted: false,
      message:
        'Queued: 1 canary progressing in the cluster (limit 1, --max-progressing); 0 ahead of this one',
    },
    {
      name: 'two free slots: the second in line starts too',
      self: c('a/x', 0, 5),
      queued: [c('a/y', 0, 1)],
      progressing: [],
      limits: { cluster: 2 },
      admitted: true,
    },
    {
      name: 'both limits: the namespace one binds',
      self: c('a/x', 0, 5),
      queued: [c('a/y', 0, 1)],
      progressing: ['a'],
      limits: { cluster: 5, perNamespace: 1 },
      admitted: false,
      message:
        'Queued: 1 canary progressing in namespace a (limit 1, --max-progressing-per-namespace); 1 ahead of this one',
    },
  ];
  for (const r of rows)
    test(r.name, () => {
      const got = admit(r.self, r.queued ?? [], r.progressing, r.limits);
      assert.equal(got.admitted, r.admitted);
      if (!got.admitted) assert.equal(got.message, r.message);
    });
});

const obj = (ns: string, name: string, phase?: string, extra: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { namespace: ns, name },
    spec: { ...extra },
    status: phase ? { phase } : {},
  }) as unknown as CanaryObject;

describe('Slots: no double admission', () => {
  const now = new Date(Date.UTC(2026, 0, 1));

  test('two releases decided before the cache shows either: the second waits for the first', () => {
    const slots = new Slots({ cluster: 1 });
    const a = obj('apps', 'a', 'Succeeded');
    const b = obj('apps', 'b', 'Succeeded');
    const cache = [a, b];
    // Worker 1: admission, decision, reservation in one synchronous stretch.
    assert.deepEqual(slots.admission(a, cache, now), { admitted: true });
    slots.decided(a, 'Succeeded', 'Progressing', now);
    // Worker 2 runs while worker 1 awaits its writes; the cache still shows both Succeeded.
    const second = slots.admission(b, cache, now);
    assert.equal(second?.admitted, false, 'the reservation holds the only slot');
    // The cache shows a's write: counted from the cache now, not twice.
    const shown = [obj('apps', 'a', 'Progressing'), b];
    assert.equal(slots.admission(b, shown, now)?.admitted, false);
    // a ends: b is admitted.
    assert.deepEqual(slots.admission(b, [obj('apps', 'a', 'Succeeded'), b], now), { admitted: true });
  });

  test('a reservation whose status write never landed lapses', () => {
    const slots = new Slots({ perNamespace: 1 });
    const a = obj('apps', 'a', 'Succeeded');
    const b = obj('apps', 'b', 'Succeeded');
    slots.decided(a, 'Succeeded', 'Progressing', now);
    assert.equal(slots.admission(b, [a, b], now)?.admitted, false);
    const later = new Date(now.getTime() + 31_000);
    assert.deepEqual(slots.admission(b, [a, b], later), { admitted: true });
  });

  test('Frozen holds a slot; queued ones keep their order by priority and queuedAt', () => {
    const slots = new Slots({ cluster: 1 });
    const frozen = obj('apps', 'f', 'Frozen');
    const early = obj('apps', 'early', 'Queued');
    early.status = { phase: 'Queued', queuedAt: at(1) };
    const urgent = obj('apps', 'urgent', 'Queued', { priority: 10 });
    urgent.status = { phase: 'Queued', queuedAt: at(5) };
    const cache = [frozen, early, urgent];
    assert.equal(slots.admission(urgent, cache, now)?.admitted, false, 'Frozen holds the slot');
    const freed = [obj('apps', 'f', 'Failed'), early, urgent];
    assert.equal(slots.admission(early, freed, now)?.admitted, false);
    assert.deepEqual(slots.admission(urgent, freed, now), { admitted: true });
  });

  test('no limits: no admission observed', () => {
    assert.equal(new Slots({}).admission(obj('a', 'x'), [], now), undefined);
  });
});

describe('the limit flags', () => {
  test('parsed once: unset is no limit, flags win over env, a bad value names its flag', () => {
    assert.deepEqual(parseConfig({}, {}).limits, {});
    assert.deepEqual(
      parseConfig(
        { maxProgressing: '3' },
        { WEIR_MAX_PROGRESSING: '9', WEIR_MAX_PROGRESSING_PER_NAMESPACE: '1' },
      ).limits,
      { cluster: 3, perNamespace: 1 },
    );
    assert.throws(
      () => parseConfig({ maxProgressingPerNamespace: '0' }, {}),
      /--max-progressing-per-namespace: expected a positive integer \(at least 1\), got 0/,
    );
    assert.throws(() => parseConfig({ maxProgressing: '1.5' }, {}), /--max-progressing: expected/);
  });
});
