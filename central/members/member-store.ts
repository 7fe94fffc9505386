// The member list at central behind an asynchronous store: its versions, the current list, the members it leaves
// out (never published), card UIDs and desk-linked cards, and the staging of a whole new list. Two stores answer
// the same (test/store-suites/member-store-suite.ts): SQLite (sqlite-member-store.ts, the embedded default) and
// PostgreSQL (pg-member-store.ts), which several central instances share, so a version made through one is current,
// and its delta servable, through every other.
//
// A version is never stored whole: the current list is, and a delta from an older version b is the current state of
// every card changed after b (removed when it is no longer in the list). A snapshot chunk of an older version can
// still be served when no card in its hash range changed since.
import { memberFieldsText, parseMemberFields, type ListHash } from '../../policies/member-list.js';

/**
 * Which of a batch's updates give a card UID they may not take, whichever engine applies them: two updates naming one
 * UID refuse each other (`other`: the rival's index), and a UID central holds for a member outside the batch stays
 * theirs (`other` null). `last`: each member's last update by card hash (hex), the ones applied; `uidsOf(i)`: the
 * UIDs update i gives; `ownerOf(uid)`: whom central holds that card for now. `claims`: which update takes each UID
 * (by hex), for the desk cards' rule that follows.
 */
export function refusedUids(
  updates: readonly MemberUpdate[],
  last: ReadonlyMap<string, number>,
  uidsOf: (i: number) => readonly Buffer[],
  ownerOf: (uid: Buffer) => Buffer | undefined,
): { refused: Map<number, number | null>; claims: Map<string, number> } {
  const refused = new Map<number, number | null>();
  const claims = new Map<string, number>();
  for (const i of last.values()) {
    for (const uid of uidsOf(i)) {
      const key = uid.toString('hex');
      const rival = claims.get(key) ?? last.get(key);
      if (rival !== undefined && rival !== i && updates[rival]!.fields !== null) {
        refused.set(i, rival);
        if (!refused.has(rival)) refused.set(rival, i);
        continue;
      }
      claims.set(key, i);
      // A card central holds for someone not in this batch (their card number, or their UID) stays theirs.
      const owner = ownerOf(uid);
      if (owner !== undefined && !owner.equals(updates[i]!.cardHash) && !last.has(owner.toString('hex')) && !refused.has(i)) refused.set(i, null);
    }
  }
  return { refused, claims };
}

/** The counts of a change to the list, from the changes that change something (`old`: the fields before, if any). */
export function diffOf(effective: ReadonlyArray<{ old: string | undefined; fields: string | null }>, previousCount: number): ListDiff {
  const added = effective.filter((c) => c.old === undefined).length;
  const removed = effective.filter((c) => c.fields === null).length;
  const changed = effective.length - added - removed;
  const count = previousCount + added - removed;
  return { added, changed, removed, unchanged: count - added - changed, count, previousCount };
}

/**
 * Library systems export no PINs (their rows come with none), so an open-access PIN set at central (PUT
 * /api/members/pin) is kept when the library system's row for the card comes again: `fields` with the PIN of
 * `held` (central's row for the card), or `fields` as it was when either has a PIN of its own or none is held.
 * A fields text without a PIN ends with its tab (policies/member-list.ts).
 */
export function keepHeldPin(cardHash: Buffer, fields: string, held: string | undefined): string {
  if (held === undefined || !fields.endsWith('\t') || held.endsWith('\t')) return fields;
  return memberFieldsText({ cardHash, ...parseMemberFields(fields), pinHash: parseMemberFields(held).pinHash });
}

export interface MemberVersion {
  version: number;
  count: number;
  hash: string;
  keyId: string;
  createdAt: string;
  source: string;
  added: number;
  changed: number;
  removed: number;
  /** The cards this version changed are still kept (it can be part of a delta). */
  deltaKept: boolean;
}

/** A version row as either engine reads it (SQLite's booleans are 0 and 1). */
export interface MemberVersionRow {
  version: number;
  count: number;
  hash: string;
  key_id: string;
  created_ms: number;
  source: string;
  added: number;
  changed: number;
  removed: number;
  delta_kept: number | boolean;
}

export function toMemberVersion(r: MemberVersionRow): MemberVersion {
  return {
    version: r.version,
    count: r.count,
    hash: r.hash,
    keyId: r.key_id,
    createdAt: new Date(r.created_ms).toISOString(),
    source: r.source,
    added: r.added,
    changed: r.changed,
    removed: r.removed,
    deltaKept: r.delta_kept === true || r.delta_kept === 1,
  };
}

export interface ListDiff {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Members in the new list. */
  count: number;
  /** Members in the list before. */
  previousCount: number;
}

