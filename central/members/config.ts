// The `members:` section of central's config: how the LMS export is read (columns and category rules), how lists
// are cut and kept, and an optional folder watched for nightly exports. Card numbers are hashed with the
// deployment key (OAG_DEPLOYMENT_KEY, or `deploymentKeyFile` at the top of the config) before anything is stored.
import { z } from 'zod';
import { MAX_CHUNK_ENTRIES } from '../../policies/contract/members.js';
import { isSiteId } from '../../policies/contract/topics.js';
import { KohaFeedConfigSchema } from './koha/config.js';

const column = z.string().trim().min(1, 'must name a column');
const values = z.array(z.string().trim().min(1)).min(1);

export const LmsColumnsSchema = z.strictObject({
  /** Card number or barcode (Koha `cardnumber`, Sierra `P BARCODE`): normalised and hashed on reading; never stored. */
  cardNumber: column,
  /**
   * The member's NFC card UIDs, where the library system holds them (a CSV column `card_uids`, a Koha patron
   * attribute): hex, 4, 7 or 10 bytes each, separated by `;` `,` `|` or spaces. Each is hashed like the card number
   * and opens the door as the member; a UID shared by two members refuses both rows (docs/members.md).
   */
  cardUids: column.optional(),
  /** Date of birth, where held. */
  birthDate: column.optional(),
  /** Adult flag, where only that is held. */
  adult: column.optional(),
  /** Membership expiry (last valid day); empty = no expiry. */
  expires: column.optional(),
  /** Borrower category / patron type (Koha `categorycode`, Sierra `P TYPE`): read by the category rules, not stored. */
  category: column.optional(),
  /** Blocked / debarred / barred: a yes/no flag, a date (blocked until; Koha's `debarred`), or a code (see `blockedValues`). */
  blocked: column.optional(),
  /** Last day of a block; empty = until lifted. */
  blockedUntil: column.optional(),
  /** Money owed (`12.50`, `£1,234.00`): read against `finesBlockAt`, not stored. */
  fines: column.optional(),
  /** Open-access registration as a yes/no flag (or use a category, `openAccessCategories`). */
  openAccess: column.optional(),
  /** Staff card as a yes/no flag (or use `staffCategories`). */
  staff: column.optional(),
  /** Partner groups, separated by commas, semicolons, bars or spaces. */
  groups: column.optional(),
  /** Delta files only (`oag central members import-delta`, `*.delta.csv`): a yes/no flag, yes = the member was deleted. Default `deleted`. */
  deleted: column.optional(),
});

export const LmsMappingSchema = z
  .strictObject({
    columns: LmsColumnsSchema,
    /** Categories (case-insensitive) whose members are registered for open access. */
    openAccessCategories: values.optional(),
    /** Categories that are staff cards. */
    staffCategories: values.optional(),
    /** Categories that are always refused (a suspended type, say). */
    blockedCategories: values.optional(),
    /** When set, the blocked column holds a code and these values mean blocked (Sierra's MBLOCK); others do not. */
    blockedValues: values.optional(),
    /** Money owed at or above this blocks the member (until the next export says otherwise). */
    finesBlockAt: z.number().positive().optional(),
    /** Dates that are not YYYY-MM-DD: day first (`31/01/2026`, UK) or month first (`01/31/2026`, US). */
    dateOrder: z.enum(['dmy', 'mdy']).default('dmy'),
    delimiter: z.enum([',', ';', '\t', '|']).default(','),
    /** Refuse the whole file when more than this fraction of its rows is rejected. */
    maxRejectedFraction: z.number().min(0).max(1).default(0.1),
    /** Refuse a file that would remove more than this fraction of the current list (a cut-short export). */
    maxRemovedFraction: z.number().min(0).max(1).default(0.5),
  })
  .check((ctx) => {
    const m = ctx.value;
    const issue = (path: (string | number)[], message: string): void => {
      ctx.issues.push({ code: 'custom', path, message, input: undefined });
    };
    if (m.columns.openAccess === undefined && m.openAccessCategories === undefined) {
      issue(['columns', 'openAccess'], 'name an open-access flag column, or give openAccessCategories with a category column');
    }
    for (const rule of ['openAccessCategories', 'staffCategories', 'blockedCategories'] as const) {
      if (m[rule] !== undefined && m.columns.category === undefined) issue([rule], 'needs columns.category');
    }
    if (m.finesBlockAt !== undefined && m.columns.fines === undefined) issue(['finesBlockAt'], 'needs columns.fines');
    if (m.blockedValues !== undefined && m.columns.blocked === undefined) issue(['blockedValues'], 'needs columns.blocked');
    const seen = new Map<string, string>();
    for (const [field, name] of Object.entries(m.columns)) {
      if (name === undefined) continue;
      const key = name.toLowerCase();
      const other = seen.get(key);
      // A column read for two fields would, among other things, let an error message echo a card number.
      if (other !== undefined) issue(['columns', field], `column "${name}" is already mapped to ${other}`);
      else seen.set(key, field);
    }
  });

