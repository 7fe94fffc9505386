// Who is on call, in Europe/London, across midnight and across both DST changes of 2025 (forward at 01:00 GMT on
// 30 March, back at 02:00 BST on 26 October, both Sundays).
import { describe, expect, it } from 'vitest';
import { onCallAt, RotaSchema, type Rota } from '../../../central/alerts/rota.js';
import { validate } from '../../../policies/errors.js';
import { zone } from '../../../policies/time.js';

const london = zone('Europe/London');
const rota = (input: unknown): Rota => RotaSchema.parse(input);
const who = (r: Rota, at: string): string | null => onCallAt(r, london, new Date(at))?.contact ?? null;

const dayAndNight = rota({
  shifts: [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '08:00', to: '20:00', contact: 'Dee' },
    { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '20:00', to: '08:00', contact: 'Nick' },
  ],
});

describe('rota lookups', () => {
  it('a night shift covers the early hours of the next day, by the day it started on', () => {
    const weekend = rota({
      shifts: [
        { days: ['sun'], from: '22:00', to: '06:00', contact: 'Sam' },
        { days: ['mon'], from: '06:00', to: '22:00', contact: 'Mo' },
      ],
    });
    expect(who(weekend, '2025-06-01T21:59:00Z')).toBe('Sam'); // Sun 22:59 BST
    expect(who(weekend, '2025-06-01T23:30:00Z')).toBe('Sam'); // Mon 00:30 BST: Sunday's shift
    expect(who(weekend, '2025-06-02T04:59:00Z')).toBe('Sam'); // Mon 05:59
    expect(who(weekend, '2025-06-02T05:00:00Z')).toBe('Mo'); // Mon 06:00
    expect(who(weekend, '2025-06-02T21:00:00Z')).toBeNull(); // Mon 22:00: nobody, no fallback
  });

  it('says when the shift ends, and a gap goes to the fallback', () => {
    const r = rota({ shifts: [{ days: ['mon'], from: '09:00', to: '17:00', contact: 'Ann' }], fallback: 'Duty' });
    expect(onCallAt(r, london, new Date('2025-06-02T10:00:00Z'))).toEqual({ contact: 'Ann', shift: 0, until: new Date('2025-06-02T16:00:00Z') });
    expect(onCallAt(r, london, new Date('2025-06-02T16:00:00Z'))).toEqual({ contact: 'Duty', shift: null, until: null });
  });

  it('in spring the night is an hour shorter, and nobody is lost in the gap', () => {
    // Sat 29 March 20:00 GMT → Sun 30 March 08:00 BST (07:00 UTC): 11 hours.
    expect(who(dayAndNight, '2025-03-29T20:00:00Z')).toBe('Nick');
    expect(who(dayAndNight, '2025-03-30T01:00:00Z')).toBe('Nick'); // 02:00 BST, just after the gap
    expect(who(dayAndNight, '2025-03-30T06:59:59Z')).toBe('Nick'); // 07:59:59 BST
    expect(who(dayAndNight, '2025-03-30T07:00:00Z')).toBe('Dee'); // 08:00 BST
    expect(onCallAt(dayAndNight, london, new Date('2025-03-30T01:00:00Z'))?.until).toEqual(new Date('2025-03-30T07:00:00Z'));
  });

  it('a shift starting inside the spring gap starts when the gap ends', () => {
    const r = rota({ shifts: [{ days: ['sun'], from: '01:30', to: '03:00', contact: 'Gap' }] });
    expect(who(r, '2025-03-30T00:59:59Z')).toBeNull(); // 00:59:59 GMT
    expect(who(r, '2025-03-30T01:00:00Z')).toBe('Gap'); // 02:00 BST, the first instant after the gap
    expect(who(r, '2025-03-30T02:00:00Z')).toBeNull(); // 03:00 BST
  });

  it('in autumn the night is an hour longer, both 01:30s included', () => {
    // Sat 25 October 20:00 BST (19:00 UTC) → Sun 26 October 08:00 GMT (08:00 UTC): 13 hours.
    expect(who(dayAndNight, '2025-10-25T19:00:00Z')).toBe('Nick');
    expect(who(dayAndNight, '2025-10-26T00:30:00Z')).toBe('Nick'); // 01:30 BST
    expect(who(dayAndNight, '2025-10-26T01:30:00Z')).toBe('Nick'); // 01:30 GMT, the second time
    expect(who(dayAndNight, '2025-10-26T07:59:00Z')).toBe('Nick');
    expect(who(dayAndNight, '2025-10-26T08:00:00Z')).toBe('Dee');
  });

  it('a shift ending in the repeated hour ends at its first occurrence', () => {
    const r = rota({ shifts: [{ days: ['sat'], from: '22:00', to: '01:30', contact: 'Late' }] });
    expect(who(r, '2025-10-26T00:29:00Z')).toBe('Late'); // 01:29 BST
    expect(who(r, '2025-10-26T00:30:00Z')).toBeNull(); // 01:30 BST, the first 01:30
    expect(who(r, '2025-10-26T01:15:00Z')).toBeNull(); // 01:15 GMT, the second time round
  });
});

describe('rota validation', () => {
  it('refuses overlapping shifts, naming both, also across midnight and the week end', () => {
    const r = validate(RotaSchema, {
      shifts: [
        { days: ['sun'], from: '20:00', to: '08:00', contact: 'Sun' },
        { days: ['mon'], from: '07:00', to: '12:00', contact: 'Mon' },
        { days: ['tue'], from: '08:00', to: '12:00', contact: 'Tue' },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(['shifts[1]: overlaps shifts[0] (sun 20:00–08:00, Sun)']);
  });

  it('refuses a shift of no length and a start at 24:00, and accepts a whole day', () => {
    const r = validate(RotaSchema, {
      shifts: [
        { days: ['mon'], from: '08:00', to: '08:00', contact: 'A' },
        { days: ['tue', 'tue'], from: '24:00', to: '08:00', contact: 'B' },
      ],
    });
    expect(r.ok ? [] : r.errors).toEqual([
      'shifts[0].to: must differ from from (a whole day is 00:00 to 24:00)',
      'shifts[1].days[1]: tue is listed twice',
      'shifts[1].from: must be before 24:00 (a shift starting at midnight starts at 00:00)',
    ]);
    expect(validate(RotaSchema, { shifts: [{ days: ['wed'], from: '00:00', to: '24:00', contact: 'All' }] }).ok).toBe(true);
  });
});