export interface VersionMeta {
  keyId: string;
  source: string;
  at: Date;
  keepVersions: number;
}

/** A member's new state: on the branches' list (`listed`), held off it at central, or gone from both (`fields` null). */
export interface MemberChange {
  cardHash: Buffer;
  /** The canonical fields text (memberFieldsText without the hash); null removes the member everywhere. */
  fields: string | null;
  listed: boolean;
}

export interface ListChange {
  cardHash: Buffer;
  fields: string | null;
}

/**
 * A member's new state from the library system, for every credential the member has: the row of their card number
 * (`cardHash`) and one row per card UID, all with the same fields. `uidHashes` undefined: the source does not say
 * (no such column or attribute), so the UIDs central holds for the member stay theirs.
 */
export interface MemberUpdate {
  cardHash: Buffer;
  fields: string | null;
  listed: boolean;
  uidHashes?: readonly Buffer[] | undefined;
}

/** An update left out because a card UID it gives is another member's: `other`, that update's index, or null for a member central holds. */
export interface RefusedUpdate {
  index: number;
  other: number | null;
}

/** A member's credentials: the card number's hash (`member`), and every card hash that opens as them, that one first. */
export interface MemberCredentials {
  member: Buffer;
  cards: Buffer[];
}

/** What linking a desk card did: refused, already the member's (no version), or linked (a version when the list changed). */
export type DeskLinkResult =
  | { outcome: 'unknown-member' | 'card-taken' }
  | { outcome: 'linked' | 'already'; member: Buffer; listed: boolean; version: MemberVersion | null };

export interface BatchResult {
  /** The version made, or null when the list did not change (members_unlisted may have). */
  version: MemberVersion | null;
  diff: ListDiff;
}

export class OtherKeyError extends Error {
  constructor() {
    super('the current list was made with another deployment key: import the LMS export again first');
    this.name = 'OtherKeyError';
  }
}

export class ConcurrentChangeError extends Error {
  constructor() {
    super('the member list changed while this file was read (another import or change): nothing changed; import it again');
    this.name = 'ConcurrentChangeError';
  }
}


/** A version that changes more than half of the list is not kept as a delta: a snapshot costs about the same. */
export function worthADelta(changes: number, count: number, previousCount: number): boolean {
  return changes <= Math.max(count, previousCount) / 2;
}

/**
 * One import of a whole list in progress. Rows are staged one at a time, synchronously (a million-row export calls
 * `add` a million times); a store that writes them in batches (PostgreSQL) is awaited through `settle` once in a
 * while so that rows do not pile up in memory. Then `finish` sorts them out (duplicates, desk cards kept, held
 * PINs kept), `diff` compares with the current list, and `commit` makes it a new version in one transaction.
 */
