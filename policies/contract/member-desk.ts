// A change to one member made by staff at a branch's desk (docs/members.md, "At the desk"): link a card the member
// taps at the desk reader, or set or remove the member's open-access PIN, typed by the member at the desk. Two
// messages, both inside the site's own tree so the broker ACL still confines a site to `sites/<site>/`:
//  - `{prefix}/sites/{site}/members/change`, site → central: which member (any card of theirs, as the branch hashes
//    it), what to change, and which staff user asked.
//  - `{prefix}/sites/{site}/members/change/reply`, central → site, signed: done (with the list version that carries
//    it) or refused with the reason.
// Only hashes cross: the card hashes are the deployment key's HMAC (policies/cards.ts), the PIN is scrypt-hashed at
// the branch on entry (policies/pin.ts). Central is the one owner of the member list, so the change reaches every
// branch with the next version; the branch changes nothing locally until it arrives.
import { z } from 'zod';
import { ActorSchema, InstantSchema, READER, SENDER, type Dialect, type Side } from './common.js';
import { KeyIdSchema } from './members.js';
import { SignatureSchema } from './signing.js';

/** A card hash as the member list carries it: 32 bytes, base64url without padding (43 characters). */
export const CardHashSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, { error: 'must be a card hash (43 base64url characters)' });

/** A PIN hash as policies/pin.ts makes it: `scrypt$<log2 N>$<r>$<p>$<salt b64>$<key b64>`. */
export const PinHashSchema = z
  .string()
  .max(200)
  .regex(/^scrypt\$\d{1,2}\$\d{1,2}\$\d{1,2}\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/, { error: 'must be a PIN hash (scrypt$N$r$p$salt$key)' });

/** A change older than this by its `at` is refused as stale: it was queued while central was away. */
export const MEMBER_CHANGE_MAX_AGE_MS = 60_000;

export const MEMBER_DESK_CHANGE_KINDS = ['link-card', 'set-pin', 'remove-pin'] as const;

function changeSchema<S extends Side>(d: Dialect<S>) {
  return d.object({
    v: d.siteVersion,
    /** Chosen by the branch; the reply repeats it, and central applies one id once. */
    id: z.uuid({ error: 'must be a UUID' }),
    at: InstantSchema,
    /** The branch's deployment key id: central refuses hashes it could not match. */
    keyId: KeyIdSchema,
    /** The staff user at the branch's console who made the change (central's audit names `<site>/<actor>`). */
    actor: ActorSchema,
    /** Any card of the member (barcode or a linked card), hashed by the branch. */
    member: CardHashSchema,
    change: z.discriminatedUnion('kind', [
      /** The card tapped at the desk reader, to open doors as this member from the next list version on. */
      d.object({ kind: z.literal('link-card'), card: CardHashSchema }),
      d.object({ kind: z.literal('set-pin'), pinHash: PinHashSchema }),
      d.object({ kind: z.literal('remove-pin') }),
    ]),
  });
}
export const MemberDeskChangeSchema = changeSchema(SENDER);
export type MemberDeskChange = z.input<typeof MemberDeskChangeSchema>;
export const ReceivedMemberDeskChangeSchema = changeSchema(READER);

export const MEMBER_DESK_REFUSALS = [
  /** No member has the card named in `member`. */
  'unknown-member',
  /** The card to link already opens doors as another member. */
  'card-taken',
  /** Central's deployment key differs from the branch's. */
  'key-mismatch',
  /** Older than MEMBER_CHANGE_MAX_AGE_MS by its `at`. */
  'stale',
  /** Central's configuration does not take desk changes from this site. */
  'not-allowed',
  /** Central's member list is not available (none imported yet, or its store failed). */
  'unavailable',
  'bad-request',
] as const;

function replySchema<S extends Side>(d: Dialect<S>) {
  return d
    .object({
      v: d.centralVersion,
      id: z.uuid(),
      result: z.enum(['done', 'refused']),
      /** With `refused`: why. A reader takes any name (a newer central may add reasons). */
      reason: d.name(MEMBER_DESK_REFUSALS).optional(),
      /** What to tell the staff user, in central's words. */
      message: z.string().min(1).max(500),
      /** With `done`: the list version that carries the change (null: the list did not change, e.g. linked already). */
      version: z.int().min(1).nullable().optional(),
      /** Central's signature (signing.ts): a branch shows no reply without a valid one. */
      sig: SignatureSchema.optional(),
    })
    .check((ctx) => {
      if ((ctx.value.result === 'refused') !== (ctx.value.reason !== undefined)) {
        ctx.issues.push({ code: 'custom', path: ['reason'], message: 'required with refused, and only with it', input: ctx.value.reason });
      }
    });
}
export const MemberDeskReplySchema = replySchema(SENDER);
export type MemberDeskReply = z.input<typeof MemberDeskReplySchema>;
export const ReceivedMemberDeskReplySchema = replySchema(READER);
