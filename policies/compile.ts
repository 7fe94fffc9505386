// A policy turned into something fast to ask: per-local-day segments (cached), spans merged across
// windows and midnights, and a one-entry cache of the current span so that a tap in the same span
// as the previous one costs a comparison. Compiled once per policy object (WeakMap), never re-parsed.
import type { Policy, Rules } from './schema.js';
import type { ScheduleMode, ActiveBooking } from './types.js';
import { dayFromIso, isoFromDay, MINUTES_PER_DAY, minutesFromHHMM, weekdayOf, WEEKDAYS, zone, type Zone } from './time.js';

/** How far modeAt looks back and ahead for the bounds of a span. */
export const HORIZON_DAYS = 400;
const DAY_CACHE_LIMIT = 2048;

type WindowMode = 'staffed' | 'open-access' | 'closed';

interface DayPlan {
  /** [fromMinute, toMinute, mode] sorted, not overlapping; gaps are closed. */
  windows: readonly (readonly [number, number, WindowMode])[];
  exceptionLabel: string | undefined;
  /** The mode of the whole day when it has one (no windows = closed), so long spans are walked without time zone work. */
  uniform: WindowMode | null;
}

function uniformMode(windows: readonly (readonly [number, number, WindowMode])[]): WindowMode | null {
  let cursor = 0;
  let mode: WindowMode | null = null;
  const see = (m: WindowMode): boolean => {
    if (mode === null) mode = m;
    return mode === m;
  };
  for (const [from, to, m] of windows) {
    if (from > cursor && !see('closed')) return null;
    if (!see(m)) return null;
    cursor = to;
  }
  if (cursor < MINUTES_PER_DAY && !see('closed')) return null;
  return mode;
}

interface BookingPlan {
  group: string;
  label: string | undefined;
  from: number;
  to: number;
  minimumAge: number | null | undefined;
  doors: readonly string[] | undefined;
}

export interface Segment {
  start: number;
  end: number;
  mode: WindowMode;
}

export interface Day {
  day: number;
  start: number;
  end: number;
  /** Cover [start, end) with no gaps; adjacent segments differ in mode. */
  segments: readonly Segment[];
  bookings: readonly BookingOccurrence[];
  /** The local date `YYYY-MM-DD`. */
  iso: string;
}

export interface BookingOccurrence extends ActiveBooking {
  fromMs: number;
  toMs: number;
  minimumAge: number | null | undefined;
  /** The doors it opens; undefined: every door. */
  doors: readonly string[] | undefined;
}

/** A schedule span in milliseconds, with the modes either side (null beyond the horizon). */
export interface Span {
  mode: ScheduleMode;
  since: number | null;
  until: number | null;
  previous: ScheduleMode | null;
  next: ScheduleMode | null;
}

interface RawSpan {
  mode: WindowMode;
  start: number | null;
  end: number | null;
  previous: WindowMode | null;
  next: WindowMode | null;
}

export class CompiledPolicy {
  readonly zone: Zone;
  readonly rules: Rules;
  readonly changeoverMs: number;
  private readonly weekly: DayPlan[];
  private readonly exceptions = new Map<number, DayPlan>();
  private readonly weeklyBookings: BookingPlan[][] = [[], [], [], [], [], [], []];
  private readonly datedBookings = new Map<number, BookingPlan[]>();
  private readonly days = new Map<number, Day>();
  // The span of the previous question and the instants it may be reused for.
  private lastSpan: Span | undefined;
  private lastSpanLo = 0;
  private lastSpanHi = 0;
  private lastDay: Day | undefined;

