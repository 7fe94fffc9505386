import { afterAll, describe, expect, it } from 'vitest';
import { decide, GRANT_REASONS, hashPin, isAdultGrant, parsePolicy, REFUSAL_REASONS, type Decision, type DecisionContext, type Member, type Policy } from '../../../policies/index.js';
import { ctx, everyDay, member, policyOf, utc } from './helpers.js';

// January 2026 is GMT, so local time = UTC. Mon 5 Jan, Tue 6 Jan.
const base = {
  schedule: {
    changeoverMinutes: 15,
    weekly: everyDay([
      { from: '08:00', to: '10:00', mode: 'open-access' as const },
      { from: '10:00', to: '13:00', mode: 'staffed' as const },
      { from: '13:00', to: '20:00', mode: 'open-access' as const },
    ]),
  },
  bookings: [
    // Overlaps the last half hour of open access and runs on into closed hours.
    { group: 'scouts', label: 'Scouts', weekly: { day: 'tue' as const, from: '19:30', to: '21:30' }, minimumAge: null },
    { group: 'chess-club', date: '2026-01-07', from: '20:00', to: '22:00' },
  ],
  rules: { minimumAge: 16, capacity: 10, lastEntryMinutes: 30 },
};
const policy = policyOf(base);
const withRules = (rules: Record<string, unknown>): Policy => policyOf({ ...base, rules: { ...base.rules, ...rules } });

const OPEN = '2026-01-05T15:00:00Z';
const STAFFED = '2026-01-05T11:00:00Z';
const CHANGEOVER = '2026-01-05T13:05:00Z';
const CLOSED = '2026-01-05T21:00:00Z';
const SCOUTS_NIGHT = '2026-01-06T20:30:00Z';

const seen = new Set<string>();
function d(p: Policy, m: Member | undefined, c: DecisionContext): Decision {
  const result = decide(p, m, c);
  seen.add(result.reason);
  return result;
}

afterAll(() => {
  // Every reason code the policies can give has been produced by a test above. `unknown-card-burst` is the
  // gateway's unknown-card limiter's, before decide is asked (test/integration/unknown-card-burst.test.ts).
  // `pin-check-unavailable` is the gateway's, when the library system cannot judge a PIN (test/integration/sip2-pin.test.ts);
  // the phone-token refusals are the token check's (test/integration/phone-token.test.ts).
  const notFromDecide = new Set(['exit', 'unknown-card-burst', 'pin-check-unavailable', 'bad-token', 'token-expired', 'token-other-site', 'token-replayed']);
  expect([...REFUSAL_REASONS, ...GRANT_REASONS].filter((r) => !notFromDecide.has(r) && !seen.has(r))).toEqual([]);
});

describe('emergency and lockdown come first, for everyone', () => {
  it('emergency refuses even staff (the doors are released by the fire system)', () => {
    expect(d(policy, member({ staff: true }), ctx(OPEN, { emergency: true, lockdown: true }))).toEqual({ allow: false, reason: 'emergency', mode: 'emergency' });
  });
  it('lockdown refuses staff and unknown cards alike', () => {
    expect(d(policy, member({ staff: true }), ctx(STAFFED, { lockdown: true }))).toEqual({ allow: false, reason: 'lockdown', mode: 'lockdown' });
    expect(d(policy, undefined, ctx(STAFFED, { lockdown: true })).reason).toBe('lockdown');
  });
});