export type LmsMapping = z.output<typeof LmsMappingSchema>;
export type LmsMappingInput = z.input<typeof LmsMappingSchema>;
/** A field of a member's row (the full export's columns). */
export type LmsField = Exclude<keyof LmsMapping['columns'], 'deleted'>;
/** A delta file's columns: a member's row and whether the member was deleted. */
export type LmsDeltaField = LmsField | 'deleted';

/** The columns of the generated demo export (scripts/bench/import.ts), the default without a mapping. */
export const DEFAULT_LMS_COLUMNS = {
  cardNumber: 'card_number',
  birthDate: 'date_of_birth',
  expires: 'expiry_date',
  blocked: 'blocked',
  blockedUntil: 'blocked_until',
  openAccess: 'open_access',
  staff: 'staff',
  groups: 'groups',
} as const;

export const BranchListSchema = z.enum(['registered', 'everyone']);
export type BranchList = z.output<typeof BranchListSchema>;

/** Whether the branches' list holds a member: everyone, or under `registered` those registered for open access and staff. */
export const onBranchList = (branchList: BranchList, member: { openAccess: boolean; staff: boolean }): boolean =>
  branchList === 'everyone' || member.openAccess || member.staff;

export const MemberDeskConfigSchema = z.strictObject({
  /**
   * The branches whose desk changes central applies: `all`, or a list of site ids; another is refused `not-allowed`.
   * A site's broker login already proves which site it is, so this only narrows who may change members.
   */
  sites: z
    .union([z.literal('all'), z.array(z.string().refine(isSiteId, { error: 'must be a site id (lower case letters, digits and dashes)' })).min(1, 'list at least one site, or say all')])
    .default('all'),
});
export type MemberDeskConfig = z.output<typeof MemberDeskConfigSchema>;

export const CentralMembersConfigSchema = z.strictObject({
  /** Members per chunk on the wire (about 90 bytes each). */
  chunkSize: z.int().min(10).max(MAX_CHUNK_ENTRIES).default(5000),
  /** Deltas of this many versions are kept; a branch further behind gets a snapshot. */
  keepVersions: z.int().min(1).max(10_000).default(50),
  /** The retained announcement is published again this often (its `at` tells branches their list is current). */
  announceEveryMinutes: z.int().min(1).max(1440).default(60),
  /** How often central looks for a version made by `oag central members import` in another process. */
  pollSeconds: z.int().min(1).max(3600).default(2),
  import: LmsMappingSchema.prefault({ columns: DEFAULT_LMS_COLUMNS }),
  /**
   * Who goes on the branches' lists: `registered` (members registered for open access, and staff) or `everyone`.
   * A stolen branch then holds only the people who can use it (docs/privacy.md); central holds the others off the
   * list (members_unlisted), so that registering one at the desk reaches the door at once.
   */
  branchList: BranchListSchema.default('registered'),
  /**
   * A folder the LMS drops its nightly export into: each new CSV is imported, then deleted (or kept in `imported/`
   * for `keepImportedDays`); a refused one is kept in `refused/` for `keepRefusedDays`. The files hold clear card
   * numbers, so central keeps them no longer than it needs to (docs/privacy.md).
   */
  watch: z
    .strictObject({
      folder: z.string().min(1),
      intervalSeconds: z.int().min(1).max(86_400).default(60),
      /** A file must be unchanged this long before it is read (the LMS may still be writing it). */
      settleSeconds: z.int().min(0).max(3600).default(30),
      /** Days an imported export is kept in `imported/`; 0 deletes it as soon as its import is committed. */
      keepImportedDays: z.int().min(0).max(365).default(0),
      /** Days a refused export is kept in `refused/` (with the reason beside it) for someone to look at. */
      keepRefusedDays: z.int().min(0).max(365).default(7),
    })
    .optional(),
  /** Patrons changed in Koha, asked of its REST API every few seconds: each poll's changes one version (docs/members.md). */
  koha: KohaFeedConfigSchema.optional(),
  /** Changes staff make at a branch's desk (link a card, set a PIN; docs/members.md "At the desk"). */
  desk: MemberDeskConfigSchema.prefault({}),
});

export type CentralMembersConfig = z.output<typeof CentralMembersConfigSchema>;
