import { describe, expect, it } from 'vitest';
import { parsePolicy, toLocalIso, type Policy, type PolicyInput } from '../../../policies/index.js';
import { outputChanges, outputsAt } from '../../../policies/outputs.js';
import { example, policyOf, utc } from './helpers.js';

/** The town library (Monday 15 June 2026, BST: open access 08:00–10:00, staffed 10:00–13:00, changeover to 13:15, open access to 20:00) with outputs. */
function townWith(outputs: PolicyInput['outputs']): Policy {
  return policyOf({ ...example('town'), outputs });
}

const local = (policy: Policy, d: Date): string => toLocalIso(policy, d).slice(11, 16);

describe('switched outputs follow runs of modes with minute offsets', () => {
  const policy = townWith({
    // PCs: on 10 minutes before the day's first opening, off 15 minutes before the last close.
    pcs: [{ during: ['open-access', 'staffed', 'changeover'], fromMinutes: -10, untilMinutes: -15 }],
    // The kiosk only in open access, from its start to its end.
    kiosk: [{ during: ['open-access'] }],
  });

  it('PCs come on at 07:50 and go off at 19:45, once, however many modes the day passes through', () => {
    const changes = outputChanges(policy, utc('2026-06-15T00:00:00Z'), utc('2026-06-16T00:00:00Z')).filter((c) => c.output === 'pcs');
    expect(changes.map((c) => [local(policy, c.at), c.on])).toEqual([
      ['07:50', true],
      ['19:45', false],
    ]);
  });

  it('an output with no window for a mode is off in it: the kiosk is off in staffed hours and changeover', () => {
    const changes = outputChanges(policy, utc('2026-06-15T00:00:00Z'), utc('2026-06-16T00:00:00Z')).filter((c) => c.output === 'kiosk');
    expect(changes.map((c) => [local(policy, c.at), c.on])).toEqual([
      ['08:00', true],
      ['10:00', false],
      ['13:15', true],
      ['20:00', false],
    ]);
  });

  it('outputsAt agrees at the edges: 15 minutes before the end the PCs are off, the kiosk still on', () => {
    expect(outputsAt(policy, utc('2026-06-15T18:44:59Z'))).toEqual({ pcs: true, kiosk: true });
    expect(outputsAt(policy, utc('2026-06-15T18:45:00Z'))).toEqual({ pcs: false, kiosk: true });
    expect(outputsAt(policy, utc('2026-06-15T06:49:59Z'))).toEqual({ pcs: false, kiosk: false });
    expect(outputsAt(policy, utc('2026-06-15T06:50:00Z'))).toEqual({ pcs: true, kiosk: false });
  });

  it('a window over closed hours reaches back across the night (heating on from 1 hour after close until 2 hours before opening is off)', () => {
    const night = townWith({ heating: [{ during: ['closed'], fromMinutes: 60, untilMinutes: -120 }] });
    // Closed from Sunday 15:00 (BST) to Monday 08:00: on 16:00 Sunday, off 06:00 Monday.
    expect(outputsAt(night, utc('2026-06-15T04:00:00Z'))).toEqual({ heating: true });
    expect(outputsAt(night, utc('2026-06-15T05:00:00Z'))).toEqual({ heating: false });
  });

  it('a policy without outputs schedules none', () => {
    expect(outputsAt(example('town'), utc('2026-06-15T10:00:00Z'))).toEqual({});
  });
});

describe('bad output schedules are refused with the path', () => {
  const errorsOf = (outputs: unknown, more: Record<string, unknown> = {}): string[] => {
    const parsed = parsePolicy({ ...example('town'), outputs, ...more });
    return parsed.ok ? [] : parsed.errors;
  };

  it('two windows of one output over the same mode', () => {
    expect(errorsOf({ pcs: [{ during: ['open-access'] }, { during: ['staffed', 'open-access'] }] })).toEqual([
      expect.stringMatching(/^outputs\.pcs\[1\]\.during: overlaps pcs\[0\]: open-access is in both/),
    ]);
  });

  it('an offset beyond 4 hours, an unknown mode, a bad id', () => {
    expect(errorsOf({ pcs: [{ during: ['open-access'], fromMinutes: -300 }] })).toEqual([expect.stringMatching(/^outputs\.pcs\[0\]\.fromMinutes: must be at least -240/)]);
    expect(errorsOf({ pcs: [{ during: ['lockdown'] }] })).toEqual([expect.stringMatching(/^outputs\.pcs\[0\]\.during\[0\]/)]);
    expect(errorsOf({ 'PCs!': [{ during: ['staffed'] }] })[0]).toMatch(/^outputs.*must be 1–32 lower case letters/);
  });

  it('announcements: an unknown phrase, a repeated language, a repeated volume time', () => {
    expect(errorsOf(undefined, { announcements: { phrases: { en: { goodbye: 'Bye' } } } })[0]).toMatch(/^announcements\.phrases\.en/);
    expect(errorsOf(undefined, { announcements: { languages: ['cy', 'cy'] } })).toEqual([expect.stringMatching(/^announcements\.languages: must not repeat a language/)]);
    expect(
      errorsOf(undefined, { announcements: { volume: [{ from: '08:00', percent: 80 }, { from: '08:00', percent: 40 }] } }),
    ).toEqual([expect.stringMatching(/^announcements\.volume: must not repeat a time/)]);
  });

  it('announcements: a language with no words for a phrase is refused at parse (central, the branch and check-config alike)', () => {
    const errors = errorsOf(undefined, { announcements: { languages: ['cy', 'ga'], phrases: { ga: { welcome: 'Fáilte.' } } } });
    expect(errors).toHaveLength(7);
    expect(errors).toContain('announcements.phrases.ga.evacuate: no words for evacuate in "ga": there are built-in words only for en and cy, so give them here');
    expect(errors.join('\n')).not.toContain('ga.welcome');
    expect(errorsOf(undefined, { announcements: { languages: ['cy', 'en-GB'] } })).toEqual([]);
  });

  it('intruderAlarm: unsetting at closed hours by a member card is not a choice', () => {
    expect(errorsOf(undefined, { intruderAlarm: { unsetInClosedHours: 'member-card' } })[0]).toMatch(/^intruderAlarm\.unsetInClosedHours/);
  });
});
