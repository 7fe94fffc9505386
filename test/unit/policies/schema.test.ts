import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatIssues, loadPolicyText, parsePolicy, PolicySchema, validate } from '../../../policies/index.js';

const minimal = { version: 1, site: 'town-central', schedule: { weekly: { mon: [{ from: '09:00', to: '17:00', mode: 'staffed' }] } } };

function errorsOf(doc: unknown): string[] {
  const r = parsePolicy(doc);
  if (r.ok) throw new Error('expected the policy to be rejected');
  return r.errors;
}

function withWeekly(weekly: unknown): unknown {
  return { version: 1, site: 'x', schedule: { weekly } };
}

describe('policy document: defaults', () => {
  it('fills every default from a minimal document', () => {
    const r = parsePolicy(minimal);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.timezone).toBe('Europe/London');
    expect(r.policy.schedule.weekly.tue).toEqual([]);
    expect(r.policy.schedule.exceptions).toEqual([]);
    expect(r.policy.schedule.changeoverMinutes).toBe(0);
    expect(r.policy.bookings).toEqual([]);
    expect(r.policy.rules).toEqual({
      requireOpenAccessRegistration: true,
      minimumAge: null,
      capacity: null,
      lastEntryMinutes: 0,
      pin: 'never',
      pinMaxAttempts: 5,
      pinLockoutSeconds: 30,
      staffAllowed: true,
      clockUntrusted: 'deny',
      staleMemberList: 'deny',
      bookingsNeedRegistration: false,
    });
    expect(r.policy.closing.warningMinutes).toEqual([15, 5]);
  });

  it('accepts windows in any order that touch without overlapping, and 24:00 as an end', () => {
    const r = parsePolicy(
      withWeekly({
        fri: [
          { from: '13:00', to: '24:00', mode: 'open-access' },
          { from: '10:00', to: '13:00', mode: 'staffed' },
        ],
      }),
    );
    expect(r.ok).toBe(true);
  });
});

