// Leader election timing with a fake clock and an in-memory lease (the pure algorithm; the
// integration test test/integration/leader.test.ts runs real controllers against a real API server).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type Clock, type LeaseClient } from '../../src/kube/leader.ts';
import { createLogger } from '../../src/log.ts';

class FakeClock implements Clock {
  t = 1_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id: unknown) => void this.timers.delete(id as number);
  /** Runs every timer due within `ms`, in order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > end) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** An in-memory Lease; `hang` makes every request hang until aborted. */
class FakeLeases implements LeaseClient {
  lease: V1Lease | undefined;
  rv = 0;
  hang = false;
  requests = 0;
  aborted = 0;
  private maybeHang(signal: AbortSignal): Promise<void> {
    this.requests++;
    if (!this.hang) return Promise.resolve();
    return new Promise((_, reject) =>
      signal.addEventListener('abort', () => {
        this.aborted++;
        reject(new Error('aborted'));
      }),
    );
  }
  async get(signal: AbortSignal) {
    await this.maybeHang(signal);
    return this.lease && structuredClone(this.lease);
  }
  async create(l: V1Lease, signal: AbortSignal) {
    await this.maybeHang(signal);
    this.lease = { ...l, metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
    return this.lease;
  }
  async replace(l: V1Lease, signal: AbortSignal) {
    await this.maybeHang(signal);
    if (l.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw { code: 409 };
    this.lease = { ...l, metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
    return this.lease;
  }
  /** Another replica's renewal, stamped with ITS clock. */
  renewBy(holder: string, renewTime: Date) {
    this.lease = {
      metadata: { name: 'l', namespace: 'ns', resourceVersion: String(++this.rv) },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime: renewTime as never },
    };
  }
}

const log = createLogger('fatal');
function elector(leases: FakeLeases, clock: FakeClock, identity = 'me') {
  const events: string[] = [];
  const e = new LeaderElector(
    leases,
    log,
    {
      namespace: 'ns',
      name: 'l',
      identity,
      onStartedLeading: () => events.push(`started@${clock.t}`),
      onStoppedLeading: () => events.push(`stopped@${clock.t}`),
    },
    clock,
  );
  return { e, events };
}

test('a leader whose lease requests hang steps down at lastRenew + renewDeadline', async () => {
  const clock = new FakeClock();
  const leases = new FakeLeases();
  const { e, events } = elector(leases, clock);
  e.start();
  await clock.advance(0);
  assert.deepEqual(events, [`started@${clock.t}`]);
  await clock.advance(2_000); // one renewal at +2 s
  const lastRenew = clock.t;
  leases.hang = true;
  await clock.advance(30_000);
  assert.deepEqual(events.slice(1), [`stopped@${lastRenew + 10_000}`]);
  assert.ok(leases.aborted >= 1, 'hanging requests were aborted (each has a timeout)');
  const after = leases.requests;
  await clock.advance(30_000);
  assert.equal(leases.requests, after, 'no lease request after stepping down');
});

test('each lease request is bounded: a hung GET is abandoned and the next retry renews', async () => {
  const clock = new FakeClock();
  const leases = new FakeLeases();
  const { e, events } = elector(leases, clock);
  e.start();
  await clock.advance(0);
  leases.hang = true;
  await clock.advance(2_000); // this renewal hangs, times out at +5 s
  leases.hang = false;
  await clock.advance(7_000); // the retry after the timeout renews
  assert.equal(events.length, 1, `still leading: ${events.join(',')}`);
  assert.equal(e.isLeader, true);
  e.stop();
});

test("expiry is judged on locally observed time, not the holder's renewTime", async () => {
  const clock = new FakeClock();
  const leases = new FakeLeases();
  // The holder's clock is 1 h behind ours: its renewTime looks long expired, but it renews.
  leases.renewBy('other', new Date(clock.t - 3_600_000));
  const { e, events } = elector(leases, clock);
  e.start();
  for (let i = 0; i < 15; i++) {
    await clock.advance(2_000);
    leases.renewBy('other', new Date(clock.t - 3_600_000));
  }
  assert.deepEqual(events, [], 'a live holder is not displaced whatever its clock says');
  e.stop();
});

test('a holder that stops renewing loses the lease leaseDuration after we last saw it change', async () => {
  const clock = new FakeClock();
  const leases = new FakeLeases();
  // The holder's clock is 1 h AHEAD: comparing renewTime with our clock would wait an hour.
  leases.renewBy('other', new Date(clock.t + 3_600_000));
  const lastChange = clock.t;
  const { e, events } = elector(leases, clock);
  e.start();
  await clock.advance(40_000);
  assert.equal(events.length, 1, 'took the lease');
  const at = Number(events[0]!.split('@')[1]);
  assert.ok(
    at >= lastChange + 15_000 && at <= lastChange + 15_000 + 2_000,
    `took it at +${at - lastChange} ms`,
  );
  assert.equal(leases.lease?.spec?.holderIdentity, 'me');
  assert.equal(leases.lease?.spec?.leaseTransitions, 1);
  e.stop();
});
