import { describe, expect, it } from 'vitest';
import { activeBookings, bookingsBetween, decide, modeAt, parsePolicy, type Policy } from '../../../policies/index.js';
import { ctx, example, member, policyOf, utc } from './helpers.js';

const hub = example('hub');
const SCOUTS = { group: '1st-riverside-scouts', label: '1st Riverside Scouts' };

describe('the hub: scouts on Tuesday evenings while the building is closed', () => {
  // Tue 10 Nov 2026 (GMT): staffed 09:00–17:00, then closed; scouts 18:30–20:30.
  it('the booking is active in its window and the schedule stays closed', () => {
    expect(modeAt(hub, utc('2026-11-10T19:00:00Z')).mode).toBe('closed');
    expect(activeBookings(hub, utc('2026-11-10T19:00:00Z'))).toEqual([{ ...SCOUTS, from: utc('2026-11-10T18:30:00Z'), to: utc('2026-11-10T20:30:00Z') }]);
    expect(activeBookings(hub, utc('2026-11-10T18:29:59Z'))).toEqual([]);
    expect(activeBookings(hub, utc('2026-11-10T20:30:00Z'))).toEqual([]);
  });

  it('in summer the booking follows local time (18:30 BST = 17:30Z)', () => {
    expect(activeBookings(hub, utc('2026-06-16T17:30:00Z'))).toHaveLength(1);
    expect(activeBookings(hub, utc('2026-06-16T19:30:00Z'))).toEqual([]);
  });

  it('a scout (12, not registered for open access) gets in during the booking only', () => {
    const scout = member({ groups: [SCOUTS.group], birthDate: '2014-05-01', openAccess: false });
    expect(decide(hub, scout, ctx('2026-11-10T19:00:00Z'))).toMatchObject({ allow: true, reason: 'booking', booking: { group: SCOUTS.group } });
    expect(decide(hub, scout, ctx('2026-11-10T21:00:00Z')).reason).toBe('closed');
    // An open-access evening (Wednesday) is not theirs: open-access rules apply.
    expect(decide(hub, scout, ctx('2026-11-11T19:00:00Z')).reason).toBe('not-registered');
  });

  it('a one-off booking on its date', () => {
    expect(activeBookings(hub, utc('2026-11-07T19:00:00Z'))).toEqual([
      { group: 'adult-learning', label: 'Adult learning, ICT class', from: utc('2026-11-07T18:00:00Z'), to: utc('2026-11-07T20:00:00Z') },
    ]);
  });

  it('lists the bookings of a period in order, including one that started before it', () => {
    const list = bookingsBetween(hub, utc('2026-11-07T19:00:00Z'), utc('2026-11-18T00:00:00Z'));
    expect(list.map((b) => [b.group, b.from.toISOString()])).toEqual([
      ['adult-learning', '2026-11-07T18:00:00.000Z'],
      [SCOUTS.group, '2026-11-10T18:30:00.000Z'],
      [SCOUTS.group, '2026-11-17T18:30:00.000Z'],
    ]);
    expect(bookingsBetween(hub, utc('2026-11-10T00:00:00Z'), utc('2026-11-10T00:00:00Z'))).toEqual([]);
  });
});

