// Age on a local calendar date, from `YYYY-MM-DD` strings (no Date, no zone: a birthday is a date).

/**
 * Whole years of age on `today`. The birthday itself counts; someone born on 29 February turns a year
 * older on 1 March in a common year (the month-day comparison does that by itself: 02-28 < 02-29 < 03-01).
 * Returns null when the birth date is not in the `YYYY-MM-DD` form.
 */
export function ageOn(birthDate: string, today: string): number | null {
  if (birthDate.length !== 10 || today.length !== 10) return null;
  const by = Number(birthDate.slice(0, 4));
  const ty = Number(today.slice(0, 4));
  if (!Number.isInteger(by) || !Number.isInteger(ty)) return null;
  const bmd = birthDate.slice(5);
  const tmd = today.slice(5);
  return ty - by - (tmd < bmd ? 1 : 0);
}

/** Age assumed for the adult flag where no birth date is held (UK: 18). */
export const ADULT_AGE = 18;

/**
 * Whether a member meets a minimum age on `today`. Unknown age refuses: no birth date and no adult flag,
 * or an adult flag that does not settle it (adult=false with a minimum of 16, or adult=true with a minimum above 18).
 */
export function meetsMinimumAge(
  member: { birthDate: string | null; adult: boolean | null },
  minimumAge: number | null,
  today: string,
): boolean {
  if (minimumAge === null || minimumAge <= 0) return true;
  if (member.birthDate !== null) {
    const age = ageOn(member.birthDate, today);
    if (age !== null) return age >= minimumAge;
  }
  if (member.adult === true) return minimumAge <= ADULT_AGE;
  return false;
}