describe('unknown cards, staff, staffed hours', () => {
  it('an unknown card is refused in every mode, staffed included', () => {
    for (const at of [OPEN, STAFFED, CHANGEOVER, CLOSED]) expect(d(policy, undefined, ctx(at)).reason).toBe('unknown-card');
  });

  it('staff enter in every schedule mode, whatever the counts and the clock', () => {
    for (const at of [OPEN, STAFFED, CHANGEOVER, CLOSED]) {
      expect(d(policy, member({ staff: true, openAccess: false }), ctx(at, { occupancy: 99, clockTrusted: false }))).toMatchObject({ allow: true, reason: 'staff' });
    }
  });

  it('staff cards are ordinary cards when staffAllowed is off', () => {
    expect(d(withRules({ staffAllowed: false }), member({ staff: true }), ctx(CLOSED))).toEqual({ allow: false, reason: 'closed', mode: 'closed' });
  });

  it('in staffed hours every known card is let in (the door is free anyway)', () => {
    const anyone = member({ blocked: true, expires: '2020-01-01', openAccess: false, birthDate: '2015-01-01' });
    expect(d(policy, anyone, ctx(STAFFED))).toEqual({ allow: true, reason: 'staffed', mode: 'staffed' });
  });

  it('a blocked or expired staff card is refused as blocked or expired in every mode, whatever the clock', () => {
    const modes = { [OPEN]: 'open-access', [STAFFED]: 'staffed', [CHANGEOVER]: 'changeover', [CLOSED]: 'closed' };
    for (const [at, mode] of Object.entries(modes)) {
      for (const clockTrusted of [true, false]) {
        const c = ctx(at, { clockTrusted });
        expect(d(policy, member({ staff: true, blocked: true }), c)).toEqual({ allow: false, reason: 'blocked', mode });
        expect(d(policy, member({ staff: true, expires: '2026-01-04' }), c)).toEqual({ allow: false, reason: 'expired', mode });
        // Blocked comes first, as for members.
        expect(d(policy, member({ staff: true, blocked: true, expires: '2026-01-04' }), c).reason).toBe('blocked');
        // A block that has ended and an expiry not yet passed do not stop a staff card.
        expect(d(policy, member({ staff: true, blocked: true, blockedUntil: '2026-01-04', expires: '2026-01-05' }), c)).toEqual({ allow: true, reason: 'staff', mode });
      }
    }
  });

  it('a staff card needs its PIN in closed hours only while the intruder alarm is set and the policy says staff-card-and-pin', () => {
    const guarded = policyOf({ ...base, intruderAlarm: { unsetInClosedHours: 'staff-card-and-pin' } });
    const staff = member({ staff: true, pinHash: hashPin('2468') });
    expect(d(guarded, staff, ctx(CLOSED, { intruderAlarmSet: true }))).toEqual({ allow: false, reason: 'pin-required', mode: 'closed' });
    expect(d(guarded, staff, ctx(CLOSED, { intruderAlarmSet: true, pin: '1111' }))).toMatchObject({ allow: false, reason: 'pin-wrong' });
    expect(d(guarded, staff, ctx(CLOSED, { intruderAlarmSet: true, pin: '2468' }))).toEqual({ allow: true, reason: 'staff', mode: 'closed', withPin: true });
    // A staff card with no PIN set cannot unset the panel: the keypad at the panel is theirs.
    expect(d(guarded, member({ staff: true }), ctx(CLOSED, { intruderAlarmSet: true, pin: '2468' }))).toMatchObject({ allow: false, reason: 'not-registered' });
    // Not set, open hours, or the default panel-keypad: the card alone, as ever, and no unset.
    expect(d(guarded, staff, ctx(CLOSED, { intruderAlarmSet: false }))).toEqual({ allow: true, reason: 'staff', mode: 'closed' });
    expect(d(guarded, staff, ctx(OPEN, { intruderAlarmSet: true }))).toEqual({ allow: true, reason: 'staff', mode: 'open-access' });
    expect(d(policyOf({ ...base, intruderAlarm: {} }), staff, ctx(CLOSED, { intruderAlarmSet: true }))).toEqual({ allow: true, reason: 'staff', mode: 'closed' });
  });

  describe('staffed hours on a clock that is not trusted', () => {
    const untrusted = ctx(STAFFED, { clockTrusted: false });

    it('refuse members with clock-untrusted (the rule denies by default) but let staff cards in', () => {
      expect(d(policy, member(), untrusted)).toEqual({ allow: false, reason: 'clock-untrusted', mode: 'staffed' });
      expect(d(policy, member({ staff: true, openAccess: false }), untrusted)).toEqual({ allow: true, reason: 'staff', mode: 'staffed' });
    });

    it('tell a blocked or expired card so rather than "try again later"', () => {
      expect(d(policy, member({ blocked: true }), untrusted).reason).toBe('blocked');
      expect(d(policy, member({ expires: '2026-01-04' }), untrusted).reason).toBe('expired');
    });

    it('let every known card in when the rule allows, as on a trusted clock', () => {
      const anyone = member({ blocked: true, openAccess: false });
      expect(d(withRules({ clockUntrusted: 'allow' }), anyone, untrusted)).toEqual({ allow: true, reason: 'staffed', mode: 'staffed' });
    });
  });
});