describe('bookings against the schedule', () => {
  const p = policyOf({
    schedule: { weekly: { tue: [{ from: '13:00', to: '20:00', mode: 'open-access' }] } },
    bookings: [{ group: 'knitters', weekly: { day: 'tue', from: '19:00', to: '24:00' } }],
    rules: { capacity: 2 },
  });
  const knitter = member({ groups: ['knitters'], openAccess: false });

  it('a booking that starts in open access and runs on into closed hours admits its group once closed', () => {
    expect(decide(p, knitter, ctx('2026-01-06T19:30:00Z')).reason).toBe('not-registered');
    expect(decide(p, knitter, ctx('2026-01-06T20:00:00Z'))).toMatchObject({ allow: true, reason: 'booking' });
    expect(decide(p, knitter, ctx('2026-01-06T23:59:59Z'))).toMatchObject({ allow: true, reason: 'booking' });
    expect(decide(p, knitter, ctx('2026-01-07T00:00:00Z')).reason).toBe('closed');
  });

  it('capacity applies to a booking', () => {
    expect(decide(p, knitter, ctx('2026-01-06T21:00:00Z', { occupancy: 2 })).reason).toBe('full');
  });

  it('a booking on an exception day (Christmas closed) still applies: it is its own permission', () => {
    const xmas = policyOf({
      schedule: { weekly: {}, exceptions: [{ date: '2029-12-25', label: 'Christmas Day' }] },
      bookings: [{ group: 'carol-singers', date: '2029-12-25', from: '10:00', to: '12:00' }],
    });
    expect(decide(xmas, member({ groups: ['carol-singers'] }), ctx('2029-12-25T11:00:00Z'))).toMatchObject({ allow: true, reason: 'booking' });
  });

  it('a booking inside the spring-forward gap does not happen', () => {
    const night = policyOf({ schedule: { weekly: {} }, bookings: [{ group: 'astronomers', date: '2026-03-29', from: '01:00', to: '02:00' }] });
    expect(bookingsBetween(night, utc('2026-03-28T00:00:00Z'), utc('2026-03-30T00:00:00Z'))).toEqual([]);
  });
});

describe('a booking for one door (bookings[].doors)', () => {
  // Monday 23 Nov 2026, 20:30 GMT: the library closed at 20:00, the chess club has the meeting room until 22:00.
  const chess = (doors?: string[]): Policy =>
    policyOf({
      schedule: { weekly: { mon: [{ from: '09:00', to: '20:00', mode: 'open-access' }] } },
      bookings: [{ group: 'chess-club', label: 'Chess club', weekly: { day: 'mon', from: '20:00', to: '22:00' }, ...(doors ? { doors } : {}) }],
    });
  const player = member({ groups: ['chess-club'] });
  const during = '2026-11-23T20:30:00Z';

  it('grants at a reader of its door and is no booking at the main door, which refuses as closed', () => {
    const p = chess(['meeting-room']);
    expect(decide(p, player, ctx(during, { door: 'meeting-room' }))).toMatchObject({ allow: true, reason: 'booking', booking: { group: 'chess-club' } });
    expect(decide(p, player, ctx(during, { door: 'main' }))).toEqual({ allow: false, reason: 'closed', mode: 'closed' });
    // A caller that does not say which door opens none of a booking's named doors.
    expect(decide(p, player, ctx(during)).reason).toBe('closed');
  });

  it('without doors opens every door, as before 1.8', () => {
    const p = chess();
    expect(decide(p, player, ctx(during, { door: 'main' })).reason).toBe('booking');
    expect(decide(p, player, ctx(during, { door: 'meeting-room' })).reason).toBe('booking');
  });

  it('another booking of the member’s that opens the main door still grants there', () => {
    const p = policyOf({
      schedule: { weekly: {} },
      bookings: [
        { group: 'chess-club', weekly: { day: 'mon', from: '20:00', to: '22:00' }, doors: ['meeting-room'] },
        { group: 'friends', weekly: { day: 'mon', from: '20:00', to: '21:00' }, doors: ['main'] },
      ],
    });
    const both = member({ groups: ['chess-club', 'friends'] });
    expect(decide(p, both, ctx(during, { door: 'main' }))).toMatchObject({ reason: 'booking', booking: { group: 'friends' } });
    expect(decide(p, both, ctx(during, { door: 'meeting-room' }))).toMatchObject({ reason: 'booking', booking: { group: 'chess-club' } });
  });

  it('refuses an empty, repeated or misspelt door list by its path', () => {
    const errorsOf = (doors: unknown): string[] => {
      const parsed = parsePolicy({ version: 1, site: 'test-branch', schedule: {}, bookings: [{ group: 'chess-club', date: '2026-11-23', from: '20:00', to: '22:00', doors }] });
      return parsed.ok ? [] : parsed.errors;
    };
    expect(errorsOf([])).toEqual(['bookings[0].doors: must name at least one door (leave doors out for every door)']);
    expect(errorsOf(['main', 'main'])).toEqual(['bookings[0].doors: must not repeat a door']);
    expect(errorsOf(['Meeting Room'])).toEqual(['bookings[0].doors[0]: must be a door id: 1–32 lower case letters, digits or dashes']);
  });
});
