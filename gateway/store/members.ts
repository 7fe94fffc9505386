// Members: the hot-path lookup, and the atomic replacement of the whole list.
//
// A replacement never touches the list in force until its last step. Rows are staged in a TEMP table (the
// connection's own temp file: not in the database, not in its WAL, gone if the process dies), in short
// transactions so that nothing is held open across an await. Then, in a temp-only transaction, they are copied in
// card-hash order into a keyed table, which drops later duplicates. Only the last step takes the database's write
// lock: compare with the list in force, let the caller refuse, delete the old rows, append the new ones in key
// order, update the list meta, commit (synchronous=FULL: the swap is on disk when this returns). An exception or a
// power cut at any point before that commit leaves the previous list in force.
import type BetterSqlite3 from 'better-sqlite3';
import { MemberListError } from './errors.js';
import { EMPTY_LIST_HASH, ListHash } from './list-hash.js';
import type {
  Clock,
  Member,
  MemberListDiff,
  MemberListMeta,
  MemberListStats,
  MemberRow,
  ReplaceOptions,
  ReplaceResult,
  UpsertResult,
} from './types.js';

type Db = BetterSqlite3.Database;

/** A member row as SQLite returns it, before the in-place conversion to `Member`. */
export interface DbMember {
  expires: string | null;
  blocked: number;
  blockedUntil: string | null;
  openAccess: number;
  birthDate: string | null;
  adult: number | null;
  staff: number;
  groups: string;
  pinHash: string | null;
}

export interface DbMemberRow extends DbMember {
  cardHash: Buffer;
}

interface DbListMeta {
  version: number;
  count: number;
  hash: string;
  source: string;
  appliedAt: string;
}

export type MemberParams = [Buffer, string | null, number, string | null, number, string | null, number | null, number, string, string | null];

export const COLUMNS = 'card_hash, expires, blocked, blocked_until, open_access, birth_date, adult, staff, groups, pin_hash';
const SELECT_MEMBER =
  'expires, blocked, blocked_until AS blockedUntil, open_access AS openAccess, birth_date AS birthDate, adult, staff, groups, pin_hash AS pinHash';
const NO_GROUPS: readonly string[] = Object.freeze([]);
const DEFAULT_BATCH = 2_000;

function checkCardHash(cardHash: unknown): void {
  if (!Buffer.isBuffer(cardHash) || cardHash.length !== 32) {
    throw new MemberListError('a member row must carry the 32-byte keyed card hash');
  }
}

/** A member row as the members table's columns, in COLUMNS order. */
export function toParams(row: MemberRow): MemberParams {
  checkCardHash(row.cardHash);
  return [
    row.cardHash,
    row.expires,
    row.blocked ? 1 : 0,
    row.blockedUntil,
    row.openAccess ? 1 : 0,
    row.birthDate,
    row.adult === null ? null : row.adult ? 1 : 0,
    row.staff ? 1 : 0,
    row.groups.join(','),
    row.pinHash,
  ];
}

/** Converts the row SQLite returned into a `Member` in place: the lookup allocates nothing else. */
function toMember(row: DbMember): Member {
  const m = row as unknown as Record<keyof Member, unknown>;
  m.blocked = row.blocked === 1;
  m.openAccess = row.openAccess === 1;
  m.adult = row.adult === null ? null : row.adult === 1;
  m.staff = row.staff === 1;
  m.groups = row.groups === '' ? NO_GROUPS : row.groups.split(',');
  return m as unknown as Member;
}

export function toMemberRow(row: DbMemberRow): MemberRow {
  const cardHash = row.cardHash;
  return Object.assign(toMember(row), { cardHash });
}

