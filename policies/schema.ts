// The policy document: one branch's schedule and entry rules, as staff write it (YAML or JSON) and as
// central publishes it. Strict everywhere: an unknown key is an error, never silently ignored, because
// a misspelt rule would otherwise fall back to a default and open a door nobody meant to open.
import { z } from 'zod';
import { plainErrors, formatIssues } from './errors.js';
import { checkTextSize, decodeUtf8, MAX_POLICY_BYTES, parseYamlDocument } from './input-text.js';
import { dayFromIso, isValidTimeZone, minutesFromHHMM, WEEKDAYS } from './time.js';
import { missingPhrases, PHRASE_IDS } from './phrases.js';
import type { PhraseId } from './phrases.js';

export const SCHEDULE_WINDOW_MODES = ['staffed', 'open-access', 'closed'] as const;

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'must be lower case letters, digits and dashes (at most 63)' });

export const TimeOfDaySchema = z
  .string({ error: (iss) => (iss.input === undefined ? 'required' : 'must be a time "HH:MM" in quotes') })
  .refine((s) => minutesFromHHMM(s) !== null, { error: 'must be a time HH:MM from 00:00 to 24:00' });

export const LocalDateSchema = z
  .string({ error: (iss) => (iss.input === undefined ? 'required' : 'must be a date "YYYY-MM-DD"') })
  .refine((s) => dayFromIso(s) !== null, { error: 'must be a real date YYYY-MM-DD' });

const minutes = (s: string): number => minutesFromHHMM(s) ?? 0;

/**
 * Free text for people (names, labels). U+FFFD is what a lenient decoder leaves where a byte was not UTF-8: refused
 * here too, for text that was decoded before it reached this schema (an HTTP body, a payload).
 */
function displayText(max: number) {
  return z
    .string()
    .max(max)
    .refine((s) => !s.includes('\uFFFD'), { error: 'contains U+FFFD (\uFFFD), left where the text was not valid UTF-8' });
}

/** A value whose `from` and `to` are valid times, whatever else is wrong with it. */
function hasTimes(value: unknown): value is { from: string; to: string } {
  if (value === null || typeof value !== 'object') return false;
  const { from, to } = value as { from?: unknown; to?: unknown };
  return typeof from === 'string' && typeof to === 'string' && minutesFromHHMM(from) !== null && minutesFromHHMM(to) !== null;
}

// Checks below run whenever the fields they read are valid (`when`), so one document shows all its
// problems at once rather than one layer at a time.
const whenTimesValid = { when: (payload: z.core.ParsePayload) => hasTimes(payload.value) };

/** `to` after `from`; `to` may be 24:00, so a night can be written as `22:00–24:00` plus the next day's `00:00–…`. */
function toAfterFrom(value: { from: string; to: string }, ctx: z.core.$RefinementCtx): void {
  if (minutes(value.to) <= minutes(value.from)) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from', input: value.to });
  }
}

export const WindowSchema = z
  .strictObject({
    from: TimeOfDaySchema,
    to: TimeOfDaySchema,
    mode: z.enum(SCHEDULE_WINDOW_MODES),
  })
  .superRefine(toAfterFrom, whenTimesValid);
export type Window = z.output<typeof WindowSchema>;

/** A day's windows: in any order, none overlapping (touching is fine: 10:00–13:00 then 13:00–20:00). */
function windowList(label: string) {
  return z
    .array(WindowSchema)
    .superRefine(
      (windows, ctx) => {
        const order = windows.map((w, i) => ({ w, i })).sort((a, b) => minutes(a.w.from) - minutes(b.w.from));
        // Compare each window with the one reaching furthest so far, so a long window overlapping
        // several short ones is caught for each.
        let reach: { w: Window; i: number } | undefined;
        for (const cur of order) {
          if (reach && minutes(cur.w.from) < minutes(reach.w.to)) {
            ctx.addIssue({
              code: 'custom',
              path: [cur.i],
              message: `overlaps ${label}[${reach.i}] (${reach.w.from}–${reach.w.to})`,
              input: cur.w,
            });
          }
          if (!reach || minutes(cur.w.to) > minutes(reach.w.to)) reach = cur;
        }
      },
      { when: (payload) => Array.isArray(payload.value) && payload.value.every(hasTimes) },
    )
    .default([]);
}