  constructor(readonly policy: Policy) {
    this.zone = zone(policy.timezone);
    this.rules = policy.rules;
    this.changeoverMs = policy.schedule.changeoverMinutes * 60_000;
    const plan = (list: readonly { from: string; to: string; mode: WindowMode }[], label?: string): DayPlan => {
      const windows = list
        .map((w) => [minutesFromHHMM(w.from) ?? 0, minutesFromHHMM(w.to) ?? 0, w.mode] as const)
        .sort((a, b) => a[0] - b[0]);
      return { windows, exceptionLabel: label, uniform: uniformMode(windows) };
    };
    this.weekly = WEEKDAYS.map((d) => plan(policy.schedule.weekly[d]));
    for (const e of policy.schedule.exceptions) {
      const day = dayFromIso(e.date);
      if (day !== null) this.exceptions.set(day, plan(e.windows, e.label ?? 'exception'));
    }
    for (const b of policy.bookings) {
      const from = minutesFromHHMM(b.weekly?.from ?? b.from ?? '') ?? 0;
      const to = minutesFromHHMM(b.weekly?.to ?? b.to ?? '') ?? 0;
      const bp: BookingPlan = { group: b.group, label: b.label, from, to, minimumAge: b.minimumAge, doors: b.doors };
      if (b.weekly) this.weeklyBookings[WEEKDAYS.indexOf(b.weekly.day)]?.push(bp);
      else if (b.date !== undefined) {
        const day = dayFromIso(b.date);
        if (day === null) continue;
        const list = this.datedBookings.get(day) ?? [];
        list.push(bp);
        this.datedBookings.set(day, list);
      }
    }
  }

  /** The windows in force on a local day and, if an exception replaced them, its label. */
  planOf(day: number): DayPlan {
    return this.exceptions.get(day) ?? (this.weekly[weekdayOf(day)] as DayPlan);
  }

  dayAt(day: number): Day {
    const cached = this.days.get(day);
    if (cached) return cached;
    if (this.days.size >= DAY_CACHE_LIMIT) this.days.clear();
    const z = this.zone;
    const start = z.instantOf(day, 0);
    const end = z.instantOf(day + 1, 0);
    const segments: Segment[] = [];
    const push = (s: number, e: number, mode: WindowMode): void => {
      if (e <= s) return; // a window inside a spring-forward gap takes no time
      const last = segments[segments.length - 1];
      if (last && last.mode === mode) last.end = e;
      else segments.push({ start: s, end: e, mode });
    };
    let cursorMin = 0;
    let cursor = start;
    for (const [fromMin, toMin, mode] of this.planOf(day).windows) {
      const from = fromMin === 0 ? start : z.instantOf(day, fromMin);
      if (fromMin > cursorMin) push(cursor, from, 'closed');
      const to = toMin === MINUTES_PER_DAY ? end : z.instantOf(day, toMin);
      push(from, to, mode);
      cursorMin = toMin;
      cursor = to;
    }
    if (cursorMin < MINUTES_PER_DAY) push(cursor, end, 'closed');

    const bookings: BookingOccurrence[] = [];
    const addBookings = (plans: readonly BookingPlan[] | undefined): void => {
      for (const b of plans ?? []) {
        const fromMs = z.instantOf(day, b.from);
        const toMs = b.to === MINUTES_PER_DAY ? end : z.instantOf(day, b.to);
        if (toMs <= fromMs) continue;
        bookings.push({
          group: b.group,
          label: b.label,
          from: new Date(fromMs),
          to: new Date(toMs),
          fromMs,
          toMs,
          minimumAge: b.minimumAge,
          doors: b.doors,
        });
      }
    };
    addBookings(this.weeklyBookings[weekdayOf(day)]);
    addBookings(this.datedBookings.get(day));
    bookings.sort((a, b) => a.fromMs - b.fromMs);

    const entry: Day = { day, start, end, segments, bookings, iso: isoFromDay(day) };
    this.days.set(day, entry);
    return entry;
  }

  /** The local day whose [start, end) holds the instant. */
  dayContaining(ms: number): Day {
    const last = this.lastDay;
    if (last && ms >= last.start && ms < last.end) return last;
    let d = this.dayAt(this.zone.dayOf(ms));
    // A fall-back at midnight can leave an instant on the wall-clock date before the day it belongs to.
    while (ms < d.start) d = this.dayAt(d.day - 1);
    while (ms >= d.end) d = this.dayAt(d.day + 1);
    this.lastDay = d;
    return d;
  }

  private rawSpanAt(ms: number): RawSpan {
    const home = this.dayContaining(ms);
    const index = home.segments.findIndex((s) => ms >= s.start && ms < s.end);
    const seg = home.segments[index] as Segment;
    const mode = seg.mode;
    const back = this.walk(home, index, mode, -1);
    const fwd = this.walk(home, index, mode, +1);
    return { mode, start: back.bound, end: fwd.bound, previous: back.other, next: fwd.other };
  }

