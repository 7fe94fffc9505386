// What the loudspeaker says: a bilingual branch hears Welsh then English, numbers as words, the policy's own words
// over the built-in ones, and a language nobody wrote words for is an error that names where to write them.
import { describe, expect, it } from 'vitest';
import { checkPhrases, minutesInWords, PHRASE_IDS, PHRASE_PRIORITY, textsFor } from '../../../gateway/sound/phrases.js';

describe('phrases', () => {
  it('are said in the policy’s languages in its order, with the minutes as words', () => {
    expect(textsFor('closing-soon', { minutes: 15 }, { languages: ['cy', 'en'] })).toEqual([
      { language: 'cy', text: "Mae'r llyfrgell yn cau mewn pymtheg munud. Paratowch i adael, os gwelwch yn dda." },
      { language: 'en', text: 'The library closes in fifteen minutes. Please get ready to leave.' },
    ]);
    expect(textsFor('closing-soon', { minutes: 5 }, { languages: ['en', 'cy'] }).map((t) => t.language)).toEqual(['en', 'cy']);
  });

  it('say minutes in words in both languages, with Welsh mutations and the decimal form for other numbers', () => {
    expect(minutesInWords(1, 'en')).toBe('one minute');
    expect(minutesInWords(25, 'en')).toBe('twenty-five minutes');
    expect(minutesInWords(2, 'cy')).toBe('dau funud');
    expect(minutesInWords(5, 'cy')).toBe('pum munud');
    expect(minutesInWords(10, 'cy')).toBe('deng munud');
    expect(minutesInWords(30, 'cy')).toBe('hanner awr');
    expect(minutesInWords(25, 'cy')).toBe('dau ddeg pump o funudau');
    expect(minutesInWords(5, 'en-GB')).toBe('five minutes');
  });

  it('take the policy’s words over the built-in ones, {minutes} filled in', () => {
    const texts = textsFor('closing-soon', { minutes: 10 }, { languages: ['cy', 'en'], phrases: { en: { 'closing-soon': 'We close in {minutes}, see you tomorrow.' } } });
    expect(texts[1]).toEqual({ language: 'en', text: 'We close in ten minutes, see you tomorrow.' });
    expect(texts[0]!.text).toContain('deng munud');
  });

  it('refuse a language with neither built-in words nor the policy’s, naming the path to fill in', () => {
    expect(() => textsFor('welcome', {}, { languages: ['ga'] })).toThrow(/^announcements\.phrases\.ga\.welcome: /);
    const errors = checkPhrases({ languages: ['en', 'ga'], phrases: { ga: { welcome: 'Fáilte go dtí an leabharlann.' } } });
    expect(errors).toHaveLength(PHRASE_IDS.length - 1);
    expect(errors.some((e) => e.startsWith('announcements.phrases.ga.evacuate: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('announcements.phrases.ga.welcome'))).toBe(false);
    expect(checkPhrases({ languages: ['cy', 'en'] })).toEqual([]);
  });

  it('rank the fire message above all and a greeting below all', () => {
    const others = PHRASE_IDS.filter((p) => p !== 'evacuate' && p !== 'welcome').map((p) => PHRASE_PRIORITY[p]);
    expect(Math.min(...others)).toBeGreaterThan(PHRASE_PRIORITY.welcome);
    expect(Math.max(...others)).toBeLessThan(PHRASE_PRIORITY.evacuate);
    expect(PHRASE_PRIORITY['please-leave']).toBeGreaterThan(PHRASE_PRIORITY['closing-soon']);
  });
});
