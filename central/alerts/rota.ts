// Who is on call: named rotas of weekly shifts in central's time zone. A shift whose `to` is not after its `from`
// ends on the next day (`22:00`–`08:00`), so a night is one shift. Wall times follow the schedule's DST rules
// (policies/time.ts): a time in the spring-forward gap starts at the first instant after it, a repeated time means
// its first occurrence, so a night shift is an hour shorter or longer on those nights and never leaves a hole.
import { z } from 'zod';
import { TimeOfDaySchema } from '../../policies/schema.js';
import { MINUTES_PER_DAY, minutesFromHHMM, weekdayOf, WEEKDAYS, type Weekday, type Zone } from '../../policies/time.js';

/** A contact's name: what people read in messages and what an acknowledgement by link is recorded as. */
export const ContactNameSchema = z
  .string()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} .'_-]{0,55}$/u, {
    error: 'must be a name of at most 56 letters, digits, spaces and . \' _ -, starting with a letter or digit',
  });

const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

const minutes = (s: string): number => minutesFromHHMM(s) ?? 0;

export const ShiftSchema = z
  .strictObject({
    days: z.array(z.enum(WEEKDAYS)).min(1).max(7),
    from: TimeOfDaySchema,
    to: TimeOfDaySchema,
    contact: ContactNameSchema,
  })
  .superRefine(
    (shift, ctx) => {
      const seen = new Set<string>();
      shift.days.forEach((day, i) => {
        if (seen.has(day)) ctx.addIssue({ code: 'custom', path: ['days', i], message: `${day} is listed twice`, input: day });
        seen.add(day);
      });
      if (minutes(shift.from) === MINUTES_PER_DAY) {
        ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before 24:00 (a shift starting at midnight starts at 00:00)', input: shift.from });
      } else if (minutes(shift.to) === minutes(shift.from)) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from from (a whole day is 00:00 to 24:00)', input: shift.to });
      }
    },
    { when: (payload) => shiftReadable(payload.value) },
  );
export type Shift = z.output<typeof ShiftSchema>;

function shiftReadable(value: unknown): value is Shift {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Partial<Record<keyof Shift, unknown>>;
  return (
    Array.isArray(s.days) &&
    s.days.every((d) => (WEEKDAYS as readonly unknown[]).includes(d)) &&
    typeof s.from === 'string' &&
    typeof s.to === 'string' &&
    minutesFromHHMM(s.from) !== null &&
    minutesFromHHMM(s.to) !== null
  );
}

/** The minutes of the week a shift covers, from Monday 00:00, wrapped at the week's end into two pieces. */
function weekIntervals(shift: Shift): Array<{ day: Weekday; start: number; end: number }> {
  const from = minutes(shift.from);
  const to = minutes(shift.to);
  const length = to > from ? to - from : MINUTES_PER_DAY - from + to;
  const out: Array<{ day: Weekday; start: number; end: number }> = [];
  for (const day of shift.days) {
    const start = WEEKDAYS.indexOf(day) * MINUTES_PER_DAY + from;
    const end = start + length;
    if (end <= MINUTES_PER_WEEK) out.push({ day, start, end });
    else out.push({ day, start, end: MINUTES_PER_WEEK }, { day, start: 0, end: end - MINUTES_PER_WEEK });
  }
  return out;
}

export const RotaSchema = z.strictObject({
  shifts: z
    .array(ShiftSchema)
    .max(200)
    .superRefine(
      (shifts, ctx) => {
        // Overlaps are refused rather than ranked: with two people on one rota at once, nobody knows who answers.
        const pieces = shifts.flatMap((s, i) => weekIntervals(s).map((p) => ({ ...p, i }))).sort((a, b) => a.start - b.start);
        let reach: (typeof pieces)[number] | undefined;
        const reported = new Set<number>();
        for (const cur of pieces) {
          if (reach && cur.start < reach.end && !reported.has(cur.i)) {
            const other = shifts[reach.i];
            ctx.addIssue({
              code: 'custom',
              path: [cur.i],
              message: `overlaps shifts[${reach.i}] (${reach.day} ${other?.from ?? ''}–${other?.to ?? ''}, ${other?.contact ?? ''})`,
              input: shifts[cur.i],
            });
            reported.add(cur.i);
          }
          if (!reach || cur.end > reach.end) reach = cur;
        }
      },
      // Only between shifts that are each valid: a broken one is reported on its own.
      { when: (payload) => Array.isArray(payload.value) && payload.value.every((s) => ShiftSchema.safeParse(s).success) },
    )
    .default([]),
  /** Who is told when no shift covers the moment (a hole in the rota), so a step never notifies nobody. */
  fallback: ContactNameSchema.optional(),
});
export type Rota = z.output<typeof RotaSchema>;

export interface OnCall {
  contact: string;
  /** The shift's index in the rota; null when it is the fallback. */
  shift: number | null;
  /** When that shift ends; null for the fallback. */
  until: Date | null;
}

/** Who is on call on `rota` at `at`, in `zone`; null when nobody is (no shift covers it and no fallback). */
export function onCallAt(rota: Rota, zone: Zone, at: Date): OnCall | null {
  const ms = at.getTime();
  const today = zone.dayOf(ms);
  // A shift covering `at` began today or, crossing midnight, yesterday.
  for (const day of [today - 1, today]) {
    const weekday = WEEKDAYS[weekdayOf(day)] as Weekday;
    for (const [i, shift] of rota.shifts.entries()) {
      if (!shift.days.includes(weekday)) continue;
      const from = minutes(shift.from);
      const to = minutes(shift.to);
      const start = zone.instantOf(day, from);
      const end = to > from ? zone.instantOf(day, to) : zone.instantOf(day + 1, to);
      if (start <= ms && ms < end) return { contact: shift.contact, shift: i, until: new Date(end) };
    }
  }
  return rota.fallback === undefined ? null : { contact: rota.fallback, shift: null, until: null };
}

/** Every contact a rota can name (its shifts' and its fallback), for checking names and channels. */
export function rotaContacts(rota: Rota): string[] {
  const names = new Set(rota.shifts.map((s) => s.contact));
  if (rota.fallback !== undefined) names.add(rota.fallback);
  return [...names];
}
