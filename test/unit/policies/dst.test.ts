// Europe/London: the clocks go forward at 01:00 GMT on the last Sunday of March (01:00–02:00 local does not exist)
// and back at 02:00 BST on the last Sunday of October (01:00–02:00 local happens twice).
// Rules: a boundary in the gap takes effect at the first instant after it; a boundary in the repeated hour at
// its first occurrence.
import { describe, expect, it } from 'vitest';
import { modeAt, upcoming, type ModeSpan } from '../../../policies/index.js';
import { example, policyOf, utc } from './helpers.js';

function span(mode: ModeSpan['mode'], since: string, until: string): ModeSpan {
  return { mode, since: new Date(since), until: new Date(until) };
}

const CHANGES = [
  { year: 2026, spring: '2026-03-29', autumn: '2026-10-25' },
  { year: 2027, spring: '2027-03-28', autumn: '2027-10-31' },
] as const;

describe.each(CHANGES)('Europe/London in $year', ({ spring, autumn }) => {
  // Both change days are Sundays.
  const nightShift = policyOf({
    schedule: {
      weekly: {
        sun: [
          { from: '00:30', to: '01:30', mode: 'open-access' },
          { from: '01:30', to: '02:30', mode: 'staffed' },
          { from: '02:30', to: '03:00', mode: 'open-access' },
        ],
      },
    },
  });
  const exactlyTheHour = policyOf({ schedule: { weekly: { sun: [{ from: '01:00', to: '02:00', mode: 'open-access' }] } } });
  const untilTheGap = policyOf({
    schedule: {
      weekly: {
        sat: [{ from: '22:00', to: '24:00', mode: 'open-access' }],
        sun: [
          { from: '00:00', to: '01:00', mode: 'open-access' },
          { from: '02:00', to: '06:00', mode: 'staffed' },
        ],
      },
    },
  });

  describe(`spring forward, ${spring}`, () => {
    it('a boundary at 01:30 (does not exist) takes effect at 02:00 BST = 01:00Z', () => {
      expect(modeAt(nightShift, utc(`${spring}T00:45:00Z`))).toEqual(span('open-access', `${spring}T00:30:00Z`, `${spring}T01:00:00Z`));
      // 01:30–02:30 local: 01:30 is in the gap → 01:00Z; 02:30 BST = 01:30Z: half an hour staffed.
      expect(modeAt(nightShift, utc(`${spring}T01:00:00Z`))).toEqual(span('staffed', `${spring}T01:00:00Z`, `${spring}T01:30:00Z`));
      expect(modeAt(nightShift, utc(`${spring}T01:45:00Z`))).toEqual(span('open-access', `${spring}T01:30:00Z`, `${spring}T02:00:00Z`));
    });

    it('a window of exactly 01:00–02:00 does not happen', () => {
      expect(modeAt(exactlyTheHour, utc(`${spring}T01:00:00Z`)).mode).toBe('closed');
      expect(upcoming(exactlyTheHour, utc(`${spring}T00:00:00Z`), 1)).toEqual([]);
    });

    it('a window ending at 01:00 ends at the gap, and the next begins at 02:00 BST: they touch', () => {
      expect(modeAt(untilTheGap, utc(`${spring}T00:59:59Z`))).toEqual(span('open-access', `${spring.slice(0, 8)}${String(Number(spring.slice(8)) - 1).padStart(2, '0')}T22:00:00Z`, `${spring}T01:00:00Z`));
      expect(modeAt(untilTheGap, utc(`${spring}T01:00:00Z`))).toEqual(span('staffed', `${spring}T01:00:00Z`, `${spring}T05:00:00Z`));
    });

    it('upcoming agrees', () => {
      expect(upcoming(nightShift, utc(`${spring}T00:00:00Z`), 1)).toEqual([
        { at: utc(`${spring}T00:30:00Z`), from: 'closed', to: 'open-access' },
        { at: utc(`${spring}T01:00:00Z`), from: 'open-access', to: 'staffed' },
        { at: utc(`${spring}T01:30:00Z`), from: 'staffed', to: 'open-access' },
        { at: utc(`${spring}T02:00:00Z`), from: 'open-access', to: 'closed' },
      ]);
    });
  });

  describe(`fall back, ${autumn}`, () => {
    const saturday = `${autumn.slice(0, 8)}${String(Number(autumn.slice(8)) - 1).padStart(2, '0')}`;

    it('a boundary at 01:30 (happens twice) takes the first occurrence, 01:30 BST = 00:30Z', () => {
      // 00:30 BST = 23:30Z on Saturday.
      expect(modeAt(nightShift, utc(`${saturday}T23:45:00Z`))).toEqual(span('open-access', `${saturday}T23:30:00Z`, `${autumn}T00:30:00Z`));
      // Staffed from the first 01:30 to 02:30 GMT: two hours, across the repeated hour.
      expect(modeAt(nightShift, utc(`${autumn}T00:30:00Z`))).toEqual(span('staffed', `${autumn}T00:30:00Z`, `${autumn}T02:30:00Z`));
      // The second 01:30 (01:30Z) is inside the staffed span, not a new boundary.
      expect(modeAt(nightShift, utc(`${autumn}T01:30:00Z`))).toEqual(span('staffed', `${autumn}T00:30:00Z`, `${autumn}T02:30:00Z`));
      expect(modeAt(nightShift, utc(`${autumn}T02:30:00Z`))).toEqual(span('open-access', `${autumn}T02:30:00Z`, `${autumn}T03:00:00Z`));
    });

    it('a window of exactly 01:00–02:00 lasts two hours: from the first 01:00 to 02:00 GMT', () => {
      expect(modeAt(exactlyTheHour, utc(`${autumn}T01:30:00Z`))).toEqual(span('open-access', `${autumn}T00:00:00Z`, `${autumn}T02:00:00Z`));
    });

    it('a window ending at 01:00 ends at its first occurrence; closed through the repeated hour', () => {
      expect(modeAt(untilTheGap, utc(`${autumn}T00:30:00Z`))).toEqual(span('closed', `${autumn}T00:00:00Z`, `${autumn}T02:00:00Z`));
      expect(modeAt(untilTheGap, utc(`${saturday}T23:59:59Z`))).toEqual(span('open-access', `${saturday}T21:00:00Z`, `${autumn}T00:00:00Z`));
    });
  });
});