const weeklyShape = Object.fromEntries(WEEKDAYS.map((d) => [d, windowList(d)])) as Record<
  (typeof WEEKDAYS)[number],
  ReturnType<typeof windowList>
>;

export const ExceptionSchema = z.strictObject({
  date: LocalDateSchema,
  label: displayText(80).optional(),
  /** Replaces the weekly windows of that local date; empty = closed all day. */
  windows: windowList('windows'),
});
export type PolicyException = z.output<typeof ExceptionSchema>;

export const ScheduleSchema = z.strictObject({
  weekly: z.strictObject(weeklyShape).prefault({}),
  exceptions: z
    .array(ExceptionSchema)
    .superRefine(
      (exceptions, ctx) => {
        const seen = new Map<unknown, number>();
        exceptions.forEach((e, i) => {
          const date = (e as { date?: unknown } | null)?.date;
          if (typeof date !== 'string') return;
          const first = seen.get(date);
          if (first !== undefined) {
            ctx.addIssue({ code: 'custom', path: [i, 'date'], message: `same date as exceptions[${first}]`, input: date });
          } else seen.set(date, i);
        });
      },
      { when: (payload) => Array.isArray(payload.value) },
    )
    .default([]),
  /** Minutes at the start of open access that directly follows a staffed session, when only staff may enter. */
  changeoverMinutes: z.int().min(0).max(240).default(0),
});

/** A list's check that no value comes twice, with the message to give when one does. */
function noRepeats<T>(message: string, key: (value: T) => unknown = (value) => value) {
  return (ctx: z.core.ParsePayload<readonly T[]>): void => {
    if (new Set(ctx.value.map(key)).size !== ctx.value.length) ctx.issues.push({ code: 'custom', message, input: ctx.value });
  };
}

/** A door's id as the gateway's `hardware.doors[].id` spells it, or `main` (the door of outputs.door). */
const doorId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'must be a door id: 1–32 lower case letters, digits or dashes' });

const WeeklySlotSchema = z
  .strictObject({ day: z.enum(WEEKDAYS), from: TimeOfDaySchema, to: TimeOfDaySchema })
  .superRefine(toAfterFrom, whenTimesValid);

export const BookingSchema = z
  .strictObject({
    /** The partner group; matched against members' `groups`. */
    group: slug,
    label: displayText(80).optional(),
    /** Every week on that day, … */
    weekly: WeeklySlotSchema.optional(),
    /** … or once, on this local date from `from` to `to`. */
    date: LocalDateSchema.optional(),
    from: TimeOfDaySchema.optional(),
    to: TimeOfDaySchema.optional(),
    /** Overrides rules.minimumAge for this booking (a scout troop comes with its leaders); null = no minimum. */
    minimumAge: z.int().min(0).max(120).nullable().optional(),
    /**
     * 1.8: the doors the booking opens (`main`, or ids of the gateway's `hardware.doors`); left out, every door. A
     * gateway before 1.8 refuses the key, and a gateway without one of the doors refuses the policy (policy-refused).
     */
    doors: z
      .array(doorId)
      .min(1, { error: 'must name at least one door (leave doors out for every door)' })
      .max(9)
      .check(noRepeats('must not repeat a door'))
      .optional(),
  })
  .check((ctx) => {
    const b = ctx.value;
    const push = (path: PropertyKey[], message: string): void => {
      ctx.issues.push({ code: 'custom', path, message, input: b });
    };
    if (b.weekly && b.date !== undefined) push(['date'], 'use either weekly or date, not both');
    else if (!b.weekly && b.date === undefined) push([], 'needs weekly: { day, from, to } or date with from and to');
    if (b.weekly) {
      if (b.from !== undefined) push(['from'], 'goes inside weekly with a weekly booking');
      if (b.to !== undefined) push(['to'], 'goes inside weekly with a weekly booking');
    } else if (b.date !== undefined) {
      if (b.from === undefined) push(['from'], 'required with date');
      if (b.to === undefined) push(['to'], 'required with date');
      if (b.from !== undefined && b.to !== undefined && minutes(b.to) <= minutes(b.from)) push(['to'], 'must be after from');
    }
  });
export type Booking = z.output<typeof BookingSchema>;