describe('member checks before the mode', () => {
  it('blocked until lifted', () => {
    expect(d(policy, member({ blocked: true }), ctx(OPEN))).toEqual({ allow: false, reason: 'blocked', mode: 'open-access' });
  });
  it('a local block ends after its last day (inclusive)', () => {
    expect(d(policy, member({ blocked: true, blockedUntil: '2026-01-05' }), ctx(OPEN)).reason).toBe('blocked');
    expect(d(policy, member({ blocked: true, blockedUntil: '2026-01-04' }), ctx(OPEN)).reason).toBe('member');
  });
  it('blocked comes before closed', () => {
    expect(d(policy, member({ blocked: true }), ctx(CLOSED)).reason).toBe('blocked');
  });
  it('expired after the last valid day', () => {
    expect(d(policy, member({ expires: '2026-01-04' }), ctx(OPEN))).toEqual({ allow: false, reason: 'expired', mode: 'open-access' });
    expect(d(policy, member({ expires: '2026-01-05' }), ctx(OPEN)).reason).toBe('member');
  });
  it('the date is the local date: 00:30 BST on 15 June is 15 June, not 14', () => {
    const allDay = policyOf({ schedule: { weekly: everyDay([{ from: '00:00', to: '24:00', mode: 'open-access' }]) } });
    expect(d(allDay, member({ expires: '2026-06-14' }), ctx('2026-06-14T23:30:00Z')).reason).toBe('expired');
    expect(d(allDay, member({ expires: '2026-06-14' }), ctx('2026-06-14T22:59:00Z')).reason).toBe('member');
  });
});

describe('closed and changeover', () => {
  it('closed refuses members', () => {
    expect(d(policy, member(), ctx(CLOSED))).toEqual({ allow: false, reason: 'closed', mode: 'closed' });
  });
  it('changeover refuses members (only staff)', () => {
    expect(d(policy, member(), ctx(CHANGEOVER))).toEqual({ allow: false, reason: 'changeover', mode: 'changeover' });
    expect(d(policy, member(), ctx('2026-01-05T13:15:00Z')).reason).toBe('member');
  });
});

describe('group bookings while closed', () => {
  const scout = member({ groups: ['scouts'], birthDate: '2014-03-01', openAccess: false });

  it('let a group member in, naming the booking', () => {
    expect(d(policy, scout, ctx(SCOUTS_NIGHT))).toEqual({
      allow: true,
      reason: 'booking',
      mode: 'closed',
      booking: { group: 'scouts', label: 'Scouts', from: utc('2026-01-06T19:30:00Z'), to: utc('2026-01-06T21:30:00Z') },
    });
  });
  it('not outside the booked window, not another day, not another group', () => {
    expect(d(policy, scout, ctx('2026-01-06T21:30:00Z')).reason).toBe('closed');
    expect(d(policy, scout, ctx('2026-01-05T20:30:00Z')).reason).toBe('closed');
    expect(d(policy, member({ groups: ['knitting'] }), ctx(SCOUTS_NIGHT)).reason).toBe('closed');
  });
  it('a dated booking applies on its date only', () => {
    const player = member({ groups: ['chess-club'] });
    expect(d(policy, player, ctx('2026-01-07T21:00:00Z'))).toMatchObject({ allow: true, reason: 'booking' });
    expect(d(policy, player, ctx('2026-01-14T21:00:00Z')).reason).toBe('closed');
  });
  it('while open access is on, a booked member follows the open-access rules', () => {
    // 19:45: the booking has started but open access runs to 20:00; the scout is under 16 and not registered.
    expect(d(policy, scout, ctx('2026-01-06T19:45:00Z')).reason).toBe('not-registered');
  });
  it('still subject to blocked and expired', () => {
    expect(d(policy, { ...scout, blocked: true }, ctx(SCOUTS_NIGHT)).reason).toBe('blocked');
    expect(d(policy, { ...scout, expires: '2025-12-31' }, ctx(SCOUTS_NIGHT)).reason).toBe('expired');
  });
  it('subject to the minimum age unless the booking sets its own', () => {
    const player = member({ groups: ['chess-club'], birthDate: '2012-01-01' });
    expect(d(policy, player, ctx('2026-01-07T21:00:00Z')).reason).toBe('under-age');
  });
  it('registration only when bookingsNeedRegistration', () => {
    expect(d(withRules({ bookingsNeedRegistration: true }), scout, ctx(SCOUTS_NIGHT)).reason).toBe('not-registered');
  });
  it('clock trust, capacity and an always-PIN apply to booking entry too', () => {
    expect(d(policy, scout, ctx(SCOUTS_NIGHT, { clockTrusted: false })).reason).toBe('clock-untrusted');
    expect(d(policy, scout, ctx(SCOUTS_NIGHT, { occupancy: 10 })).reason).toBe('full');
    expect(d(withRules({ pin: 'always' }), { ...scout, pinHash: PIN_HASH }, ctx(SCOUTS_NIGHT)).reason).toBe('pin-required');
    expect(d(withRules({ pin: 'open-access' }), { ...scout, pinHash: PIN_HASH }, ctx(SCOUTS_NIGHT)).reason).toBe('booking');
  });
});

