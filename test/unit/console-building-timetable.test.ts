// The console's two-week preview with switched outputs: each output's on-times per day in the branch's local time,
// what stays on across midnight said so, the DST week's short Sunday, and a draft that only moves an output marked
// as a change.
import { describe, expect, it } from 'vitest';
import { outputLabels } from '../../gateway/console/output-labels.js';
import { compareTimetables, timetable, type TimetableDay } from '../../gateway/console/timetable.js';
import { policyOf, utc } from './policies/helpers.js';

const OPEN = [{ from: '08:00', to: '20:00', mode: 'open-access' as const }];

/** Open access 08:00–20:00 Monday to Saturday, closed on Sunday, in Europe/London. */
function branch(outputs: unknown) {
  return policyOf({
    schedule: { weekly: { mon: OPEN, tue: OPEN, wed: OPEN, thu: OPEN, fri: OPEN, sat: OPEN } },
    outputs: outputs as never,
  });
}

const OUTPUTS = {
  // On 10 minutes before open access, off 15 minutes before its end.
  pcs: [{ during: ['open-access'], fromMinutes: -10, untilMinutes: -15 }],
  // Kept on overnight: from an hour after close until two hours before opening.
  heating: [{ during: ['closed'], fromMinutes: 60, untilMinutes: -120 }],
};

const texts = (day: TimetableDay): string[] => day.outputs.map((o) => o.text);

describe('the timetable preview shows when each switched output is on', () => {
  // Thursday 26 March 2026; the clocks go forward at 01:00 on Sunday 29 March.
  const days = timetable(branch(OUTPUTS), utc('2026-03-26T12:00:00Z'), 14, new Map([['pcs', 'Public PCs']]));
  const day = (date: string): TimetableDay => days.find((d) => d.date === date)!;

  it('gives each output its times in words, by its label where the config has one, by its id where not', () => {
    expect(texts(day('2026-03-26'))).toEqual(['Public PCs 07:50–19:45', 'heating until 06:00 (on since the day before), from 21:00 (on past midnight)']);
    expect(day('2026-03-26').outputs[0]).toEqual({
      id: 'pcs',
      label: 'Public PCs',
      text: 'Public PCs 07:50–19:45',
      on: [{ from: '07:50', to: '19:45', start: 470, end: 1185, sinceDayBefore: false, pastMidnight: false }],
    });
    expect(day('2026-03-26').outputs[1]!.on.map((s) => [s.from, s.to, s.sinceDayBefore, s.pastMidnight])).toEqual([
      ['00:00', '06:00', true, false],
      ['21:00', '24:00', false, true],
    ]);
  });

  it('through the DST week: the heating stays on across Sunday, a 23-hour day, and the local times keep to the clock', () => {
    expect(texts(day('2026-03-28'))).toEqual(['Public PCs 07:50–19:45', 'heating until 06:00 (on since the day before), from 21:00 (on past midnight)']);
    const sunday = day('2026-03-29');
    expect(sunday.minutes).toBe(23 * 60);
    expect(texts(sunday)).toEqual(['Public PCs off all day', 'heating on all day']);
    expect(sunday.outputs[1]!.on).toEqual([{ from: '00:00', to: '24:00', start: 0, end: 1380, sinceDayBefore: true, pastMidnight: true }]);
    // Monday in summer time: two hours before 08:00 is 06:00 by the branch's clock, not 05:00 or 07:00.
    expect(texts(day('2026-03-30'))).toEqual(['Public PCs 07:50–19:45', 'heating until 06:00 (on since the day before), from 21:00 (on past midnight)']);
  });

  it('a policy without outputs shows none, and a day changes in a draft when only an output moves', () => {
    expect(timetable(branch(undefined), utc('2026-03-26T12:00:00Z'), 2).map((d) => d.outputs)).toEqual([[], []]);
    const later = { ...OUTPUTS, pcs: [{ during: ['open-access'], fromMinutes: -30, untilMinutes: -15 }] };
    const compared = compareTimetables(timetable(branch(later), utc('2026-03-26T12:00:00Z'), 4), timetable(branch(OUTPUTS), utc('2026-03-26T12:00:00Z'), 4));
    // Thursday to Saturday open (PCs now on at 07:30), Sunday closed (PCs off all day either way).
    expect(compared.map((d) => [d.date, d.changed])).toEqual([
      ['2026-03-26', true],
      ['2026-03-27', true],
      ['2026-03-28', true],
      ['2026-03-29', false],
    ]);
    expect(texts(compared[0]!)[0]).toBe('pcs 07:30–19:45');
  });

  it("takes the outputs' labels from the branch's state, and none from a state without outputs", () => {
    expect(outputLabels({ outputs: [{ id: 'pcs', on: true, label: 'Public PCs' }, { id: 'heating', on: false }] })).toEqual(new Map([['pcs', 'Public PCs']]));
    expect(outputLabels({})).toEqual(new Map());
  });
});
