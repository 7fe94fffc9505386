// The preview staff see before saving a schedule: each of the coming days as its modes from midnight to midnight
// (a DST day has 23 or 25 hours, and the bars say so), its exception label, and its group bookings.
import { bookingsBetween, dayBounds, localDateOf, spansBetween, toLocalIso } from '../../policies/index.js';
import type { Policy, ScheduleMode } from '../../policies/index.js';

export interface TimetableSegment {
  mode: ScheduleMode;
  from: string;
  to: string;
  /** Minutes from the day's start, for drawing. */
  start: number;
  end: number;
}

export interface TimetableDay {
  date: string;
  weekday: string;
  label: string | null;
  minutes: number;
  segments: TimetableSegment[];
  bookings: Array<{ group: string; label: string | null; from: string; to: string }>;
  /** Differs from the schedule in force (only in a preview of a draft). */
  changed: boolean;
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function weekdayOf(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]!;
}

export function timetable(policy: Policy, from: Date, days = 14): TimetableDay[] {
  const first = localDateOf(policy, from);
  const out: TimetableDay[] = [];
  for (let i = 0; i < days; i++) {
    const date = addDays(first, i);
    const { start, end, exception } = dayBounds(policy, date);
    const s = start.getTime();
    const e = end.getTime();
    const clock = (t: number): string => (t >= e ? '24:00' : toLocalIso(policy, new Date(t)).slice(11, 16));
    const segments: TimetableSegment[] = [];
    for (const span of spansBetween(policy, start, end)) {
      const a = Math.max(span.since?.getTime() ?? s, s);
      const b = Math.min(span.until?.getTime() ?? e, e);
      if (b <= a) continue;
      segments.push({ mode: span.mode, from: clock(a), to: clock(b), start: Math.round((a - s) / 60_000), end: Math.round((b - s) / 60_000) });
    }
    const bookings = bookingsBetween(policy, start, end).map((b) => ({
      group: b.group,
      label: b.label ?? null,
      from: clock(Math.max(b.from.getTime(), s)),
      to: clock(Math.min(b.to.getTime(), e)),
    }));
    out.push({ date, weekday: weekdayOf(date), label: exception ?? null, minutes: Math.round((e - s) / 60_000), segments, bookings, changed: false });
  }
  return out;
}

/** The draft's timetable, each day marked where it differs from the one in force. */
export function compareTimetables(draft: TimetableDay[], current: TimetableDay[]): TimetableDay[] {
  const key = (d: TimetableDay): string => JSON.stringify([d.segments.map((s) => [s.mode, s.from, s.to]), d.bookings, d.label]);
  return draft.map((day, i) => ({ ...day, changed: current[i] === undefined || key(current[i]) !== key(day) }));
}
