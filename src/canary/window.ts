// Release windows (docs/release-windows.md): spec.schedule says on which days and hours a new
// revision may start its run, in one IANA time zone, minus blackout dates. Pure: the controller hands
// it the schedule and the time; decide() gets only the verdict (open, or closed with a message and
// the next opening). Windows never cross midnight: "22:00-02:00" is two windows (the schema refuses
// start >= end), so each window belongs to exactly one local day and its blackout date.
import { WEEKDAYS, type CanarySpec } from '../api/canary.ts';

export { WEEKDAYS };

export type Weekday = (typeof WEEKDAYS)[number];
export type Schedule = NonNullable<CanarySpec['schedule']>;
export type ReleaseWindow = Schedule['windows'][number];

export type WindowState =
  { open: true } | { open: false; message: string; nextOpening?: string } | { open: false; error: string };

/** How far nextOpening looks: past a year of blackouts, the schedule is as good as closed. */
const HORIZON_DAYS = 400;

interface Local {
  date: string;
  weekday: Weekday;
  minutes: number;
}

/** The error naming the field, or undefined when the zone is one Intl knows. */
export function timeZoneError(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return `spec.schedule.timeZone: unknown time zone "${zone}" (an IANA name such as Europe/Berlin or UTC)`;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

function parts(zone: string, at: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(new Date(at))) out[p.type] = p.value;
  return out;
}

function localOf(zone: string, at: number): Local {
  const p = parts(zone, at);
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    weekday: p.weekday as Weekday,
    minutes: Number(p.hour) * 60 + Number(p.minute),
  };
}

/** Minutes the zone is ahead of UTC at instant `at`. */
function offsetMinutes(zone: string, at: number): number {
  const p = parts(zone, at);
  const asUtc = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
  return Math.round((asUtc - Math.floor(at / 1000) * 1000) / 60_000);
}

/**
 * The instant of local `date` at `minutes` in the zone. In a DST gap (a local time that does not
 * exist) this lands just after the gap, when the clocks have moved on.
 */
function instantOf(zone: string, date: string, minutes: number): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const asUtc = Date.UTC(y, m - 1, d, 0, minutes);
  const first = asUtc - offsetMinutes(zone, asUtc) * 60_000;
  const second = asUtc - offsetMinutes(zone, first) * 60_000;
  return Math.max(first, second);
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function dayOpen(s: Schedule, local: Local): ReleaseWindow[] {
  if (s.blackoutDates?.includes(local.date)) return [];
  return s.windows.filter((w) => w.days.includes(local.weekday));
}

/** Whether a new run may start at `now` under the schedule. */
export function inWindow(s: Schedule, now: Date): boolean {
  const zone = s.timeZone ?? 'UTC';
  const local = localOf(zone, now.getTime());
  return dayOpen(s, local).some(
    (w) => minutesOf(w.start) <= local.minutes && local.minutes < minutesOf(w.end),
  );
}

/** The next instant at or after `now` when a window is open, or undefined within HORIZON_DAYS. */
export function nextOpening(s: Schedule, now: Date): Date | undefined {
  if (inWindow(s, now)) return now;
  const zone = s.timeZone ?? 'UTC';
  const today = localOf(zone, now.getTime()).date;
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  for (let i = 0; i <= HORIZON_DAYS; i++) {
    // Noon UTC of the i-th calendar day names that local date in any zone's weekday table.
    const date = new Date(Date.UTC(y, m - 1, d + i, 12)).toISOString().slice(0, 10);
    const weekday = WEEKDAYS[(new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7]!;
    const starts = dayOpen(s, { date, weekday, minutes: 0 })
      .map((w) => instantOf(zone, date, minutesOf(w.start)))
      .filter((t) => t > now.getTime())
      .sort((a, b) => a - b);
    if (starts.length) return new Date(starts[0]!);
  }
  return undefined;
}

/** "2026-12-03T09:00+01:00": the local time in the zone, with its offset. */
export function localIso(zone: string, at: Date): string {
  const p = parts(zone, at.getTime());
  const off = offsetMinutes(zone, at.getTime());
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}${sign}${hh}:${mm}`;
}

/** "Mon-Thu" for a run of consecutive days, else "Mon,Wed,Fri". */
export function daysText(days: readonly Weekday[]): string {
  const idx = [...new Set(days)].map((d) => WEEKDAYS.indexOf(d)).sort((a, b) => a - b);
  const consecutive = idx.every((v, i) => i === 0 || v === idx[i - 1]! + 1);
  if (idx.length > 2 && consecutive) return `${WEEKDAYS[idx[0]!]}-${WEEKDAYS[idx[idx.length - 1]!]}`;
  return idx.map((i) => WEEKDAYS[i]).join(',');
}

/** "Mon-Thu 09:00-16:00, Fri 09:00-12:00 Europe/Berlin" */
export function scheduleText(s: Schedule): string {
  const windows = s.windows.map((w) => `${daysText(w.days)} ${w.start}-${w.end}`).join(', ');
  return `${windows || 'no windows'} ${s.timeZone ?? 'UTC'}`;
}

/** The verdict decide() gets: open, closed (why, and when it opens next), or a bad schedule. */
export function windowState(s: Schedule, now: Date): WindowState {
  const zone = s.timeZone ?? 'UTC';
  const bad = timeZoneError(zone);
  if (bad) return { open: false, error: bad };
  if (inWindow(s, now)) return { open: true };
  const today = localOf(zone, now.getTime()).date;
  const why = s.blackoutDates?.includes(today)
    ? `blackout date ${today} (${scheduleText(s)})`
    : `outside the release window (${scheduleText(s)})`;
  const next = nextOpening(s, now);
  if (!next) return { open: false, message: `Queued: ${why}; no opening in the next ${HORIZON_DAYS} days` };
  return {
    open: false,
    message: `Queued: ${why}; next opens ${localIso(zone, next)}`,
    nextOpening: next.toISOString(),
  };
}
