// The member list's tables at central on SQLite (their DDL is in central/store.ts): the embedded default, one
// central. SqliteMemberTables is the synchronous code on better-sqlite3 (each change one IMMEDIATE transaction, so
// two store objects on the file never fork a version); SqliteMemberStore is the asynchronous MemberStore
// (member-store.ts) over it, which the member service and every other caller use.
//
// A version is never stored whole: the current list is, and a delta from an older version b is the current state of
// every card changed after b (removed when it is no longer in the list). A snapshot chunk of an older version can
// still be served when no card in its hash range changed since.
import type { Database as Db, Statement } from 'better-sqlite3';
import { EMPTY_LIST_HASH, ListHash, chunkRange, digestOfParts, encodeCardHash, encodeRemovalEntry } from '../../policies/member-list.js';
import {
  ConcurrentChangeError,
  OtherKeyError,
  keepHeldPin,
  worthADelta,
  type BatchResult,
  type DeskLinkResult,
  type ImportStaging,
  type ListChange,
  type ListDiff,
  type MemberChange,
  type MemberCredentials,
  type MemberStore,
  type MemberUpdate,
  type MemberVersion,
  type RefusedUpdate,
  type VersionMeta,
  toMemberVersion,
  type MemberVersionRow,
  diffOf,
  refusedUids,
} from './member-store.js';

/** A version that changes more than half of the list is not kept as a delta: a snapshot costs about the same. */

export class SqliteMemberTables {
  private readonly q: {
    current: Statement<[], MemberVersionRow>;
    version: Statement<[number], MemberVersionRow>;
    versions: Statement<[number], MemberVersionRow>;
    lastNotKept: Statement<[], { v: number | null }>;
    fields: Statement<[Buffer], { fields: string }>;
    putMember: Statement<[Buffer, string]>;
    deleteMember: Statement<[Buffer]>;
    insertVersion: Statement<[number, number, string, string, number, string, number, number, number, number]>;
    insertDelta: Statement<[number, Buffer]>;
    delta: Statement<[number], { cardHash: Buffer; fields: string | null }>;
    chunk: Statement<[Buffer, Buffer], { cardHash: Buffer; fields: string }>;
    lastChunk: Statement<[Buffer], { cardHash: Buffer; fields: string }>;
    notKeptSince: Statement<[number], { n: number }>;
    changedInRange: Statement<[number, Buffer, Buffer], { one: number }>;
    changedFrom: Statement<[number, Buffer], { one: number }>;
    forget: Statement<[number]>;
    forgetDeltas: Statement<[number]>;
    unlistedFields: Statement<[Buffer], { fields: string }>;
    putUnlisted: Statement<[Buffer, string]>;
    deleteUnlisted: Statement<[Buffer]>;
    unlistedCount: Statement<[], { n: number }>;
    memberOf: Statement<[Buffer], { member: Buffer }>;
    uidsOf: Statement<[Buffer], { card: Buffer }>;
    link: Statement<[Buffer, Buffer]>;
    unlinkMember: Statement<[Buffer]>;
    deskCardsOf: Statement<[Buffer], { card: Buffer }>;
    putDeskCard: Statement<[Buffer, Buffer, string, number]>;
    deleteDeskCard: Statement<[Buffer]>;
    deleteDeskCardsOf: Statement<[Buffer]>;
    deskAnswer: Statement<[string, string], { reply: string }>;
    putDeskAnswer: Statement<[string, string, number, string]>;
    forgetDeskAnswers: Statement<[number, number]>;
  };

  constructor(readonly db: Db) {
    const p = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql);
    this.q = {
      current: p('SELECT * FROM member_versions ORDER BY version DESC LIMIT 1'),
      version: p('SELECT * FROM member_versions WHERE version = ?'),
      versions: p('SELECT * FROM member_versions ORDER BY version DESC LIMIT ?'),
      lastNotKept: p('SELECT max(version) AS v FROM member_versions WHERE delta_kept = 0'),
      fields: p('SELECT fields FROM members_current WHERE card_hash = ?'),
      putMember: p('INSERT OR REPLACE INTO members_current (card_hash, fields) VALUES (?, ?)'),
      deleteMember: p('DELETE FROM members_current WHERE card_hash = ?'),
      insertVersion: p(
        'INSERT INTO member_versions (version, count, hash, key_id, created_ms, source, added, changed, removed, delta_kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertDelta: p('INSERT OR IGNORE INTO member_deltas (version, card_hash) VALUES (?, ?)'),
      delta: p(`SELECT d.card_hash AS cardHash, c.fields AS fields
        FROM (SELECT DISTINCT card_hash FROM member_deltas WHERE version > ?) d
        LEFT JOIN members_current c ON c.card_hash = d.card_hash ORDER BY d.card_hash`),
      chunk: p('SELECT card_hash AS cardHash, fields FROM members_current WHERE card_hash >= ? AND card_hash < ? ORDER BY card_hash'),
      lastChunk: p('SELECT card_hash AS cardHash, fields FROM members_current WHERE card_hash >= ? ORDER BY card_hash'),
      notKeptSince: p('SELECT count(*) AS n FROM member_versions WHERE version > ? AND delta_kept = 0'),
      changedInRange: p('SELECT 1 AS one FROM member_deltas WHERE version > ? AND card_hash >= ? AND card_hash < ? LIMIT 1'),
      changedFrom: p('SELECT 1 AS one FROM member_deltas WHERE version > ? AND card_hash >= ? LIMIT 1'),
      forget: p('UPDATE member_versions SET delta_kept = 0 WHERE version <= ? AND delta_kept = 1'),
      forgetDeltas: p('DELETE FROM member_deltas WHERE version <= ?'),
      unlistedFields: p('SELECT fields FROM members_unlisted WHERE card_hash = ?'),
      putUnlisted: p('INSERT OR REPLACE INTO members_unlisted (card_hash, fields) VALUES (?, ?)'),
      deleteUnlisted: p('DELETE FROM members_unlisted WHERE card_hash = ?'),
      unlistedCount: p('SELECT count(*) AS n FROM members_unlisted'),
      memberOf: p('SELECT member_hash AS member FROM member_credentials WHERE card_hash = ?'),
      uidsOf: p('SELECT card_hash AS card FROM member_credentials WHERE member_hash = ? ORDER BY card_hash'),
      link: p('INSERT OR REPLACE INTO member_credentials (card_hash, member_hash) VALUES (?, ?)'),
      unlinkMember: p('DELETE FROM member_credentials WHERE member_hash = ?'),
      deskCardsOf: p('SELECT card_hash AS card FROM member_desk_cards WHERE member_hash = ? ORDER BY card_hash'),
      putDeskCard: p('INSERT OR REPLACE INTO member_desk_cards (card_hash, member_hash, site, linked_ms) VALUES (?, ?, ?, ?)'),
      deleteDeskCard: p('DELETE FROM member_desk_cards WHERE card_hash = ?'),
      deleteDeskCardsOf: p('DELETE FROM member_desk_cards WHERE member_hash = ?'),
      deskAnswer: p('SELECT reply FROM member_desk_changes WHERE site = ? AND id = ?'),
      putDeskAnswer: p('INSERT OR REPLACE INTO member_desk_changes (site, id, at_ms, reply) VALUES (?, ?, ?, ?)'),
      forgetDeskAnswers: p(`DELETE FROM member_desk_changes WHERE at_ms < ? OR (site, id) IN (
        SELECT site, id FROM member_desk_changes ORDER BY at_ms DESC LIMIT -1 OFFSET ?)`),
    };
  }

