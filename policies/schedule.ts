// What the schedule says at an instant and over a period. All answers come from the compiled policy,
// so repeated questions (the gateway asks on every tap and timer) are cheap.
import { compilePolicy, type BookingOccurrence } from './compile.js';
import type { Policy } from './schema.js';
import { dayFromIso, localIso, minutesFromHHMM, MS_PER_DAY } from './time.js';
import type { ActiveBooking, ModeSpan, Transition } from './types.js';

export { HORIZON_DAYS } from './compile.js';

/** The schedule mode at an instant, when it began and when it next changes (null beyond the horizon). */
export function modeAt(policy: Policy, instant: Date): ModeSpan {
  const span = compilePolicy(policy).spanAt(instant.getTime());
  return {
    mode: span.mode,
    since: span.since === null ? null : new Date(span.since),
    until: span.until === null ? null : new Date(span.until),
  };
}

/** Every mode change in [from, from + days × 24 h), in order. */
export function upcoming(policy: Policy, from: Date, days: number): Transition[] {
  return transitionsBetween(policy, from, new Date(from.getTime() + days * MS_PER_DAY));
}

/** Every mode change in [from, to), in order. */
export function transitionsBetween(policy: Policy, from: Date, to: Date): Transition[] {
  const c = compilePolicy(policy);
  const end = to.getTime();
  const out: Transition[] = [];
  let span = c.spanAt(from.getTime());
  while (span.until !== null && span.until < end) {
    const next = c.spanAt(span.until);
    out.push({ at: new Date(span.until), from: span.mode, to: next.mode });
    span = next;
  }
  return out;
}

/** The spans that overlap [from, to), with their true bounds (not clipped). */
export function spansBetween(policy: Policy, from: Date, to: Date): ModeSpan[] {
  const c = compilePolicy(policy);
  const end = to.getTime();
  const out: ModeSpan[] = [];
  let span = c.spanAt(from.getTime());
  for (;;) {
    out.push({
      mode: span.mode,
      since: span.since === null ? null : new Date(span.since),
      until: span.until === null ? null : new Date(span.until),
    });
    if (span.until === null || span.until >= end) break;
    span = c.spanAt(span.until);
  }
  return out;
}

function publicBooking(b: BookingOccurrence): ActiveBooking {
  const out: ActiveBooking = { group: b.group, from: new Date(b.fromMs), to: new Date(b.toMs) };
  if (b.label !== undefined) out.label = b.label;
  return out;
}

/** Group bookings in force at an instant (whatever the schedule mode). */
export function activeBookings(policy: Policy, instant: Date): ActiveBooking[] {
  return compilePolicy(policy).bookingsAt(instant.getTime()).map(publicBooking);
}

/** Booking occurrences that overlap [from, to), in start order (at most the horizon's worth of days). */
export function bookingsBetween(policy: Policy, from: Date, to: Date): ActiveBooking[] {
  const c = compilePolicy(policy);
  const a = from.getTime();
  const b = to.getTime();
  if (b <= a) return [];
  const first = c.dayContaining(a).day - 1;
  const last = Math.min(c.dayContaining(b - 1).day + 1, first + 2 + 400);
  const out: BookingOccurrence[] = [];
  for (let d = first; d <= last; d++) {
    for (const occ of c.dayAt(d).bookings) if (occ.fromMs < b && occ.toMs > a) out.push(occ);
  }
  return out.sort((x, y) => x.fromMs - y.fromMs).map(publicBooking);
}

/** The instants a local date `YYYY-MM-DD` starts and ends at in the policy's zone (23 or 25 h on DST days). */
export function dayBounds(policy: Policy, date: string): { start: Date; end: Date; exception: string | undefined } {
  const day = dayFromIso(date);
  if (day === null) throw new RangeError(`not a date: ${date}`);
  const c = compilePolicy(policy);
  const d = c.dayAt(day);
  return { start: new Date(d.start), end: new Date(d.end), exception: c.planOf(day).exceptionLabel };
}

/** The local calendar date of an instant in the policy's zone. */
export function localDateOf(policy: Policy, instant: Date): string {
  return compilePolicy(policy).localDate(instant.getTime());
}

/** An instant as local ISO 8601 with offset in the policy's zone, e.g. `2026-10-25T01:30:00+01:00`. */
export function toLocalIso(policy: Policy, instant: Date): string {
  return localIso(compilePolicy(policy).zone, instant.getTime());
}

/**
 * The instant a local wall time (`YYYY-MM-DD`, `HH:MM` up to 24:00) takes effect in the policy's zone, by the
 * same DST rules as the schedule: a time in the spring-forward gap → the first instant after it; a repeated
 * time → its first occurrence.
 */
export function localToInstant(policy: Policy, date: string, time: string): Date {
  const day = dayFromIso(date);
  const minute = minutesFromHHMM(time);
  if (day === null) throw new RangeError(`not a date: ${date}`);
  if (minute === null) throw new RangeError(`not a time HH:MM: ${time}`);
  return new Date(compilePolicy(policy).zone.instantOf(day, minute));
}
