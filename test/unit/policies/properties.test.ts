// Property tests: whatever the weekly template, exceptions, changeover and time zone, the schedule is one
// consistent timeline. Zones are chosen for their awkward clock changes: London, New York, Sydney (southern),
// Lord Howe (30-minute DST), Santiago and Havana (changes at midnight), Kolkata and UTC (none).
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { modeAt, parsePolicy, spansBetween, upcoming, type Policy, type ScheduleMode } from '../../../policies/index.js';

const ZONES = ['Europe/London', 'America/New_York', 'Australia/Sydney', 'Australia/Lord_Howe', 'America/Santiago', 'America/Havana', 'Asia/Kolkata', 'UTC'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const MODES = ['staffed', 'open-access', 'closed', null] as const;

type WindowIn = { from: string; to: string; mode: 'staffed' | 'open-access' | 'closed' };

const hhmm = (quarter: number): string => `${String(Math.floor(quarter / 4)).padStart(2, '0')}:${String((quarter % 4) * 15).padStart(2, '0')}`;

/** A day's windows: sorted quarter-hour boundaries, each interval a mode or a gap; often touching 01:00–02:00. */
const dayWindows = fc
  .tuple(fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 96 }), fc.constantFrom(0, 4, 6, 8, 96)), { maxLength: 7 }), fc.array(fc.constantFrom(...MODES), { minLength: 7, maxLength: 7 }))
  .map(([bounds, modes]) => {
    const sorted = [...bounds].sort((a, b) => a - b);
    const windows: WindowIn[] = [];
    for (let i = 1; i < sorted.length; i++) {
      const mode = modes[i];
      if (mode) windows.push({ from: hhmm(sorted[i - 1] as number), to: hhmm(sorted[i] as number), mode });
    }
    return windows;
  });

