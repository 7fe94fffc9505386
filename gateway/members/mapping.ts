// Which CSV column holds what, for `oag members import`. Library systems export members with their own column
// names; the gateway config (`members.mapping`) names them once. Column names match case-insensitively, ignoring
// surrounding spaces.
import { z } from 'zod';

const column = z.string().trim().min(1, 'must name a column');

export const MemberImportColumnsSchema = z.strictObject({
  /** Card number or barcode: normalised and hashed on reading; never stored or shown. */
  cardNumber: column,
  /** The member's NFC card UIDs, as at central (policies/card-uids.ts): each a row of the list of its own. */
  cardUids: column.optional(),
  /** Date of birth, where held. */
  birthDate: column.optional(),
  /** Adult flag, where only that is held. */
  adult: column.optional(),
  /** Membership expiry date (last valid day); empty = no expiry. */
  expires: column.optional(),
  /** Blocked flag (fines, debarment). */
  blocked: column.optional(),
  /** Last day of a local block; empty = until lifted. */
  blockedUntil: column.optional(),
  /** Open-access registration: a yes/no flag, or a category (see `openAccessValues`). */
  openAccess: column,
  /** Staff card flag. */
  staff: column.optional(),
  /** Partner groups, separated by commas, semicolons, bars or spaces. */
  groups: column.optional(),
});

export const MemberImportMappingSchema = z
  .strictObject({
    columns: MemberImportColumnsSchema,
    /**
     * When set, the openAccess column holds a category (a borrower type, say) and a member is registered when it
     * is one of these values (case-insensitive). When not set, the column is a yes/no flag.
     */
    openAccessValues: z.array(z.string().trim().min(1)).min(1).optional(),
    /** Field delimiter of the CSV file. */
    delimiter: z.enum([',', ';', '\t', '|']).default(','),
    /** Refuse the whole file when more than this fraction of its rows is rejected. */
    maxRejectedFraction: z.number().min(0).max(1).default(0.1),
  })
  .superRefine((mapping, ctx) => {
    const seen = new Map<string, string>();
    for (const [field, name] of Object.entries(mapping.columns)) {
      if (name === undefined) continue;
      const key = name.toLowerCase();
      const other = seen.get(key);
      if (other !== undefined) {
        // A column read for two fields would, among other things, let an error message echo a card number.
        ctx.addIssue({ code: 'custom', path: ['columns', field], message: `column "${name}" is already mapped to ${other}` });
      } else {
        seen.set(key, field);
      }
    }
  });

export type MemberImportMapping = z.output<typeof MemberImportMappingSchema>;
export type MemberImportMappingInput = z.input<typeof MemberImportMappingSchema>;
export type MemberField = keyof MemberImportMapping['columns'];

/** The column names of `generateMembersCsv` (scripts/bench/import.ts), and the CLI's default without a config. */
export const DEFAULT_MEMBER_MAPPING: MemberImportMapping = MemberImportMappingSchema.parse({
  columns: {
    cardNumber: 'card_number',
    birthDate: 'date_of_birth',
    expires: 'expiry_date',
    blocked: 'blocked',
    blockedUntil: 'blocked_until',
    openAccess: 'open_access',
    staff: 'staff',
    groups: 'groups',
  },
});
