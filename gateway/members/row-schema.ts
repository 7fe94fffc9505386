// One zod schema for a row of a member export, built from the mapping. Input: the mapped fields as the CSV's text
// (an unmapped field is ''); output: the normalised card id and the member fields. Messages name the problem and
// quote the bad value, except for the card number, which is never quoted.
import type { z } from 'zod';
import { FieldProblem, rowFields, type FieldParser } from '../../policies/row-fields.js';
import { CardIdError, normaliseCardId } from '../core/cards.js';
import { parseBoolean, parseDate, parseGroups } from './fields.js';
import type { MemberImportMapping } from './mapping.js';

const MAX_QUOTE = 40;

/** A bad value as a message shows it: quoted, shortened. */
export function quote(value: string): string {
  return JSON.stringify(value.length > MAX_QUOTE ? `${value.slice(0, MAX_QUOTE)}…` : value);
}

const problem = (message: string): FieldProblem => new FieldProblem(message);

const cardNumber: FieldParser<string> = (raw) => {
  try {
    return normaliseCardId(raw);
  } catch (error) {
    return problem(error instanceof CardIdError ? error.message : 'card number is unreadable');
  }
};

/** Date texts remembered as read: a bound on the memory of a file of all different ones. */
const MAX_DAYS_KNOWN = 50_000;

/** A date field's check; an export's dates repeat (a few thousand days in a million rows): each text is read once. */
function dateField(): FieldParser<string | null> {
  const days = new Map<string, string>();
  return (raw) => {
    const known = days.get(raw);
    if (known !== undefined) return known;
    if (raw.trim() === '') return null;
    const day = parseDate(raw);
    if (day !== undefined) {
      if (days.size >= MAX_DAYS_KNOWN) days.clear();
      days.set(raw, day);
      return day;
    }
    return problem(`not a date ${quote(raw)} (use YYYY-MM-DD or DD/MM/YYYY)`);
  };
}

function flag<D extends boolean | null>(empty: D): FieldParser<boolean | D> {
  return (raw) => {
    if (raw.trim() === '') return empty;
    return parseBoolean(raw) ?? problem(`not a yes/no value ${quote(raw)} (use Y/N, yes/no, true/false or 1/0)`);
  };
}

const groups: FieldParser<readonly string[]> = (raw) =>
  parseGroups(raw) ?? problem(`not a list of group names ${quote(raw)} (lower-case letters, digits and dashes)`);

/**
 * The row's zod schema, and `parse`, the same checks run directly (undefined for a row the schema would refuse).
 * @param today `YYYY-MM-DD`: a date of birth after it is refused (a swapped column, usually).
 */
export function createMemberRowChecks(mapping: MemberImportMapping, today: string) {
  const date = dateField();
  const categories = mapping.openAccessValues?.map((v) => v.toLowerCase());
  const openAccess: FieldParser<boolean> = categories === undefined ? flag(false) : (raw) => categories.includes(raw.trim().toLowerCase());
  const birthDate: FieldParser<string | null> = (raw) => {
    const value = date(raw);
    if (typeof value === 'string' && value > today) return problem(`date of birth ${value} is in the future`);
    return value;
  };
  const adult = flag(null);
  const blocked = flag(false);
  const staff = flag(false);
  const fields = rowFields({
    cardNumber,
    birthDate,
    adult,
    expires: date,
    blocked,
    blockedUntil: date,
    openAccess,
    staff,
    groups,
  });
  type Row = z.output<typeof fields.schema>;
  return {
    schema: fields.schema,
    /** fields.parse's checks, field by field without a loop over the parsers (a row in a fraction of the time). */
    parse(raw: z.input<typeof fields.schema>): Row | undefined {
      const n = cardNumber(raw.cardNumber);
      if (n instanceof FieldProblem) return undefined;
      const b = birthDate(raw.birthDate);
      if (b instanceof FieldProblem) return undefined;
      const a = adult(raw.adult);
      if (a instanceof FieldProblem) return undefined;
      const e = date(raw.expires);
      if (e instanceof FieldProblem) return undefined;
      const bl = blocked(raw.blocked);
      if (bl instanceof FieldProblem) return undefined;
      const bu = date(raw.blockedUntil);
      if (bu instanceof FieldProblem) return undefined;
      const o = openAccess(raw.openAccess);
      if (o instanceof FieldProblem) return undefined;
      const s = staff(raw.staff);
      if (s instanceof FieldProblem) return undefined;
      const g = groups(raw.groups);
      if (g instanceof FieldProblem) return undefined;
      return { cardNumber: n, birthDate: b, adult: a, expires: e, blocked: bl, blockedUntil: bu, openAccess: o, staff: s, groups: g };
    },
  };
}

/** @param today `YYYY-MM-DD`: a date of birth after it is refused (a swapped column, usually). */
export function createMemberRowSchema(mapping: MemberImportMapping, today: string) {
  return createMemberRowChecks(mapping, today).schema;
}

export type MemberRowSchema = ReturnType<typeof createMemberRowSchema>;
export type MemberRowInput = z.input<MemberRowSchema>;
export type ParsedMemberRow = z.output<MemberRowSchema>;