describe('open access', () => {
  it('lets a registered adult in', () => {
    expect(d(policy, member(), ctx(OPEN))).toEqual({ allow: true, reason: 'member', mode: 'open-access' });
  });
  it('not-registered unless registration is not required', () => {
    expect(d(policy, member({ openAccess: false }), ctx(OPEN))).toEqual({ allow: false, reason: 'not-registered', mode: 'open-access' });
    expect(d(withRules({ requireOpenAccessRegistration: false }), member({ openAccess: false }), ctx(OPEN)).reason).toBe('member');
  });

  it('clock-untrusted when the rule is deny (the default), not when allow', () => {
    expect(d(policy, member(), ctx(OPEN, { clockTrusted: false })).reason).toBe('clock-untrusted');
    expect(d(withRules({ clockUntrusted: 'allow' }), member(), ctx(OPEN, { clockTrusted: false })).reason).toBe('member');
  });

  it('last entry: 30 minutes before 20:00, refused from 19:30:00 exactly', () => {
    expect(d(policy, member(), ctx('2026-01-05T19:29:00Z')).reason).toBe('member');
    expect(d(policy, member(), ctx('2026-01-05T19:29:59.999Z')).reason).toBe('member');
    expect(d(policy, member(), ctx('2026-01-05T19:30:00Z'))).toEqual({ allow: false, reason: 'last-entry-passed', mode: 'open-access' });
    expect(d(policy, member(), ctx('2026-01-05T19:59:00Z')).reason).toBe('last-entry-passed');
  });
  it('no last-entry cutoff before staff take over (08:00–10:00 then staffed)', () => {
    expect(d(policy, member(), ctx('2026-01-05T09:45:00Z')).reason).toBe('member');
  });
  it('last entry follows the clock change (20:00 BST = 19:00Z in June)', () => {
    expect(d(policy, member(), ctx('2026-06-15T18:29:00Z')).reason).toBe('member');
    expect(d(policy, member(), ctx('2026-06-15T18:30:00Z')).reason).toBe('last-entry-passed');
  });
  it('full at capacity', () => {
    expect(d(policy, member(), ctx(OPEN, { occupancy: 9 })).reason).toBe('member');
    expect(d(policy, member(), ctx(OPEN, { occupancy: 10 }))).toEqual({ allow: false, reason: 'full', mode: 'open-access' });
    expect(d(withRules({ capacity: null }), member(), ctx(OPEN, { occupancy: 1000 })).reason).toBe('member');
  });
  it('checks run in the documented order', () => {
    const everythingWrong = member({ openAccess: false, birthDate: '2015-01-01' });
    expect(d(policy, everythingWrong, ctx('2026-01-05T19:45:00Z', { clockTrusted: false, occupancy: 50 })).reason).toBe('not-registered');
    expect(d(policy, { ...everythingWrong, openAccess: true }, ctx('2026-01-05T19:45:00Z', { clockTrusted: false, occupancy: 50 })).reason).toBe('under-age');
    expect(d(policy, member(), ctx('2026-01-05T19:45:00Z', { clockTrusted: false, occupancy: 50 })).reason).toBe('clock-untrusted');
    expect(d(policy, member(), ctx('2026-01-05T19:45:00Z', { occupancy: 50 })).reason).toBe('last-entry-passed');
  });
});

