// A member's age band for the figures (child / adult), carried on the access event itself so that no figure has to
// link pseudonyms to a member list. Adult is the same 18 that decide() uses for the adult who accompanies a minor.
import { ADULT_AGE, ageOn, meetsMinimumAge } from './age.js';
import type { AGE_BANDS } from './contract/common.js';
import type { Member } from './types.js';

export type AgeBand = (typeof AGE_BANDS)[number];

/** By birth date on the tap's local date where one is held, else by the adult flag; `unknown` where neither says. */
export function ageBand(member: Pick<Member, 'birthDate' | 'adult'>, today: string): AgeBand {
  const byBirthDate = member.birthDate !== null && ageOn(member.birthDate, today) !== null;
  if (!byBirthDate && member.adult === null) return 'unknown';
  return meetsMinimumAge(member, ADULT_AGE, today) ? 'adult' : 'child';
}
