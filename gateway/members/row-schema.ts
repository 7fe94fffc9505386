// One zod schema for a row of a member export, built from the mapping. Input: the mapped fields as the CSV's text
// (an unmapped field is ''); output: the normalised card id and the member fields. Messages name the problem and
// quote the bad value, except for the card number, which is never quoted.
import { z } from 'zod';
import { CardIdError, normaliseCardId } from '../core/cards.js';
import { parseBoolean, parseDate, parseGroups } from './fields.js';
import type { MemberImportMapping } from './mapping.js';

const MAX_QUOTE = 40;

/** A bad value as a message shows it: quoted, shortened. */
export function quote(value: string): string {
  return JSON.stringify(value.length > MAX_QUOTE ? `${value.slice(0, MAX_QUOTE)}…` : value);
}

/** Records the problem; the issue keeps no copy of the row's values (`input: null`), only the message. */
function fail(ctx: { issues: z.core.$ZodRawIssue[] }, message: string): never {
  ctx.issues.push({ code: 'custom', message, input: null });
  return z.NEVER;
}

const cardNumber = z.string().transform((raw, ctx) => {
  try {
    return normaliseCardId(raw);
  } catch (error) {
    return fail(ctx, error instanceof CardIdError ? error.message : 'card number is unreadable');
  }
});

const date = z.string().transform((raw, ctx): string | null => {
  if (raw.trim() === '') return null;
  return parseDate(raw) ?? fail(ctx, `not a date ${quote(raw)} (use YYYY-MM-DD or DD/MM/YYYY)`);
});

function flag<D extends boolean | null>(empty: D) {
  return z.string().transform((raw, ctx): boolean | D => {
    if (raw.trim() === '') return empty;
    return parseBoolean(raw) ?? fail(ctx, `not a yes/no value ${quote(raw)} (use Y/N, yes/no, true/false or 1/0)`);
  });
}

const groups = z.string().transform(
  (raw, ctx): readonly string[] =>
    parseGroups(raw) ?? fail(ctx, `not a list of group names ${quote(raw)} (lower-case letters, digits and dashes)`),
);

/**
 * @param today `YYYY-MM-DD`: a date of birth after it is refused (a swapped column, usually).
 */
export function createMemberRowSchema(mapping: MemberImportMapping, today: string) {
  const categories = mapping.openAccessValues?.map((v) => v.toLowerCase());
  const openAccess =
    categories === undefined
      ? flag(false)
      : z.string().transform((raw) => categories.includes(raw.trim().toLowerCase()));
  const birthDate = date.transform((value, ctx): string | null => {
    if (value !== null && value > today) return fail(ctx, `date of birth ${value} is in the future`);
    return value;
  });
  return z.object({
    cardNumber,
    birthDate,
    adult: flag(null),
    expires: date,
    blocked: flag(false),
    blockedUntil: date,
    openAccess,
    staff: flag(false),
    groups,
  });
}

export type MemberRowSchema = ReturnType<typeof createMemberRowSchema>;
export type MemberRowInput = z.input<MemberRowSchema>;
export type ParsedMemberRow = z.output<MemberRowSchema>;
