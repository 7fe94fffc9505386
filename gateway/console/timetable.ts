// The preview staff see before saving a schedule: each of the coming days as its modes from midnight to midnight
// (a DST day has 23 or 25 hours, and the bars say so), its exception label, its group bookings, and when each
// switched output (PCs, heating) is on.
import { bookingsBetween, dayBounds, localDateOf, spansBetween, toLocalIso } from '../../policies/index.js';
import type { Policy, ScheduleMode } from '../../policies/index.js';
import { outputIntervals, type OnInterval } from '../../policies/outputs.js';

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
  /** Each output the policy schedules, in the policy's order, with its on-times that day. */
  outputs: TimetableOutput[];
  /** Differs from the schedule in force (only in a preview of a draft). */
  changed: boolean;
}

export interface TimetableOutputSpan {
  from: string;
  to: string;
  /** Minutes from the day's start, for drawing. */
  start: number;
  end: number;
  /** On already at the day's start (since the day before) / still on at its end (past midnight). */
  sinceDayBefore: boolean;
  pastMidnight: boolean;
}

export interface TimetableOutput {
  id: string;
  label: string | null;
  on: TimetableOutputSpan[];
  /** In words: "PCs 07:50–19:45", "Heating until 06:00 (on since the day before), from 21:00 (on past midnight)". */
  text: string;
}

/** A stretch of one day [a, b) as the preview draws it: its clock times, and its minutes from the day's start. */
type DayPiece = Pick<TimetableSegment, 'from' | 'to' | 'start' | 'end'>;

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function weekdayOf(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]!;
}

/** `labels`: the outputs' names as the gateway's config gives them (`pcs` → "Public PCs"); the id where none. */
export function timetable(policy: Policy, from: Date, days = 14, labels: ReadonlyMap<string, string> = new Map()): TimetableDay[] {
  const first = localDateOf(policy, from);
  const dates = Array.from({ length: days }, (_, i) => addDays(first, i));
  const bounds = dates.map((date) => dayBounds(policy, date));
  // The outputs' on-intervals over the whole preview at once (they follow runs of modes, which cross days).
  const intervals = days === 0 ? new Map<string, OnInterval[]>() : outputIntervals(policy, bounds[0]!.start.getTime(), bounds.at(-1)!.end.getTime());
  const out: TimetableDay[] = [];
  for (let i = 0; i < days; i++) {
    const date = dates[i]!;
    const { start, end, exception } = bounds[i]!;
    const s = start.getTime();
    const e = end.getTime();
    const clock = (t: number): string => (t >= e ? '24:00' : toLocalIso(policy, new Date(t)).slice(11, 16));
    const piece = (a: number, b: number): DayPiece => ({ from: clock(a), to: clock(b), start: Math.round((a - s) / 60_000), end: Math.round((b - s) / 60_000) });
    const segments: TimetableSegment[] = [];
    for (const span of spansBetween(policy, start, end)) {
      const a = Math.max(span.since?.getTime() ?? s, s);
      const b = Math.min(span.until?.getTime() ?? e, e);
      if (b <= a) continue;
      segments.push({ mode: span.mode, ...piece(a, b) });
    }
    const bookings = bookingsBetween(policy, start, end).map((b) => ({
      group: b.group,
      label: b.label ?? null,
      from: clock(Math.max(b.from.getTime(), s)),
      to: clock(Math.min(b.to.getTime(), e)),
    }));
    const outputs = [...intervals].map(([id, on]) => dayOutput(id, labels.get(id) ?? null, on, s, e, piece));
    out.push({ date, weekday: weekdayOf(date), label: exception ?? null, minutes: Math.round((e - s) / 60_000), segments, bookings, outputs, changed: false });
  }
  return out;
}

/** One output's on-times within a day [s, e), clipped to it, with what reaches across its midnights said in words. */
function dayOutput(id: string, label: string | null, intervals: readonly OnInterval[], s: number, e: number, piece: (a: number, b: number) => DayPiece): TimetableOutput {
  const on: TimetableOutputSpan[] = [];
  for (const i of intervals) {
    const a = Math.max(i.fromMs, s);
    const b = Math.min(i.toMs, e);
    if (b <= a) continue;
    on.push({ ...piece(a, b), sinceDayBefore: i.fromMs < s, pastMidnight: i.toMs > e });
  }
  const name = label ?? id;
  if (on.length === 0) return { id, label, on, text: `${name} off all day` };
  if (on.length === 1 && on[0]!.sinceDayBefore && on[0]!.pastMidnight) return { id, label, on, text: `${name} on all day` };
  const words = on.map((span) => {
    if (span.sinceDayBefore) return `until ${span.to} (on since the day before)`;
    if (span.pastMidnight) return `from ${span.from} (on past midnight)`;
    return `${span.from}–${span.to}`;
  });
  return { id, label, on, text: `${name} ${words.join(', ')}` };
}

/** The draft's timetable, each day marked where it differs from the one in force. */
export function compareTimetables(draft: TimetableDay[], current: TimetableDay[]): TimetableDay[] {
  const key = (d: TimetableDay): string => JSON.stringify([d.segments.map((s) => [s.mode, s.from, s.to]), d.bookings, d.label, d.outputs.map((o) => [o.id, o.text])]);
  return draft.map((day, i) => ({ ...day, changed: current[i] === undefined || key(current[i]) !== key(day) }));
}