export const RulesSchema = z.strictObject({
  /** Members need open-access registration (induction done, terms accepted). */
  requireOpenAccessRegistration: z.boolean().default(true),
  /** Minimum age for unstaffed entry (16 and 18 are the usual choices); null = none. */
  minimumAge: z.int().min(0).max(120).nullable().default(null),
  /** Most people inside during open access; null = not limited. */
  capacity: z.int().positive().nullable().default(null),
  /** No entry in the last N minutes of an open-access span that ends in closed. */
  lastEntryMinutes: z.int().min(0).max(720).default(0),
  pin: z.enum(['never', 'open-access', 'always']).default('never'),
  pinMaxAttempts: z.int().min(1).max(20).default(5),
  pinLockoutSeconds: z.int().min(0).max(86_400).default(30),
  /**
   * 1.7: where PINs are checked. `list` (when left out): against the PIN hash in the member's row (set through
   * central's API). `sip2`: the library system checks the typed PIN at each tap (SIP2 patron password, AD/CQ), and
   * the branch stores none. Optional without a default: a gateway before 1.7 refuses it as an unknown key.
   */
  pinSource: z.enum(['list', 'sip2']).optional(),
  /**
   * 1.7, with pinSource sip2: when the library system cannot answer, `refuse` (when left out: reason
   * `pin-check-unavailable`) or `card-only` (let in on the card alone, with the `pin-check-unavailable` alarm).
   */
  pinOffline: z.enum(['refuse', 'card-only']).optional(),
  /** Staff cards enter in any mode but lockdown and emergency. */
  staffAllowed: z.boolean().default(true),
  /** Unstaffed member entry while the clock is not trusted (staff still enter). */
  clockUntrusted: z.enum(['deny', 'allow']).default('deny'),
  /**
   * Unstaffed member entry while the member list is stale (no successful sync for the gateway's
   * `members.staleAfterDays`): a list nobody refreshes must not grant for ever. Staff still enter.
   */
  staleMemberList: z.enum(['deny', 'allow']).default('deny'),
  /** Booking entry also needs open-access registration. */
  bookingsNeedRegistration: z.boolean().default(false),
  /**
   * 1.6: after a member the list knows is let in, ask the library system about the card in the background (SIP2, the
   * gateway's `sip2:` section), so a block the list has not heard of yet is an alarm and refuses the next tap.
   * Never holds up the tap it follows. Optional rather than defaulted (off when left out): central publishes a
   * policy as parsed, and a default written into every document would be an unknown key to a gateway before 1.6.
   */
  sip2SecondOpinion: z.boolean().optional(),
  /**
   * 1.7: an under-age card (minimumAge) is let in, logged `accompanied`, within `seconds` after an adult's grant at the
   * same door: a parent taps, then each child. Any number of children within the seconds; a child's own grant does
   * not start the seconds again. Only the age is lifted: a blocked or expired card, capacity, PIN still refuse.
   * Optional without a default (off when left out), as sip2SecondOpinion.
   */
  accompaniedMinors: z.strictObject({ seconds: z.int().min(1).max(600) }).optional(),
  /**
   * 1.8: how the branch counts who is inside. `resetAtStaffedStart`: the count goes to 0 when staff take over (off
   * when left out: a count nobody swept is not zeroed). `quietMinutes`: how long without motion (a PIR is fitted) before
   * a count of 0 is taken as an empty building (10). `tailgating`: more people came in than were let in, `alarm` (the
   * default) or `log`. Optional without defaults, as sip2SecondOpinion: a gateway before 1.8 refuses the key.
   */
  occupancy: z
    .strictObject({
      resetAtStaffedStart: z.boolean().optional(),
      quietMinutes: z.int().min(1).max(240).optional(),
      tailgating: z.enum(['alarm', 'log']).optional(),
    })
    .optional(),
});
export type Rules = z.output<typeof RulesSchema>;

/** The occupancy rules with their defaults filled in (the document leaves them out: see `rules.occupancy`). */
export function occupancyRules(rules: Rules): { resetAtStaffedStart: boolean; quietMinutes: number; tailgating: 'alarm' | 'log' } {
  const o = rules.occupancy ?? {};
  return { resetAtStaffedStart: o.resetAtStaffedStart ?? false, quietMinutes: o.quietMinutes ?? 10, tailgating: o.tailgating ?? 'alarm' };
}

