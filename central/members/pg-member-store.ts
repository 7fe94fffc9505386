// The member list on PostgreSQL (tables: central/pg/migrations/030-members.sql), shared by every instance of a
// cluster: the same answers as the SQLite store (sqlite-member-store.ts). Every change that makes a version runs in
// one transaction that first takes one advisory lock, then reads the current version: two instances importing, or a
// desk change on one while the other imports, make consecutive versions, never two of one number. An import's
// staging lives in temporary tables on one connection held for the import, written a batch of rows a round trip.
import type { Logger } from 'pino';
import { EMPTY_LIST_HASH, ListHash, chunkRange, digestOfParts, encodeCardHash, encodeRemovalEntry } from '../../policies/member-list.js';
import { openMigrated } from '../pg/migrate.js';
import { inTransaction, type PgClient, type PgPool } from '../pg/pool.js';
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

type Queryable = Pick<PgClient, 'query'>;

/** pg_advisory_xact_lock's two-int form: the namespace of central's locks (central/pg/migrate.ts), and member versions. */
export const MEMBER_VERSIONS_LOCK: readonly [number, number] = [0x0a6_0001, 30];

/** Rows a round trip when an import's staged rows are written, and when a batch's changes are. */
const STAGE_BATCH = 5000;


async function rows<R extends object>(on: Queryable, sql: string, values: unknown[] = []): Promise<R[]> {
  return (await on.query<R>(sql, values)).rows;
}

async function one<R extends object>(on: Queryable, sql: string, values: unknown[] = []): Promise<R | undefined> {
  return (await on.query<R>(sql, values)).rows[0];
}

const hex = (b: Buffer): string => b.toString('hex');

/** The reads and writes of the member tables on one connection (the pool, or a transaction's client). */
class Tables {
  constructor(readonly on: Queryable) {}

  async current(): Promise<MemberVersion | null> {
    const r = await one<MemberVersionRow>(this.on, 'SELECT * FROM member_versions ORDER BY version DESC LIMIT 1');
    return r ? toMemberVersion(r) : null;
  }
  async version(version: number): Promise<MemberVersion | null> {
    const r = await one<MemberVersionRow>(this.on, 'SELECT * FROM member_versions WHERE version = $1', [version]);
    return r ? toMemberVersion(r) : null;
  }
  async fields(cardHash: Buffer): Promise<string | undefined> {
    return (await one<{ fields: string }>(this.on, 'SELECT fields FROM members_current WHERE card_hash = $1', [cardHash]))?.fields;
  }
  async unlistedFields(cardHash: Buffer): Promise<string | undefined> {
    return (await one<{ fields: string }>(this.on, 'SELECT fields FROM members_unlisted WHERE card_hash = $1', [cardHash]))?.fields;
  }
  async heldFields(cardHash: Buffer): Promise<string | undefined> {
    return (await this.fields(cardHash)) ?? (await this.unlistedFields(cardHash));
  }
  async memberOf(cardHash: Buffer): Promise<Buffer | undefined> {
    return (await one<{ member: Buffer }>(this.on, 'SELECT member_hash AS member FROM member_credentials WHERE card_hash = $1', [cardHash]))?.member;
  }
  async uidsOf(member: Buffer): Promise<Buffer[]> {
    return (await rows<{ card: Buffer }>(this.on, 'SELECT card_hash AS card FROM member_credentials WHERE member_hash = $1 ORDER BY card_hash', [member])).map((r) => r.card);
  }
  async credentials(cardHash: Buffer): Promise<MemberCredentials> {
    const member = (await this.memberOf(cardHash)) ?? cardHash;
    return { member, cards: [member, ...(await this.uidsOf(member))] };
  }
  async ownerOf(cardHash: Buffer): Promise<Buffer | undefined> {
    return (await this.memberOf(cardHash)) ?? ((await this.heldFields(cardHash)) !== undefined ? cardHash : undefined);
  }
  async deskCards(member: Buffer): Promise<Buffer[]> {
    return (await rows<{ card: Buffer }>(this.on, 'SELECT card_hash AS card FROM member_desk_cards WHERE member_hash = $1 ORDER BY card_hash', [member])).map((r) => r.card);
  }
  async link(card: Buffer, member: Buffer): Promise<void> {
    await this.on.query(
      'INSERT INTO member_credentials (card_hash, member_hash) VALUES ($1, $2) ON CONFLICT (card_hash) DO UPDATE SET member_hash = EXCLUDED.member_hash',
      [card, member],
    );
  }

