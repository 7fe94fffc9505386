import { describe, expect, it } from 'vitest';
import { dayBounds, localToInstant, modeAt, spansBetween, toLocalIso, upcoming, type ModeSpan } from '../../../policies/index.js';
import { example, everyDay, policyOf, utc } from './helpers.js';

function span(mode: ModeSpan['mode'], since: string | null, until: string | null): ModeSpan {
  return { mode, since: since === null ? null : new Date(since), until: until === null ? null : new Date(until) };
}

const town = example('town');
const hub = example('hub');

describe('modeAt: a town library (BST, UTC+1, in June)', () => {
  // Monday 15 June 2026: open access 08:00–10:00, staffed 10:00–13:00, changeover 13:00–13:15, open access to 20:00.
  it('before opening it is closed since the evening before', () => {
    expect(modeAt(town, utc('2026-06-15T06:00:00Z'))).toEqual(span('closed', '2026-06-14T15:00:00Z', '2026-06-15T07:00:00Z'));
  });

  it('open access 08:00–10:00, bounds exact to the millisecond', () => {
    expect(modeAt(town, utc('2026-06-15T07:00:00Z'))).toEqual(span('open-access', '2026-06-15T07:00:00Z', '2026-06-15T09:00:00Z'));
    expect(modeAt(town, utc('2026-06-15T08:59:59.999Z')).mode).toBe('open-access');
    expect(modeAt(town, utc('2026-06-15T09:00:00Z')).mode).toBe('staffed');
  });

  it('staffed until 13:00, then 15 minutes of changeover, then open access until 20:00', () => {
    expect(modeAt(town, utc('2026-06-15T10:00:00Z'))).toEqual(span('staffed', '2026-06-15T09:00:00Z', '2026-06-15T12:00:00Z'));
    expect(modeAt(town, utc('2026-06-15T12:00:00Z'))).toEqual(span('changeover', '2026-06-15T12:00:00Z', '2026-06-15T12:15:00Z'));
    expect(modeAt(town, utc('2026-06-15T12:14:59Z')).mode).toBe('changeover');
    expect(modeAt(town, utc('2026-06-15T12:15:00Z'))).toEqual(span('open-access', '2026-06-15T12:15:00Z', '2026-06-15T19:00:00Z'));
  });

  it('open access that follows closed hours has no changeover', () => {
    expect(modeAt(town, utc('2026-06-15T07:00:00Z')).since).toEqual(utc('2026-06-15T07:00:00Z'));
  });

  it('upcoming lists the day in order', () => {
    expect(upcoming(town, utc('2026-06-15T00:00:00Z'), 1).map((t) => [toLocalIso(town, t.at).slice(11, 16), t.from, t.to])).toEqual([
      ['08:00', 'closed', 'open-access'],
      ['10:00', 'open-access', 'staffed'],
      ['13:00', 'staffed', 'changeover'],
      ['13:15', 'changeover', 'open-access'],
      ['20:00', 'open-access', 'closed'],
    ]);
  });

  it('upcoming includes a change exactly at `from` only as the start state, and excludes `from + days`', () => {
    const list = upcoming(town, utc('2026-06-15T07:00:00Z'), 0.5);
    expect(list[0]?.at).toEqual(utc('2026-06-15T09:00:00Z'));
    expect(list.every((t) => t.at < utc('2026-06-15T19:00:00Z'))).toBe(true);
  });
});

describe('changeover', () => {
  it('covers a whole open-access window shorter than the changeover', () => {
    const p = policyOf({
      schedule: {
        changeoverMinutes: 15,
        weekly: everyDay([
          { from: '10:00', to: '13:00', mode: 'staffed' },
          { from: '13:00', to: '13:10', mode: 'open-access' },
        ]),
      },
    });
    expect(modeAt(p, utc('2026-01-05T13:05:00Z'))).toEqual(span('changeover', '2026-01-05T13:00:00Z', '2026-01-05T13:10:00Z'));
    expect(modeAt(p, utc('2026-01-05T13:10:00Z')).mode).toBe('closed');
  });

  it('is not applied when the changeover is 0', () => {
    const p = policyOf({
      schedule: {
        weekly: everyDay([
          { from: '10:00', to: '13:00', mode: 'staffed' },
          { from: '13:00', to: '20:00', mode: 'open-access' },
        ]),
      },
    });
    expect(modeAt(p, utc('2026-01-05T13:00:00Z'))).toEqual(span('open-access', '2026-01-05T13:00:00Z', '2026-01-05T20:00:00Z'));
  });
});

