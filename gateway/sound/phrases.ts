// What the loudspeakers say: each phrase's words in English and Welsh, the policy's own words over them, and the
// order a message is spoken in (a bilingual branch: Welsh first, then English, as the policy lists its languages).
// Numbers are spoken as words, so that espeak-ng and a reader of the text say the same thing.
import { PHRASE_IDS } from '../../policies/schema.js';
import type { AnnouncementsPolicy, PhraseId } from '../../policies/schema.js';

export { PHRASE_IDS };
export type { PhraseId };

export interface PhraseParams {
  minutes?: number | undefined;
}

/** What the announcements need of the policy's section (its defaults already applied by the schema). */
export type AnnouncementsSettings = Pick<AnnouncementsPolicy, 'languages'> & Partial<Pick<AnnouncementsPolicy, 'phrases' | 'volume'>>;

/** Higher interrupts lower; a lower or equal one waits its turn. */
export const PHRASE_PRIORITY: Readonly<Record<PhraseId, number>> = {
  evacuate: 100,
  'please-leave': 50,
  'closing-now': 50,
  'door-held': 40,
  'closing-soon': 30,
  'booking-ending': 30,
  'help-acknowledged': 20,
  welcome: 10,
};
/** Words staff typed (the console, central's `announce`): after the closing messages, before a welcome. */
export const TEXT_PRIORITY = 30;
export const EVACUATE_PRIORITY = PHRASE_PRIORITY.evacuate;

/** The phrases that say a number of minutes: `{minutes}` in their words. */
export const PHRASES_WITH_MINUTES: readonly PhraseId[] = ['closing-soon', 'booking-ending'];

export function isPhraseId(value: string): value is PhraseId {
  return (PHRASE_IDS as readonly string[]).includes(value);
}

const EN: Record<PhraseId, string> = {
  welcome: 'Welcome to the library.',
  'closing-soon': 'The library closes in {minutes}. Please get ready to leave.',
  'closing-now': 'The library is now closed. Please leave the building by the main door.',
  'please-leave': 'The library is closed. Please leave the building now.',
  'door-held': 'Please close the door behind you.',
  evacuate: 'Attention please. The fire alarm has sounded. Leave the building now by the nearest exit. Do not use the lifts.',
  'booking-ending': 'Your booking ends in {minutes}. Please get ready to leave.',
  'help-acknowledged': 'Your call for help has been answered. Someone is on their way.',
};

const CY: Record<PhraseId, string> = {
  welcome: "Croeso i'r llyfrgell.",
  'closing-soon': "Mae'r llyfrgell yn cau mewn {minutes}. Paratowch i adael, os gwelwch yn dda.",
  'closing-now': "Mae'r llyfrgell ar gau nawr. Gadewch yr adeilad drwy'r prif ddrws, os gwelwch yn dda.",
  'please-leave': "Mae'r llyfrgell ar gau. Gadewch yr adeilad nawr, os gwelwch yn dda.",
  'door-held': 'Caewch y drws ar eich ôl, os gwelwch yn dda.',
  evacuate: "Sylw, os gwelwch yn dda. Mae'r larwm tân wedi canu. Gadewch yr adeilad nawr drwy'r allanfa agosaf. Peidiwch â defnyddio'r lifftiau.",
  'booking-ending': "Mae eich archeb yn dod i ben mewn {minutes}. Paratowch i adael, os gwelwch yn dda.",
  'help-acknowledged': "Mae eich galwad am help wedi cael ei hateb. Mae rhywun ar ei ffordd.",
};

const BUILT_IN: Readonly<Record<string, Record<PhraseId, string>>> = { en: EN, cy: CY };

const EN_UNITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const EN_TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

function englishNumber(n: number): string {
  if (n < 20) return EN_UNITS[n]!;
  if (n < 100) return `${EN_TENS[Math.floor(n / 10)]}${n % 10 === 0 ? '' : `-${EN_UNITS[n % 10]}`}`;
  return String(n);
}

function englishMinutes(n: number): string {
  return `${englishNumber(n)} ${n === 1 ? 'minute' : 'minutes'}`;
}