  current(): MemberVersion | null {
    const r = this.q.current.get();
    return r ? toMemberVersion(r) : null;
  }

  version(version: number): MemberVersion | null {
    const r = this.q.version.get(version);
    return r ? toMemberVersion(r) : null;
  }

  /** Newest first. */
  versions(limit: number): MemberVersion[] {
    return this.q.versions.all(limit).map(toMemberVersion);
  }

  /** The oldest version a delta can start from: every version after it still has its changes kept. */
  deltasFrom(): number {
    return this.q.lastNotKept.get()?.v ?? 0;
  }

  /** Whether a branch holding `base` (with that hash) can be brought to the current version by a delta. */
  canDelta(base: { version: number; hash: string } | null): boolean {
    const current = this.current();
    if (base === null || current === null || base.version >= current.version || base.version < this.deltasFrom()) return false;
    const held = this.version(base.version);
    return held !== null && held.hash === base.hash && held.keyId === current.keyId;
  }

  /** A member's stored fields (the canonical text after the hash), if the card is in the current list. */
  fields(cardHash: Buffer): string | undefined {
    return this.q.fields.get(cardHash)?.fields;
  }

  /** A member the branches' list leaves out (not registered for open access, not staff): their stored fields. */
  unlistedFields(cardHash: Buffer): string | undefined {
    return this.q.unlistedFields.get(cardHash)?.fields;
  }

  /** A member central holds, on the branches' list or off it: their stored fields. */
  heldFields(cardHash: Buffer): string | undefined {
    return this.fields(cardHash) ?? this.unlistedFields(cardHash);
  }

  /** The member a card opens as (a card UID names its member; a card number is its own) and all their cards. */
  credentials(cardHash: Buffer): MemberCredentials {
    const member = this.q.memberOf.get(cardHash)?.member ?? cardHash;
    return { member, cards: [member, ...this.q.uidsOf.all(member).map((r) => r.card)] };
  }

  /** The member a card opens as (their card number's hash), or undefined when central holds no one with it. */
  ownerOf(cardHash: Buffer): Buffer | undefined {
    return this.q.memberOf.get(cardHash)?.member ?? (this.heldFields(cardHash) !== undefined ? cardHash : undefined);
  }

  /** The cards staff linked to a member at a branch's desk. */
  deskCards(member: Buffer): Buffer[] {
    return this.q.deskCardsOf.all(member).map((r) => r.card);
  }

  /**
   * Links `card` to the member `tapped` (any card of theirs) names, as staff did at `site`'s desk: a credential with
   * the member's fields from the next version, kept through the library system's imports until the member is
   * deleted (member_desk_cards). Checked and written in one transaction.
   */
  linkDeskCard(tapped: Buffer, card: Buffer, site: string, meta: VersionMeta): DeskLinkResult {
    return this.db
      .transaction((): DeskLinkResult => {
        const { member } = this.credentials(tapped);
        const fields = this.heldFields(member);
        if (fields === undefined) return { outcome: 'unknown-member' };
        const listed = this.fields(member) !== undefined;
        const owner = this.ownerOf(card);
        if (owner !== undefined) return owner.equals(member) ? { outcome: 'already', member, listed, version: null } : { outcome: 'card-taken' };
        this.checkKey(this.current(), meta);
        this.q.link.run(card, member);
        this.q.putDeskCard.run(card, member, site, meta.at.getTime());
        const { version } = this.writeChanges([{ cardHash: card, fields, listed }], meta);
        return { outcome: 'linked', member, listed, version };
      })
      .immediate();
  }

  /** The answer given to a desk change already applied (its JSON), if it is still kept. */
  deskAnswer(site: string, id: string): string | undefined {
    return this.q.deskAnswer.get(site, id)?.reply;
  }