describe('windows across midnight', () => {
  // The hub: Friday 17:00–24:00 open access plus Saturday 00:00–01:00: one span.
  it('is one span from Friday 17:10 (after changeover) to Saturday 01:00', () => {
    const expected = span('open-access', '2026-06-19T16:10:00Z', '2026-06-20T00:00:00Z');
    expect(modeAt(hub, utc('2026-06-19T22:59:59Z'))).toEqual(expected);
    expect(modeAt(hub, utc('2026-06-19T23:00:00Z'))).toEqual(expected);
    expect(modeAt(hub, utc('2026-06-19T23:30:00Z'))).toEqual(expected);
  });

  it('has no transition at midnight', () => {
    const list = upcoming(hub, utc('2026-06-19T20:00:00Z'), 1);
    expect(list[0]).toEqual({ at: utc('2026-06-20T00:00:00Z'), from: 'open-access', to: 'closed' });
  });

  it('adjacent windows of the same mode merge within a day too', () => {
    const p = policyOf({
      schedule: {
        weekly: everyDay([
          { from: '08:00', to: '12:00', mode: 'open-access' },
          { from: '12:00', to: '18:00', mode: 'open-access' },
        ]),
      },
    });
    expect(modeAt(p, utc('2026-01-05T10:00:00Z'))).toEqual(span('open-access', '2026-01-05T08:00:00Z', '2026-01-05T18:00:00Z'));
  });

  it('a round-the-clock week is one span that reaches past the horizon', () => {
    const p = policyOf({ schedule: { weekly: everyDay([{ from: '00:00', to: '24:00', mode: 'open-access' }]) } });
    expect(modeAt(p, utc('2026-06-15T12:00:00Z'))).toEqual({ mode: 'open-access', since: null, until: null });
    expect(upcoming(p, utc('2026-06-15T12:00:00Z'), 30)).toEqual([]);
  });

  it('a policy with no windows is closed, with no bounds within the horizon', () => {
    const p = policyOf({ schedule: { weekly: {} } });
    expect(modeAt(p, utc('2026-06-15T12:00:00Z'))).toEqual({ mode: 'closed', since: null, until: null });
  });

  it('the next change is found far ahead (a branch closed for the summer)', () => {
    const p = policyOf({
      schedule: {
        weekly: {},
        exceptions: [{ date: '2026-09-01', windows: [{ from: '09:00', to: '17:00', mode: 'staffed' }] }],
      },
    });
    expect(modeAt(p, utc('2026-06-15T12:00:00Z'))).toEqual({ mode: 'closed', since: null, until: utc('2026-09-01T08:00:00Z') });
  });
});

describe('exceptions replace a day', () => {
  it('Christmas Day and Boxing Day are closed; Christmas Eve is mornings only', () => {
    // Thu 24 Dec: 08:00–10:00 open access, 10:00–13:00 staffed, then closed until Sunday 27th 10:00.
    expect(modeAt(town, utc('2026-12-24T11:00:00Z'))).toEqual(span('staffed', '2026-12-24T10:00:00Z', '2026-12-24T13:00:00Z'));
    expect(modeAt(town, utc('2026-12-25T12:00:00Z'))).toEqual(span('closed', '2026-12-24T13:00:00Z', '2026-12-27T10:00:00Z'));
    // The weekly Thursday would have had open access after 13:00: the exception replaced it.
    expect(modeAt(town, utc('2026-12-24T15:00:00Z')).mode).toBe('closed');
  });

  it('reports the exception with the day bounds', () => {
    expect(dayBounds(town, '2026-12-25')).toEqual({ start: utc('2026-12-25T00:00:00Z'), end: utc('2026-12-26T00:00:00Z'), exception: 'Christmas Day' });
    expect(dayBounds(town, '2026-12-23').exception).toBeUndefined();
  });

  it('a day with its own hours (summer bank holiday at the hub)', () => {
    // Mon 31 Aug 2026: open access 10:00–16:00 BST instead of staffed + evening open access.
    expect(modeAt(hub, utc('2026-08-31T12:00:00Z'))).toEqual(span('open-access', '2026-08-31T09:00:00Z', '2026-08-31T15:00:00Z'));
  });

  it('a leap-day exception, 29 February 2028', () => {
    const p = policyOf({
      schedule: {
        weekly: { tue: [{ from: '09:00', to: '17:00', mode: 'staffed' }] },
        exceptions: [{ date: '2028-02-29', label: 'Leap day late opening', windows: [{ from: '12:00', to: '22:00', mode: 'open-access' }] }],
      },
    });
    expect(modeAt(p, utc('2028-02-29T10:00:00Z')).mode).toBe('closed');
    expect(modeAt(p, utc('2028-02-29T21:59:00Z'))).toEqual(span('open-access', '2028-02-29T12:00:00Z', '2028-02-29T22:00:00Z'));
    // The Tuesday before is a normal Tuesday.
    expect(modeAt(p, utc('2028-02-22T10:00:00Z')).mode).toBe('staffed');
  });
});

describe('spansBetween and local helpers', () => {
  it('lists contiguous spans covering the period', () => {
    const spans = spansBetween(town, utc('2026-06-15T00:00:00Z'), utc('2026-06-16T00:00:00Z'));
    expect(spans.map((s) => s.mode)).toEqual(['closed', 'open-access', 'staffed', 'changeover', 'open-access', 'closed']);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.since).toEqual(spans[i - 1]?.until);
  });

  it('localToInstant uses the DST rules of the schedule', () => {
    expect(localToInstant(town, '2026-03-29', '01:30')).toEqual(utc('2026-03-29T01:00:00Z'));
    expect(localToInstant(town, '2026-10-25', '01:30')).toEqual(utc('2026-10-25T00:30:00Z'));
    expect(() => localToInstant(town, '2026-02-30', '01:30')).toThrow(RangeError);
  });

  it('works in other zones (New York, southern-hemisphere Sydney)', () => {
    const ny = policyOf({ timezone: 'America/New_York', schedule: { weekly: everyDay([{ from: '09:00', to: '17:00', mode: 'staffed' }]) } });
    expect(modeAt(ny, utc('2026-07-01T13:00:00Z'))).toEqual(span('staffed', '2026-07-01T13:00:00Z', '2026-07-01T21:00:00Z'));
    const syd = policyOf({ timezone: 'Australia/Sydney', schedule: { weekly: everyDay([{ from: '09:00', to: '17:00', mode: 'staffed' }]) } });
    expect(modeAt(syd, utc('2026-01-05T00:00:00Z'))).toEqual(span('staffed', '2026-01-04T22:00:00Z', '2026-01-05T06:00:00Z'));
  });
});
