// Release windows: the window maths (window.ts) from tables, in UTC and in zones with DST.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inWindow, nextOpening, windowState, type Schedule } from '../../src/canary/window.ts';

const berlin: Schedule = {
  timeZone: 'Europe/Berlin',
  windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu'], start: '09:00', end: '16:00' }],
};
const utcWeekdays: Schedule = {
  windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '00:00', end: '24:00' }],
};

describe('inWindow', () => {
  const rows: Array<{ name: string; s: Schedule; at: string; open: boolean }> = [
    { name: 'Berlin Wed 10:00 local (09:00Z, winter)', s: berlin, at: '2026-12-02T09:00:00Z', open: true },
    { name: 'start is inclusive', s: berlin, at: '2026-12-02T08:00:00Z', open: true },
    { name: 'end is exclusive', s: berlin, at: '2026-12-02T15:00:00Z', open: false },
    {
      name: 'before start (UTC looks open, Berlin is not)',
      s: berlin,
      at: '2026-12-02T07:30:00Z',
      open: false,
    },
    { name: 'Friday is not listed', s: berlin, at: '2026-12-04T10:00:00Z', open: false },
    {
      name: 'summer offset +02:00: 08:30Z is 10:30 local',
      s: berlin,
      at: '2026-07-01T08:30:00Z',
      open: true,
    },
    {
      name: 'summer offset: 14:30Z is 16:30 local, closed',
      s: berlin,
      at: '2026-07-01T14:30:00Z',
      open: false,
    },
    {
      name: 'Mon 01:00 Berlin is Sun in UTC: zone decides the day',
      s: { ...berlin, windows: [{ days: ['Mon'], start: '00:00', end: '02:00' }] },
      at: '2026-11-30T00:00:00Z',
      open: true,
    },
    { name: 'end 24:00 covers the last minute', s: utcWeekdays, at: '2026-12-02T23:59:00Z', open: true },
    {
      name: 'blackout date closes a window day',
      s: { ...utcWeekdays, blackoutDates: ['2026-12-02'] },
      at: '2026-12-02T12:00:00Z',
      open: false,
    },
    {
      name: 'blackout is a local date: 23:30Z on 12-01 is 12-02 in Berlin',
      s: {
        ...berlin,
        windows: [{ days: ['Tue', 'Wed'], start: '00:00', end: '24:00' }],
        blackoutDates: ['2026-12-02'],
      },
      at: '2026-12-01T23:30:00Z',
      open: false,
    },
    {
      name: 'no windows: never open',
      s: { timeZone: 'UTC', windows: [] },
      at: '2026-12-02T12:00:00Z',
      open: false,
    },
  ];
  for (const r of rows) test(r.name, () => assert.equal(inWindow(r.s, new Date(r.at)), r.open));
});

describe('nextOpening', () => {
  const rows: Array<{ name: string; s: Schedule; at: string; next: string | undefined }> = [
    { name: 'open now: now', s: berlin, at: '2026-12-02T09:00:00Z', next: '2026-12-02T09:00:00.000Z' },
    { name: 'later today', s: berlin, at: '2026-12-02T06:00:00Z', next: '2026-12-02T08:00:00.000Z' },
    {
      name: "after today's close: tomorrow",
      s: berlin,
      at: '2026-12-02T16:00:00Z',
      next: '2026-12-03T08:00:00.000Z',
    },
    {
      name: 'Thursday evening: next Monday',
      s: berlin,
      at: '2026-12-03T17:00:00Z',
      next: '2026-12-07T08:00:00.000Z',
    },
    {
      name: 'blackout skips a day',
      s: { ...berlin, blackoutDates: ['2026-12-03'] },
      at: '2026-12-02T16:00:00Z',
      next: '2026-12-07T08:00:00.000Z',
    },
    {
      name: 'blackout today in UTC: tomorrow midnight',
      s: { ...utcWeekdays, blackoutDates: ['2026-12-02'] },
      at: '2026-12-02T12:00:00Z',
      next: '2026-12-03T00:00:00.000Z',
    },
    // 2026-03-29: Berlin springs forward at 02:00 local (01:00Z); 09:00 that day is 07:00Z.
    {
      name: 'DST day, spring: opens at 09:00 CEST',
      s: { ...berlin, windows: [{ days: ['Sun'], start: '09:00', end: '10:00' }] },
      at: '2026-03-28T12:00:00Z',
      next: '2026-03-29T07:00:00.000Z',
    },
    {
      name: 'DST gap: 02:30 does not exist, opens when clocks read 03:30',
      s: { ...berlin, windows: [{ days: ['Sun'], start: '02:30', end: '04:00' }] },
      at: '2026-03-28T12:00:00Z',
      next: '2026-03-29T01:30:00.000Z',
    },
    // 2026-10-25: Berlin falls back at 03:00 local (01:00Z); 09:00 that day is 08:00Z.
    {
      name: 'DST day, autumn: opens at 09:00 CET',
      s: { ...berlin, windows: [{ days: ['Sun'], start: '09:00', end: '10:00' }] },
      at: '2026-10-24T12:00:00Z',
      next: '2026-10-25T08:00:00.000Z',
    },
    {
      name: 'New York, Monday 09:00 EST',
      s: { timeZone: 'America/New_York', windows: [{ days: ['Mon'], start: '09:00', end: '17:00' }] },
      at: '2026-12-02T12:00:00Z',
      next: '2026-12-07T14:00:00.000Z',
    },
    {
      name: 'no windows: none',
      s: { timeZone: 'UTC', windows: [] },
      at: '2026-12-02T12:00:00Z',
      next: undefined,
    },
  ];
  for (const r of rows)
    test(r.name, () => assert.equal(nextOpening(r.s, new Date(r.at))?.toISOString(), r.next));
});

describe('windowState', () => {
  test('closed: the message names the window, the zone and the next opening in local time', () => {
    assert.deepEqual(windowState(berlin, new Date('2026-12-02T16:00:00Z')), {
      open: false,
      message:
        'Queued: outside the release window (Mon-Thu 09:00-16:00 Europe/Berlin); next opens 2026-12-03T09:00+01:00',
      nextOpening: '2026-12-03T08:00:00.000Z',
    });
  });
  test('blackout: the message says so', () => {
    const s = { ...utcWeekdays, blackoutDates: ['2026-12-02'] };
    assert.equal(
      (windowState(s, new Date('2026-12-02T12:00:00Z')) as { message: string }).message,
      'Queued: blackout date 2026-12-02 (Mon-Fri 00:00-24:00 UTC); next opens 2026-12-03T00:00+00:00',
    );
  });
  test('an unknown zone is an error naming the field', () => {
    assert.deepEqual(windowState({ timeZone: 'Mars/Olympus', windows: [] }, new Date()), {
      open: false,
      error:
        'spec.schedule.timeZone: unknown time zone "Mars/Olympus" (an IANA name such as Europe/Berlin or UTC)',
    });
  });
  test('open', () => assert.deepEqual(windowState(berlin, new Date('2026-12-02T09:00:00Z')), { open: true }));
});