describe('minimum age', () => {
  const allDay = (minimumAge: number | null): Policy =>
    policyOf({ schedule: { weekly: everyDay([{ from: '00:00', to: '24:00', mode: 'open-access' }]) }, rules: { minimumAge } });
  const at = (date: string): DecisionContext => ctx(`${date}T12:00:00Z`);
  const born = (birthDate: string): Member => member({ birthDate });

  it('16: allowed on the 16th birthday, refused the day before', () => {
    expect(d(allDay(16), born('2010-03-10'), at('2026-03-10')).reason).toBe('member');
    expect(d(allDay(16), born('2010-03-10'), at('2026-03-09'))).toEqual({ allow: false, reason: 'under-age', mode: 'open-access' });
  });
  it('18: allowed on the 18th birthday, refused the day before', () => {
    expect(d(allDay(18), born('2008-07-01'), at('2026-07-01')).reason).toBe('member');
    expect(d(allDay(18), born('2008-07-01'), at('2026-06-30')).reason).toBe('under-age');
  });
  it('the birthday is the local date: 00:30 BST on the birthday counts', () => {
    expect(d(allDay(18), born('2008-07-01'), ctx('2026-06-30T23:30:00Z')).reason).toBe('member');
    expect(d(allDay(18), born('2008-07-01'), ctx('2026-06-30T22:59:00Z')).reason).toBe('under-age');
  });
  it('born on 29 February: a year older on 1 March in a common year, on 29 February in a leap year', () => {
    expect(d(allDay(18), born('2008-02-29'), at('2026-02-28')).reason).toBe('under-age');
    expect(d(allDay(18), born('2008-02-29'), at('2026-03-01')).reason).toBe('member');
    expect(d(allDay(16), born('2012-02-29'), at('2028-02-28')).reason).toBe('under-age');
    expect(d(allDay(16), born('2012-02-29'), at('2028-02-29')).reason).toBe('member');
  });
  it('the adult flag where no birth date is held; unknown age refuses', () => {
    const adult = member({ birthDate: null, adult: true });
    const minor = member({ birthDate: null, adult: false });
    const unknown = member({ birthDate: null, adult: null });
    expect(d(allDay(16), adult, at('2026-03-10')).reason).toBe('member');
    expect(d(allDay(18), adult, at('2026-03-10')).reason).toBe('member');
    expect(d(allDay(21), adult, at('2026-03-10')).reason).toBe('under-age');
    expect(d(allDay(16), minor, at('2026-03-10')).reason).toBe('under-age');
    expect(d(allDay(16), unknown, at('2026-03-10')).reason).toBe('under-age');
    expect(d(allDay(null), unknown, at('2026-03-10')).reason).toBe('member');
  });
});

