// One zod schema for a row of an LMS member export (Koha, Spydus, Sierra…), built from the mapping and its
// category rules. Input: the mapped columns as text ('' when not mapped); output: the normalised card number and
// only what a decision needs (policies' Member). Category, fines and the like are read, never kept.
import type { z } from 'zod';
import { CardIdError, normaliseCardId } from '../../policies/cards.js';
import { parseBoolean, parseDate, parseGroups } from '../../policies/member-fields.js';
import { FieldProblem, rowFields, type FieldParser } from '../../policies/row-fields.js';
import type { Member } from '../../policies/types.js';
import { parseCardUids } from '../../policies/card-uids.js';
import type { LmsField, LmsMapping } from './config.js';

const MAX_QUOTE = 40;
const NO_UIDS: readonly string[] = Object.freeze([]);
/** Date texts remembered as read: a bound on the memory of a file of all different ones. */
const MAX_DAYS_KNOWN = 50_000;

function quote(value: string): string {
  return JSON.stringify(value.length > MAX_QUOTE ? `${value.slice(0, MAX_QUOTE)}…` : value);
}

/**
 * `YYYY-MM-DD` (a time after it is ignored: `2026-05-01 00:00:00`), or day, month and four-digit year separated by
 * `/`, `.` or `-` in the configured order. A real calendar day, or undefined.
 */
export function parseLmsDate(raw: string, order: 'dmy' | 'mdy'): string | undefined {
  const s = raw.trim();
  // The usual cell: parseDate reads YYYY-MM-DD digit by digit, without a regex.
  if (s.length === 10 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45) return parseDate(s);
  if (/^\d{4}-\d{2}-\d{2}([ T].*)?$/.test(s)) return parseDate(s.slice(0, 10));
  const m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
  if (m === null) return undefined;
  const [day, month] = order === 'dmy' ? [m[1]!, m[2]!] : [m[2]!, m[1]!];
  return parseDate(`${day}/${month}/${m[3]!}`);
}

/** `12.50`, `£1,234.00`, `-3.00` (a credit), `$0`: the amount, or undefined. */
export function parseAmount(raw: string): number | undefined {
  const s = raw.trim().replace(/^[£$€]|[£$€]$/g, '').replace(/,(?=\d{3}(\D|$))/g, '').trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) return undefined;
  return Number(s);
}

export type LmsRowInput = Record<LmsField, string>;

export interface ParsedLmsRow {
  cardNumber: string;
  /** The member's card UIDs, normalised, the card number left out; undefined when the mapping names no such column. */
  cardUids: readonly string[] | undefined;
  member: Member;
}

/** A block read from the blocked column: no, yes (until lifted), or until a day. */
type Block = { blocked: false } | { blocked: true; until: string | null };

const problem = (message: string): FieldProblem => new FieldProblem(message);

/**
 * The row's zod schema, and `parse`, the same checks run directly (undefined for a row the schema would refuse).
 * @param today `YYYY-MM-DD`: a debarment that ended before it is no block; a date of birth after it is refused.
 */