  /** Keeps the answer to a desk change; forgets those older than `keep.ms` and all but the newest `keep.count`. */
  recordDeskAnswer(site: string, id: string, at: Date, reply: string, keep: { ms: number; count: number }): void {
    this.db.transaction(() => {
      this.q.putDeskAnswer.run(site, id, at.getTime(), reply);
      this.q.forgetDeskAnswers.run(at.getTime() - keep.ms, keep.count);
    })();
  }

  /** Members central holds that are not on the branches' list. */
  unlistedCount(): number {
    return this.q.unlistedCount.get()!.n;
  }

  /**
   * Many members at once (a delta from the library system), in one transaction and at most ONE new version: each
   * goes on the list (`listed`), into members_unlisted, or away from both (`fields` null). Later entries for the
   * same card win. `verify` sees what the list would become and may throw to refuse it all (nothing changes).
   */
  applyChanges(changes: readonly MemberChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void): BatchResult {
    return this.db
      .transaction((): BatchResult => {
        this.checkKey(this.current(), meta);
        return this.writeChanges(changes, meta, verify);
      })
      .immediate();
  }

  /** A list made with another deployment key takes no change hashed with this one (OtherKeyError). */
  private checkKey(current: MemberVersion | null, meta: VersionMeta): void {
    if (current !== null && current.keyId !== meta.keyId) throw new OtherKeyError();
  }

  /** applyChanges' writes: call inside a transaction. */
  private writeChanges(changes: readonly MemberChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void): BatchResult {
    const last = new Map<string, MemberChange>();
    for (const c of changes) last.set(c.cardHash.toString('hex'), c);
    const onList: ListChange[] = [];
    for (const c of last.values()) {
      if (c.fields !== null && !c.listed) this.q.putUnlisted.run(c.cardHash, c.fields);
      else this.q.deleteUnlisted.run(c.cardHash);
      onList.push({ cardHash: c.cardHash, fields: c.listed ? c.fields : null });
    }
    return this.changeList(onList, meta, verify);
  }
  /**
   * Members from the library system (a delta file, a Koha poll) in one transaction and at most ONE version, each to
   * every credential: the fields (with the PIN central holds for the member, keepHeldPin) on the card number's row
   * and each UID's, a UID the member no longer has removed, a deleted member's every card removed. An update giving
   * a UID that another update in the batch also gives (or that is another's card number) is left out with that one;
   * one giving a UID central holds for a member not in the batch is left out alone. `verify` as applyChanges.
   */
  applyMemberUpdates(updates: readonly MemberUpdate[], meta: VersionMeta, verify?: (diff: ListDiff) => void): BatchResult & { refused: RefusedUpdate[] } {
    return this.db
      .transaction(() => {
        this.checkKey(this.current(), meta);
        const hex = (b: Buffer): string => b.toString('hex');
        // Later updates of the same member win, as in applyChanges.
        const last = new Map<string, number>();
        updates.forEach((u, i) => last.set(hex(u.cardHash), i));
        const held = new Map<number, Buffer[]>();
        const uidsOf = (i: number): readonly Buffer[] => {
          const u = updates[i]!;
          if (u.fields === null) return [];
          if (u.uidHashes !== undefined) return u.uidHashes.filter((h) => !h.equals(u.cardHash));
          let old = held.get(i);
          if (old === undefined) held.set(i, (old = this.q.uidsOf.all(u.cardHash).map((r) => r.card)));
          return old;
        };
        const { refused, claims } = refusedUids(updates, last, uidsOf, (uid) => this.q.memberOf.get(uid)?.member ?? (this.heldFields(uid) !== undefined ? uid : undefined));
        const cards = new Map<string, MemberChange>();
        const links: Array<[Buffer, Buffer]> = [];
        const remove = (cardHash: Buffer): void => {
          if (!cards.has(hex(cardHash))) cards.set(hex(cardHash), { cardHash, fields: null, listed: false });
        };
        for (const i of last.values()) {
          if (refused.has(i)) continue;
          const u = updates[i]!;
          for (const old of this.q.uidsOf.all(u.cardHash)) remove(old.card);
          this.q.unlinkMember.run(u.cardHash);
          if (u.fields === null) {
            remove(u.cardHash);
            this.q.deleteDeskCardsOf.run(u.cardHash);
            continue;
          }
          // The PIN is the member's, kept on their card number's row (PUT /api/members/pin sets it on every card).
          const fields = keepHeldPin(u.cardHash, u.fields, this.heldFields(u.cardHash));
          cards.set(hex(u.cardHash), { cardHash: u.cardHash, fields, listed: u.listed });
          const given = uidsOf(i);
          for (const uid of given) {
            cards.set(hex(uid), { cardHash: uid, fields, listed: u.listed });
            links.push([uid, u.cardHash]);
          }
          // The library system knows nothing of cards linked at a desk: they stay the member's, unless it now
          // gives one to another member of this batch.
          for (const desk of this.q.deskCardsOf.all(u.cardHash)) {
            if (given.some((uid) => uid.equals(desk.card))) continue;
            const rival = claims.get(hex(desk.card)) ?? last.get(hex(desk.card));
            if (rival !== undefined && rival !== i && !refused.has(rival) && updates[rival]!.fields !== null) {
              this.q.deleteDeskCard.run(desk.card);
              continue;
            }
            cards.set(hex(desk.card), { cardHash: desk.card, fields, listed: u.listed });
            links.push([desk.card, u.cardHash]);
          }
        }
        for (const [uid, member] of links) this.q.link.run(uid, member);
        const result = this.writeChanges([...cards.values()], meta, verify);
        return { ...result, refused: [...refused].map(([index, other]) => ({ index, other })).sort((a, b) => a.index - b.index) };
      })
      .immediate();
  }