describe('accompanied minors (rules.accompaniedMinors)', () => {
  const child = member({ birthDate: '2016-04-01' });
  const withCompany = withRules({ accompaniedMinors: { seconds: 60 } });
  const afterAdult = (at: string, msAgo: number | null, more: Partial<DecisionContext> = {}): DecisionContext => ctx(at, { adultGrantedMsAgo: msAgo, ...more });

  it('lets an under-age card in within the seconds after an adult at the door, logged as accompanied', () => {
    expect(d(withCompany, child, afterAdult(OPEN, 0))).toEqual({ allow: true, reason: 'accompanied', mode: 'open-access' });
    expect(d(withCompany, child, afterAdult(OPEN, 60_000)).reason).toBe('accompanied');
  });
  it('refuses it as under-age after the seconds, with no adult remembered, or with the clock stepped back', () => {
    expect(d(withCompany, child, afterAdult(OPEN, 60_001)).reason).toBe('under-age');
    expect(d(withCompany, child, afterAdult(OPEN, null)).reason).toBe('under-age');
    expect(d(withCompany, child, ctx(OPEN)).reason).toBe('under-age');
    expect(d(withCompany, child, afterAdult(OPEN, -1)).reason).toBe('under-age');
  });
  it('is off unless set: the same child just after an adult is refused as today', () => {
    expect(policy.rules.accompaniedMinors).toBeUndefined();
    expect(d(policy, child, afterAdult(OPEN, 0)).reason).toBe('under-age');
  });
  it('lifts only the age: a blocked or expired child, a full building and the PIN still refuse', () => {
    expect(d(withCompany, { ...child, blocked: true }, afterAdult(OPEN, 0)).reason).toBe('blocked');
    expect(d(withCompany, { ...child, expires: '2025-12-31' }, afterAdult(OPEN, 0)).reason).toBe('expired');
    expect(d(withCompany, child, afterAdult(OPEN, 0, { occupancy: 10 })).reason).toBe('full');
    const pinPolicy = withRules({ accompaniedMinors: { seconds: 60 }, pin: 'open-access' });
    expect(d(pinPolicy, { ...child, pinHash: null }, afterAdult(OPEN, 0)).reason).toBe('not-registered');
  });
  it('an adult member changes nothing: granted as a member', () => {
    expect(d(withCompany, member(), afterAdult(OPEN, 0)).reason).toBe('member');
  });
  it('a booking with a minimum age: an under-age group member with an adult is let in as accompanied, with the booking', () => {
    const chess = withRules({ accompaniedMinors: { seconds: 60 } });
    const player = member({ birthDate: '2016-04-01', groups: ['chess-club'] });
    const decision = d(chess, player, afterAdult('2026-01-07T21:00:00Z', 5_000));
    expect(decision).toMatchObject({ allow: true, reason: 'accompanied', mode: 'closed', booking: { group: 'chess-club' } });
  });
  it('the seconds start only at an adult let in by their own right; a child let in does not start them again', () => {
    const at = utc(OPEN);
    expect(isAdultGrant(withCompany, member(), { allow: true, reason: 'member', mode: 'open-access' }, at)).toBe(true);
    expect(isAdultGrant(withCompany, child, { allow: true, reason: 'accompanied', mode: 'open-access' }, at)).toBe(false);
    // Over the minimum age (16) but not an adult: a 17-year-old does not bring children in.
    expect(isAdultGrant(withCompany, member({ birthDate: '2008-06-01' }), { allow: true, reason: 'member', mode: 'open-access' }, at)).toBe(false);
    expect(isAdultGrant(withCompany, member(), { allow: false, reason: 'full', mode: 'open-access' }, at)).toBe(false);
    expect(isAdultGrant(withCompany, member(), { allow: true, reason: 'staffed', mode: 'staffed' }, at)).toBe(false);
    expect(isAdultGrant(withCompany, member({ staff: true, birthDate: null }), { allow: true, reason: 'staff', mode: 'open-access' }, at)).toBe(false);
    expect(isAdultGrant(withCompany, member({ staff: true, birthDate: null, adult: true }), { allow: true, reason: 'staff', mode: 'open-access' }, at)).toBe(true);
  });
  it('the seconds are 1 to 600, and a policy without the rule does not carry it', () => {
    expect(parsePolicy({ version: 1, site: 'x', schedule: { weekly: {} }, rules: { accompaniedMinors: { seconds: 0 } } }).ok).toBe(false);
    expect(parsePolicy({ version: 1, site: 'x', schedule: { weekly: {} }, rules: { accompaniedMinors: { seconds: 601 } } }).ok).toBe(false);
    expect(parsePolicy({ version: 1, site: 'x', schedule: { weekly: {} }, rules: { accompaniedMinors: {} } }).ok).toBe(false);
    expect(Object.keys(policy.rules)).not.toContain('accompaniedMinors');
  });
});

const PIN_HASH = hashPin('2468', 'fixed-test-salt');