export interface ImportStaging {
  /** Members staged off the list (after `finish`, without the duplicates). */
  readonly unlisted: number;
  /**
   * Stages a member for the list; `digest` is digestOfParts(cardHash, fields). `member`: for a card UID, the hash
   * of the member's card number (staged from the same line).
   */
  add(cardHash: Buffer, fields: string, digest: Buffer, line: number, member?: Buffer | null): void;
  /** Stages a member for the list whose digest is in a sum the caller gives to addSum (a batch's, made with its hashes). */
  addCounted(cardHash: Buffer, fields: string, line: number, member?: Buffer | null): void;
  /** The list hash of rows staged with addCounted. */
  addSum(sum: ListHash): void;
  /** Stages a member central keeps but does not publish (not registered for open access, not staff). */
  addUnlisted(cardHash: Buffer, fields: string, line: number, member?: Buffer | null): void;
  /** Resolves when the rows staged so far are written (at once on SQLite): an importer awaits it once a batch. */
  settle(): Promise<void>;
  /**
   * Sorts what was staged into one row a card. `onDuplicate(line, firstLine)` is called for each row whose card
   * number an earlier row already had; the earlier row is kept. A card UID on two lines (or one line's UID another's
   * card number) cannot say whose it is: `onShared(line, otherLines)` is called for each of those lines, and every
   * card of theirs is left out. A line left out loses its UIDs with it.
   */
  finish(onDuplicate: (line: number, firstLine: number) => void, onShared?: (line: number, otherLines: number[]) => void): Promise<void>;
  /** The list hash of what is staged. */
  hash(): string;
  /** Compares the staged list with the current one (nothing is written to the list yet). */
  diff(): Promise<ListDiff>;
  /**
   * Makes the staged list the current one as a new version, in one transaction. `verify` may throw to refuse it
   * (nothing changes). Returns null for the version when the list is the same as the current one. Throws
   * ConcurrentChangeError when another version was made since `diff` (another import or change).
   */
  commit(meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<{ version: MemberVersion | null; diff: ListDiff }>;
  /** Drops what was staged (after commit, or instead of it). */
  dispose(): Promise<void>;
}

/** Everything the member service keeps about members, asynchronously (SQLite and PostgreSQL answer the same). */
export interface MemberStore {
  current(): Promise<MemberVersion | null>;
  version(version: number): Promise<MemberVersion | null>;
  /** Newest first. */
  versions(limit: number): Promise<MemberVersion[]>;
  /** The oldest version a delta can start from: every version after it still has its changes kept. */
  deltasFrom(): Promise<number>;
  /** Whether a branch holding `base` (with that hash) can be brought to the current version by a delta. */
  canDelta(base: { version: number; hash: string } | null): Promise<boolean>;
  /** A member's stored fields (the canonical text after the hash), if the card is in the current list. */
  fields(cardHash: Buffer): Promise<string | undefined>;
  /** A member the branches' list leaves out (not registered for open access, not staff): their stored fields. */
  unlistedFields(cardHash: Buffer): Promise<string | undefined>;
  /** A member central holds, on the branches' list or off it: their stored fields. */
  heldFields(cardHash: Buffer): Promise<string | undefined>;
  /** The member a card opens as (a card UID names its member; a card number is its own) and all their cards. */
  credentials(cardHash: Buffer): Promise<MemberCredentials>;
  /** The member a card opens as (their card number's hash), or undefined when central holds no one with it. */
  ownerOf(cardHash: Buffer): Promise<Buffer | undefined>;
  /** The cards staff linked to a member at a branch's desk. */
  deskCards(member: Buffer): Promise<Buffer[]>;
  /**
   * Links `card` to the member `tapped` (any card of theirs) names, as staff did at `site`'s desk: a credential with
   * the member's fields from the next version, kept through the library system's imports until the member is
   * deleted. Checked and written in one transaction.
   */
  linkDeskCard(tapped: Buffer, card: Buffer, site: string, meta: VersionMeta): Promise<DeskLinkResult>;
  /** The answer given to a desk change already applied (its JSON), if it is still kept. */
  deskAnswer(site: string, id: string): Promise<string | undefined>;
  /** Keeps the answer to a desk change; forgets those older than `keep.ms` and all but the newest `keep.count`. */
  recordDeskAnswer(site: string, id: string, at: Date, reply: string, keep: { ms: number; count: number }): Promise<void>;
  /** Members central holds that are not on the branches' list. */
  unlistedCount(): Promise<number>;
  /**
   * Many members at once (a delta from the library system), in one transaction and at most ONE new version: each
   * goes on the list (`listed`), into the unlisted members, or away from both (`fields` null). Later entries for the
   * same card win. `verify` sees what the list would become and may throw to refuse it all (nothing changes).
   */
  applyChanges(changes: readonly MemberChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<BatchResult>;
  /**
   * Members from the library system (a delta file, a Koha poll) in one transaction and at most ONE version, each to
   * every credential: the fields (with the PIN central holds for the member, keepHeldPin) on the card number's row
   * and each UID's, a UID the member no longer has removed, a deleted member's every card removed. An update giving
   * a UID that another update in the batch also gives (or that is another's card number) is left out with that one;
   * one giving a UID central holds for a member not in the batch is left out alone. `verify` as applyChanges.
   */
  applyMemberUpdates(updates: readonly MemberUpdate[], meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<BatchResult & { refused: RefusedUpdate[] }>;
  /** The delta from `base` to the current version: members as wire entries, removals as the card hash alone. */
  deltaEntries(base: number): Promise<string[]>;
  /**
   * Chunk `index` of `total` of the snapshot of `version`, as wire entries in card-hash order; null when it can no
   * longer be made (a later version changed a card in its range, or its changes are no longer kept).
   */
  snapshotEntries(version: number, index: number, total: number): Promise<string[] | null>;
  /** One member changed, added, or removed (`fields` null). A new version, or null when nothing changed. */
  changeOne(cardHash: Buffer, fields: string | null, meta: VersionMeta): Promise<MemberVersion | null>;
  /** Staging for a whole new list (an LMS import). */
  beginImport(): Promise<ImportStaging>;
  /** Forgets the changes of versions older than the last `keep` (they can no longer be part of a delta). */
  prune(current: number, keep: number): Promise<void>;
  /** Releases what the store opened itself (a pool of its own); central's shared handles stay open. */
  close(): Promise<void>;
}

/** The name callers have always used for the member store. */
export type CentralMemberStore = MemberStore;