export const ClosingSchema = z.strictObject({
  /** Warnings before open access ends (lights flash, announcement), in minutes before the end. */
  warningMinutes: z
    .array(z.int().min(1).max(240))
    .max(10)
    .check(noRepeats('must not repeat a value'))
    .default([15, 5]),
});

/** The modes a switched output's window can follow (the schedule's; lockdown and emergency are not the schedule). */
export const OUTPUT_WINDOW_MODES = ['staffed', 'open-access', 'changeover', 'closed'] as const;
const offsetMinutes = z.int().min(-240, { error: 'must be at least -240 (4 hours before)' }).max(240, { error: 'must be at most 240 (4 hours after)' });

/**
 * 1.9: one window of a switched output: on from the start of a run of the `during` modes (`fromMinutes` after it,
 * negative before) until the run's end (`untilMinutes` after it, negative before). "PCs on from 10 minutes before
 * open access until 15 minutes before its end": `{ during: [open-access], fromMinutes: -10, untilMinutes: -15 }`.
 */
export const OutputWindowSchema = z.strictObject({
  during: z.array(z.enum(OUTPUT_WINDOW_MODES)).min(1).check(noRepeats('must not repeat a mode')),
  fromMinutes: offsetMinutes.default(0),
  untilMinutes: offsetMinutes.default(0),
});
export type OutputWindow = z.output<typeof OutputWindowSchema>;

export const OutputScheduleIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'must be 1–32 lower case letters, digits or dashes' });

/** 1.9: each switched output's windows, by the output's id in the gateway's config (`hardware.switched`). */
export const OutputSchedulesSchema = z
  .record(OutputScheduleIdSchema, z.array(OutputWindowSchema).min(1).max(8))
  .refine((r) => Object.keys(r).length <= 16, { error: 'at most 16 outputs' })
  .superRefine((schedules, ctx) => {
    // Two windows of one output over the same mode would say two things about the same minutes.
    for (const [id, windows] of Object.entries(schedules)) {
      windows.forEach((window, index) => {
        for (let earlier = 0; earlier < index; earlier++) {
          const shared = window.during.filter((mode) => windows[earlier]!.during.includes(mode));
          if (shared.length > 0) {
            ctx.addIssue({
              code: 'custom',
              path: [id, index, 'during'],
              message: `overlaps ${id}[${earlier}]: ${shared.join(', ')} is in both (one window per mode; list the modes of a run in one window)`,
            });
          }
        }
      });
    }
  });

/**
 * 1.9: the intruder alarm panel (the gateway's `hardware.intruderAlarm`). It is unset `unsetMinutesBefore` staffed
 * or open-access hours begin, and set once the branch is closed and empty (a count of 0 that can be believed and no
 * motion for `rules.occupancy.quietMinutes`). A set or unset the panel does not confirm within `confirmSeconds` (its
 * exit time and more) is the `intruder-alarm-fault` alarm. Member cards never unset it; in closed hours only
 * `unsetInClosedHours` does: the panel's own keypad (`panel-keypad`, always), or a staff card with its PIN too.
 */
export const IntruderAlarmPolicySchema = z.strictObject({
  unsetMinutesBefore: z.int().min(0).max(120).default(10),
  setWhenEmpty: z.boolean().default(true),
  confirmSeconds: z.int().min(5).max(600).default(60),
  unsetInClosedHours: z.enum(['panel-keypad', 'staff-card-and-pin']).default('panel-keypad'),
});
export type IntruderAlarmPolicy = z.output<typeof IntruderAlarmPolicySchema>;

export { PHRASE_IDS };
export type { PhraseId };

/** A language as espeak-ng and recordings name it: `en`, `cy`, `en-GB`. */
export const LanguageSchema = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, { error: 'must be a language tag such as en, cy or en-GB' });

/**
 * 1.9: what the loudspeakers say. `languages` are spoken one after the other (a bilingual branch: [cy, en]).
 * `phrases` replace the built-in words of a phrase in a language (`{minutes}` is the number of minutes). `volume`: from
 * each time of day (the policy's timezone) until the next, a percentage. `welcome`: greet each open-access entry.
 * `speakRefusals`: say a refusal's reason aloud (others may be listening: off, a neutral tone, by default).
 */