  /** The delta from `base` to the current version: members as wire entries, removals as the card hash alone. */
  deltaEntries(base: number): string[] {
    return this.q.delta.all(base).map((r) => (r.fields === null ? encodeRemovalEntry(r.cardHash) : encodeCardHash(r.cardHash) + r.fields));
  }

  /**
   * Chunk `index` of `total` of the snapshot of `version`, as wire entries in card-hash order; null when it can no
   * longer be made (a later version changed a card in its range, or its changes are no longer kept).
   */
  snapshotEntries(version: number, index: number, total: number): string[] | null {
    const current = this.current();
    if (current === null || version > current.version) return null;
    const { from, to } = chunkRange(index, total);
    if (version < current.version) {
      if (this.version(version) === null || this.q.notKeptSince.get(version)!.n > 0) return null;
      const touched = to === null ? this.q.changedFrom.get(version, from) : this.q.changedInRange.get(version, from, to);
      if (touched !== undefined) return null;
    }
    const rows = to === null ? this.q.lastChunk.all(from) : this.q.chunk.all(from, to);
    return rows.map((r) => encodeCardHash(r.cardHash) + r.fields);
  }

  /** One member changed, added, or removed (`fields` null). A new version, or null when nothing changed. */
  changeOne(cardHash: Buffer, fields: string | null, meta: VersionMeta): MemberVersion | null {
    return this.db.transaction(() => this.changeList([{ cardHash, fields }], meta).version).immediate();
  }

  /**
   * The list's side of a change (each card once): members written or removed, the list hash moved by their digests
   * alone, one version naming every card changed. Call inside a transaction.
   */
  private changeList(changes: readonly ListChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void): BatchResult {
    const current = this.current();
    const previousCount = current?.count ?? 0;
    const effective: Array<ListChange & { old: string | undefined }> = [];
    for (const c of changes) {
      const old = this.fields(c.cardHash);
      if (old !== (c.fields ?? undefined)) effective.push({ ...c, old });
    }
    const diff = diffOf(effective, previousCount);
    const { added, changed, removed, count } = diff;
    verify?.(diff);
    if (effective.length === 0) return { version: null, diff };
    this.checkKey(current, meta);
    const sum = ListHash.fromHex(current?.hash ?? EMPTY_LIST_HASH);
    for (const c of effective) {
      if (c.old !== undefined) sum.subtractDigest(digestOfParts(c.cardHash, c.old));
      if (c.fields !== null) {
        sum.addDigest(digestOfParts(c.cardHash, c.fields));
        this.q.putMember.run(c.cardHash, c.fields);
      } else {
        this.q.deleteMember.run(c.cardHash);
      }
    }
    const version = (current?.version ?? 0) + 1;
    // One change is always worth a delta; a batch that rewrites most of the list is cheaper as a snapshot.
    const kept = current !== null && (effective.length === 1 || worthADelta(effective.length, count, previousCount));
    this.record({ version, count, hash: sum.toHex(), keyId: meta.keyId, at: meta.at, source: meta.source, added, changed, removed, deltaKept: kept });
    if (kept) for (const c of effective) this.q.insertDelta.run(version, c.cardHash);
    this.prune(version, meta.keepVersions);
    return { version: this.version(version), diff };
  }

  /** Staging for a whole new list (an LMS import): temp tables on this connection, dropped when done. */
  beginImport(): SqliteImportRun {
    return new SqliteImportRun(this);
  }

  /** Forgets the changes of versions older than the last `keep` (they can no longer be part of a delta). */
  prune(current: number, keep: number): void {
    const cutoff = current - keep;
    if (cutoff < 1) return;
    this.q.forget.run(cutoff);
    this.q.forgetDeltas.run(cutoff);
  }

  /** @internal for ImportStaging */
  record(row: Omit<MemberVersion, 'createdAt' | 'deltaKept'> & { at: Date; deltaKept: boolean }): void {
    this.q.insertVersion.run(
      row.version,
      row.count,
      row.hash,
      row.keyId,
      row.at.getTime(),
      row.source,
      row.added,
      row.changed,
      row.removed,
      row.deltaKept ? 1 : 0,
    );
  }
}

const BATCH = 2000;
const STAGE_ROWS = 50;
/** Parameters a staged row: the card hash, the fields, the line (negative: kept off the list), the member's hash. */
const STAGE_PARAMS = 4;

/**
 * One import in progress: rows appended to a temp table as they are read (appending is cheap; inserting a million
 * random hashes into a keyed table is not), then sorted once into a keyed table, compared with the current list,
 * and committed. A staged row is four values bound (its position is the table's own rowid, whether it is listed
 * the sign of its line): binding is most of what staging a row costs. Rows staged as not `listed` become central's unpublished members (members_unlisted), replaced by
 * each import in the same transaction as the list.
 */
export class SqliteImportRun {
  private readonly db: Db;
  private readonly insert: Statement<[Buffer, string, number, Buffer | null]>;
  /** STAGE_ROWS rows a statement: a statement run costs about as much as staging a row. */
  private readonly insertMany: Statement<unknown[]>;
  private readonly sum = new ListHash();
  /** Rows waiting to be staged, STAGE_PARAMS values a row, as they are bound. */
  private batch: unknown[] = [];
  private batchRows = 0;
  private offered = 0;
  /** Rows staged with addUnlisted. */
  private stagedUnlisted = 0;
  /** Card UIDs staged: without any, the credentials table is emptied without a scan of the staged list. */
  private uids = 0;
  private unique = 0;
  private uniqueUnlisted = 0;
  private finished = false;
  private base: MemberVersion | null = null;
  private diffed: ListDiff | null = null;
  /** diff found the current list empty: every staged row listed is added, and import_changes holds none of them. */
  private allAdded = false;
  private disposed = false;