  /** `fn` on `list` STAGE_BATCH items at a time (one statement a round trip), one part after another. */
  async forEachBatch<T>(list: readonly T[], fn: (part: T[]) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < list.length; i += STAGE_BATCH) await fn(list.slice(i, i + STAGE_BATCH));
  }

  /** What central holds for these members, keyed by hex card hash: their UIDs and desk cards (in card order), their fields. */
  async heldBy(members: readonly Buffer[]): Promise<{ uids: Map<string, Buffer[]>; desk: Map<string, Buffer[]>; fields: Map<string, string> }> {
    const uids = new Map<string, Buffer[]>();
    const desk = new Map<string, Buffer[]>();
    const fields = new Map<string, string>();
    const byMember = (into: Map<string, Buffer[]>, found: ReadonlyArray<{ card: Buffer; member: Buffer }>): void => {
      for (const r of found) {
        const key = hex(r.member);
        const list = into.get(key);
        if (list === undefined) into.set(key, [r.card]);
        else list.push(r.card);
      }
    };
    await this.forEachBatch(members, async (part) => {
      byMember(
        uids,
        await rows<{ card: Buffer; member: Buffer }>(
          this.on,
          'SELECT card_hash AS card, member_hash AS member FROM member_credentials WHERE member_hash = ANY($1::bytea[]) ORDER BY card_hash',
          [part],
        ),
      );
      byMember(
        desk,
        await rows<{ card: Buffer; member: Buffer }>(
          this.on,
          'SELECT card_hash AS card, member_hash AS member FROM member_desk_cards WHERE member_hash = ANY($1::bytea[]) ORDER BY card_hash',
          [part],
        ),
      );
      const found = await rows<{ card: Buffer; fields: string }>(
        this.on,
        `SELECT k.card AS card, coalesce(c.fields, u.fields) AS fields FROM unnest($1::bytea[]) AS k(card)
         LEFT JOIN members_current c ON c.card_hash = k.card LEFT JOIN members_unlisted u ON u.card_hash = k.card
         WHERE c.fields IS NOT NULL OR u.fields IS NOT NULL`,
        [part],
      );
      for (const r of found) fields.set(hex(r.card), r.fields);
    });
    return { uids, desk, fields };
  }

  /** ownerOf for many cards at once, keyed by hex card hash (cards no one holds left out). */
  async ownersOf(cards: readonly Buffer[]): Promise<Map<string, Buffer>> {
    const owners = new Map<string, Buffer>();
    await this.forEachBatch(cards, async (part) => {
      const found = await rows<{ card: Buffer; member: Buffer }>(
        this.on,
        `SELECT k.card, coalesce(m.member_hash, k.card) AS member FROM unnest($1::bytea[]) AS k(card)
         LEFT JOIN member_credentials m ON m.card_hash = k.card
         WHERE m.member_hash IS NOT NULL
            OR EXISTS (SELECT 1 FROM members_current c WHERE c.card_hash = k.card)
            OR EXISTS (SELECT 1 FROM members_unlisted u WHERE u.card_hash = k.card)`,
        [part],
      );
      for (const r of found) owners.set(hex(r.card), r.member);
    });
    return owners;
  }

  async prune(current: number, keep: number): Promise<void> {
    const cutoff = current - keep;
    if (cutoff < 1) return;
    // One statement, one round trip: the two tables are distinct, so the data-modifying CTE cannot conflict.
    await this.on.query(
      `WITH gone AS (DELETE FROM member_deltas WHERE version <= $1)
       UPDATE member_versions SET delta_kept = false WHERE version <= $1 AND delta_kept`,
      [cutoff],
    );
  }

  async record(row: Omit<MemberVersion, 'createdAt' | 'deltaKept'> & { at: Date; deltaKept: boolean }): Promise<MemberVersion> {
    const r = await one<MemberVersionRow>(
      this.on,
      `INSERT INTO member_versions (version, count, hash, key_id, created_ms, source, added, changed, removed, delta_kept)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [row.version, row.count, row.hash, row.keyId, row.at.getTime(), row.source, row.added, row.changed, row.removed, row.deltaKept],
    );
    return toMemberVersion(r!);
  }

  /**
   * The unlisted side of applyChanges, then the list's (changeList). Call inside a version transaction; `current`,
   * when the caller read it already in that transaction, saves reading it again.
   */
  async writeChanges(changes: readonly MemberChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void, current?: MemberVersion | null): Promise<BatchResult> {
    const last = new Map<string, MemberChange>();
    for (const c of changes) last.set(hex(c.cardHash), c);
    const put: MemberChange[] = [];
    const drop: Buffer[] = [];
    const onList: ListChange[] = [];
    for (const c of last.values()) {
      if (c.fields !== null && !c.listed) put.push(c);
      else drop.push(c.cardHash);
      onList.push({ cardHash: c.cardHash, fields: c.listed ? c.fields : null });
    }
    for (let i = 0; i < drop.length; i += STAGE_BATCH) {
      await this.on.query('DELETE FROM members_unlisted WHERE card_hash = ANY($1::bytea[])', [drop.slice(i, i + STAGE_BATCH)]);
    }
    for (let i = 0; i < put.length; i += STAGE_BATCH) {
      const part = put.slice(i, i + STAGE_BATCH);
      await this.on.query(
        `INSERT INTO members_unlisted (card_hash, fields) SELECT * FROM unnest($1::bytea[], $2::text[])
         ON CONFLICT (card_hash) DO UPDATE SET fields = EXCLUDED.fields`,
        [part.map((c) => c.cardHash), part.map((c) => c.fields)],
      );
    }
    return this.changeList(onList, meta, verify, current);
  }

  /** The list's side of a change (each card once), as the SQLite store's changeList. Call inside a version transaction. */
  async changeList(changes: readonly ListChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void, known?: MemberVersion | null): Promise<BatchResult> {
    const current = known === undefined ? await this.current() : known;
    const previousCount = current?.count ?? 0;
    const old = new Map<string, string>();
    for (let i = 0; i < changes.length; i += STAGE_BATCH) {
      const found = await rows<{ card_hash: Buffer; fields: string }>(this.on, 'SELECT card_hash, fields FROM members_current WHERE card_hash = ANY($1::bytea[])', [
        changes.slice(i, i + STAGE_BATCH).map((c) => c.cardHash),
      ]);
      for (const r of found) old.set(hex(r.card_hash), r.fields);
    }
    const effective: Array<ListChange & { old: string | undefined }> = [];
    for (const c of changes) {
      const was = old.get(hex(c.cardHash));
      if (was !== (c.fields ?? undefined)) effective.push({ ...c, old: was });
    }
    const diff = diffOf(effective, previousCount);
    const { added, changed, removed, count } = diff;
    verify?.(diff);
    if (effective.length === 0) return { version: null, diff };
    if (current !== null && current.keyId !== meta.keyId) throw new OtherKeyError();
    const sum = ListHash.fromHex(current?.hash ?? EMPTY_LIST_HASH);
    const puts: ListChange[] = [];
    const removes: Buffer[] = [];
    for (const c of effective) {
      if (c.old !== undefined) sum.subtractDigest(digestOfParts(c.cardHash, c.old));
      if (c.fields !== null) {
        sum.addDigest(digestOfParts(c.cardHash, c.fields));
        puts.push(c);
      } else removes.push(c.cardHash);
    }
    for (let i = 0; i < removes.length; i += STAGE_BATCH) {
      await this.on.query('DELETE FROM members_current WHERE card_hash = ANY($1::bytea[])', [removes.slice(i, i + STAGE_BATCH)]);
    }
    for (let i = 0; i < puts.length; i += STAGE_BATCH) {
      const part = puts.slice(i, i + STAGE_BATCH);
      await this.on.query(
        `INSERT INTO members_current (card_hash, fields) SELECT * FROM unnest($1::bytea[], $2::text[])
         ON CONFLICT (card_hash) DO UPDATE SET fields = EXCLUDED.fields`,
        [part.map((c) => c.cardHash), part.map((c) => c.fields)],
      );
    }
    const version = (current?.version ?? 0) + 1;
    // One change is always worth a delta; a batch that rewrites most of the list is cheaper as a snapshot.
    const kept = current !== null && (effective.length === 1 || worthADelta(effective.length, count, previousCount));
    const made = await this.record({ version, count, hash: sum.toHex(), keyId: meta.keyId, at: meta.at, source: meta.source, added, changed, removed, deltaKept: kept });
    if (kept) {
      for (let i = 0; i < effective.length; i += STAGE_BATCH) {
        await this.on.query('INSERT INTO member_deltas (version, card_hash) SELECT $1, unnest($2::bytea[]) ON CONFLICT DO NOTHING', [
          version,
          effective.slice(i, i + STAGE_BATCH).map((c) => c.cardHash),
        ]);
      }
    }
    await this.prune(version, meta.keepVersions);
    // What prune does to this version's delta_kept (keepVersions 0) is read back; otherwise the row as written.
    return { version: meta.keepVersions < 1 ? await this.version(version) : made, diff };
  }
}

export class PgMemberStore implements MemberStore {
  private readonly read: Tables;

  private constructor(
    readonly pool: PgPool,
    private readonly ownsPool: boolean,
  ) {
    this.read = new Tables(pool);
  }

  /** On central's shared pool (central/main.ts): closing the store leaves the pool open. */
  static onPool(pool: PgPool): PgMemberStore {
    return new PgMemberStore(pool, false);
  }

  /** On a pool of its own, migrated (tests, tools such as `oag central members import`). */
  static async open(url: string, options: { logger: Logger; max?: number | undefined }): Promise<PgMemberStore> {
    return new PgMemberStore(await openMigrated(url, options), true);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  /**
   * A transaction that may make a version: the members' advisory lock first, so that what it then reads (the
   * current version) stays current until it commits.
   */
  private versionTx<T>(fn: (t: Tables) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...MEMBER_VERSIONS_LOCK]);
      return fn(new Tables(client));
    });
  }

  current(): Promise<MemberVersion | null> {
    return this.read.current();
  }
  version(version: number): Promise<MemberVersion | null> {
    return this.read.version(version);
  }
  async versions(limit: number): Promise<MemberVersion[]> {
    return (await rows<MemberVersionRow>(this.pool, 'SELECT * FROM member_versions ORDER BY version DESC LIMIT $1', [limit])).map(toMemberVersion);
  }
  async deltasFrom(): Promise<number> {
    return (await one<{ v: number | null }>(this.pool, 'SELECT max(version) AS v FROM member_versions WHERE NOT delta_kept'))?.v ?? 0;
  }
  async canDelta(base: { version: number; hash: string } | null): Promise<boolean> {
    const current = await this.current();
    if (base === null || current === null || base.version >= current.version || base.version < (await this.deltasFrom())) return false;
    const held = await this.version(base.version);
    return held !== null && held.hash === base.hash && held.keyId === current.keyId;
  }
  fields(cardHash: Buffer): Promise<string | undefined> {
    return this.read.fields(cardHash);
  }
  unlistedFields(cardHash: Buffer): Promise<string | undefined> {
    return this.read.unlistedFields(cardHash);
  }
  heldFields(cardHash: Buffer): Promise<string | undefined> {
    return this.read.heldFields(cardHash);
  }
  credentials(cardHash: Buffer): Promise<MemberCredentials> {
    return this.read.credentials(cardHash);
  }
  ownerOf(cardHash: Buffer): Promise<Buffer | undefined> {
    return this.read.ownerOf(cardHash);
  }
  deskCards(member: Buffer): Promise<Buffer[]> {
    return this.read.deskCards(member);
  }

  linkDeskCard(tapped: Buffer, card: Buffer, site: string, meta: VersionMeta): Promise<DeskLinkResult> {
    return this.versionTx(async (t): Promise<DeskLinkResult> => {
      const { member } = await t.credentials(tapped);
      const fields = await t.heldFields(member);
      if (fields === undefined) return { outcome: 'unknown-member' };
      const listed = (await t.fields(member)) !== undefined;
      const owner = await t.ownerOf(card);
      if (owner !== undefined) return owner.equals(member) ? { outcome: 'already', member, listed, version: null } : { outcome: 'card-taken' };
      const current = await t.current();
      if (current !== null && current.keyId !== meta.keyId) throw new OtherKeyError();
      await t.link(card, member);
      await t.on.query(
        `INSERT INTO member_desk_cards (card_hash, member_hash, site, linked_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (card_hash) DO UPDATE SET member_hash = EXCLUDED.member_hash, site = EXCLUDED.site, linked_ms = EXCLUDED.linked_ms`,
        [card, member, site, meta.at.getTime()],
      );
      const { version } = await t.writeChanges([{ cardHash: card, fields, listed }], meta);
      return { outcome: 'linked', member, listed, version };
    });
  }

  async deskAnswer(site: string, id: string): Promise<string | undefined> {
    return (await one<{ reply: string }>(this.pool, 'SELECT reply FROM member_desk_changes WHERE site = $1 AND id = $2', [site, id]))?.reply;
  }

  recordDeskAnswer(site: string, id: string, at: Date, reply: string, keep: { ms: number; count: number }): Promise<void> {
    return inTransaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO member_desk_changes (site, id, at_ms, reply) VALUES ($1, $2, $3, $4)
         ON CONFLICT (site, id) DO UPDATE SET at_ms = EXCLUDED.at_ms, reply = EXCLUDED.reply`,
        [site, id, at.getTime(), reply],
      );
      await c.query(
        `DELETE FROM member_desk_changes WHERE at_ms < $1 OR (site, id) IN (
           SELECT site, id FROM member_desk_changes ORDER BY at_ms DESC OFFSET $2)`,
        [at.getTime() - keep.ms, keep.count],
      );
    });
  }

  async unlistedCount(): Promise<number> {
    return (await one<{ n: number }>(this.pool, 'SELECT count(*) AS n FROM members_unlisted'))!.n;
  }

  applyChanges(changes: readonly MemberChange[], meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<BatchResult> {
    return this.versionTx(async (t) => {
      const current = await t.current();
      if (current !== null && current.keyId !== meta.keyId) throw new OtherKeyError();
      return t.writeChanges(changes, meta, verify, current);
    });
  }

  /**
   * As the SQLite store's, but reading what central holds for the whole batch in a few queries first (its members'
   * UIDs, fields and desk cards, the owners of every UID it names) and writing with a few array statements: a round
   * trip a statement, not a few a member, so a delta of 10,000 rows holds the members' lock for a few round trips.
   * Every read is of the state before the batch, as the SQLite store's are (its writes come after its reads).
   */
  applyMemberUpdates(updates: readonly MemberUpdate[], meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<BatchResult & { refused: RefusedUpdate[] }> {
    return this.versionTx(async (t) => {
      const current = await t.current();
      if (current !== null && current.keyId !== meta.keyId) throw new OtherKeyError();
      // Later updates of the same member win, as in applyChanges.
      const last = new Map<string, number>();
      updates.forEach((u, i) => last.set(hex(u.cardHash), i));
      const held = await t.heldBy([...last.values()].map((i) => updates[i]!.cardHash));
      const heldUids = (member: Buffer): readonly Buffer[] => held.uids.get(hex(member)) ?? [];
      const uidsOf = (i: number): readonly Buffer[] => {
        const u = updates[i]!;
        if (u.fields === null) return [];
        if (u.uidHashes !== undefined) return u.uidHashes.filter((h) => !h.equals(u.cardHash));
        return heldUids(u.cardHash);
      };
      const named = new Map<string, Buffer>();
      for (const i of last.values()) for (const uid of uidsOf(i)) named.set(hex(uid), uid);
      const owners = await t.ownersOf([...named.values()]);
      const { refused, claims } = refusedUids(updates, last, uidsOf, (uid) => owners.get(hex(uid)));
      const cards = new Map<string, MemberChange>();
      // By card: a UID given twice in one update is linked once (an upsert may not touch a row twice).
      const links = new Map<string, [Buffer, Buffer]>();
      const unlinked: Buffer[] = [];
      const deleted: Buffer[] = [];
      const deskTaken: Buffer[] = [];
      const remove = (cardHash: Buffer): void => {
        if (!cards.has(hex(cardHash))) cards.set(hex(cardHash), { cardHash, fields: null, listed: false });
      };
      for (const i of last.values()) {
        if (refused.has(i)) continue;
        const u = updates[i]!;
        for (const old of heldUids(u.cardHash)) remove(old);
        unlinked.push(u.cardHash);
        if (u.fields === null) {
          remove(u.cardHash);
          deleted.push(u.cardHash);
          continue;
        }
        // The PIN is the member's, kept on their card number's row.
        const fields = keepHeldPin(u.cardHash, u.fields, held.fields.get(hex(u.cardHash)));
        cards.set(hex(u.cardHash), { cardHash: u.cardHash, fields, listed: u.listed });
        const given = uidsOf(i);
        for (const uid of given) {
          cards.set(hex(uid), { cardHash: uid, fields, listed: u.listed });
          links.set(hex(uid), [uid, u.cardHash]);
        }
        // Cards linked at a desk stay the member's, unless the library system now gives one to another in this batch.
        for (const desk of held.desk.get(hex(u.cardHash)) ?? []) {
          if (given.some((uid) => uid.equals(desk))) continue;
          const rival = claims.get(hex(desk)) ?? last.get(hex(desk));
          if (rival !== undefined && rival !== i && !refused.has(rival) && updates[rival]!.fields !== null) {
            deskTaken.push(desk);
            continue;
          }
          cards.set(hex(desk), { cardHash: desk, fields, listed: u.listed });
          links.set(hex(desk), [desk, u.cardHash]);
        }
      }
      await t.forEachBatch(unlinked, (part) => t.on.query('DELETE FROM member_credentials WHERE member_hash = ANY($1::bytea[])', [part]));
      await t.forEachBatch(deleted, (part) => t.on.query('DELETE FROM member_desk_cards WHERE member_hash = ANY($1::bytea[])', [part]));
      await t.forEachBatch(deskTaken, (part) => t.on.query('DELETE FROM member_desk_cards WHERE card_hash = ANY($1::bytea[])', [part]));
      await t.forEachBatch([...links.values()], (part) =>
        t.on.query(
          `INSERT INTO member_credentials (card_hash, member_hash) SELECT * FROM unnest($1::bytea[], $2::bytea[])
           ON CONFLICT (card_hash) DO UPDATE SET member_hash = EXCLUDED.member_hash`,
          [part.map(([card]) => card), part.map(([, member]) => member)],
        ),
      );
      const result = await t.writeChanges([...cards.values()], meta, verify, current);
      return { ...result, refused: [...refused].map(([index, other]) => ({ index, other })).sort((a, b) => a.index - b.index) };
    });
  }

  async deltaEntries(base: number): Promise<string[]> {
    const found = await rows<{ card_hash: Buffer; fields: string | null }>(
      this.pool,
      `SELECT d.card_hash, c.fields
       FROM (SELECT DISTINCT card_hash FROM member_deltas WHERE version > $1) d
       LEFT JOIN members_current c ON c.card_hash = d.card_hash ORDER BY d.card_hash`,
      [base],
    );
    return found.map((r) => (r.fields === null ? encodeRemovalEntry(r.card_hash) : encodeCardHash(r.card_hash) + r.fields));
  }

  /** As SQLite's: in one REPEATABLE READ transaction, so the chunk and the check that it can still be made agree. */
  snapshotEntries(version: number, index: number, total: number): Promise<string[] | null> {
    return inTransaction(this.pool, async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const t = new Tables(c);
      const current = await t.current();
      if (current === null || version > current.version) return null;
      const { from, to } = chunkRange(index, total);
      if (version < current.version) {
        if ((await t.version(version)) === null) return null;
        const notKept = await one<{ n: number }>(c, 'SELECT count(*) AS n FROM member_versions WHERE version > $1 AND NOT delta_kept', [version]);
        if (notKept!.n > 0) return null;
        const touched =
          to === null
            ? await one(c, 'SELECT 1 AS one FROM member_deltas WHERE version > $1 AND card_hash >= $2 LIMIT 1', [version, from])
            : await one(c, 'SELECT 1 AS one FROM member_deltas WHERE version > $1 AND card_hash >= $2 AND card_hash < $3 LIMIT 1', [version, from, to]);
        if (touched !== undefined) return null;
      }
      const found =
        to === null
          ? await rows<{ card_hash: Buffer; fields: string }>(c, 'SELECT card_hash, fields FROM members_current WHERE card_hash >= $1 ORDER BY card_hash', [from])
          : await rows<{ card_hash: Buffer; fields: string }>(c, 'SELECT card_hash, fields FROM members_current WHERE card_hash >= $1 AND card_hash < $2 ORDER BY card_hash', [
              from,
              to,
            ]);
      return found.map((r) => encodeCardHash(r.card_hash) + r.fields);
    });
  }

  changeOne(cardHash: Buffer, fields: string | null, meta: VersionMeta): Promise<MemberVersion | null> {
    return this.versionTx(async (t) => (await t.changeList([{ cardHash, fields }], meta)).version);
  }

  async beginImport(): Promise<ImportStaging> {
    const client = await this.pool.connect();
    try {
      return await PgImportStaging.begin(client);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
  }

  prune(current: number, keep: number): Promise<void> {
    return inTransaction(this.pool, (c) => new Tables(c).prune(current, keep));
  }
}

/**
 * One import on PostgreSQL: on one connection of the pool, held until `dispose`, with temporary tables of its own
 * (so two instances importing at once do not see each other's rows). Rows are buffered and written STAGE_BATCH at a
 * time (one INSERT … SELECT FROM unnest a round trip) while the importer reads on; `settle` waits for the writes, so
 * an importer that awaits it once a batch holds at most a batch or two in memory. Then `finish`, `diff` and
 * `commit` do in SQL what the SQLite staging does.
 */
class PgImportStaging implements ImportStaging {
  private readonly sum = new ListHash();
  private cards: Buffer[] = [];
  private texts: string[] = [];
  private lines: number[] = [];
  private members: Array<Buffer | null> = [];
  private pos = 0;
  /** The writes under way, one after another; the first failure is kept and thrown by settle/finish. */
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private offered = 0;
  private uids = 0;
  private unique = 0;
  private uniqueUnlisted = 0;
  private finished = false;
  private base: MemberVersion | null = null;
  private diffed: ListDiff | null = null;
  private disposed = false;
  private broken: Error | undefined;

  private constructor(private readonly client: PgClient) {
    client.on('error', this.onError);
  }

  private readonly onError = (err: Error): void => {
    this.broken = err;
    this.failure ??= err;
  };

  static async begin(client: PgClient): Promise<PgImportStaging> {
    const staging = new PgImportStaging(client);
    await client.query(`
      DROP TABLE IF EXISTS pg_temp.import_staging, pg_temp.import_next, pg_temp.import_changes;
      CREATE TEMP TABLE import_staging (pos bigint NOT NULL, card_hash bytea NOT NULL, fields text NOT NULL, line integer NOT NULL, member_hash bytea);
    `);
    return staging;
  }

  get unlisted(): number {
    return this.uniqueUnlisted;
  }

  add(cardHash: Buffer, fields: string, digest: Buffer, line: number, member: Buffer | null = null): void {
    this.sum.addDigest(digest);
    this.stage(cardHash, fields, line, member);
  }
  addCounted(cardHash: Buffer, fields: string, line: number, member: Buffer | null = null): void {
    this.stage(cardHash, fields, line, member);
  }
  addSum(sum: ListHash): void {
    this.sum.addSum(sum);
  }
  addUnlisted(cardHash: Buffer, fields: string, line: number, member: Buffer | null = null): void {
    this.stage(cardHash, fields, -line, member);
  }

  private stage(cardHash: Buffer, fields: string, line: number, member: Buffer | null): void {
    this.cards.push(cardHash);
    this.texts.push(fields);
    this.lines.push(line);
    this.members.push(member);
    if (member !== null) this.uids++;
    if (this.cards.length >= STAGE_BATCH) this.flush();
  }

  private flush(): void {
    if (this.cards.length === 0) return;
    const n = this.cards.length;
    const positions = Array.from({ length: n }, (_, k) => this.pos + k);
    this.pos += n;
    const values = [positions, this.cards, this.texts, this.lines, this.members];
    this.cards = [];
    this.texts = [];
    this.lines = [];
    this.members = [];
    this.offered += n;
    this.writing = this.writing.then(async () => {
      if (this.failure !== null) return;
      try {
        await this.client.query(
          `INSERT INTO pg_temp.import_staging (pos, card_hash, fields, line, member_hash)
           SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::integer[], $5::bytea[])`,
          values,
        );
      } catch (err) {
        this.failure ??= err as Error;
      }
    });
  }

  async settle(): Promise<void> {
    await this.writing;
    if (this.failure !== null) throw this.failure;
  }

  async finish(onDuplicate: (line: number, firstLine: number) => void, onShared: (line: number, otherLines: number[]) => void = () => undefined): Promise<void> {
    if (this.finished) return;
    this.flush();
    await this.settle();
    const c = this.client;
    await c.query(
      'CREATE TEMP TABLE import_next (card_hash bytea PRIMARY KEY, fields text NOT NULL, line integer NOT NULL, listed boolean NOT NULL, member_hash bytea)',
    );
    const kept = (
      await c.query(
        `INSERT INTO pg_temp.import_next (card_hash, fields, line, listed, member_hash)
         SELECT DISTINCT ON (card_hash) card_hash, fields, abs(line), line > 0, member_hash FROM pg_temp.import_staging ORDER BY card_hash, pos`,
      )
    ).rowCount!;
    if (kept < this.offered) await this.leaveOutDuplicates(onDuplicate, onShared);
    await this.keepDeskCards();
    await this.keepHeldPins();
    const counts = (await one<{ n: number; unlisted: number }>(c, 'SELECT count(*) AS n, count(*) FILTER (WHERE NOT listed) AS unlisted FROM pg_temp.import_next'))!;
    this.uniqueUnlisted = counts.unlisted;
    this.unique = counts.n - counts.unlisted;
    await c.query('DROP TABLE pg_temp.import_staging');
    this.finished = true;
  }

  private async leaveOutDuplicates(onDuplicate: (line: number, firstLine: number) => void, onShared: (line: number, otherLines: number[]) => void): Promise<void> {
    const c = this.client;
    const duplicates = await rows<{ card_hash: Buffer; fields: string; line: number; first: number; listed: boolean; shared: boolean }>(
      c,
      `SELECT s.card_hash, s.fields, abs(s.line) AS line, n.line AS first, s.line > 0 AS listed,
              (s.member_hash IS NOT NULL OR n.member_hash IS NOT NULL) AS shared
       FROM pg_temp.import_staging s JOIN pg_temp.import_next n ON n.card_hash = s.card_hash
       WHERE abs(s.line) <> n.line ORDER BY s.pos`,
    );
    const dropped = new Set<number>();
    const shared = new Map<number, Set<number>>();
    const share = (line: number, other: number): void => {
      let others = shared.get(line);
      if (others === undefined) shared.set(line, (others = new Set()));
      others.add(other);
    };
    const copies = new Map<number, number>();
    for (const d of duplicates) {
      if (d.listed) this.sum.subtractDigest(digestOfParts(d.card_hash, d.fields));
      dropped.add(d.line);
      if (d.shared) {
        dropped.add(d.first);
        share(d.line, d.first);
        share(d.first, d.line);
      } else if (!copies.has(d.line)) copies.set(d.line, d.first);
    }
    // Each line told once: a shared UID says more than a repeated card number.
    for (const [line, first] of copies) if (!shared.has(line)) onDuplicate(line, first);
    for (const [line, others] of [...shared].sort((x, y) => x[0] - y[0])) onShared(line, [...others].sort((x, y) => x - y));
    const gone = await rows<{ card_hash: Buffer; fields: string; listed: boolean }>(
      c,
      'DELETE FROM pg_temp.import_next WHERE line = ANY($1::integer[]) RETURNING card_hash, fields, listed',
      [[...dropped]],
    );
    for (const g of gone) if (g.listed) this.sum.subtractDigest(digestOfParts(g.card_hash, g.fields));
  }

  /** Cards linked at a branch's desk stay their member's while the export holds the member, unless it gives the card to someone. */
  private async keepDeskCards(): Promise<void> {
    const found = await rows<{ card_hash: Buffer; fields: string; line: number; listed: boolean; member: Buffer }>(
      this.client,
      `SELECT d.card_hash, n.fields, n.line, n.listed, n.card_hash AS member
       FROM member_desk_cards d JOIN pg_temp.import_next n ON n.card_hash = d.member_hash AND n.member_hash IS NULL
       WHERE NOT EXISTS (SELECT 1 FROM pg_temp.import_next x WHERE x.card_hash = d.card_hash)`,
    );
    if (found.length === 0) return;
    await this.client.query(
      `INSERT INTO pg_temp.import_next (card_hash, fields, line, listed, member_hash)
       SELECT * FROM unnest($1::bytea[], $2::text[], $3::integer[], $4::boolean[], $5::bytea[])`,
      [found.map((r) => r.card_hash), found.map((r) => r.fields), found.map((r) => r.line), found.map((r) => r.listed), found.map((r) => r.member)],
    );
    for (const r of found) {
      if (r.listed) this.sum.addDigest(digestOfParts(r.card_hash, r.fields));
      this.uids++;
    }
  }

  /** Rows without a PIN for members central holds one for keep it (keepHeldPin); the list hash follows. */
  private async keepHeldPins(): Promise<void> {
    type Held = { card_hash: Buffer; fields: string; listed: boolean; held: string };
    // A fields text without a PIN ends with its tab (policies/member-list.ts).
    const found = await rows<Held>(
      this.client,
      `SELECT n.card_hash, n.fields, n.listed, coalesce(c.fields, u.fields) AS held
       FROM pg_temp.import_next n
       LEFT JOIN members_current c ON c.card_hash = coalesce(n.member_hash, n.card_hash)
       LEFT JOIN members_unlisted u ON u.card_hash = coalesce(n.member_hash, n.card_hash)
       WHERE right(n.fields, 1) = chr(9) AND coalesce(c.fields, u.fields) IS NOT NULL AND right(coalesce(c.fields, u.fields), 1) <> chr(9)`,
    );
    if (found.length === 0) return;
    const next = found.map((r) => keepHeldPin(r.card_hash, r.fields, r.held));
    await this.client.query(
      'UPDATE pg_temp.import_next n SET fields = v.fields FROM unnest($1::bytea[], $2::text[]) AS v(card_hash, fields) WHERE n.card_hash = v.card_hash',
      [found.map((r) => r.card_hash), next],
    );
    found.forEach((r, k) => {
      if (!r.listed) return;
      this.sum.subtractDigest(digestOfParts(r.card_hash, r.fields));
      this.sum.addDigest(digestOfParts(r.card_hash, next[k]!));
    });
  }

  hash(): string {
    return this.sum.toHex();
  }

  async diff(): Promise<ListDiff> {
    if (!this.finished) throw new Error('ImportStaging.finish() first');
    const c = this.client;
    this.base = await new Tables(c).current();
    await c.query(`
      DROP TABLE IF EXISTS pg_temp.import_changes;
      CREATE TEMP TABLE import_changes (card_hash bytea PRIMARY KEY, fields text, added boolean NOT NULL);
      INSERT INTO pg_temp.import_changes (card_hash, fields, added)
        SELECT n.card_hash, n.fields, c.card_hash IS NULL FROM pg_temp.import_next n
        LEFT JOIN members_current c ON c.card_hash = n.card_hash
        WHERE n.listed AND (c.fields IS NULL OR c.fields <> n.fields);
      INSERT INTO pg_temp.import_changes (card_hash, fields, added)
        SELECT c.card_hash, NULL, false FROM members_current c
        WHERE NOT EXISTS (SELECT 1 FROM pg_temp.import_next n WHERE n.card_hash = c.card_hash AND n.listed);
    `);
    const counts = (await one<{ added: number; upserts: number; removed: number }>(
      c,
      `SELECT count(*) FILTER (WHERE added) AS added, count(*) FILTER (WHERE fields IS NOT NULL) AS upserts, count(*) FILTER (WHERE fields IS NULL) AS removed
       FROM pg_temp.import_changes`,
    ))!;
    const changed = counts.upserts - counts.added;
    this.diffed = {
      added: counts.added,
      changed,
      removed: counts.removed,
      unchanged: this.unique - counts.added - changed,
      count: this.unique,
      previousCount: this.base?.count ?? 0,
    };
    return this.diffed;
  }

  async commit(meta: VersionMeta, verify?: (diff: ListDiff) => void): Promise<{ version: MemberVersion | null; diff: ListDiff }> {
    const diff = this.diffed ?? (await this.diff());
    verify?.(diff);
    const base = this.base;
    const hash = this.hash();
    const changes = diff.added + diff.changed + diff.removed;
    const same = changes === 0 && base !== null && base.keyId === meta.keyId;
    const c = this.client;
    const t = new Tables(c);
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...MEMBER_VERSIONS_LOCK]);
      const now = await t.current();
      if ((now?.version ?? 0) !== (base?.version ?? 0)) throw new ConcurrentChangeError();
      await c.query(`
        DELETE FROM members_unlisted m WHERE NOT EXISTS (
          SELECT 1 FROM pg_temp.import_next n WHERE n.card_hash = m.card_hash AND NOT n.listed AND n.fields = m.fields);
        INSERT INTO members_unlisted (card_hash, fields) SELECT card_hash, fields FROM pg_temp.import_next WHERE NOT listed ON CONFLICT DO NOTHING;
      `);
      if (this.uids === 0) await c.query('DELETE FROM member_credentials');
      else {
        await c.query(`
          DELETE FROM member_credentials m WHERE NOT EXISTS (
            SELECT 1 FROM pg_temp.import_next n WHERE n.card_hash = m.card_hash AND n.member_hash = m.member_hash);
          INSERT INTO member_credentials (card_hash, member_hash) SELECT card_hash, member_hash FROM pg_temp.import_next WHERE member_hash IS NOT NULL ON CONFLICT DO NOTHING;
        `);
      }
      // Desk-linked cards the import kept (keepDeskCards) stay; the rest went with their member, or to another.
      await c.query(`
        DELETE FROM member_desk_cards m WHERE NOT EXISTS (
          SELECT 1 FROM pg_temp.import_next n WHERE n.card_hash = m.card_hash AND n.member_hash = m.member_hash);
      `);
      let version: MemberVersion | null = null;
      if (!same) {
        const next = (base?.version ?? 0) + 1;
        const kept = base !== null && base.keyId === meta.keyId && worthADelta(changes, diff.count, diff.previousCount);
        await c.query(`
          DELETE FROM members_current WHERE card_hash IN (SELECT card_hash FROM pg_temp.import_changes WHERE fields IS NULL);
          INSERT INTO members_current (card_hash, fields) SELECT card_hash, fields FROM pg_temp.import_changes WHERE fields IS NOT NULL
            ON CONFLICT (card_hash) DO UPDATE SET fields = EXCLUDED.fields;
        `);
        if (kept) await c.query('INSERT INTO member_deltas (version, card_hash) SELECT $1, card_hash FROM pg_temp.import_changes', [next]);
        await t.record({
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
        await t.prune(next, meta.keepVersions);
        version = await t.version(next);
      }
      await c.query('COMMIT');
      return { version, diff };
    } catch (err) {
      await c.query('ROLLBACK').catch((rollbackErr: unknown) => {
        this.broken ??= rollbackErr as Error;
      });
      throw err;
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.writing;
    if (this.broken === undefined) {
      await this.client.query('DROP TABLE IF EXISTS pg_temp.import_staging, pg_temp.import_next, pg_temp.import_changes').catch((err: unknown) => {
        this.broken = err as Error;
      });
    }
    this.client.off('error', this.onError);
    // A connection that failed under the import is destroyed, not handed back to the pool.
    this.client.release(this.broken);
  }
}