describe('PIN', () => {
  const pinPolicy = withRules({ pin: 'open-access' });
  const holder = member({ pinHash: PIN_HASH });

  it('pin-required when none was typed', () => {
    expect(d(pinPolicy, holder, ctx(OPEN))).toEqual({ allow: false, reason: 'pin-required', mode: 'open-access' });
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '' })).reason).toBe('pin-required');
  });
  it('the right PIN lets in; a wrong one is pin-wrong', () => {
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '2468' })).reason).toBe('member');
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '2469' }))).toEqual({ allow: false, reason: 'pin-wrong', mode: 'open-access' });
  });
  it("takes the caller's verdict (pinOk) over its own check: the gateway verifies off the event loop", () => {
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '2469', pinOk: true })).reason).toBe('member');
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '2468', pinOk: false })).reason).toBe('pin-wrong');
  });
  it('with pinSource sip2 a member with no PIN at the branch is asked for one, and the verdict decides', () => {
    const lmsPins = withRules({ pin: 'open-access', pinSource: 'sip2' });
    const noPin = member({ pinHash: null });
    expect(d(pinPolicy, noPin, ctx(OPEN)).reason).toBe('not-registered');
    expect(d(lmsPins, noPin, ctx(OPEN)).reason).toBe('pin-required');
    expect(d(lmsPins, noPin, ctx(OPEN, { pin: '2468', pinOk: true })).reason).toBe('member');
    expect(d(lmsPins, noPin, ctx(OPEN, { pin: '2468', pinOk: false })).reason).toBe('pin-wrong');
    // Without a verdict there is nothing at the branch to check against.
    expect(d(lmsPins, holder, ctx(OPEN, { pin: '2468' })).reason).toBe('pin-wrong');
  });
  it('the wrong PIN that reaches the limit says when to try again', () => {
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '0000', pinFailures: 4 }))).toEqual({
      allow: false,
      reason: 'pin-wrong',
      mode: 'open-access',
      retryAfter: new Date(utc(OPEN).getTime() + 30_000),
    });
  });
  it('locked for pinLockoutSeconds after pinMaxAttempts failures, even with the right PIN', () => {
    const last = new Date(utc(OPEN).getTime() - 10_000);
    expect(d(pinPolicy, holder, ctx(OPEN, { pin: '2468', pinFailures: 5, lastPinFailureAt: last }))).toEqual({
      allow: false,
      reason: 'pin-locked',
      mode: 'open-access',
      retryAfter: new Date(last.getTime() + 30_000),
    });
    // Locked is said before a PIN is asked for.
    expect(d(pinPolicy, holder, ctx(OPEN, { pinFailures: 5, lastPinFailureAt: last })).reason).toBe('pin-locked');
    // The lockout ends exactly pinLockoutSeconds after the last failure.
    const after = new Date(last.getTime() + 30_000);
    expect(d(pinPolicy, holder, ctx(after, { pin: '2468', pinFailures: 5, lastPinFailureAt: last })).reason).toBe('member');
  });
  it('a member with no PIN set has not completed registration', () => {
    expect(d(pinPolicy, member(), ctx(OPEN, { pin: '2468' })).reason).toBe('not-registered');
  });
  it('no PIN asked when pin is never, or for staff', () => {
    expect(d(policy, holder, ctx(OPEN)).reason).toBe('member');
    expect(d(withRules({ pin: 'always' }), member({ staff: true }), ctx(OPEN)).reason).toBe('staff');
  });
  it('PIN comes after capacity', () => {
    expect(d(pinPolicy, holder, ctx(OPEN, { occupancy: 10 })).reason).toBe('full');
  });
});

describe('determinism', () => {
  it('gives the same answer for the same input and does not change the policy', () => {
    const snapshot = JSON.stringify(policy);
    const c = ctx(OPEN, { occupancy: 3 });
    const first = decide(policy, member(), c);
    for (let i = 0; i < 100; i++) expect(decide(policy, member(), c)).toEqual(first);
    expect(JSON.stringify(policy)).toBe(snapshot);
  });
  it('answers taps out of time order correctly (no stale cached span)', () => {
    const m = member();
    const order = [OPEN, CLOSED, STAFFED, OPEN, CHANGEOVER, '2030-01-01T03:00:00Z', '2020-01-01T03:00:00Z', OPEN];
    const modes = order.map((at) => decide(policy, m, ctx(at)).mode);
    expect(modes).toEqual(['open-access', 'closed', 'staffed', 'open-access', 'changeover', 'closed', 'closed', 'open-access']);
  });
});

describe('a stale member list', () => {
  const stalePolicy = (rule?: 'deny' | 'allow'): Policy =>
    policyOf({
      schedule: { weekly: { mon: [{ from: '00:00', to: '24:00', mode: 'open-access' }] } },
      rules: rule === undefined ? {} : { staleMemberList: rule },
    });
  const member: Member = { expires: null, blocked: false, blockedUntil: null, openAccess: true, birthDate: '1980-01-01', adult: null, staff: false, groups: [], pinHash: null };
  const ctx: DecisionContext = { at: new Date('2026-11-23T12:00:00Z'), occupancy: 0, lockdown: false, emergency: false, clockTrusted: true };

  it('refuses members with member-list-stale by default, but not staff', () => {
    expect(d(stalePolicy(), member, { ...ctx, memberListStale: true })).toMatchObject({ allow: false, reason: 'member-list-stale' });
    expect(d(stalePolicy(), { ...member, staff: true }, { ...ctx, memberListStale: true })).toMatchObject({ allow: true, reason: 'staff' });
    expect(d(stalePolicy(), member, { ...ctx, memberListStale: false })).toMatchObject({ allow: true, reason: 'member' });
  });

  it('keeps letting members in when the branch chose to allow it', () => {
    expect(d(stalePolicy('allow'), member, { ...ctx, memberListStale: true })).toMatchObject({ allow: true, reason: 'member' });
  });
});
