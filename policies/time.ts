// Local wall-clock arithmetic in an IANA zone, with the two DST rules the policies promise:
//  - a wall time that does not exist (spring-forward gap) takes effect at the first instant after the gap;
//  - a wall time that happens twice (fall-back repeated hour) means its FIRST occurrence.
// Dates are handled as "day numbers" (days since 1970-01-01 of the local calendar) so that the hot path
// compares integers, not strings or luxon objects.
import { IANAZone } from 'luxon';

export const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;
export const MINUTES_PER_DAY = 1440;

const zoneCache = new Map<string, Zone>();

/** True when `name` is an IANA time zone this runtime knows (checked through Intl, as luxon does). */
export function isValidTimeZone(name: string): boolean {
  if (name.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** A zone handle; throws RangeError for a name Intl does not know (the schema rejects those first). */
export function zone(name: string): Zone {
  let z = zoneCache.get(name);
  if (!z) {
    if (!isValidTimeZone(name)) throw new RangeError(`unknown time zone: ${name}`);
    z = new Zone(name, IANAZone.create(name));
    zoneCache.set(name, z);
  }
  return z;
}

export class Zone {
  constructor(
    readonly name: string,
    private readonly iana: IANAZone,
  ) {}

  /** Offset from UTC in minutes at an instant. */
  offsetAt(ms: number): number {
    return this.iana.offset(ms);
  }

  /** The local calendar day (day number) an instant falls on. */
  dayOf(ms: number): number {
    return Math.floor((ms + this.offsetAt(ms) * MS_PER_MINUTE) / MS_PER_DAY);
  }

  /**
   * The instant at which local wall time `minute` (0..1440) of local day `day` takes effect.
   * Ambiguous (repeated) wall times resolve to the first occurrence; non-existent ones to the
   * first instant after the gap. The result is non-decreasing in (day, minute).
   */
  instantOf(day: number, minute: number): number {
    const wall = day * MS_PER_DAY + minute * MS_PER_MINUTE;
    // An offset is within ±18 h, so the offsets in force a day either side of the wall time
    // are the only candidates (one transition at most in that span, as in every real zone).
    const before = this.offsetAt(wall - MS_PER_DAY);
    const after = this.offsetAt(wall + MS_PER_DAY);
    const tBefore = wall - before * MS_PER_MINUTE;
    const tAfter = wall - after * MS_PER_MINUTE;
    const okBefore = this.offsetAt(tBefore) === before;
    const okAfter = this.offsetAt(tAfter) === after;
    if (okBefore && okAfter) return Math.min(tBefore, tAfter);
    if (okBefore) return tBefore;
    if (okAfter) return tAfter;
    // In the gap: find the transition instant, where the offset becomes `after`.
    let lo = Math.min(tBefore, tAfter);
    let hi = Math.max(tBefore, tAfter);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.offsetAt(mid) === after) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Day number of a calendar date `YYYY-MM-DD`, or null when it is not a real date. */
export function dayFromIso(date: string): number | null {
  const m = DATE_RE.exec(date);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return ms / MS_PER_DAY;
}

export function isoFromDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday). */
export function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const TIME_RE = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;

/** Minutes since midnight of `HH:MM` (00:00–24:00), or null. */
export function minutesFromHHMM(time: string): number | null {
  const m = TIME_RE.exec(time);
  if (!m) return null;
  const h = Number(m[1] ?? m[3]);
  const min = Number(m[2] ?? m[4]);
  return h * 60 + min;
}

export function hhmmFromMinutes(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = Math.floor(minutes % 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** An instant as local ISO 8601 with its offset, e.g. `2026-10-25T01:30:00+01:00`. */
export function localIso(z: Zone, ms: number): string {
  const offset = z.offsetAt(ms);
  const wall = new Date(ms + offset * MS_PER_MINUTE).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${wall}${sign}${hhmmFromMinutes(abs)}`;
}
