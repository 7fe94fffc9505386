import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { doorMessage, doorMessageText, modeMessage, type DoorDecision } from '../../../policies/door-messages.js';
import { GRANT_REASONS, REFUSAL_REASONS } from '../../../policies/index.js';
import { example, policyOf } from '../policies/helpers.js';

// The town example (Europe/London). June is BST, one hour ahead of UTC: the words must be the local times.
// Mon 15 June 2026 and Tue 16 June; 08:00–10:00 open access, 10:00–13:00 staffed, then changeover to 13:15,
// open access until 20:00 with last entry 30 minutes before.
const town = example('town');
const MONDAY_NIGHT = new Date('2026-06-15T20:00:00Z'); // 21:00 local, closed
const TUESDAY_OPEN = new Date('2026-06-16T14:00:00Z'); // 15:00 local, open access
const TUESDAY_CHANGEOVER = new Date('2026-06-16T12:05:00Z'); // 13:05 local
const TUESDAY_LAST_ENTRY = new Date('2026-06-16T18:45:00Z'); // 19:45 local

/** Where each reason of the doc's table is said: the instant that gives the times the table shows. */
const AT: Record<string, Date> = { closed: MONDAY_NIGHT, changeover: TUESDAY_CHANGEOVER, 'last-entry-passed': TUESDAY_LAST_ENTRY };

function decisionFor(reason: string, retrySeconds?: number): DoorDecision {
  const allow = (GRANT_REASONS as readonly string[]).includes(reason);
  const at = AT[reason] ?? TUESDAY_OPEN;
  return {
    allow,
    reason,
    ...(reason === 'booking' ? { booking: { label: '1st Riverside Scouts' } } : {}),
    ...(retrySeconds === undefined ? {} : { retryAfter: new Date(at.getTime() + retrySeconds * 1000) }),
  };
}

function say(reason: string, retrySeconds?: number): string {
  return doorMessageText(doorMessage(decisionFor(reason, retrySeconds), { policy: town, at: AT[reason] ?? TUESDAY_OPEN }));
}

/** docs/policies.md's table: each row's reason and the words in its last column, in order. */
function docTable(): Array<{ reason: string; words: string[] }> {
  const doc = readFileSync(new URL('../../../docs/policies.md', import.meta.url), 'utf8');
  const section = doc.split('\n## Reason codes and what the door panel says\n')[1]!;
  const rows = section.split('\n## ')[0]!.split('\n').filter((line) => /^\| `[a-z-]+`/.test(line));
  return rows.map((line) => {
    const cells = line.split(' | ');
    return { reason: /`([a-z-]+)`/.exec(cells[0]!)![1]!, words: [...cells.at(-1)!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) };
  });
}

describe('what the door says', () => {
  it('has words in the doc’s table for every reason the policies know, and says them', () => {
    const table = docTable();
    const documented = table.map((row) => row.reason).sort();
    expect(documented).toEqual([...GRANT_REASONS, ...REFUSAL_REASONS].sort());
    for (const { reason, words } of table) {
      // pin-locked's one example is the retry time; pin-wrong's second is the wrong PIN that locked the card.
      expect(say(reason, reason === 'pin-locked' ? 25 : undefined), reason).toBe(words[0]);
      if (reason === 'pin-wrong') expect(say(reason, 30)).toBe(words[1]);
    }
  });

  it('tells the refused when to come back, in the branch’s own time zone', () => {
    expect(doorMessage(decisionFor('closed'), { policy: town, at: MONDAY_NIGHT })).toEqual({
      tone: 'refused',
      title: 'The library is closed.',
      detail: 'Open again Tuesday 08:00.',
    });
    // The same instants in another zone say other hours: the times are the policy's, not the machine's.
    const newYork = { ...town, timezone: 'America/New_York' };
    expect(say('last-entry-passed')).toBe('Last entry was 19:30. The library closes at 20:00.');
    expect(doorMessageText(doorMessage(decisionFor('changeover'), { policy: newYork, at: new Date('2026-06-16T17:05:00Z') }))).toBe(
      'Getting ready for open access. Please try again at 13:15.',
    );
  });

  it('names the date as well when the library opens again a week or more away', () => {
    const holiday = policyOf({
      timezone: 'Europe/London',
      schedule: { weekly: { mon: [{ from: '09:00', to: '17:00', mode: 'open-access' }] }, exceptions: [{ date: '2026-12-28', label: 'Holiday' }] },
    });
    // Christmas Day 2026 is a Friday; the Monday after is a holiday, so the next opening is Monday 4 January.
    const message = doorMessage({ allow: false, reason: 'closed' }, { policy: holiday, at: new Date('2026-12-25T12:00:00Z') });
    expect(message.detail).toBe('Open again Monday 4 January 09:00.');
  });

  it('counts a PIN lockout down in seconds, then minutes', () => {
    expect(say('pin-locked', 1)).toBe('Too many wrong PINs. Try again in 1 second.');
    expect(say('pin-locked', 119)).toBe('Too many wrong PINs. Try again in 119 seconds.');
    expect(say('pin-locked', 301)).toBe('Too many wrong PINs. Try again in 6 minutes.');
  });

  it('says the branch’s own minimum age', () => {
    const adultsOnly = { ...town, rules: { ...town.rules, minimumAge: 18 } };
    expect(doorMessage({ allow: false, reason: 'under-age' }, { policy: adultsOnly, at: TUESDAY_OPEN }).title).toBe('Open access is for members aged 18 and over.');
  });

  it('never says why a card is blocked', () => {
    expect(say('blocked')).toBe("This card can't be used for entry. Please contact the library.");
    expect(say('blocked')).not.toMatch(/fine|debar|owe|overdue/i);
  });

  it('gives a reason from a newer peer neutral words, and a grant it does not know a welcome', () => {
    const context = { policy: town, at: TUESDAY_OPEN };
    expect(doorMessage({ allow: false, reason: 'some-future-reason' }, context)).toEqual({ tone: 'prompt', title: 'Please ask staff.' });
    expect(doorMessage({ allow: true, reason: 'some-future-grant' }, context)).toEqual({ tone: 'welcome', title: 'Welcome' });
  });

  it('sets the tone: a welcome for a grant, a prompt for the PIN, a refusal for the rest', () => {
    const context = { policy: town, at: TUESDAY_OPEN };
    expect(doorMessage({ allow: true, reason: 'member' }, context).tone).toBe('welcome');
    expect(doorMessage({ allow: false, reason: 'pin-required' }, context).tone).toBe('prompt');
    expect(doorMessage({ allow: false, reason: 'expired' }, context).tone).toBe('refused');
  });

  it('says the mode and its next change: today’s by the time alone, a later day’s with its weekday', () => {
    expect(modeMessage('open-access', new Date('2026-06-16T19:00:00Z'), { policy: town, at: TUESDAY_OPEN })).toEqual({ words: 'Open access', next: 'until 20:00' });
    expect(modeMessage('closed', new Date('2026-06-16T07:00:00Z'), { policy: town, at: MONDAY_NIGHT })).toEqual({ words: 'Closed', next: 'until Tuesday 08:00' });
    // A lockdown ends when someone ends it, whatever the schedule says next.
    expect(modeMessage('lockdown', new Date('2026-06-16T19:00:00Z'), { policy: town, at: TUESDAY_OPEN })).toEqual({ words: 'Closed for safety' });
  });
});