  constructor(private readonly members: SqliteMemberTables) {
    this.db = members.db;
    this.db.exec(`
      DROP TABLE IF EXISTS temp.import_staging;
      DROP TABLE IF EXISTS temp.import_next;
      DROP TABLE IF EXISTS temp.import_changes;
      CREATE TEMP TABLE import_staging (pos INTEGER PRIMARY KEY, card_hash BLOB NOT NULL, fields TEXT NOT NULL, line INTEGER NOT NULL, member_hash BLOB);
    `);
    this.insert = this.db.prepare('INSERT INTO temp.import_staging (card_hash, fields, line, member_hash) VALUES (?, ?, ?, ?)');
    this.insertMany = this.db.prepare(
      `INSERT INTO temp.import_staging (card_hash, fields, line, member_hash) VALUES ${Array(STAGE_ROWS).fill('(?, ?, ?, ?)').join(', ')}`,
    );
  }

  /** Members staged off the list (after `finish`, without the duplicates). */
  get unlisted(): number {
    return this.uniqueUnlisted;
  }

  /**
   * Stages a member for the list; `digest` is digestOfParts(cardHash, fields). `member`: for a card UID, the hash
   * of the member's card number (staged from the same line).
   */
  add(cardHash: Buffer, fields: string, digest: Buffer, line: number, member: Buffer | null = null): void {
    this.sum.addDigest(digest);
    this.stage(cardHash, fields, line, member);
  }

  /** Stages a member for the list whose digest is in a sum the caller gives to addSum (a batch's, made with its hashes). */
  addCounted(cardHash: Buffer, fields: string, line: number, member: Buffer | null = null): void {
    this.stage(cardHash, fields, line, member);
  }

  /** The list hash of rows staged with addCounted. */
  addSum(sum: ListHash): void {
    this.sum.addSum(sum);
  }

  /** Stages a member central keeps but does not publish (not registered for open access, not staff). */
  addUnlisted(cardHash: Buffer, fields: string, line: number, member: Buffer | null = null): void {
    this.stagedUnlisted++;
    this.stage(cardHash, fields, -line, member);
  }

  private stage(cardHash: Buffer, fields: string, line: number, member: Buffer | null): void {
    this.batch.push(cardHash, fields, line, member);
    if (member !== null) this.uids++;
    if (++this.batchRows >= BATCH) this.flush();
  }

