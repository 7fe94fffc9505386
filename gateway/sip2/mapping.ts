// From a SIP2 patron response to the `Member` fields a decision needs. Every LMS fills SIP2 its own way (Koha
// sends the birth date in PB and the category in PC; SirsiDynix the expiry in PA and the birth date in PD), so
// which flags block and which fields hold what is configuration (`sip2.mapping`).
import { z } from 'zod';
import type { Member } from '../../policies/types.js';
import { fieldValues } from './codec.js';
import type { PatronResponse } from './messages.js';

/** The 14 patron status flags, in their order in the fixed field (SIP2 v2.00). `Y` = privilege denied. */
export const PATRON_STATUS_FLAGS = [
  'charge-privileges-denied',
  'renewal-privileges-denied',
  'recall-privileges-denied',
  'hold-privileges-denied',
  'card-reported-lost',
  'too-many-items-charged',
  'too-many-items-overdue',
  'too-many-renewals',
  'too-many-claims-of-items-returned',
  'too-many-items-lost',
  'excessive-outstanding-fines',
  'excessive-outstanding-fees',
  'recall-overdue',
  'too-many-items-billed',
] as const;
export type PatronStatusFlag = (typeof PATRON_STATUS_FLAGS)[number];

const fieldId = z.string().regex(/^[A-Z][A-Z0-9]$/, 'must be a two-character SIP2 field id such as PC');
const values = z.array(z.string().trim().min(1)).min(1);
const match = z.strictObject({
  /** The field holding the value (a patron class/category such as PC, or an extension flag field). */
  field: fieldId,
  /** Values that count (case-insensitive). */
  values,
});

export const Sip2MappingSchema = z.strictObject({
  /** Status flags that block entry. Charge privileges denied is how most LMSs say "barred" or "over the fines limit". */
  blockedFlags: z
    .array(z.enum(PATRON_STATUS_FLAGS))
    .default(['charge-privileges-denied', 'card-reported-lost', 'too-many-items-billed']),
  /** The field holding the membership expiry (`yyyyMMdd`, optionally followed by a SIP2 time); null: none. */
  expiresField: fieldId.nullable().default('PE'),
  /** The field holding the date of birth (`yyyyMMdd`); null: none. */
  birthDateField: fieldId.nullable().default('PB'),
  /**
   * Who is registered for open access: `all` valid patrons, `none` (the policy's registration rule then refuses
   * every card found online), or those whose field holds one of the values (a category: `{ field: PC, values: [OA] }`).
   */
  openAccess: z.union([z.literal('all'), z.literal('none'), match]).default('none'),
  /** Staff cards (enter in any mode but lockdown and emergency): `none`, or a field's values. */
  staff: z.union([z.literal('none'), match]).default('none'),
  /**
   * When the ACS sends no BL (valid patron) field: `not-found` (the safe reading: no door opens on a response that
   * does not say the patron exists) or `found`.
   */
  withoutValidPatron: z.enum(['not-found', 'found']).default('not-found'),
});

export type Sip2Mapping = z.output<typeof Sip2MappingSchema>;
export type Sip2MappingInput = z.input<typeof Sip2MappingSchema>;

export type MappingResult =
  | { kind: 'found'; member: Member }
  | { kind: 'not-found' }
  /** The ACS answered something a decision cannot rest on; `problem` names the field, never its value. */
  | { kind: 'invalid'; problem: string };

const NO_GROUPS: readonly string[] = Object.freeze([]);

export function patronToMember(response: PatronResponse, mapping: Sip2Mapping): MappingResult {
  const valid = response.validPatron ?? mapping.withoutValidPatron === 'found';
  if (!valid) return { kind: 'not-found' };
  const m = response.message;

  let expires: string | null = null;
  if (mapping.expiresField !== null) {
    const raw = first(fieldValues(m, mapping.expiresField));
    if (raw !== undefined) {
      expires = sipDate(raw);
      // A garbled expiry must not read as "never expires".
      if (expires === null) return { kind: 'invalid', problem: `${mapping.expiresField} (expiry) is not a yyyyMMdd date` };
    }
  }
  let birthDate: string | null = null;
  if (mapping.birthDateField !== null) {
    const raw = first(fieldValues(m, mapping.birthDateField));
    // An unreadable birth date is an unknown age, which the age rule already refuses.
    if (raw !== undefined) birthDate = sipDate(raw);
  }

  const member: Member = {
    expires,
    blocked: isBlocked(response.status, mapping.blockedFlags),
    blockedUntil: null,
    openAccess: mapping.openAccess === 'all' ? true : mapping.openAccess === 'none' ? false : matches(m, mapping.openAccess),
    birthDate,
    adult: null,
    staff: mapping.staff === 'none' ? false : matches(m, mapping.staff),
    groups: NO_GROUPS,
    pinHash: null,
  };
  return { kind: 'found', member };
}

export function isBlocked(status: string, flags: readonly PatronStatusFlag[]): boolean {
  for (const flag of flags) {
    const c = status[PATRON_STATUS_FLAGS.indexOf(flag)];
    if (c === 'Y' || c === 'y') return true;
  }
  return false;
}

function first(values: string[]): string | undefined {
  for (const v of values) if (v.trim() !== '') return v.trim();
  return undefined;
}

function matches(m: PatronResponse['message'], rule: { field: string; values: readonly string[] }): boolean {
  const wanted = rule.values.map((v) => v.toLowerCase());
  return fieldValues(m, rule.field).some((v) => wanted.includes(v.trim().toLowerCase()));
}

const COMPACT = /^(\d{4})(\d{2})(\d{2})(?:$|[\sT]|\d{6}$)/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})/;

/**
 * `yyyyMMdd`, `yyyyMMdd    HHmmss` (a SIP2 date-time), `yyyyMMddHHmmss` or `yyyy-MM-dd` → `yyyy-MM-dd`; null when
 * not a real date.
 */
export function sipDate(raw: string): string | null {
  const parts = COMPACT.exec(raw) ?? ISO.exec(raw);
  if (parts === null) return null;
  const [y, mo, d] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  return `${parts[1]}-${parts[2]}-${parts[3]}`;
}
