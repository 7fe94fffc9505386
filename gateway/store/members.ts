// Members: the hot-path lookup, and the atomic replacement of the whole list.
//
// A replacement never touches the list in force until its last step. Rows are staged in this process's memory,
// packed (Staging: gone if the process dies), then sorted by card hash there, later duplicates dropped, and written
// in that order into a keyed TEMP table (the connection's own file: not in the database, not in its WAL). Only the
// last step takes the database's write lock: compare with the list in force, let the caller refuse, delete the old
// rows, append the new ones in key order, update the list meta, commit (synchronous=FULL: the swap is on disk when
// this returns). An exception or a power cut at any point before that commit leaves the previous list in force.
import type BetterSqlite3 from 'better-sqlite3';
import { MemberListError } from './errors.js';
import { CHUNK_BITS, CHUNK_ROWS, HashColumn, hashOrder } from './hash-order.js';
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
    const staging = this.beginReplace();
    try {
      for (const row of rows) staging.add(row);
      return staging.commit(meta, options);
    } finally {
      staging.dispose();
    }
  }

  /**
   * Replace the whole list from a stream of rows, or of arrays of rows (cheaper per row: a CSV import yields a
   * parsed chunk at a time). Rows are staged in memory; the database is not touched until the swap, so nothing is
   * held open while the source is awaited.
   */
  async replaceAllAsync(
    rows: AsyncIterable<ReplaceItem>,
    meta: MemberListMeta,
    options: ReplaceOptions = {},
  ): Promise<ReplaceResult> {
    const staging = this.beginReplace();
    try {
      for await (const item of rows) {
        if (isRowArray(item)) {
          for (const row of item) staging.add(row);
        } else if ('packed' in item) {
          staging.addPacked(item);
        } else if ('hashed' in item) {
          staging.addHashed(item);
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

  private beginReplace(): Staging {
    if (this.replacing) throw new MemberListError('a member list replacement is already running');
    this.replacing = true;
    try {
      return new Staging(this.db, this.clock, () => {
        this.replacing = false;
      });
    } catch (error) {
      this.replacing = false;
      throw error;
    }
  }
}

/**
 * Rows hashed elsewhere (an import hashes them in a worker thread): row i's card hash is the 32 bytes of `hashed`
 * at i × `stride` (its own `cardHash` is not read), and `sum` the list hash of them all (their digests summed).
 */
export interface HashedRows {
  rows: readonly MemberRow[];
  hashed: Buffer;
  stride: number;
  sum: ListHash;
}

/**
 * Rows checked, hashed and packed elsewhere (an import's worker thread, PackedFields): row i's card hash at
 * i × `stride` of `hashed`, its flags byte, its TEXTS ids into the source's own table of texts, `strings` the texts
 * that table gained with this batch (in id order). One stream of them per replacement, in order.
 */
export interface PackedMembers {
  packed: true;
  hashed: Buffer;
  stride: number;
  flags: Uint8Array;
  texts: Int32Array;
  strings: readonly string[];
  sum: ListHash;
}

type ReplaceItem = MemberRow | readonly MemberRow[] | HashedRows | PackedMembers;

function isRowArray(item: ReplaceItem): item is readonly MemberRow[] {
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

/** Texts of a column, each kept once: a million rows hold a few thousand distinct dates and group lists. */
export class Interned {
  /** Id 0 is null, 1 the empty text. */
  readonly values: Array<string | null> = [null, ''];
  private readonly ids = new Map<string, number>([['', 1]]);
  /** `YYYY-MM-DD` by its digits as a number: a fresh string's hash costs more than reading ten characters. */
  private readonly dates = new Map<number, number>();

  id(value: string | null): number {
    if (value === null) return 0;
    const day = value.length === 10 ? dayNumber(value) : -1;
    let id = day < 0 ? this.ids.get(value) : this.dates.get(day);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      if (day < 0) this.ids.set(value, id);
      else this.dates.set(day, id);
    }
    return id;
  }
}

/** `YYYY-MM-DD` (any digits) as YYYYMMDD; -1 for any other text of ten characters. */
function dayNumber(s: string): number {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return -1;
  let n = 0;
  for (let i = 0; i < 10; i++) {
    if (i === 4 || i === 7) continue;
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

export const TEXTS = 5; // expires, blocked_until, birth_date, groups, pin_hash: interned ids, TEXTS a row
const BLOCKED = 1;
const OPEN_ACCESS = 2;
const ADULT_KNOWN = 4;
const ADULT = 8;
const STAFF = 16;
/** A member's fields as staged: TEXTS ids of `strings` at `texts[t…]`, and its flags byte (returned). */
export function packFields(row: Omit<MemberRow, 'cardHash'>, strings: Interned, texts: Int32Array, t: number): number {
  texts[t] = strings.id(row.expires);
  texts[t + 1] = strings.id(row.blockedUntil);
  texts[t + 2] = strings.id(row.birthDate);
  texts[t + 3] = row.groups.length === 0 ? 1 : strings.id(row.groups.join(','));
  texts[t + 4] = strings.id(row.pinHash);
  return (
    (row.blocked ? BLOCKED : 0) |
    (row.openAccess ? OPEN_ACCESS : 0) |
    (row.adult === null ? 0 : ADULT_KNOWN | (row.adult ? ADULT : 0)) |
    (row.staff ? STAFF : 0)
  );
}

/** Rows a multi-row INSERT writes at once (10 parameters each). */
const INSERT_ROWS = 64;
const INSERT_ONE = `INSERT INTO temp.member_next (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const INSERT_MANY = `INSERT INTO temp.member_next (${COLUMNS}) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;

/**
 * The members table's own definition (read from the schema, so that a later migration of members carries over), as
 * the temp table a replacement is written to: laid out exactly alike, the swap copies it whole.
 */
function nextTableSql(db: Db): string {
  const { sql } = db.prepare<[], { sql: string }>("SELECT sql FROM main.sqlite_schema WHERE type = 'table' AND name = 'members'").get()!;
  const next = sql.replace(/^CREATE TABLE\s+("members"|members)\s*\(/i, 'CREATE TEMP TABLE member_next (');
  if (next === sql) throw new MemberListError('the members table is defined in a way this version does not know');
  return next;
}

/**
 * One replacement in progress, held in this process's memory packed (about 50 bytes a row: the card hash, interned
 * texts, a flags byte; in chunks, never copied as it grows): sorted by card hash in memory once the last row is in,
 * then written in key order into a keyed temp table, which the swap copies. A staging table in file order and
 * SQLite's sort of it into the keyed one were a pass over a million rows more.
 */
class Staging {
  private readonly hashes = new HashColumn();
  /** Chunks of CHUNK_ROWS rows: TEXTS interned ids a row, and a flags byte a row. */
  private readonly texts: Int32Array[] = [];
  private readonly flags: Uint8Array[] = [];
  private readonly strings = new Interned();
  /** Packed rows' text ids (their source's table, 0 null and 1 the empty text as here) → this table's. */
  private readonly remap: number[] = [0, 1];
  private readonly sum = new ListHash();
  private disposed = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly onDispose: () => void,
  ) {}

  add(row: MemberRow): void {
    checkCardHash(row.cardHash);
    this.hashes.push(row.cardHash);
    this.addFields(row);
    this.sum.add(row);
  }

  /** Rows whose card hashes and list hash were made elsewhere: no hash object a row, no digest a row here. */
  addHashed({ rows, hashed, stride, sum }: HashedRows): void {
    if (hashed.length < rows.length * stride || stride < 32) throw new MemberListError('a member row must carry the 32-byte keyed card hash');
    for (let i = 0; i < rows.length; i++) {
      this.hashes.pushFrom(hashed, i * stride);
      this.addFields(rows[i]!);
    }
    this.sum.addSum(sum);
  }

  /**
   * Packed rows (PackedMembers): the source's text ids are turned into this table's through `remap`, so that no
   * text is decoded or looked up a row here.
   */
  addPacked({ hashed, stride, flags, texts, strings, sum }: PackedMembers): void {
    const n = flags.length;
    if (hashed.length < n * stride || stride < 32 || texts.length < n * TEXTS) throw new MemberListError('a member row must carry the 32-byte keyed card hash');
    const remap = this.remap;
    for (const text of strings) remap.push(this.strings.id(text));
    for (let r = 0; r < n; r++) {
      this.hashes.pushFrom(hashed, r * stride);
      const i = this.hashes.size - 1;
      const c = this.chunkOf(i);
      const to = this.texts[c]!;
      const t = (i & (CHUNK_ROWS - 1)) * TEXTS;
      for (let k = 0; k < TEXTS; k++) {
        const id = remap[texts[r * TEXTS + k]!];
        if (id === undefined) throw new MemberListError('a packed member row names a text it did not bring');
        to[t + k] = id;
      }
      this.flags[c]![i & (CHUNK_ROWS - 1)] = flags[r]!;
    }
    this.sum.addSum(sum);
  }

  /** The chunk of row i, made when it is the first row of one. */
  private chunkOf(i: number): number {
    const c = i >>> CHUNK_BITS;
    if (c === this.flags.length) {
      this.texts.push(new Int32Array(CHUNK_ROWS * TEXTS));
      this.flags.push(new Uint8Array(CHUNK_ROWS));
    }
    return c;
  }

  /** Row i's fields (its card hash is in `hashes` already). */
  private addFields(row: MemberRow): void {
    const i = this.hashes.size - 1;
    const c = this.chunkOf(i);
    this.flags[c]![i & (CHUNK_ROWS - 1)] = packFields(row, this.strings, this.texts[c]!, (i & (CHUNK_ROWS - 1)) * TEXTS);
  }

  commit(meta: MemberListMeta, options: ReplaceOptions): ReplaceResult {
    const { order, duplicates } = this.sorted(options);
    const offered = this.hashes.size;
    this.writeNext(order);
    this.release();
    const appliedAt = (meta.appliedAt ?? this.clock.now()).toISOString();
    return this.db.transaction((): ReplaceResult => {
      const diff = this.diff(meta, { offered, count: order.length, duplicates });
      checkExpectations(meta, diff);
      options.verify?.(diff);
      // Laid out as members and in key order, the rows are copied as SQLite stores them, not column by column
      // (SQLite's transfer of a table into an empty one of the same definition).
      this.db.exec('DELETE FROM main.members; INSERT INTO main.members SELECT * FROM temp.member_next;');
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
    this.release();
    try {
      if (this.db.open) this.db.exec('DROP TABLE IF EXISTS temp.member_next');
    } finally {
      this.onDispose();
    }
  }

  /** Frees the packed rows (temp.member_next holds them from the swap's start). */
  private release(): void {
    this.hashes.clear();
    this.texts.length = 0;
    this.flags.length = 0;
  }

  /** Text k of row i (TEXTS order). */
  private text(i: number, k: number): string | null {
    return this.strings.values[this.texts[i >>> CHUNK_BITS]![(i & (CHUNK_ROWS - 1)) * TEXTS + k]!]!;
  }

  private flag(i: number): number {
    return this.flags[i >>> CHUNK_BITS]![i & (CHUNK_ROWS - 1)]!;
  }

  /** Row i as a MemberRow (for a duplicate's digest: rare). */
  private row(i: number): MemberRow {
    const f = this.flag(i);
    const groups = this.text(i, 3)!;
    return {
      cardHash: Buffer.from(this.hashes.at(i)),
      expires: this.text(i, 0),
      blocked: (f & BLOCKED) !== 0,
      blockedUntil: this.text(i, 1),
      openAccess: (f & OPEN_ACCESS) !== 0,
      birthDate: this.text(i, 2),
      adult: (f & ADULT_KNOWN) === 0 ? null : (f & ADULT) !== 0,
      staff: (f & STAFF) !== 0,
      groups: groups === '' ? [] : groups.split(','),
      pinHash: this.text(i, 4),
    };
  }

  /**
   * The rows' positions in card-hash order, the first of each card only; each later one is a duplicate
   * (onDuplicate, or the list is refused).
   */
  private sorted(options: ReplaceOptions): { order: Uint32Array; duplicates: number } {
    const { order, duplicates: pairs } = hashOrder(this.hashes);
    if (pairs.length > 0) {
      if (options.onDuplicate === undefined) {
        const [pos, first] = pairs[0]!;
        throw new MemberListError(
          `the list has ${pairs.length} duplicate card${pairs.length === 1 ? '' : 's'} (row ${pos + 1} repeats row ${first + 1})`,
        );
      }
      for (const [pos, first] of pairs) {
        this.sum.subtract(this.row(pos));
        options.onDuplicate(pos, first);
      }
    }
    const leaveOut = new Set(options.leaveOut?.() ?? []);
    if (leaveOut.size === 0) return { order, duplicates: pairs.length };
    let left = 0;
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      if (leaveOut.has(i)) this.sum.subtract(this.row(i));
      else order[left++] = i;
    }
    return { order: order.subarray(0, left), duplicates: pairs.length };
  }

  /** Compares the new list with the one in force. */
  private diff(meta: MemberListMeta, { offered, count, duplicates }: { offered: number; count: number; duplicates: number }): MemberListDiff {
    const db = this.db;
    const previous = db.prepare<[], { version: number }>('SELECT version FROM member_list WHERE id = 1').get();
    const oldCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM main.members').get()!.n;
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
      offered,
      duplicates,
      hash: this.sum.toHex(),
      version: meta.version ?? (previous?.version ?? 0) + 1,
    };
  }

  /**
   * Writes the rows in key order, INSERT_ROWS to a statement, into a keyed temp table (the connection's own file:
   * no lock on the database), from which the swap copies them within SQLite: the write lock is held for that copy,
   * not for a million rows bound from JavaScript.
   */
  private writeNext(order: Uint32Array): void {
    const db = this.db;
    db.exec(`DROP TABLE IF EXISTS temp.member_next; ${nextTableSql(db)};`);
    const many = db.prepare(INSERT_MANY);
    const one = db.prepare(INSERT_ONE);
    const params: unknown[] = new Array(INSERT_ROWS * 10);
    const put = (i: number, at: number): void => {
      const f = this.flag(i);
      params[at] = this.hashes.at(i);
      params[at + 1] = this.text(i, 0);
      params[at + 2] = f & BLOCKED ? 1 : 0;
      params[at + 3] = this.text(i, 1);
      params[at + 4] = f & OPEN_ACCESS ? 1 : 0;
      params[at + 5] = this.text(i, 2);
      params[at + 6] = (f & ADULT_KNOWN) === 0 ? null : f & ADULT ? 1 : 0;
      params[at + 7] = f & STAFF ? 1 : 0;
      params[at + 8] = this.text(i, 3);
      params[at + 9] = this.text(i, 4);
    };
    db.transaction(() => {
      let k = 0;
      for (; k + INSERT_ROWS <= order.length; k += INSERT_ROWS) {
        for (let j = 0; j < INSERT_ROWS; j++) put(order[k + j]!, j * 10);
        many.run(params);
      }
      params.length = 10;
      for (; k < order.length; k++) {
        put(order[k]!, 0);
        one.run(params);
      }
    })();
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