// Welsh counts a noun in two ways. The traditional forms put the noun after the number, mutated as the number asks
// (dau funud, pum munud, deng munud); they are what people say for the usual warnings. Any other number is said in
// the decimal system with "o funudau" (dau ddeg pump o funudau), which is correct for every number.
const CY_WITH_NOUN: Readonly<Record<number, string>> = {
  1: 'un munud',
  2: 'dau funud',
  3: 'tri munud',
  4: 'pedwar munud',
  5: 'pum munud',
  6: 'chwe munud',
  7: 'saith munud',
  8: 'wyth munud',
  9: 'naw munud',
  10: 'deng munud',
  12: 'deuddeg munud',
  15: 'pymtheg munud',
  18: 'deunaw munud',
  20: 'ugain munud',
  30: 'hanner awr',
  45: 'tri chwarter awr',
  60: 'awr',
};
const CY_UNITS = ['dim', 'un', 'dau', 'tri', 'pedwar', 'pump', 'chwech', 'saith', 'wyth', 'naw'];
const CY_TENS = ['', 'un deg', 'dau ddeg', 'tri deg', 'pedwar deg', 'pum deg', 'chwe deg', 'saith deg', 'wyth deg', 'naw deg'];

function welshDecimal(n: number): string {
  if (n < 10) return CY_UNITS[n]!;
  if (n < 100) return `${CY_TENS[Math.floor(n / 10)]}${n % 10 === 0 ? '' : ` ${CY_UNITS[n % 10]}`}`;
  return String(n);
}

function welshMinutes(n: number): string {
  return CY_WITH_NOUN[n] ?? `${welshDecimal(n)} o funudau`;
}

/** "{minutes}" as words with its unit, in a language (one whose base is neither English nor Welsh gets digits). */
export function minutesInWords(minutes: number, language: string): string {
  const n = Math.max(0, Math.round(minutes));
  const base = baseLanguage(language);
  if (base === 'cy') return welshMinutes(n);
  if (base === 'en') return englishMinutes(n);
  return String(n);
}

function baseLanguage(language: string): string {
  return language.split('-')[0]!.toLowerCase();
}

/** The built-in words of a phrase in a language, or its base language (`en-GB` → `en`); undefined when there are none. */
export function builtInText(phrase: PhraseId, language: string): string | undefined {
  return BUILT_IN[language]?.[phrase] ?? BUILT_IN[baseLanguage(language)]?.[phrase];
}

export interface SpokenText {
  language: string;
  text: string;
}

export class PhraseError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'PhraseError';
  }
}

/**
 * What to say for a phrase, language by language in the policy's order: its override, else the built-in words, with
 * `{minutes}` in words. Throws a PhraseError naming the policy path when a language has neither.
 */
export function textsFor(phrase: PhraseId, params: PhraseParams, settings: Pick<AnnouncementsSettings, 'languages' | 'phrases'>): SpokenText[] {
  return settings.languages.map((language) => {
    const template = settings.phrases?.[language]?.[phrase] ?? builtInText(phrase, language);
    if (template === undefined) throw new PhraseError(`announcements.phrases.${language}.${phrase}`, `no words for ${phrase} in "${language}": there are built-in words only for en and cy, so give them here`);
    return { language, text: fill(template, params, language) };
  });
}

function fill(template: string, params: PhraseParams, language: string): string {
  return template.replaceAll('{minutes}', params.minutes === undefined ? '' : minutesInWords(params.minutes, language)).replace(/\s+/g, ' ').trim();
}

/** Every phrase a language of the policy cannot say, as `path: reason` lines (for `oag check-config`); empty when all can be. */
export function checkPhrases(settings: Pick<AnnouncementsSettings, 'languages' | 'phrases'>): string[] {
  const errors: string[] = [];
  for (const language of settings.languages) {
    for (const phrase of PHRASE_IDS) {
      try {
        textsFor(phrase, { minutes: 5 }, { languages: [language], phrases: settings.phrases });
      } catch (error) {
        if (!(error instanceof PhraseError)) throw error;
        errors.push(error.message);
      }
    }
  }
  return errors;
}