  private flush(): void {
    const rows = this.batchRows;
    if (rows === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchRows = 0;
    this.db.transaction(() => {
      let k = 0;
      for (; k + STAGE_ROWS <= rows; k += STAGE_ROWS) this.insertMany.run(batch.slice(k * STAGE_PARAMS, (k + STAGE_ROWS) * STAGE_PARAMS));
      for (; k < rows; k++) {
        const at = k * STAGE_PARAMS;
        this.insert.run(batch[at] as Buffer, batch[at + 1] as string, batch[at + 2] as number, batch[at + 3] as Buffer | null);
      }
    })();
    this.offered += rows;
  }

  /**
   * Sorts what was staged into a keyed table. `onDuplicate(line, firstLine)` is called for each row whose card
   * number an earlier row already had; the earlier row is kept. A card UID on two lines (or one line's UID another's
   * card number) cannot say whose it is: `onShared(line, otherLines)` is called for each of those lines, and every
   * card of theirs is left out. A line left out loses its UIDs with it.
   */
  finish(onDuplicate: (line: number, firstLine: number) => void, onShared: (line: number, otherLines: number[]) => void = () => undefined): void {
    if (this.finished) return;
    this.flush();
    const db = this.db;
    const kept = db.transaction((): number => {
      db.exec('CREATE TEMP TABLE import_next (card_hash BLOB PRIMARY KEY NOT NULL, fields TEXT NOT NULL, line INTEGER NOT NULL, listed INTEGER NOT NULL, member_hash BLOB) WITHOUT ROWID');
      return db
        .prepare(
          `INSERT OR IGNORE INTO temp.import_next (card_hash, fields, line, listed, member_hash)
           SELECT card_hash, fields, abs(line), line > 0, member_hash FROM temp.import_staging ORDER BY card_hash, pos`,
        )
        .run().changes;
    })();
    const duplicates = kept < this.offered;
    if (duplicates) this.leaveOutDuplicates(onDuplicate, onShared);
    const desk = this.keepDeskCards();
    this.keepHeldPins();
    // Without duplicates every staged row was kept: the counts are known without a pass over a million rows.
    const counts = duplicates
      ? db.prepare<[], { n: number; unlisted: number }>('SELECT count(*) AS n, coalesce(sum(listed = 0), 0) AS unlisted FROM temp.import_next').get()!
      : { n: kept + desk.rows, unlisted: this.stagedUnlisted + desk.unlisted };
    this.uniqueUnlisted = counts.unlisted;
    this.unique = counts.n - counts.unlisted;
    db.exec('DROP TABLE temp.import_staging');
    this.finished = true;
  }

  private leaveOutDuplicates(onDuplicate: (line: number, firstLine: number) => void, onShared: (line: number, otherLines: number[]) => void): void {
    const db = this.db;
    const duplicates = db
      .prepare<[], { cardHash: Buffer; fields: string; line: number; first: number; listed: number; shared: number }>(
        `SELECT s.card_hash AS cardHash, s.fields AS fields, abs(s.line) AS line, n.line AS first, s.line > 0 AS listed,
                (s.member_hash IS NOT NULL OR n.member_hash IS NOT NULL) AS shared
         FROM temp.import_staging s JOIN temp.import_next n ON n.card_hash = s.card_hash
         WHERE abs(s.line) <> n.line ORDER BY s.pos`,
      )
      .all();
    const dropped = new Set<number>();
    const shared = new Map<number, Set<number>>();
    const share = (line: number, other: number): void => {
      let others = shared.get(line);
      if (others === undefined) shared.set(line, (others = new Set()));
      others.add(other);
    };
    const copies = new Map<number, number>();
    for (const d of duplicates) {
      if (d.listed === 1) this.sum.subtractDigest(digestOfParts(d.cardHash, d.fields));
      dropped.add(d.line);
      if (d.shared === 1) {
        dropped.add(d.first);
        share(d.line, d.first);
        share(d.first, d.line);
      } else if (!copies.has(d.line)) copies.set(d.line, d.first);
    }
    // Each line told once: a shared UID says more than a repeated card number.
    for (const [line, first] of copies) if (!shared.has(line)) onDuplicate(line, first);
    for (const [line, others] of [...shared].sort((x, y) => x[0] - y[0])) onShared(line, [...others].sort((x, y) => x - y));
    db.transaction(() => {
      db.exec('DROP TABLE IF EXISTS temp.import_dropped; CREATE TEMP TABLE import_dropped (line INTEGER PRIMARY KEY)');
      const drop = db.prepare<[number]>('INSERT INTO temp.import_dropped (line) VALUES (?)');
      for (const line of dropped) drop.run(line);
      const gone = db
        .prepare<[], { cardHash: Buffer; fields: string }>(
          'SELECT card_hash AS cardHash, fields FROM temp.import_next WHERE listed = 1 AND line IN (SELECT line FROM temp.import_dropped)',
        )
        .all();
      for (const g of gone) this.sum.subtractDigest(digestOfParts(g.cardHash, g.fields));
      db.exec('DELETE FROM temp.import_next WHERE line IN (SELECT line FROM temp.import_dropped); DROP TABLE temp.import_dropped;');
    })();
  }

  /**
   * Cards linked at a branch's desk stay their member's (with the member's row) while the export holds the member,
   * unless it gives the card to someone itself; replaceDeskCards forgets the others on commit.
   */
  private keepDeskCards(): { rows: number; unlisted: number } {
    const db = this.db;
    const rows = db
      .prepare<[], { cardHash: Buffer; fields: string; line: number; listed: number; member: Buffer }>(
        `SELECT d.card_hash AS cardHash, n.fields AS fields, n.line AS line, n.listed AS listed, n.card_hash AS member
         FROM main.member_desk_cards d JOIN temp.import_next n ON n.card_hash = d.member_hash AND n.member_hash IS NULL
         WHERE NOT EXISTS (SELECT 1 FROM temp.import_next x WHERE x.card_hash = d.card_hash)`,
      )
      .all();
    if (rows.length === 0) return { rows: 0, unlisted: 0 };
    const insert = db.prepare<[Buffer, string, number, number, Buffer]>('INSERT INTO temp.import_next (card_hash, fields, line, listed, member_hash) VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const r of rows) {
        insert.run(r.cardHash, r.fields, r.line, r.listed, r.member);
        if (r.listed === 1) this.sum.addDigest(digestOfParts(r.cardHash, r.fields));
        this.uids++;
      }
    })();
    return { rows: rows.length, unlisted: rows.filter((r) => r.listed !== 1).length };
  }

  /** Rows without a PIN for members central holds one for (on their card number's row) keep it (keepHeldPin); the list hash follows. */
  private keepHeldPins(): void {
    const db = this.db;
    type Held = { cardHash: Buffer; fields: string; listed: number; held: string };
    // Few members hold a PIN: their rows are found from central's side (a scan, CROSS JOIN keeps it the outer loop),
    // not by two look-ups for each of a million staged rows. A card's row at central is members_current's, else
    // members_unlisted's. A card UID's row keeps the PIN of its member's card number: those rows only are looked up.
    const cardRows = (from: string, where: string): Held[] =>
      db
        .prepare<[], Held>(
          `SELECT n.card_hash AS cardHash, n.fields AS fields, n.listed AS listed, h.fields AS held
           FROM ${from} h CROSS JOIN temp.import_next n ON n.card_hash = h.card_hash
           WHERE substr(h.fields, -1) <> char(9) AND n.member_hash IS NULL AND substr(n.fields, -1) = char(9)${where}`,
        )
        .all();
    const rows = [
      ...cardRows('main.members_current', ''),
      ...cardRows('main.members_unlisted', ' AND NOT EXISTS (SELECT 1 FROM main.members_current c WHERE c.card_hash = h.card_hash)'),
    ];
    if (this.uids > 0) {
      const uidRows = db
        .prepare<[], Held>(
          `SELECT n.card_hash AS cardHash, n.fields AS fields, n.listed AS listed, coalesce(c.fields, u.fields) AS held
           FROM temp.import_next n
           LEFT JOIN main.members_current c ON c.card_hash = n.member_hash
           LEFT JOIN main.members_unlisted u ON u.card_hash = n.member_hash
           WHERE n.member_hash IS NOT NULL AND substr(n.fields, -1) = char(9) AND substr(coalesce(c.fields, u.fields), -1) <> char(9)`,
        )
        .all();
      for (const r of uidRows) rows.push(r);
    }
    if (rows.length === 0) return;
    const update = db.prepare<[string, Buffer]>('UPDATE temp.import_next SET fields = ? WHERE card_hash = ?');
    db.transaction(() => {
      for (const r of rows) {
        const fields = keepHeldPin(r.cardHash, r.fields, r.held);
        update.run(fields, r.cardHash);
        if (r.listed === 1) {
          this.sum.subtractDigest(digestOfParts(r.cardHash, r.fields));
          this.sum.addDigest(digestOfParts(r.cardHash, fields));
        }
      }
    })();
  }

  /** The list hash of what is staged. */
  hash(): string {
    return this.sum.toHex();
  }

  /** Compares the staged list with the current one (nothing is written to the list yet). */
  diff(): ListDiff {
    if (!this.finished) throw new Error('ImportStaging.finish() first');
    const db = this.db;
    this.base = this.members.current();
    db.exec(`
      DROP TABLE IF EXISTS temp.import_changes;
      CREATE TEMP TABLE import_changes (card_hash BLOB PRIMARY KEY NOT NULL, fields TEXT, added INTEGER NOT NULL) WITHOUT ROWID;
    `);
    // count(*) counts a table's pages, not its rows' values.
    const current = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM main.members_current').get()!.n;
    // Into an empty list every staged row is added: commit copies them from import_next, without a copy here first.
    this.allAdded = current === 0;
    let upserts = this.unique;
    let removed = 0;
    if (!this.allAdded) {
      upserts = db
        .prepare(
          `INSERT INTO temp.import_changes (card_hash, fields, added)
           SELECT n.card_hash, n.fields, c.card_hash IS NULL FROM temp.import_next n
           LEFT JOIN main.members_current c ON c.card_hash = n.card_hash
           WHERE n.listed = 1 AND (c.fields IS NULL OR c.fields <> n.fields)`,
        )
        .run().changes;
      removed = db
        .prepare(
          `INSERT INTO temp.import_changes (card_hash, fields, added)
           SELECT c.card_hash, NULL, 0 FROM main.members_current c
           WHERE NOT EXISTS (SELECT 1 FROM temp.import_next n WHERE n.card_hash = c.card_hash AND n.listed = 1)`,
        )
        .run().changes;
    }
    // The rows of the current list kept are those not removed; every other staged row is added (no third pass to count).
    const added = this.unique - (current - removed);
    const changed = upserts - added;
    this.diffed = {
      added,
      changed,
      removed,
      unchanged: this.unique - added - changed,
      count: this.unique,
      previousCount: this.base?.count ?? 0,
    };
    return this.diffed;
  }

  /**
   * Makes the staged list the current one as a new version, in one transaction. `verify` may throw to refuse it
   * (nothing changes). Returns null for the version when the list is the same as the current one.
   */
  commit(meta: VersionMeta, verify?: (diff: ListDiff) => void): { version: MemberVersion | null; diff: ListDiff } {
    const diff = this.diffed ?? this.diff();
    verify?.(diff);
    const base = this.base;
    const hash = this.hash();
    const changes = diff.added + diff.changed + diff.removed;
    const same = changes === 0 && base !== null && base.keyId === meta.keyId;
    const version = this.db
      .transaction((): MemberVersion | null => {
        const now = this.members.current();
        if ((now?.version ?? 0) !== (base?.version ?? 0)) throw new ConcurrentChangeError();
        this.replaceUnlisted();
        this.replaceCredentials();
        this.replaceDeskCards();
        if (same) return null;
        const next = (base?.version ?? 0) + 1;
        const kept = base !== null && base.keyId === meta.keyId && worthADelta(changes, diff.count, diff.previousCount);
        // All added (diff): import_changes was left empty, the staged list is the change.
        const changed = this.allAdded ? '(SELECT card_hash, fields FROM temp.import_next WHERE listed = 1)' : 'temp.import_changes';
        this.db.exec(`
          DELETE FROM main.members_current WHERE card_hash IN (SELECT card_hash FROM temp.import_changes WHERE fields IS NULL);
          INSERT OR REPLACE INTO main.members_current (card_hash, fields) SELECT card_hash, fields FROM ${changed} WHERE fields IS NOT NULL;
        `);
        if (kept) this.db.prepare(`INSERT INTO main.member_deltas (version, card_hash) SELECT ?, card_hash FROM ${changed}`).run(next);
        this.members.record({
          version: next,
          count: diff.count,
          hash,
          keyId: meta.keyId,
          at: meta.at,
          source: meta.source,
          added: diff.added,
          changed: diff.changed,
          removed: diff.removed,
          deltaKept: kept,
        });
        this.members.prune(next, meta.keepVersions);
        return this.members.version(next)!;
      })
      .immediate();
    return { version, diff };
  }

  /**
   * Makes the staged unlisted members central's whole set of them, writing only what differs (most of a county is
   * unchanged from one night to the next). A card is never in both tables: import_next holds each card once.
   */
  private replaceUnlisted(): void {
    this.db.exec(`
      DELETE FROM main.members_unlisted WHERE NOT EXISTS (
        SELECT 1 FROM temp.import_next n WHERE n.card_hash = members_unlisted.card_hash AND n.listed = 0 AND n.fields = members_unlisted.fields);
      INSERT OR IGNORE INTO main.members_unlisted (card_hash, fields) SELECT card_hash, fields FROM temp.import_next WHERE listed = 0;
    `);
  }

  /** The members' card UIDs as staged (a UID may move between members with the same fields, and the list not change). */
  private replaceCredentials(): void {
    if (this.uids === 0) {
      this.db.exec('DELETE FROM main.member_credentials');
      return;
    }
    this.db.exec(`
      DELETE FROM main.member_credentials WHERE NOT EXISTS (
        SELECT 1 FROM temp.import_next n WHERE n.card_hash = member_credentials.card_hash AND n.member_hash = member_credentials.member_hash);
      INSERT OR IGNORE INTO main.member_credentials (card_hash, member_hash) SELECT card_hash, member_hash FROM temp.import_next WHERE member_hash IS NOT NULL;
    `);
  }

  /** Desk-linked cards the import kept (keepDeskCards) stay; the rest went with their member, or to another. */
  private replaceDeskCards(): void {
    this.db.exec(`
      DELETE FROM main.member_desk_cards WHERE NOT EXISTS (
        SELECT 1 FROM temp.import_next n WHERE n.card_hash = member_desk_cards.card_hash AND n.member_hash = member_desk_cards.member_hash);
    `);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.db.open) this.db.exec('DROP TABLE IF EXISTS temp.import_staging; DROP TABLE IF EXISTS temp.import_next; DROP TABLE IF EXISTS temp.import_changes;');
  }
}