  /**
   * From segment `index` of `home`, walk in `dir` while the mode stays `mode`; returns the instant where it
   * changes and the mode on the other side, or nulls beyond the horizon. Days whose plan is one mode all day are
   * stepped over without time zone work; only the day where the change happens is turned into instants.
   */
  private walk(home: Day, index: number, mode: WindowMode, dir: 1 | -1): { bound: number | null; other: WindowMode | null } {
    const segments = home.segments;
    for (let i = index + dir; i >= 0 && i < segments.length; i += dir) {
      const s = segments[i] as Segment;
      if (s.mode !== mode) return { bound: dir > 0 ? s.start : (segments[i + 1] as Segment).start, other: s.mode };
    }
    for (let step = 1; step <= HORIZON_DAYS; step++) {
      const day = home.day + dir * step;
      if (this.planOf(day).uniform === mode) continue;
      const segs = this.dayAt(day).segments;
      if (dir > 0) {
        for (let i = 0; i < segs.length; i++) {
          const s = segs[i] as Segment;
          if (s.mode !== mode) return { bound: s.start, other: s.mode };
        }
      } else {
        for (let i = segs.length - 1; i >= 0; i--) {
          const s = segs[i] as Segment;
          if (s.mode !== mode) return { bound: s.end, other: s.mode };
        }
      }
      // Every window of that day that differed fell into a spring-forward gap: the span goes on.
    }
    return { bound: null, other: null };
  }

  /** The schedule span holding the instant, with changeover applied. */
  spanAt(ms: number): Span {
    const last = this.lastSpan;
    if (last && ms >= this.lastSpanLo && ms < this.lastSpanHi) return last;
    const span = this.computeSpan(ms);
    this.lastSpan = span;
    // A bound beyond the horizon moves with the instant asked about; reusing such an answer for a minute
    // only risks missing a change 400 days and a minute away.
    this.lastSpanLo = span.since ?? ms - 60_000;
    this.lastSpanHi = span.until ?? ms + 60_000;
    return span;
  }

  private computeSpan(ms: number): Span {
    const raw = this.rawSpanAt(ms);
    const co = this.changeoverMs;
    if (raw.mode === 'open-access' && co > 0 && raw.previous === 'staffed' && raw.start !== null) {
      const coEnd = raw.start + co;
      if (raw.end !== null && coEnd >= raw.end) {
        return { mode: 'changeover', since: raw.start, until: raw.end, previous: 'staffed', next: raw.next };
      }
      if (ms < coEnd) {
        return { mode: 'changeover', since: raw.start, until: coEnd, previous: 'staffed', next: 'open-access' };
      }
      return { mode: 'open-access', since: coEnd, until: raw.end, previous: 'changeover', next: raw.next };
    }
    let next: ScheduleMode | null = raw.next;
    if (raw.mode === 'staffed' && raw.next === 'open-access' && co > 0) next = 'changeover';
    return { mode: raw.mode, since: raw.start, until: raw.end, previous: raw.previous, next };
  }

  /** The local calendar date `YYYY-MM-DD` of an instant. */
  localDate(ms: number): string {
    return this.dayContaining(ms).iso;
  }

  /** Booking occurrences holding the instant. */
  bookingsAt(ms: number): BookingOccurrence[] {
    const home = this.dayContaining(ms);
    const out: BookingOccurrence[] = [];
    for (const day of [home.day - 1, home.day, home.day + 1]) {
      for (const b of this.dayAt(day).bookings) if (ms >= b.fromMs && ms < b.toMs) out.push(b);
    }
    return out;
  }
}

const compiled = new WeakMap<Policy, CompiledPolicy>();

/** The compiled form of a (validated) policy, built once per policy object. */
export function compilePolicy(policy: Policy): CompiledPolicy {
  let c = compiled.get(policy);
  if (!c) {
    c = new CompiledPolicy(policy);
    compiled.set(policy, c);
  }
  return c;
}
