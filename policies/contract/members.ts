// The member list from central to every branch (docs/members.md). Three messages:
//  - `{prefix}/members/current`, retained, read by every site: which version is current (count, hash, key id).
//  - `{prefix}/sites/{site}/members/request`, site → central: "send me chunks from..to of that version", with the
//    list in force as the base for a delta. The branch pulls a window at a time, so it sets the pace and a
//    transfer resumes from the first chunk it lacks.
//  - `{prefix}/sites/{site}/members/chunk`, central → site: one chunk (index of total, its own hash, the version's
//    count and hash), or a refusal saying why and which version is current.
// Requests and chunks stay inside the site's own tree, so the broker ACL still confines a site to `sites/<site>/`.
import { z } from 'zod';
import { InstantSchema, READER, SENDER, type Dialect, type Side } from './common.js';
import { SignatureSchema } from './signing.js';

/** Names the deployment key the card hashes were made with: 16 hex characters (policies/cards.ts). */
export const KeyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, { error: 'must be a key id (16 lower-case hex characters)' });
/** A list hash (policies/member-list.ts): 64 lower-case hex characters. */
export const ListHashSchema = z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a list hash (64 lower-case hex characters)' });

const version = z.int().min(1).max(2 ** 48);
const count = z.int().min(0).max(100_000_000);

/** Most chunks one request may ask for: the branch's receive window. */
export const MAX_MEMBER_WINDOW = 32;
/** Most entries one chunk may carry. */
export const MAX_CHUNK_ENTRIES = 20_000;
/** A request older than this by its `at` is not answered (it was queued while central was away). */
export const MEMBER_REQUEST_MAX_AGE_MS = 120_000;

/** `{prefix}/members/current`, retained, republished on every new version and at least hourly (its `at`). */
function announcementSchema<S extends Side>(d: Dialect<S>) {
  return d.object({
    v: d.centralVersion,
    version,
    /** Members in this version. */
    count,
    /** The list hash of this version. */
    hash: ListHashSchema,
    keyId: KeyIdSchema,
    /** When central published this: a branch that matches it was in sync at that moment. */
    at: InstantSchema,
    /** When this version was made. */
    createdAt: InstantSchema,
    /** Entries per chunk. */
    chunkSize: z.int().min(1).max(MAX_CHUNK_ENTRIES),
    /** The oldest version a delta can start from; a branch further behind (or new) gets a snapshot. */
    deltasFrom: z.int().min(0),
    /** 1.5: central's signature (signing.ts); a 1.5 gateway follows no announcement without a valid one. */
    sig: SignatureSchema.optional(),
  });
}
export const MembersAnnouncementSchema = announcementSchema(SENDER);
export type MembersAnnouncement = z.input<typeof MembersAnnouncementSchema>;
export const ReceivedMembersAnnouncementSchema = announcementSchema(READER);

export const MEMBER_TRANSFER_KINDS = ['delta', 'snapshot'] as const;

/** `{prefix}/sites/{site}/members/request`, QoS 1, not retained. */
function requestSchema<S extends Side>(d: Dialect<S>) {
  return d.object({
    v: d.siteVersion,
    /** Chosen by the branch for one transfer; every chunk of it repeats it. */
    transfer: z.uuid({ error: 'must be a UUID' }),
    at: InstantSchema,
    /** The branch's own key id: central refuses to send a list the branch could not use. */
    keyId: KeyIdSchema,
    /** The version wanted (the announced one). */
    version,
    /** auto: central picks a delta from `base` when it can, else a snapshot. Later windows repeat the kind given. */
    kind: z.enum(['auto', ...MEMBER_TRANSFER_KINDS]),
    /** The list in force at the branch (null: none). */
    base: d.object({ version: z.int().min(0), hash: ListHashSchema }).nullable(),
    /** First chunk wanted, and how many from there. */
    from: z.int().min(0),
    count: z.int().min(1).max(MAX_MEMBER_WINDOW),
  });
}
export const MembersRequestSchema = requestSchema(SENDER);
export type MembersRequest = z.input<typeof MembersRequestSchema>;
export const ReceivedMembersRequestSchema = requestSchema(READER);

function chunkSchema<S extends Side>(d: Dialect<S>) {
  return d
    .object({
      v: d.centralVersion,
      type: z.literal('chunk'),
      transfer: z.uuid(),
      version,
      keyId: KeyIdSchema,
      kind: z.enum(MEMBER_TRANSFER_KINDS),
      /** delta: the version it starts from. */
      base: z.int().min(0).nullable(),
      /** Members in the list at `version`, and its hash: what the branch must hold once it applied the transfer. */
      count,
      hash: ListHashSchema,
      index: z.int().min(0),
      total: z.int().min(1),
      /** SHA-256 (hex) of `entries` joined by newlines. */
      chunkHash: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a SHA-256 (64 hex characters)' }),
      /** Members (`{card hash base64url}\t{9 fields}`), and in a delta removals (the 43-character card hash alone). */
      entries: z.array(z.string().min(43).max(1024)).max(MAX_CHUNK_ENTRIES),
      /** 1.5: central's signature, which covers `transfer` (the branch's random id for this transfer: its nonce). */
      sig: SignatureSchema.optional(),
    })
    .check((ctx) => {
      const c = ctx.value;
      if (c.index >= c.total) ctx.issues.push({ code: 'custom', path: ['index'], message: 'must be less than total', input: c.index });
      if ((c.kind === 'delta') !== (c.base !== null)) {
        ctx.issues.push({ code: 'custom', path: ['base'], message: c.kind === 'delta' ? 'required with a delta' : 'only with a delta', input: c.base });
      }
    });
}

export const MEMBER_REFUSALS = ['superseded', 'unknown-version', 'key-mismatch', 'unavailable', 'bad-request'] as const;

function refusalSchema<S extends Side>(d: Dialect<S>) {
  return d.object({
    v: d.centralVersion,
    type: z.literal('refused'),
    transfer: z.uuid(),
    reason: z.enum(MEMBER_REFUSALS),
    message: z.string().min(1).max(500),
    /** The version current at central now (null: none yet). */
    current: z.int().min(1).nullable(),
    /** 1.5: central's signature, as on a chunk. */
    sig: SignatureSchema.optional(),
  });
}

export const MembersChunkSchema = chunkSchema(SENDER);
export const MembersRefusalSchema = refusalSchema(SENDER);

/** `{prefix}/sites/{site}/members/chunk`, QoS 1, not retained: a chunk of a transfer, or why there is none. */
export const MembersTransferSchema = z.discriminatedUnion('type', [MembersChunkSchema, MembersRefusalSchema]);
export const ReceivedMembersTransferSchema = z.discriminatedUnion('type', [chunkSchema(READER), refusalSchema(READER)]);
export type MembersChunk = z.input<typeof MembersChunkSchema>;
export type MembersRefusal = z.input<typeof MembersRefusalSchema>;
export type MembersTransfer = z.input<typeof MembersTransferSchema>;