/** An import on SQLite: rows are staged synchronously (the import's speed is this), the rest answers as a Promise. */
class SqliteImportStaging implements ImportStaging {
  constructor(private readonly run: SqliteImportRun) {}

  get unlisted(): number {
    return this.run.unlisted;
  }
  add(cardHash: Buffer, fields: string, digest: Buffer, line: number, member: Buffer | null = null): void {
    this.run.add(cardHash, fields, digest, line, member);
  }
  addCounted(cardHash: Buffer, fields: string, line: number, member: Buffer | null = null): void {
    this.run.addCounted(cardHash, fields, line, member);
  }
  addSum(sum: ListHash): void {
    this.run.addSum(sum);
  }
  addUnlisted(cardHash: Buffer, fields: string, line: number, member: Buffer | null = null): void {
    this.run.addUnlisted(cardHash, fields, line, member);
  }
  async settle(): Promise<void> {}
  async finish(onDuplicate: (line: number, firstLine: number) => void, onShared?: (line: number, otherLines: number[]) => void): Promise<void> {
    this.run.finish(onDuplicate, onShared);
  }
  hash(): string {
    return this.run.hash();
  }
  async diff(): Promise<ListDiff> {
    return this.run.diff();
  }
  async commit(meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<{ version: MemberVersion | null; diff: ListDiff }> {
    return this.run.commit(meta, verify);
  }
  async dispose(): Promise<void> {
    this.run.dispose();
  }
}

/** The member list on central's SQLite file (the handle central opened; closing the store leaves it open). */
export class SqliteMemberStore implements MemberStore {
  /** The synchronous tables under this store, for tools and tests on the embedded database. */
  readonly tables: SqliteMemberTables;