export function createLmsRowChecks(mapping: LmsMapping, today: string) {
  const lower = (list: readonly string[] | undefined): Set<string> | undefined => (list === undefined ? undefined : new Set(list.map((v) => v.toLowerCase())));
  const openAccessCategories = lower(mapping.openAccessCategories);
  const staffCategories = lower(mapping.staffCategories);
  const blockedCategories = lower(mapping.blockedCategories);
  const blockedValues = lower(mapping.blockedValues);
  const order = mapping.dateOrder;

  // An export's dates repeat (a few thousand days in a million rows): each text is read once.
  const days = new Map<string, string>();
  const date: FieldParser<string | null> = (raw) => {
    const known = days.get(raw);
    if (known !== undefined) return known;
    if (raw.trim() === '') return null;
    const day = parseLmsDate(raw, order);
    if (day !== undefined) {
      if (days.size >= MAX_DAYS_KNOWN) days.clear();
      days.set(raw, day);
      return day;
    }
    return problem(`not a date ${quote(raw)} (use YYYY-MM-DD or ${order === 'dmy' ? 'DD/MM/YYYY' : 'MM/DD/YYYY'})`);
  };
  const flag =
    <D extends boolean | null>(empty: D): FieldParser<boolean | D> =>
    (raw) => {
      if (raw.trim() === '') return empty;
      return parseBoolean(raw) ?? problem(`not a yes/no value ${quote(raw)} (use Y/N, yes/no, true/false or 1/0)`);
    };
  const block: FieldParser<Block> = (raw) => {
    const s = raw.trim();
    if (blockedValues !== undefined) return blockedValues.has(s.toLowerCase()) ? { blocked: true, until: null } : { blocked: false };
    if (s === '') return { blocked: false };
    const yes = parseBoolean(s);
    if (yes !== undefined) return yes ? { blocked: true, until: null } : { blocked: false };
    const until = parseLmsDate(s, order);
    if (until === undefined) return problem(`not a yes/no value or a date ${quote(raw)}`);
    if (until < today) return { blocked: false };
    // Koha writes an indefinite debarment as 9999-12-31.
    return { blocked: true, until: until >= '9999-01-01' ? null : until };
  };
  const fines: FieldParser<number> = (raw) => {
    if (raw.trim() === '') return 0;
    return parseAmount(raw) ?? problem(`not an amount ${quote(raw)}`);
  };
  const cardNumber: FieldParser<string> = (raw) => {
    try {
      return normaliseCardId(raw);
    } catch (error) {
      return problem(error instanceof CardIdError ? error.message : 'card number is unreadable');
    }
  };
  const cardUids: FieldParser<readonly string[]> = (raw) => {
    // Asked of every row, mapped or not: most have no UIDs, and the list's split is a regular expression's.
    if (raw === '') return NO_UIDS;
    const uids = parseCardUids(raw);
    return Array.isArray(uids) ? uids : problem(uids.problem);
  };
  const birthDate: FieldParser<string | null> = (raw) => {
    const value = date(raw);
    if (typeof value === 'string' && value > today) return problem(`date of birth ${value} is in the future`);
    return value;
  };
  const groups: FieldParser<readonly string[]> = (raw) =>
    parseGroups(raw) ?? problem(`not a list of group names ${quote(raw)} (lower-case letters, digits and dashes)`);

  const category: FieldParser<string> = (raw) => raw.trim().toLowerCase();
  const adult = flag(null);
  const openAccess = flag(false);
  const staff = flag(false);
  const fields = rowFields({
    cardNumber,
    cardUids,
    birthDate,
    adult,
    expires: date,
    category,
    blocked: block,
    blockedUntil: date,
    fines,
    openAccess,
    staff,
    groups,
  });

  const finesBlockAt = mapping.finesBlockAt;
  const uidsMapped = mapping.columns.cardUids !== undefined;
  // Made once, not a closure a row (a million rows' allocations).
  const inCategory = (set: Set<string> | undefined, category: string): boolean => set !== undefined && category !== '' && set.has(category);
  const toRow = (row: z.output<typeof fields.schema>): ParsedLmsRow => {
    const category = row.category;
    const owes = finesBlockAt !== undefined && row.fines >= finesBlockAt;
    const barredType = inCategory(blockedCategories, category);
    const blocked = row.blocked.blocked || owes || barredType;
    // Fines and a barred category block until the next export says otherwise; a flag may come with an end day.
    let blockedUntil: string | null = null;
    if (blocked && !owes && !barredType) blockedUntil = row.blocked.blocked ? (row.blocked.until ?? row.blockedUntil) : null;
    const cardNumber = row.cardNumber;
    return {
      cardNumber,
      // The barcode and a UID may be the same characters: one credential, the card number's.
      cardUids: !uidsMapped ? undefined : row.cardUids.length === 0 ? row.cardUids : row.cardUids.filter((uid) => uid !== cardNumber),
      member: {
        expires: row.expires,
        blocked,
        blockedUntil,
        openAccess: row.openAccess || inCategory(openAccessCategories, category),
        birthDate: row.birthDate,
        adult: row.adult,
        staff: row.staff || inCategory(staffCategories, category),
        groups: row.groups,
        pinHash: null,
      },
    };
  };

  // The same checks as fields.parse, field by field without a loop over the parsers (a row in a fraction of the time).
  const direct = (raw: LmsRowInput): z.output<typeof fields.schema> | undefined => {
    const n = cardNumber(raw.cardNumber);
    if (n instanceof FieldProblem) return undefined;
    const u = cardUids(raw.cardUids);
    if (u instanceof FieldProblem) return undefined;
    const b = birthDate(raw.birthDate);
    if (b instanceof FieldProblem) return undefined;
    const a = adult(raw.adult);
    if (a instanceof FieldProblem) return undefined;
    const e = date(raw.expires);
    if (e instanceof FieldProblem) return undefined;
    const c = category(raw.category);
    if (c instanceof FieldProblem) return undefined;
    const bl = block(raw.blocked);
    if (bl instanceof FieldProblem) return undefined;
    const bu = date(raw.blockedUntil);
    if (bu instanceof FieldProblem) return undefined;
    const f = fines(raw.fines);
    if (f instanceof FieldProblem) return undefined;
    const o = openAccess(raw.openAccess);
    if (o instanceof FieldProblem) return undefined;
    const s = staff(raw.staff);
    if (s instanceof FieldProblem) return undefined;
    const g = groups(raw.groups);
    if (g instanceof FieldProblem) return undefined;
    return { cardNumber: n, cardUids: u, birthDate: b, adult: a, expires: e, category: c, blocked: bl, blockedUntil: bu, fines: f, openAccess: o, staff: s, groups: g };
  };

  const schema = fields.schema.transform(toRow);
  const parse = (raw: LmsRowInput): ParsedLmsRow | undefined => {
    const row = direct(raw);
    return row === undefined ? undefined : toRow(row);
  };
  return {
    schema,
    parse,
    /** The row by the direct checks; the schema is asked only about a row they refuse, for every problem's message. */
    check(raw: LmsRowInput): { ok: true; row: ParsedLmsRow } | { ok: false; issues: z.core.$ZodIssue[] } {
      const row = parse(raw);
      if (row !== undefined) return { ok: true, row };
      const result = schema.safeParse(raw);
      return result.success ? { ok: true, row: result.data } : { ok: false, issues: result.error.issues };
    },
  };
}
