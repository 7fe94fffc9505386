// The console API's bodies and queries, one zod schema each. The policy parts are the policies room's own
// schemas, so a schedule error reads the same here as in a policy file: `schedule.weekly.mon[1].to: must be after from`.
import { z } from 'zod';
import { PolicySchema } from '../../policies/index.js';
import { COMMANDS_FOR_A_DOOR } from '../../policies/contract/command.js';
import { DoorIdSchema } from '../../policies/contract/common.js';
import { PIN_PATTERN } from '../../policies/pin.js';
import type { GATEWAY_COMMANDS } from '../core/commands.js';
import { ROLES } from './users.js';

export const UsernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{1,31}$/, { error: 'must be 2 to 32 letters, digits, dots, dashes or underscores' });

export const RoleSchema = z.enum(ROLES);

/** An API token's name: what it is for ("monitoring", "door-display"); the audit shows it as `token:NAME`. */
export const TokenNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$/, { error: 'must be 2 to 40 letters, digits, dots, dashes or underscores' });

/** The id part of a token (`oag_<id>_…`), as `oag users token list` shows it. */
export const TokenIdSchema = z.string().regex(/^[a-z0-9]{12}$/, { error: 'must be a token id of 12 letters and digits, as oag users token list shows' });

export const NewPasswordSchema = z
  .string()
  .min(10, { error: 'must be at least 10 characters' })
  .max(200, { error: 'must be at most 200 characters' });

export const LoginBodySchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(200),
});

export const SessionSchema = z.object({
  username: z.string(),
  role: RoleSchema,
  csrfToken: z.string().describe('send back in the x-csrf-token header with every change'),
  expiresAt: z.string(),
});

export const PasswordChangeBodySchema = z.strictObject({
  current: z.string().min(1).max(200),
  password: NewPasswordSchema,
});

/** What the console may do to the building (central's resync is not a console button). */
export const CONSOLE_COMMANDS = [
  'unlock',
  'lock',
  'lockdown-on',
  'lockdown-off',
  'lights-on',
  'lights-off',
  'reset-occupancy',
  'reset-alarms',
  // Staff at the branch take on a help call: the door then shows that someone is coming.
  'help-acknowledged',
  // A prepared phrase by its id (contract 1.9: spoken in the branch's languages) or staff's own words, in `text`.
  'announce',
] as const satisfies readonly (typeof GATEWAY_COMMANDS)[number][];

export const CommandBodySchema = z
  .strictObject({
    command: z.enum(CONSOLE_COMMANDS),
    /** unlock and lock, at a branch with several doors: which (the contract's door id); absent: the main door. */
    door: DoorIdSchema.optional(),
    /** announce: a phrase id (`closing-soon`) or the words to say, as central's command carries them. */
    text: z.string().trim().min(1, { error: 'must not be empty' }).max(280, { error: 'must be at most 280 characters' }).optional(),
  })
  .refine((body) => body.door === undefined || (COMMANDS_FOR_A_DOOR as readonly string[]).includes(body.command), {
    path: ['door'],
    error: `only allowed with ${COMMANDS_FOR_A_DOOR.join(' and ')}`,
  })
  .refine((body) => (body.command === 'announce') === (body.text !== undefined), {
    path: ['text'],
    error: 'required with announce (a phrase id or the words to say), and only allowed with it',
  });

/** A schedule being edited: the whole policy document but its version (a console save is an override over the version in force). */
export const PolicyDraftSchema = PolicySchema.omit({ version: true });

export const PolicyPreviewBodySchema = z.strictObject({ policy: PolicyDraftSchema });

export const PolicySaveBodySchema = z.strictObject({
  /** The revision the editor started from (GET /policy): saving over a change made since is refused with 409. */
  baseRevision: z.string().regex(/^[0-9a-f]{16}$/, { error: 'must be the revision from GET /api/console/policy' }),
  policy: PolicyDraftSchema,
});

const instantOrLocal = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/, {
    error: 'must be a time YYYY-MM-DDTHH:MM (the branch’s local time) or an ISO instant with a zone',
  })
  // The shape alone lets 2026-02-30T25:61 through, which no clock can turn into an instant.
  .refine(isCalendarTime, { error: 'is not a real date and time (month 01–12, a day that month has, hour 00–23, minute 00–59)' });

function isCalendarTime(text: string): boolean {
  const [y, mo, d, h, mi, s = 0] = (text.match(/\d+/g) ?? []).slice(0, 6).map(Number) as [number, number, number, number, number, number?];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 30 February over into March: a real date is one that comes back as written.
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

export const LOG_TYPES = [
  'access',
  'door',
  'alarm',
  'staff',
  'mode',
  'policy',
  'occupancy',
  'warning',
  'system',
  'reader',
  'members',
  // 1.9: the building around the door: switched outputs, the intruder alarm, announcements.
  'output',
  'intruder-alarm',
  'announcement',
  // 1.10: the record of `oag commission`.
  'commissioning',
] as const;

export const LogQuerySchema = z.strictObject({
  from: instantOrLocal.optional(),
  to: instantOrLocal.optional(),
  /** Comma-separated event types, e.g. `access,alarm`. */
  types: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return undefined;
      const list = s.split(',').map((t) => t.trim());
      const unknown = list.filter((t) => !(LOG_TYPES as readonly string[]).includes(t));
      if (unknown.length > 0) {
        ctx.addIssue({ code: 'custom', message: `unknown type(s) ${unknown.join(', ')}; known: ${LOG_TYPES.join(', ')}` });
        return z.NEVER;
      }
      return list;
    }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z
    .string()
    .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, { error: 'must be an event id from the previous page' })
    .optional(),
});

export const LogCsvQuerySchema = LogQuerySchema.omit({ limit: true, before: true });

export const LookupBodySchema = z.strictObject({
  /** The card number or UID as printed or read; hashed at once, never kept. */
  card: z.string().min(1).max(64),
});

/** A member's card as staff type it at the desk (the barcode): hashed at once, never kept, never logged. */
const DeskCardSchema = z.string().trim().min(1, { error: 'must be the member’s card number' }).max(64, { error: 'must be at most 64 characters' });

export const LinkCardBodySchema = z.strictObject({
  card: DeskCardSchema,
  /** Which desk reader, at a branch with more than one (`hardware.readers[].id`); absent: the first. */
  reader: z.string().min(1).max(32).optional(),
});

export const LinkIdParamsSchema = z.strictObject({ id: z.uuid({ error: 'must be a link id as POST /members/link-card answered' }) });

/** Never echoed: the messages name the field and the rule, not what was typed. */
const PinTextSchema = z.string().regex(PIN_PATTERN, { error: 'must be 4 to 8 digits' });

export const PinSetBodySchema = z
  .strictObject({ card: DeskCardSchema, pin: PinTextSchema, confirm: z.string().max(8, { error: 'must be the same PIN as pin' }) })
  .refine((body) => body.pin === body.confirm, { path: ['confirm'], error: 'must be the same PIN as pin' });

export const PinRemoveBodySchema = z.strictObject({ card: DeskCardSchema });

export const UserCreateBodySchema = z.strictObject({
  username: UsernameSchema,
  role: RoleSchema,
  password: NewPasswordSchema,
});

export const UserPatchBodySchema = z
  .strictObject({
    role: RoleSchema.optional(),
    password: NewPasswordSchema.optional(),
  })
  .refine((b) => b.role !== undefined || b.password !== undefined, { error: 'give role or password' });

export const UsernameParamsSchema = z.strictObject({ username: UsernameSchema });