const policyArb = fc
  .record({
    timezone: fc.constantFrom(...ZONES),
    weekly: fc.tuple(...DAYS.map(() => dayWindows)),
    // Offsets 0–29 land in March, 30–59 in September: one offset, one date (60 would repeat offset 30's date).
    exceptions: fc.uniqueArray(fc.record({ offset: fc.integer({ min: 0, max: 59 }), windows: dayWindows }), { maxLength: 3, selector: (e) => e.offset }),
    changeoverMinutes: fc.constantFrom(0, 0, 10, 15, 30),
  })
  .map(({ timezone, weekly, exceptions, changeoverMinutes }): Policy => {
    const parsed = parsePolicy({
      version: 1,
      site: 'prop',
      timezone,
      schedule: {
        changeoverMinutes,
        weekly: Object.fromEntries(DAYS.map((d, i) => [d, weekly[i]])),
        // Exceptions land around the March and October changes of 2026.
        exceptions: exceptions.map((e) => ({
          date: DateTime.fromISO(e.offset < 30 ? '2026-03-15' : '2026-09-20', { zone: 'UTC' }).plus({ days: e.offset % 30 }).toISODate(),
          windows: e.windows,
        })),
      },
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    return parsed.policy;
  });

const instantArb = fc.date({ min: new Date('2025-06-01T00:00:00Z'), max: new Date('2028-06-01T00:00:00Z'), noInvalidDate: true });
const MODE_SET: readonly ScheduleMode[] = ['staffed', 'open-access', 'changeover', 'closed'];
const RUNS = { numRuns: 150 };

/** The mode a person reading the policy would give for a wall-clock minute, ignoring changeover. */
function oracle(policy: Policy, t: Date): ScheduleMode {
  const local = DateTime.fromJSDate(t, { zone: policy.timezone });
  const date = local.toISODate() ?? '';
  const minute = local.hour * 60 + local.minute + local.second / 60 + local.millisecond / 60_000;
  const exception = policy.schedule.exceptions.find((e) => e.date === date);
  const windows = exception ? exception.windows : policy.schedule.weekly[DAYS[local.weekday - 1] as (typeof DAYS)[number]];
  const toMin = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
  return windows.find((w) => minute >= toMin(w.from) && minute < toMin(w.to))?.mode ?? 'closed';
}

/** No clock change within 3 hours either side, so wall-clock reading is unambiguous. */
function calm(policy: Policy, t: Date): boolean {
  const off = (ms: number): number => DateTime.fromMillis(ms, { zone: policy.timezone }).offset;
  const o = off(t.getTime());
  return off(t.getTime() - 3 * 3_600_000) === o && off(t.getTime() + 3 * 3_600_000) === o;
}

describe('schedule properties', () => {
  it('every instant has exactly one mode, inside its own bounds, and the bounds are where it changes', () => {
    fc.assert(
      fc.property(policyArb, instantArb, (policy, t) => {
        const s = modeAt(policy, t);
        expect(MODE_SET).toContain(s.mode);
        if (s.since !== null) {
          expect(s.since.getTime()).toBeLessThanOrEqual(t.getTime());
          expect(modeAt(policy, s.since)).toEqual(s);
          expect(modeAt(policy, new Date(s.since.getTime() - 1)).mode).not.toBe(s.mode);
        }
        if (s.until !== null) {
          expect(s.until.getTime()).toBeGreaterThan(t.getTime());
          expect(modeAt(policy, new Date(s.until.getTime() - 1))).toEqual(s);
          expect(modeAt(policy, s.until).mode).not.toBe(s.mode);
        }
      }),
      RUNS,
    );
  });

  it('away from clock changes, the mode is what the wall clock and the windows say (changeover is open access)', () => {
    fc.assert(
      fc.property(policyArb, instantArb, (policy, t) => {
        fc.pre(calm(policy, t));
        const mode = modeAt(policy, t).mode;
        expect(mode === 'changeover' ? 'open-access' : mode).toBe(oracle(policy, t));
      }),
      RUNS,
    );
  });

  it('changeover only follows staffed, and lasts at most changeoverMinutes', () => {
    fc.assert(
      fc.property(policyArb, instantArb, (policy, t) => {
        const s = modeAt(policy, t);
        if (s.mode !== 'changeover') return;
        expect(s.since).not.toBeNull();
        expect(modeAt(policy, new Date((s.since as Date).getTime() - 1)).mode).toBe('staffed');
        expect((s.until as Date).getTime() - (s.since as Date).getTime()).toBeLessThanOrEqual(policy.schedule.changeoverMinutes * 60_000);
      }),
      RUNS,
    );
  });

  it('transitions from upcoming agree with modeAt just before and at each transition', () => {
    fc.assert(
      fc.property(policyArb, instantArb, (policy, from) => {
        const list = upcoming(policy, from, 8);
        let current = modeAt(policy, from);
        for (const tr of list) {
          expect(tr.at.getTime()).toBeGreaterThan(from.getTime());
          expect(tr.at.getTime()).toBeLessThan(from.getTime() + 8 * 86_400_000);
          expect(tr.at).toEqual(current.until);
          expect(tr.from).toBe(current.mode);
          expect(tr.from).not.toBe(tr.to);
          expect(modeAt(policy, new Date(tr.at.getTime() - 1)).mode).toBe(tr.from);
          current = modeAt(policy, tr.at);
          expect(current.mode).toBe(tr.to);
        }
        // Nothing was left out: the last span reaches past the period.
        if (current.until !== null) expect(current.until.getTime()).toBeGreaterThanOrEqual(from.getTime() + 8 * 86_400_000);
      }),
      { numRuns: 100 },
    );
  });

  it('spans over a period are contiguous and alternate', () => {
    fc.assert(
      fc.property(policyArb, instantArb, (policy, from) => {
        const spans = spansBetween(policy, from, new Date(from.getTime() + 3 * 86_400_000));
        for (let i = 1; i < spans.length; i++) {
          expect(spans[i]?.since).toEqual(spans[i - 1]?.until);
          expect(spans[i]?.mode).not.toBe(spans[i - 1]?.mode);
        }
      }),
      { numRuns: 100 },
    );
  });
});