  constructor(db: Db | SqliteMemberTables) {
    this.tables = db instanceof SqliteMemberTables ? db : new SqliteMemberTables(db);
  }

  async current(): Promise<MemberVersion | null> {
    return this.tables.current();
  }
  async version(version: number): Promise<MemberVersion | null> {
    return this.tables.version(version);
  }
  async versions(limit: number): Promise<MemberVersion[]> {
    return this.tables.versions(limit);
  }
  async deltasFrom(): Promise<number> {
    return this.tables.deltasFrom();
  }
  async canDelta(base: { version: number; hash: string } | null): Promise<boolean> {
    return this.tables.canDelta(base);
  }
  async fields(cardHash: Buffer): Promise<string | undefined> {
    return this.tables.fields(cardHash);
  }
  async unlistedFields(cardHash: Buffer): Promise<string | undefined> {
    return this.tables.unlistedFields(cardHash);
  }
  async heldFields(cardHash: Buffer): Promise<string | undefined> {
    return this.tables.heldFields(cardHash);
  }
  async credentials(cardHash: Buffer): Promise<MemberCredentials> {
    return this.tables.credentials(cardHash);
  }
  async ownerOf(cardHash: Buffer): Promise<Buffer | undefined> {
    return this.tables.ownerOf(cardHash);
  }
  async deskCards(member: Buffer): Promise<Buffer[]> {
    return this.tables.deskCards(member);
  }
  async linkDeskCard(tapped: Buffer, card: Buffer, site: string, meta: VersionMeta): Promise<DeskLinkResult> {
    return this.tables.linkDeskCard(tapped, card, site, meta);
  }
  async deskAnswer(site: string, id: string): Promise<string | undefined> {
    return this.tables.deskAnswer(site, id);
  }
  async recordDeskAnswer(site: string, id: string, at: Date, reply: string, keep: { ms: number; count: number }): Promise<void> {
    this.tables.recordDeskAnswer(site, id, at, reply, keep);
  }
  async unlistedCount(): Promise<number> {
    return this.tables.unlistedCount();
  }
  async applyChanges(changes: readonly MemberChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<BatchResult> {
    return this.tables.applyChanges(changes, meta, verify);
  }
  async applyMemberUpdates(
    updates: readonly MemberUpdate[],
    meta: VersionMeta,
    verify?: (diff: ListDiff) => void,
  ): Promise<BatchResult & { refused: RefusedUpdate[] }> {
    return this.tables.applyMemberUpdates(updates, meta, verify);
  }
  async deltaEntries(base: number): Promise<string[]> {
    return this.tables.deltaEntries(base);
  }
  async snapshotEntries(version: number, index: number, total: number): Promise<string[] | null> {
    return this.tables.snapshotEntries(version, index, total);
  }
  async changeOne(cardHash: Buffer, fields: string | null, meta: VersionMeta): Promise<MemberVersion | null> {
    return this.tables.changeOne(cardHash, fields, meta);
  }
  async beginImport(): Promise<ImportStaging> {
    return new SqliteImportStaging(this.tables.beginImport());
  }
  async prune(current: number, keep: number): Promise<void> {
    this.tables.prune(current, keep);
  }
  async close(): Promise<void> {}
}