describe('the town example across the clock changes', () => {
  const town = example('town');

  it('Sunday opening on spring-forward day is at 10:00 BST', () => {
    expect(modeAt(town, utc('2026-03-29T09:00:00Z'))).toEqual(span('open-access', '2026-03-29T09:00:00Z', '2026-03-29T15:00:00Z'));
  });

  it('the issue example: 01:30Z on 25 Oct 2026 is closed from 20:00 BST to 10:00 GMT', () => {
    expect(modeAt(town, utc('2026-10-25T01:30:00Z'))).toEqual(span('closed', '2026-10-24T19:00:00Z', '2026-10-25T10:00:00Z'));
  });

  it('a 23-hour and a 25-hour closed night are measured in real time', () => {
    const spring = modeAt(town, utc('2026-03-29T00:00:00Z'));
    expect((spring.until!.getTime() - spring.since!.getTime()) / 3_600_000).toBe(13); // Sat 20:00 GMT → Sun 10:00 BST
    const autumn = modeAt(town, utc('2026-10-25T00:00:00Z'));
    expect((autumn.until!.getTime() - autumn.since!.getTime()) / 3_600_000).toBe(15); // Sat 20:00 BST → Sun 10:00 GMT
  });
});

describe('a zone that changes its clocks at midnight (America/Santiago, 2026)', () => {
  // 5 April: 24:00 (-03) on Saturday goes back to 23:00 (-04), so Saturday 23:00–24:00 happens twice.
  // 6 September: Saturday 24:00 (-04) jumps to Sunday 01:00 (-03); Sunday 00:00–01:00 does not exist.
  const santiago = policyOf({
    timezone: 'America/Santiago',
    schedule: {
      weekly: {
        sat: [
          { from: '22:00', to: '23:30', mode: 'staffed' },
          { from: '23:30', to: '24:00', mode: 'open-access' },
        ],
        sun: [{ from: '00:00', to: '02:00', mode: 'open-access' }],
      },
    },
  });

  it('fall back: the 23:30 boundary is its first occurrence; open access runs through the repeated hour to Sunday 02:00', () => {
    expect(modeAt(santiago, utc('2026-04-05T01:30:00Z'))).toEqual(span('staffed', '2026-04-05T01:00:00Z', '2026-04-05T02:30:00Z'));
    expect(modeAt(santiago, utc('2026-04-05T03:45:00Z'))).toEqual(span('open-access', '2026-04-05T02:30:00Z', '2026-04-05T06:00:00Z'));
  });

  it('spring forward: Sunday begins at 01:00 local, and the Saturday span joins Sunday across the gap', () => {
    expect(modeAt(santiago, utc('2026-09-06T03:59:00Z'))).toEqual(span('open-access', '2026-09-06T03:30:00Z', '2026-09-06T05:00:00Z'));
    expect(modeAt(santiago, utc('2026-09-06T04:00:00Z')).mode).toBe('open-access');
    expect(modeAt(santiago, utc('2026-09-06T05:00:00Z')).mode).toBe('closed');
  });
});