export class MemberStore {
  private readonly findStmt;
  private readonly findRowStmt;
  private readonly metaStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly writeMetaStmt;
  private replacing = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.findStmt = db.prepare<[Buffer], DbMember>(`SELECT ${SELECT_MEMBER} FROM members WHERE card_hash = ?`);
    this.findRowStmt = db.prepare<[Buffer], DbMemberRow>(
      `SELECT card_hash AS cardHash, ${SELECT_MEMBER} FROM members WHERE card_hash = ?`,
    );
    this.metaStmt = db.prepare<[], DbListMeta>(
      'SELECT version, count, hash, source, applied_at AS appliedAt FROM member_list WHERE id = 1',
    );
    this.upsertStmt = db.prepare<MemberParams>(`INSERT OR REPLACE INTO members (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.deleteStmt = db.prepare<[Buffer]>('DELETE FROM members WHERE card_hash = ?');
    this.writeMetaStmt = db.prepare<[number, number, string, string, string]>(
      `INSERT INTO member_list (id, version, count, hash, source, applied_at) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version, count = excluded.count, hash = excluded.hash,
         source = excluded.source, applied_at = excluded.applied_at`,
    );
  }

  /** The hot-path lookup: one prepared `get` by primary key. */
  find(cardHash: Buffer): Member | undefined {
    const row = this.findStmt.get(cardHash);
    return row === undefined ? undefined : toMember(row);
  }

  stats(): MemberListStats {
    const meta = this.metaStmt.get();
    if (meta === undefined) return { count: 0, version: null, updatedAt: null, source: null, hash: EMPTY_LIST_HASH };
    return { count: meta.count, version: meta.version, updatedAt: meta.appliedAt, source: meta.source, hash: meta.hash };
  }

  /** Replace the whole list at once (rows already in memory, or a synchronous generator). */
  replaceAll(rows: Iterable<MemberRow>, meta: MemberListMeta, options: ReplaceOptions = {}): ReplaceResult {
    const staging = this.beginReplace(options);
    try {
      for (const row of rows) staging.add(row);
      return staging.commit(meta, options);
    } finally {
      staging.dispose();
    }
  }

  /**
   * Replace the whole list from a stream of rows, or of arrays of rows (cheaper per row: a CSV import yields a
   * parsed chunk at a time). Rows are staged between awaits in short transactions; nothing is held open while the
   * source is awaited.
   */
  async replaceAllAsync(
    rows: AsyncIterable<MemberRow | readonly MemberRow[] | DigestedRows>,
    meta: MemberListMeta,
    options: ReplaceOptions = {},
  ): Promise<ReplaceResult> {
    const staging = this.beginReplace(options);
    try {
      for await (const item of rows) {
        if (isRowArray(item)) {
          for (const row of item) staging.add(row);
        } else if ('digests' in item) {
          item.rows.forEach((row, i) => staging.add(row, item.digests[i]));
        } else {
          staging.add(item);
        }
      }
      return staging.commit(meta, options);
    } finally {
      staging.dispose();
    }
  }

  /** Add or change one member (a delta). Keeps the list's count and hash current; the version is the caller's. */
  upsert(row: MemberRow): UpsertResult {
    const params = toParams(row);
    return this.db.transaction((): UpsertResult => {
      const old = this.findRowStmt.get(row.cardHash);
      const sum = this.currentHash();
      const oldRow = old === undefined ? undefined : toMemberRow(old);
      if (oldRow !== undefined && sameMember(oldRow, row)) return 'unchanged';
      if (oldRow !== undefined) sum.subtract(oldRow);
      sum.add(row);
      this.upsertStmt.run(...params);
      this.touchMeta(oldRow === undefined ? 1 : 0, sum);
      return oldRow === undefined ? 'added' : 'changed';
    })();
  }

  /** Remove one member (a delta). Returns whether there was one. */
  remove(cardHash: Buffer): boolean {
    return this.db.transaction((): boolean => {
      const old = this.findRowStmt.get(cardHash);
      if (old === undefined) return false;
      const sum = this.currentHash();
      sum.subtract(toMemberRow(old));
      this.deleteStmt.run(cardHash);
      this.touchMeta(-1, sum);
      return true;
    })();
  }

  private currentHash(): ListHash {
    return ListHash.fromHex(this.metaStmt.get()?.hash ?? EMPTY_LIST_HASH);
  }

  private touchMeta(countDelta: number, sum: ListHash): void {
    const meta = this.metaStmt.get();
    this.writeMetaStmt.run(
      meta?.version ?? 0,
      (meta?.count ?? 0) + countDelta,
      sum.toHex(),
      meta?.source ?? 'delta',
      meta?.appliedAt ?? this.clock.now().toISOString(),
    );
  }

  private beginReplace(options: ReplaceOptions): Staging {
    if (this.replacing) throw new MemberListError('a member list replacement is already running');
    this.replacing = true;
    try {
      return new Staging(this.db, this.clock, options.batchSize ?? DEFAULT_BATCH, () => {
        this.replacing = false;
      });
    } catch (error) {
      this.replacing = false;
      throw error;
    }
  }
}

/** Rows with their memberDigest already made (an import hashes them in a worker thread). */
export interface DigestedRows {
  rows: readonly MemberRow[];
  digests: readonly Buffer[];
}

function isRowArray(item: MemberRow | readonly MemberRow[] | DigestedRows): item is readonly MemberRow[] {
  return Array.isArray(item);
}

function sameMember(a: Member, b: Member): boolean {
  return (
    a.expires === b.expires &&
    a.blocked === b.blocked &&
    a.blockedUntil === b.blockedUntil &&
    a.openAccess === b.openAccess &&
    a.birthDate === b.birthDate &&
    a.adult === b.adult &&
    a.staff === b.staff &&
    a.pinHash === b.pinHash &&
    a.groups.join(',') === b.groups.join(',')
  );
}

/** One replacement in progress: temp tables on this connection, dropped when done either way. */
class Staging {
  private readonly insert;
  private readonly batch: MemberRow[] = [];
  private readonly sum = new ListHash();
  private offered = 0;
  private disposed = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly batchSize: number,
    private readonly onDispose: () => void,
  ) {
    db.exec(`
      DROP TABLE IF EXISTS temp.member_staging;
      DROP TABLE IF EXISTS temp.member_next;
      CREATE TEMP TABLE member_staging (
        pos INTEGER PRIMARY KEY, card_hash BLOB NOT NULL, expires TEXT, blocked INTEGER, blocked_until TEXT,
        open_access INTEGER, birth_date TEXT, adult INTEGER, staff INTEGER, groups TEXT, pin_hash TEXT
      );
    `);
    this.insert = db.prepare<[number, ...MemberParams]>(`INSERT INTO temp.member_staging (pos, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  /** `digest`: memberDigest(row), when the caller has it already. */
  add(row: MemberRow, digest?: Buffer): void {
    checkCardHash(row.cardHash);
    this.batch.push(row);
    if (digest === undefined) this.sum.add(row);
    else this.sum.addDigest(digest);
    if (this.batch.length >= this.batchSize) this.flush();
  }

  commit(meta: MemberListMeta, options: ReplaceOptions): ReplaceResult {
    this.flush();
    const duplicates = this.buildNext(options);
    const appliedAt = (meta.appliedAt ?? this.clock.now()).toISOString();
    return this.db.transaction((): ReplaceResult => {
      const diff = this.diff(meta, duplicates);
      checkExpectations(meta, diff);
      options.verify?.(diff);
      this.db.exec(`DELETE FROM main.members; INSERT INTO main.members (${COLUMNS}) SELECT ${COLUMNS} FROM temp.member_next ORDER BY card_hash;`);
      this.db
        .prepare<[number, number, string, string, string]>(
          `INSERT INTO member_list (id, version, count, hash, source, applied_at) VALUES (1, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, count = excluded.count, hash = excluded.hash,
             source = excluded.source, applied_at = excluded.applied_at`,
        )
        .run(diff.version, diff.count, diff.hash, meta.source, appliedAt);
      return { ...diff, appliedAt };
    }).immediate();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (this.db.open) this.db.exec('DROP TABLE IF EXISTS temp.member_staging; DROP TABLE IF EXISTS temp.member_next;');
    } finally {
      this.onDispose();
    }
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const insert = this.insert;
    const batch = this.batch;
    let pos = this.offered;
    this.db.transaction(() => {
      for (const r of batch) {
        insert.run(
          pos++,
          r.cardHash,
          r.expires,
          r.blocked ? 1 : 0,
          r.blockedUntil,
          r.openAccess ? 1 : 0,
          r.birthDate,
          r.adult === null ? null : r.adult ? 1 : 0,
          r.staff ? 1 : 0,
          r.groups.length === 0 ? '' : r.groups.join(','),
          r.pinHash,
        );
      }
    })();
    this.offered = pos;
    batch.length = 0;
  }

  /** Copies the staged rows in key order into a keyed table; the first of each card wins. Returns duplicates. */
  private buildNext(options: ReplaceOptions): number {
    const db = this.db;
    const count = db.transaction((): number => {
      db.exec(`
        CREATE TEMP TABLE member_next (
          card_hash BLOB PRIMARY KEY NOT NULL, expires TEXT, blocked INTEGER, blocked_until TEXT, open_access INTEGER,
          birth_date TEXT, adult INTEGER, staff INTEGER, groups TEXT, pin_hash TEXT, pos INTEGER NOT NULL
        ) WITHOUT ROWID;
      `);
      return db
        .prepare(`INSERT OR IGNORE INTO temp.member_next (${COLUMNS}, pos) SELECT ${COLUMNS}, pos FROM temp.member_staging ORDER BY card_hash, pos`)
        .run().changes;
    })();
    const duplicates = this.offered - count;
    if (duplicates === 0) return 0;
    const pairs = db
      .prepare<[], { pos: number; first: number }>(
        `SELECT s.pos AS pos, n.pos AS first FROM temp.member_staging s JOIN temp.member_next n ON n.card_hash = s.card_hash
         WHERE s.pos <> n.pos ORDER BY s.pos`,
      )
      .all();
    if (options.onDuplicate === undefined) {
      const first = pairs[0]!;
      throw new MemberListError(
        `the list has ${duplicates} duplicate card${duplicates === 1 ? '' : 's'} (row ${first.pos + 1} repeats row ${first.first + 1})`,
      );
    }
    const staged = db.prepare<[number], DbMemberRow>(
      `SELECT card_hash AS cardHash, ${SELECT_MEMBER} FROM temp.member_staging WHERE pos = ?`,
    );
    for (const { pos, first } of pairs) {
      this.sum.subtract(toMemberRow(staged.get(pos)!));
      options.onDuplicate(pos, first);
    }
    return duplicates;
  }

  private diff(meta: MemberListMeta, duplicates: number): MemberListDiff {
    const db = this.db;
    const previous = db.prepare<[], { version: number }>('SELECT version FROM member_list WHERE id = 1').get();
    const oldCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM main.members').get()!.n;
    const count = this.offered - duplicates;
    const { matched, unchanged } = db
      .prepare<[], { matched: number; unchanged: number }>(
        `SELECT count(*) AS matched, coalesce(sum(
           m.expires IS n.expires AND m.blocked = n.blocked AND m.blocked_until IS n.blocked_until AND
           m.open_access = n.open_access AND m.birth_date IS n.birth_date AND m.adult IS n.adult AND
           m.staff = n.staff AND m.groups = n.groups AND m.pin_hash IS n.pin_hash), 0) AS unchanged
         FROM temp.member_next n JOIN main.members m ON m.card_hash = n.card_hash`,
      )
      .get()!;
    return {
      added: count - matched,
      changed: matched - unchanged,
      removed: oldCount - matched,
      unchanged,
      count,
      offered: this.offered,
      duplicates,
      hash: this.sum.toHex(),
      version: meta.version ?? (previous?.version ?? 0) + 1,
    };
  }
}

function checkExpectations(meta: MemberListMeta, diff: MemberListDiff): void {
  const expect = meta.expect;
  if (expect === undefined) return;
  if (expect.count !== undefined && expect.count !== diff.count) {
    throw new MemberListError(`the list has ${diff.count} members where ${expect.count} were announced`);
  }
  if (expect.hash !== undefined && expect.hash.toLowerCase() !== diff.hash) {
    throw new MemberListError(`the list's hash ${diff.hash} does not match the announced ${expect.hash}`);
  }
}