describe('policy document: errors name the path and the reason', () => {
  it('a window that ends before it starts', () => {
    expect(
      errorsOf(
        withWeekly({
          mon: [
            { from: '08:00', to: '10:00', mode: 'open-access' },
            { from: '12:00', to: '11:00', mode: 'staffed' },
          ],
        }),
      ),
    ).toEqual(['schedule.weekly.mon[1].to: must be after from']);
  });

  it('a zero-length window and a window starting at 24:00', () => {
    expect(errorsOf(withWeekly({ tue: [{ from: '10:00', to: '10:00', mode: 'staffed' }] }))).toEqual([
      'schedule.weekly.tue[0].to: must be after from',
    ]);
    expect(errorsOf(withWeekly({ tue: [{ from: '24:00', to: '24:00', mode: 'staffed' }] }))).toEqual([
      'schedule.weekly.tue[0].to: must be after from',
    ]);
  });

  it('overlapping windows, including a long one over several short ones', () => {
    expect(
      errorsOf(
        withWeekly({
          wed: [
            { from: '08:00', to: '20:00', mode: 'open-access' },
            { from: '09:00', to: '10:00', mode: 'staffed' },
            { from: '11:00', to: '12:00', mode: 'staffed' },
          ],
        }),
      ),
    ).toEqual(['schedule.weekly.wed[1]: overlaps wed[0] (08:00–20:00)', 'schedule.weekly.wed[2]: overlaps wed[0] (08:00–20:00)']);
  });

  it('an unknown mode', () => {
    expect(errorsOf(withWeekly({ mon: [{ from: '08:00', to: '10:00', mode: 'self-service' }] }))).toEqual([
      'schedule.weekly.mon[0].mode: must be one of "staffed", "open-access", "closed" (got "self-service")',
    ]);
  });

  it('bad times', () => {
    expect(
      errorsOf(
        withWeekly({
          mon: [
            { from: '8:00', to: '10:00', mode: 'staffed' },
            { from: '10:00', to: '24:30', mode: 'staffed' },
            { from: 480, to: '25:00', mode: 'staffed' },
          ],
        }),
      ),
    ).toEqual([
      'schedule.weekly.mon[0].from: must be a time HH:MM from 00:00 to 24:00',
      'schedule.weekly.mon[1].to: must be a time HH:MM from 00:00 to 24:00',
      'schedule.weekly.mon[2].from: must be a time "HH:MM" in quotes',
      'schedule.weekly.mon[2].to: must be a time HH:MM from 00:00 to 24:00',
    ]);
  });

  it('a time zone Intl does not know', () => {
    expect(errorsOf({ ...minimal, timezone: 'Europe/Londn' })).toEqual(['timezone: must be an IANA time zone such as "Europe/London"']);
  });

  it('unknown keys at every level, each on its own line', () => {
    expect(
      errorsOf({
        ...minimal,
        colour: 'blue',
        schedule: { weekly: { mon: [{ from: '09:00', to: '17:00', mode: 'staffed', note: 'x' }] }, exeptions: [] },
        rules: { minimumAge: 16, pinn: 'always' },
      }),
    ).toEqual(['schedule.weekly.mon[0].note: unknown key', 'schedule.exeptions: unknown key', 'rules.pinn: unknown key', 'colour: unknown key']);
  });

  it('an unknown weekday', () => {
    expect(errorsOf(withWeekly({ monday: [] }))).toEqual(['schedule.weekly.monday: unknown key']);
  });

  it('bad dates: not a real day, 29 February of a common year, a duplicate', () => {
    expect(
      errorsOf({
        ...minimal,
        schedule: {
          weekly: {},
          exceptions: [
            { date: '2026-13-01' },
            { date: '2027-02-29', label: 'not a leap year' },
            { date: '2028-02-29', label: 'leap day' },
            { date: '2028-02-29', label: 'again' },
            { date: '25/12/2026' },
          ],
        },
      }),
    ).toEqual([
      'schedule.exceptions[0].date: must be a real date YYYY-MM-DD',
      'schedule.exceptions[1].date: must be a real date YYYY-MM-DD',
      'schedule.exceptions[4].date: must be a real date YYYY-MM-DD',
      'schedule.exceptions[3].date: same date as exceptions[2]',
    ]);
  });

  it('errors in exception windows name the exception', () => {
    expect(
      errorsOf({
        ...minimal,
        schedule: { weekly: {}, exceptions: [{ date: '2026-12-24', windows: [{ from: '13:00', to: '09:00', mode: 'staffed' }] }] },
      }),
    ).toEqual(['schedule.exceptions[0].windows[0].to: must be after from']);
  });

  it('required fields and wrong types', () => {
    expect(errorsOf({ site: 'Town Central', schedule: { weekly: {}, changeoverMinutes: -5 } })).toEqual([
      'version: required',
      'site: must be lower case letters, digits and dashes (at most 63)',
      'schedule.changeoverMinutes: must be at least 0',
    ]);
    expect(errorsOf({ version: 1.5, site: 'x' })).toEqual(['version: must be a whole number (got 1.5)', 'schedule: required']);
    expect(errorsOf([])).toEqual(['(root): must be a object (got a list)']);
  });

  it('rules: bad values', () => {
    expect(
      errorsOf({ ...minimal, rules: { minimumAge: '16', capacity: 0, pin: 'sometimes', clockUntrusted: 'maybe', staffAllowed: 'yes' } }),
    ).toEqual([
      'rules.minimumAge: must be a number (got "16")',
      'rules.capacity: must be greater than 0',
      'rules.pin: must be one of "never", "open-access", "always" (got "sometimes")',
      'rules.staffAllowed: must be a boolean (got "yes")',
      'rules.clockUntrusted: must be one of "deny", "allow" (got "maybe")',
    ]);
  });

  it('closing warnings must not repeat', () => {
    expect(errorsOf({ ...minimal, closing: { warningMinutes: [5, 5] } })).toEqual(['closing.warningMinutes: must not repeat a value']);
  });

  it('bookings: weekly or dated, not both, not neither, with times in the right place', () => {
    expect(
      errorsOf({
        ...minimal,
        bookings: [
          { group: 'scouts' },
          { group: 'scouts', weekly: { day: 'tue', from: '19:00', to: '21:00' }, date: '2026-06-16' },
          { group: 'scouts', date: '2026-06-16', from: '19:00' },
          { group: 'scouts', weekly: { day: 'tue', from: '19:00', to: '21:00' }, from: '19:00' },
          { group: 'scouts', date: '2026-06-16', from: '21:00', to: '19:00' },
          { group: 'scouts', weekly: { day: 'tuesday', from: '21:00', to: '19:00' } },
        ],
      }),
    ).toEqual([
      'bookings[0]: needs weekly: { day, from, to } or date with from and to',
      'bookings[1].date: use either weekly or date, not both',
      'bookings[2].to: required with date',
      'bookings[3].from: goes inside weekly with a weekly booking',
      'bookings[4].to: must be after from',
      'bookings[5].weekly.day: must be one of "mon", "tue", "wed", "thu", "fri", "sat", "sun" (got "tuesday")',
      'bookings[5].weekly.to: must be after from',
    ]);
  });
});

