// What the loudspeakers say: each phrase's words in English and Welsh, the policy's own words over them, and the
// order a message is spoken in (a bilingual branch: Welsh first, then English, as the policy lists its languages).
// Numbers are spoken as words, so that espeak-ng and a reader of the text say the same thing. Here, beside the policy,
// because a policy whose languages cannot say every phrase is refused when it is parsed (central, the branch and
// `oag check-config` alike); the player's priorities are the gateway's (gateway/sound/phrases.ts).
import type { AnnouncementsPolicy } from './schema.js';

/** The announcements' phrases; central's `announce` may name one. */
export const PHRASE_IDS = [
  'welcome',
  'closing-soon',
  'closing-now',
  'please-leave',
  'door-held',
  'evacuate',
  'booking-ending',
  'help-acknowledged',
] as const;
export type PhraseId = (typeof PHRASE_IDS)[number];

export interface PhraseParams {
  minutes?: number | undefined;
}

/** What the announcements need of the policy's section (its defaults already applied by the schema). */
export type AnnouncementsSettings = Pick<AnnouncementsPolicy, 'languages'> & Partial<Pick<AnnouncementsPolicy, 'phrases' | 'volume'>>;

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
    if (template === undefined) {
      const [missing] = missingPhrases({ languages: [language], phrases: settings.phrases }).filter((m) => m.phrase === phrase);
      throw new PhraseError(`announcements.phrases.${language}.${phrase}`, missing?.message ?? `no words for ${phrase}`);
    }
    return { language, text: fill(template, params, language) };
  });
}

function fill(template: string, params: PhraseParams, language: string): string {
  return template.replaceAll('{minutes}', params.minutes === undefined ? '' : minutesInWords(params.minutes, language)).replace(/\s+/g, ' ').trim();
}

/** A phrase a language of the policy has no words for, with the policy path to give them at. */
export interface MissingPhrase {
  language: string;
  phrase: PhraseId;
  message: string;
}

/** Every phrase a language of the policy cannot say; empty when all can be. */
export function missingPhrases(settings: Pick<AnnouncementsSettings, 'languages' | 'phrases'>): MissingPhrase[] {
  const missing: MissingPhrase[] = [];
  for (const language of settings.languages) {
    for (const phrase of PHRASE_IDS) {
      if (settings.phrases?.[language]?.[phrase] !== undefined || builtInText(phrase, language) !== undefined) continue;
      missing.push({ language, phrase, message: `no words for ${phrase} in "${language}": there are built-in words only for en and cy, so give them here` });
    }
  }
  return missing;
}

/** The same as `path: reason` lines. */
export function checkPhrases(settings: Pick<AnnouncementsSettings, 'languages' | 'phrases'>): string[] {
  return missingPhrases(settings).map(({ language, phrase, message }) => `announcements.phrases.${language}.${phrase}: ${message}`);
}