export const AnnouncementsPolicySchema = z.strictObject({
  languages: z.array(LanguageSchema).min(1).max(3).check(noRepeats('must not repeat a language')).default(['en']),
  phrases: z.record(LanguageSchema, z.partialRecord(z.enum(PHRASE_IDS), displayText(300).min(1))).optional(),
  volume: z
    .array(z.strictObject({ from: TimeOfDaySchema, percent: z.int().min(0).max(100) }))
    .max(12)
    .check(noRepeats('must not repeat a time', (v: { from: string }) => v.from))
    .optional(),
  welcome: z.boolean().default(false),
  speakRefusals: z.boolean().default(false),
}).superRefine((announcements, ctx) => {
  // A language the branch cannot say every phrase in: refused here, so that central, the branch and check-config agree.
  for (const { language, phrase, message } of missingPhrases(announcements)) ctx.addIssue({ code: 'custom', path: ['phrases', language, phrase], message });
});
export type AnnouncementsPolicy = z.output<typeof AnnouncementsPolicySchema>;

/**
 * The highest policy version: a 31-bit number, so that it fits every integer column and JSON reader on the way,
 * and so that a document with 2^53−1 is an error at parse instead of a number nothing could ever outrank.
 */
export const MAX_POLICY_VERSION = 2 ** 31 - 1;

export const PolicySchema = z.strictObject({
  /**
   * Central's sequence for the branch: central numbers each version it publishes (docs/policies.md, "Versions"); a
   * policy file's own number only labels it. A branch override made in the console keeps the number it was made over.
   */
  version: z.int().positive().max(MAX_POLICY_VERSION, { error: `must be at most ${MAX_POLICY_VERSION}` }),
  site: slug,
  /** Human name of the branch, for the console. */
  name: displayText(120).optional(),
  timezone: z
    .string()
    .refine(isValidTimeZone, { error: 'must be an IANA time zone such as "Europe/London"' })
    .default('Europe/London'),
  schedule: ScheduleSchema,
  bookings: z.array(BookingSchema).default([]),
  rules: RulesSchema.prefault({}),
  closing: ClosingSchema.prefault({}),
  /** 1.9, optional without defaults (as rules.occupancy): a gateway before 1.9 refuses the keys. */
  outputs: OutputSchedulesSchema.optional(),
  intruderAlarm: IntruderAlarmPolicySchema.optional(),
  announcements: AnnouncementsPolicySchema.optional(),
});

export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;

export type PolicyParse = { ok: true; policy: Policy } | { ok: false; errors: string[] };

export function parsePolicy(input: unknown): PolicyParse {
  const result = PolicySchema.safeParse(input, { error: plainErrors, reportInput: true });
  if (result.success) return { ok: true, policy: result.data };
  return { ok: false, errors: formatIssues(result.error) };
}

/**
 * Parse a policy (or config) file's text: JSON when the name ends in `.json`, YAML (1.2, so `08:00` stays a string
 * and dates stay strings) otherwise. Bytes are decoded as strict UTF-8. Nothing over `maxBytes` (a policy's 256 KiB)
 * is parsed. Syntax errors are reported as `file:line:col: message`.
 */
export function parseDocumentText(
  input: string | Uint8Array,
  filename = 'policy',
  options: { maxBytes?: number } = {},
): { ok: true; value: unknown } | { ok: false; errors: string[] } {
  const limits = { what: filename, maxBytes: options.maxBytes ?? MAX_POLICY_BYTES };
  const decoded = typeof input === 'string' ? checkTextSize(input, limits) : decodeUtf8(input, limits);
  if (!decoded.ok) return { ok: false, errors: [decoded.error] };
  const text = decoded.text;
  if (filename.toLowerCase().endsWith('.json')) {
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch (err) {
      return { ok: false, errors: [`${filename}: ${(err as Error).message}`] };
    }
  }
  const doc = parseYamlDocument(text, filename);
  return doc.ok ? doc : { ok: false, errors: doc.errors };
}

/** A policy file's content (text, or bytes read from the file) → a policy, or every problem with it. */
export function loadPolicyText(input: string | Uint8Array, filename?: string): PolicyParse {
  const doc = parseDocumentText(input, filename);
  if (!doc.ok) return doc;
  return parsePolicy(doc.value);
}