describe('loadPolicyText', () => {
  it('reads YAML 1.2: times and dates stay strings', () => {
    const r = loadPolicyText(
      ['version: 2', 'site: village', 'schedule:', '  weekly:', '    sat: [{ from: 08:00, to: 20:00, mode: open-access }]', '  exceptions:', '    - date: 2026-12-25'].join('\n'),
      'village.yaml',
    );
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.policy.schedule.weekly.sat).toEqual([{ from: '08:00', to: '20:00', mode: 'open-access' }]);
      expect(r.policy.schedule.exceptions).toEqual([{ date: '2026-12-25', windows: [] }]);
    }
  });

  it('reads JSON by file name', () => {
    const r = loadPolicyText(JSON.stringify(minimal), 'policy.json');
    expect(r.ok).toBe(true);
  });

  it('reports syntax errors with the file and position', () => {
    const yaml = loadPolicyText('version: 1\nsite: [unclosed\n', 'bad.yaml');
    expect(yaml.ok).toBe(false);
    if (!yaml.ok) expect(yaml.errors[0]).toBe('bad.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]');
    const json = loadPolicyText('{"version": 1,', 'bad.json');
    expect(json.ok).toBe(false);
    if (!json.ok) expect(json.errors[0]).toMatch(/^bad\.json: /);
  });

  it('refuses a duplicated key rather than keeping the last one', () => {
    const r = loadPolicyText('version: 1\nversion: 2\nsite: x\nschedule: { weekly: {} }\n', 'dup.yaml');
    expect(r.ok).toBe(false);
  });
});

describe('formatIssues (shared by every schema)', () => {
  it('formats nested paths, indexes and odd keys', () => {
    const schema = z.strictObject({ a: z.array(z.strictObject({ 'b c': z.number() })) });
    const r = schema.safeParse({ a: [{ 'b c': 1 }, { 'b c': 'x' }], extra: 1 });
    expect(r.success).toBe(false);
    if (!r.success) {
      const lines = formatIssues(r.error);
      expect(lines[0]).toMatch(/^a\[1\]\["b c"\]: /);
      expect(lines[1]).toBe('extra: unknown key');
    }
  });

  it('validate() gives plain messages with the input', () => {
    expect(validate(z.strictObject({ n: z.int().min(3) }), { n: 2 })).toEqual({ ok: false, errors: ['n: must be at least 3'] });
    expect(validate(PolicySchema, minimal).ok).toBe(true);
  });
});
