// The HTTP API's member-list messages (the MQTT ones live in policies/contract/members.ts).
import { z } from 'zod';
import { PIN_PATTERN } from '../../policies/pin.js';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' });

export const MemberPatchSchema = z
  .strictObject({
    /** The card number as printed; hashed with the deployment key at once, never stored or logged. */
    cardNumber: z.string().min(1).max(64),
    // Who changes it is the signed-in identity, never a field here (an `actor` is an unknown key).
    blocked: z.boolean().optional(),
    /** Last blocked day; null = until lifted. */
    blockedUntil: day.nullable().optional(),
    expires: day.nullable().optional(),
    openAccess: z.boolean().optional(),
    staff: z.boolean().optional(),
  })
  .check((ctx) => {
    const { blocked, blockedUntil, expires, openAccess, staff } = ctx.value;
    if ([blocked, blockedUntil, expires, openAccess, staff].every((v) => v === undefined)) {
      ctx.issues.push({ code: 'custom', path: [], message: 'name at least one of blocked, blockedUntil, expires, openAccess, staff', input: ctx.value });
    }
  });

export const MemberPinSchema = z.strictObject({
  /** The card number as printed; hashed with the deployment key at once, never stored or logged. */
  cardNumber: z.string().min(1).max(64),
  /** The member's open-access PIN, 4 to 8 digits, hashed at once; null removes it. Never stored or logged clear. */
  pin: z.string().regex(PIN_PATTERN, { error: 'must be 4 to 8 digits' }).nullable(),
});

export const MemberPatchResponseSchema = z.object({
  /** False when the branches' list did not change (no new version): the member already was as asked, or is off the list. */
  changed: z.boolean(),
  version: z.int(),
  count: z.int(),
  /** Whether the branches' list holds the member now (off it: neither registered for open access nor staff). */
  listed: z.boolean(),
});

const VersionSchema = z.object({
  version: z.int(),
  count: z.int(),
  hash: z.string(),
  keyId: z.string(),
  createdAt: z.string(),
  source: z.string(),
  added: z.int(),
  changed: z.int(),
  removed: z.int(),
  deltaKept: z.boolean(),
});

export const MembersStatusSchema = z.object({
  /** False when central has no deployment key (no member list is distributed). */
  enabled: z.boolean(),
  keyId: z.string().nullable(),
  current: VersionSchema.nullable(),
  /** The oldest version a branch can still get a delta from. */
  deltasFrom: z.int().nullable(),
  versions: z.array(VersionSchema),
  /** How many branches do not hold the current version. */
  behind: z.int(),
  sites: z.array(
    z.object({
      site: z.string(),
      online: z.boolean(),
      version: z.int().nullable(),
      count: z.int().nullable(),
      updatedAt: z.string().nullable(),
      status: z.enum(['current', 'behind', 'no-list', 'unknown']),
      behind: z.int().nullable(),
      transfer: z
        .object({
          transfer: z.string(),
          kind: z.enum(['delta', 'snapshot']).nullable(),
          version: z.int(),
          total: z.int().nullable(),
          sent: z.int(),
          requests: z.int(),
          lastRequestAt: z.string(),
          refused: z.string().nullable(),
        })
        .nullable(),
    }),
  ),
  publisher: z.object({ requests: z.int(), chunksSent: z.int(), bytesSent: z.int(), refusals: z.int(), ignored: z.int() }),
});
