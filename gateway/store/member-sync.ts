// A member-list transfer from central, staged in the store (migration `member-sync`) and applied in one
// transaction (docs/members.md).
//
// Chunks are staged as they arrive, so a restart or an outage resumes where it stopped. Nothing touches the list
// in force until every chunk is there; then one IMMEDIATE transaction checks the count and the list hash against
// what central announced, puts the staged table in the members table's place (a snapshot) or writes the changes
// (a delta), records the version and empties the staging tables. An exception or a power cut at any point before
// that commit leaves the previous version in force, and the staged transfer still there to apply.
//
// The gateway shares this connection, and its event loop, with the door. So the long parts are cut into steps
// (`Steps`: a generator that yields wherever the event loop may run, never inside a transaction): a chunk is
// staged a batch of rows per transaction, the checks that need no lock run before the swap, and the old list is
// deleted after it. `runNow` runs the steps back to back (the synchronous API, tests); `runInTurns` lets the event
// loop turn between them.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import { EMPTY_LIST_HASH, ListHash } from '../../policies/member-list.js';
import { MemberListError } from './errors.js';
import { unsyncedTransaction as unsynced } from './purge.js';
import { COLUMNS, toMemberRow, toParams } from './members.js';
import type { DbMemberRow, MemberParams } from './members.js';
import type { MemberRow } from './types.js';

type Db = BetterSqlite3.Database;

export interface TransferHeader {
  transfer: string;
  kind: 'delta' | 'snapshot';
  version: number;
  /** delta: the version and hash it starts from (the list in force when it was asked for). */
  base: number | null;
  baseHash: string | null;
  keyId: string;
  total: number;
  /** Members in the list at `version`, and its hash. */
  count: number;
  hash: string;
}

export interface StagedTransfer extends TransferHeader {
  startedAt: string;
  /** Indexes of the chunks staged, ascending. */
  received: number[];
}

export type StagedRow = { cardHash: Buffer; removed: true } | ({ removed: false } & MemberRow);

/**
 * A checked chunk's rows in the form that is cheap to hand from a worker thread to this one: the card hashes in one
 * buffer (32 bytes each), and per row the canonical fields after the card hash (`\t{expires}\t…\t{pin_hash}`, as
 * the list hash reads them and as `parseMemberFields` accepted them), or null for a removal.
 */
export interface PackedRows {
  cardHashes: Uint8Array;
  fields: ReadonlyArray<string | null>;
}

export interface ApplyResult {
  kind: 'delta' | 'snapshot';
  version: number;
  count: number;
  hash: string;
  /** Members added, changed and removed; null for a snapshot that replaced a big list (not counted). */
  added: number | null;
  changed: number | null;
  removed: number | null;
  /** How long the database's write lock was held (BEGIN IMMEDIATE to COMMIT), in milliseconds. */
  lockMs: number;
}

export interface ApplyOptions {
  appliedAt: Date;
  source: string;
  /** Tests only: runs inside the transaction just before it commits (throw to play a power cut). */
  beforeCommit?: (() => void) | undefined;
}

/** Work cut where the event loop may run: each `yield` is between two transactions. */
export type Steps<T> = Generator<void, T, void>;

/** Runs steps back to back, in one stretch. */
export function runNow<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Runs steps with `yieldToLoop` awaited between them (default: one turn of the event loop). */
export async function runInTurns<T>(steps: Steps<T>, yieldToLoop: () => Promise<void> = nextTurn): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    try {
      await yieldToLoop();
    } catch (error) {
      // Stopped between steps: let the steps close (their `finally`), then pass the reason on.
      steps.return(undefined as T);
      throw error;
    }
  }
}


type RawHeader = {
  transfer: string;
  kind: 'delta' | 'snapshot';
  version: number;
  base: number | null;
  base_hash: string | null;
  key_id: string;
  total: number;
  count: number;
  hash: string;
  started_at: string;
};

/** A staged delta row: a members row, and whether the card leaves the list. */
type RawRow = DbMemberRow & { removed: number };

type Counts = Pick<ApplyResult, 'added' | 'changed' | 'removed'>;
type ListMeta = { version: number; count: number; hash: string };

const SAME_MEMBER = `m.expires IS s.expires AND m.blocked = s.blocked AND m.blocked_until IS s.blocked_until AND
  m.open_access = s.open_access AND m.birth_date IS s.birth_date AND m.adult IS s.adult AND m.staff = s.staff AND
  m.groups = s.groups AND m.pin_hash IS s.pin_hash`;
/**
 * Rows per step. A row staged costs ~5 µs of SQLite on this VM, a delta row checked ~10 µs (two digests), a
 * row counted or deleted less than one: each step stays around a millisecond.
 */
const STAGE_BATCH = 200;
const CHECK_PAGE = 200;
const COMPARE_PAGE = 1_000;
const COUNT_PAGE = 20_000;
const DELETE_BATCH = 1_000;
/** A chunk marked with this many entries is being staged (its first rows may be in, its last are not). */
const PENDING = -1;
/** The list a snapshot replaced, deleted a batch at a time after the swap (dropping it at once takes ~100 ms). */
const RETIRED = 'member_sync_retired';
const NO_COUNTS: Counts = { added: null, changed: null, removed: null };

/**
 * The members table's own definition, renamed: the staging table a snapshot is built in must be laid out exactly like
 * it, since it takes its place by rename. Read from the schema so that a later migration of members carries over.
 */
function stagingTableSql(db: Db): string {
  const { sql } = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'members'").get()!;
  return sql.replace(/^CREATE TABLE\s+("members"|members)/i, 'CREATE TABLE member_sync_members');
}

/** A staged row's members columns from its canonical fields text (already checked: no second validation here). */
function fieldsParams(cardHash: Buffer, fields: string): MemberParams {
  const f = fields.split('\t');
  const adult = f[6]!;
  return [cardHash, f[1] || null, f[2] === '1' ? 1 : 0, f[3] || null, f[4] === '1' ? 1 : 0, f[5] || null, adult === '' ? null : adult === '1' ? 1 : 0, f[7] === '1' ? 1 : 0, f[8]!, f[9] || null];
}

interface RowSource {
  length: number;
  cardHash(i: number): Buffer;
  /** null: a removal. */
  params(i: number): MemberParams | null;
}

function stagedSource(rows: readonly StagedRow[]): RowSource {
  return {
    length: rows.length,
    cardHash: (i) => rows[i]!.cardHash,
    params: (i) => {
      const r = rows[i]!;
      return r.removed ? null : toParams(r);
    },
  };
}

function packedSource(rows: PackedRows): RowSource {
  const hashes = Buffer.from(rows.cardHashes.buffer, rows.cardHashes.byteOffset, rows.cardHashes.byteLength);
  if (hashes.length !== rows.fields.length * 32) throw new MemberListError('a packed chunk must carry 32 bytes of card hash per row');
  const cardHash = (i: number): Buffer => hashes.subarray(i * 32, i * 32 + 32);
  return {
    length: rows.fields.length,
    cardHash,
    params: (i) => {
      const fields = rows.fields[i];
      return fields === null || fields === undefined ? null : fieldsParams(cardHash(i), fields);
    },
  };
}

export class MemberSyncStore {
  private readonly q;

  constructor(private readonly db: Db) {
    const p = <P extends unknown[], R = unknown>(sql: string) => db.prepare<P, R>(sql);
    this.q = {
      header: p<[], RawHeader>('SELECT * FROM member_sync WHERE id = 1'),
      received: p<[], { idx: number }>(`SELECT idx FROM member_sync_chunks WHERE entries <> ${PENDING} ORDER BY idx`),
      chunkState: p<[number], { entries: number }>('SELECT entries FROM member_sync_chunks WHERE idx = ?'),
      begin: p<[string, string, number, number | null, string | null, string, number, number, string, string]>(
        'INSERT INTO member_sync (id, transfer, kind, version, base, base_hash, key_id, total, count, hash, started_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      chunk: p<[number, number, string]>('INSERT OR REPLACE INTO member_sync_chunks (idx, entries, sum) VALUES (?, ?, ?)'),
      row: p<[Buffer, number, string | null, number, string | null, number, string | null, number | null, number, string, string | null]>(
        'INSERT INTO member_sync_rows (card_hash, removed, expires, blocked, blocked_until, open_access, birth_date, adult, staff, groups, pin_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      member: p<MemberParams>(`INSERT INTO member_sync_members (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      dropRowsBetween: p<[Buffer, Buffer]>('DELETE FROM member_sync_rows WHERE card_hash BETWEEN ? AND ?'),
      dropMembersBetween: p<[Buffer, Buffer]>('DELETE FROM member_sync_members WHERE card_hash BETWEEN ? AND ?'),
      sums: p<[], { sum: string; entries: number }>(`SELECT sum, entries FROM member_sync_chunks WHERE entries <> ${PENDING}`),
      meta: p<[], ListMeta>('SELECT version, count, hash FROM member_list WHERE id = 1'),
      hasMembers: p<[], { n: number }>('SELECT EXISTS (SELECT 1 FROM members) AS n'),
      countStaged: p<[Buffer], { n: number; last: Buffer | null }>(
        `SELECT count(*) AS n, max(card_hash) AS last FROM (SELECT card_hash FROM member_sync_members WHERE card_hash > ? ORDER BY card_hash LIMIT ${COUNT_PAGE})`,
      ),
      compareOld: p<[Buffer], { seen: number; matched: number; unchanged: number; last: Buffer | null }>(
        `SELECT count(*) AS seen, count(s.card_hash) AS matched,
           coalesce(sum(CASE WHEN s.card_hash IS NULL THEN 0 ELSE (${SAME_MEMBER}) END), 0) AS unchanged, max(m.card_hash) AS last
         FROM (SELECT * FROM members WHERE card_hash > ? ORDER BY card_hash LIMIT ${COMPARE_PAGE}) m
         LEFT JOIN member_sync_members s ON s.card_hash = m.card_hash`,
      ),
      page: p<[Buffer], RawRow>(
        `SELECT card_hash AS cardHash, removed, expires, blocked, blocked_until AS blockedUntil, open_access AS openAccess,
           birth_date AS birthDate, adult, staff, groups, pin_hash AS pinHash
         FROM member_sync_rows WHERE card_hash > ? ORDER BY card_hash LIMIT ${CHECK_PAGE}`,
      ),
      findRow: p<[Buffer], RawRow>(
        `SELECT card_hash AS cardHash, 0 AS removed, expires, blocked, blocked_until AS blockedUntil, open_access AS openAccess,
           birth_date AS birthDate, adult, staff, groups, pin_hash AS pinHash FROM members WHERE card_hash = ?`,
      ),
      writeDelta: p<[]>(
        `INSERT OR REPLACE INTO members (${COLUMNS}) SELECT ${COLUMNS} FROM member_sync_rows WHERE removed = 0 ORDER BY card_hash`,
      ),
      removeDelta: p<[]>('DELETE FROM members WHERE card_hash IN (SELECT card_hash FROM member_sync_rows WHERE removed = 1)'),
      writeMeta: p<[number, number, string, string, string]>(
        `INSERT INTO member_list (id, version, count, hash, source, applied_at) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, count = excluded.count, hash = excluded.hash,
           source = excluded.source, applied_at = excluded.applied_at`,
      ),
      retired: p<[string], { n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = ?"),
      anyStaged: p<[], { n: number }>('SELECT EXISTS (SELECT 1 FROM member_sync_members) OR EXISTS (SELECT 1 FROM member_sync_rows) AS n'),
    };
  }

  /** The transfer staged now, with the chunks received; null when none. */
  transfer(): StagedTransfer | null {
    const h = this.q.header.get();
    if (h === undefined) return null;
    return {
      transfer: h.transfer,
      kind: h.kind,
      version: h.version,
      base: h.base,
      baseHash: h.base_hash,
      keyId: h.key_id,
      total: h.total,
      count: h.count,
      hash: h.hash,
      startedAt: h.started_at,
      received: this.q.received.all().map((r) => r.idx),
    };
  }

  /** Starts staging a transfer (anything staged before is dropped). Not fsynced: lost, it is asked for again. */
  begin(header: TransferHeader, at: Date): void {
    unsynced(this.db, () => {
      this.clear();
      this.q.begin.run(header.transfer, header.kind, header.version, header.base, header.baseHash, header.keyId, header.total, header.count, header.hash, at.toISOString());
    });
  }

  /**
   * Stages one checked chunk in one transaction. `sum` is the list-hash sum of its members (snapshot). Returns false
   * when that chunk was already staged (a resend). Throws MemberListError when a card is already staged from another
   * chunk: the transfer is inconsistent and must start again.
   */
  stageChunk(index: number, rows: readonly StagedRow[], sum: string): boolean {
    return runNow(this.stageSteps(index, stagedSource(rows), sum, Math.max(1, rows.length)));
  }

  /**
   * `stageChunk` in steps of `batch` rows, each its own transaction: the chunk is marked as being staged in the
   * first and as staged in the last. A chunk left half-staged (a crash, a stop between steps) counts as not
   * received: staging it again first deletes what the interrupted run put in.
   */
  stageChunkSteps(index: number, rows: PackedRows, sum: string, batch = STAGE_BATCH): Steps<boolean> {
    return this.stageSteps(index, packedSource(rows), sum, batch);
  }

  private *stageSteps(index: number, rows: RowSource, sum: string, batch: number): Steps<boolean> {
    const db = this.db;
    const header = this.q.header.get();
    if (header === undefined) throw new MemberListError('no member-list transfer is staged');
    const snapshot = header.kind === 'snapshot';
    const n = rows.length;
    const stageRange = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        const params = rows.params(i);
        try {
          if (params === null) {
            if (snapshot) throw new MemberListError(`chunk ${index} of a snapshot removes a card`);
            this.q.row.run(rows.cardHash(i), 1, null, 0, null, 0, null, null, 0, '', null);
          } else if (snapshot) {
            this.q.member.run(...params);
          } else {
            const [cardHash, ...fields] = params;
            this.q.row.run(cardHash, 0, ...fields);
          }
        } catch (error) {
          if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new MemberListError(`chunk ${index} repeats a card of another chunk`);
          }
          throw error;
        }
      }
    };
    let done = Math.min(n, batch);
    const started = unsynced(db, (): boolean => {
      const state = this.q.chunkState.get(index);
      if (state !== undefined && state.entries !== PENDING) return false;
      if (state !== undefined && n > 0) this.dropRowsOf(rows, snapshot);
      this.q.chunk.run(index, done === n ? n : PENDING, done === n ? sum : '');
      stageRange(0, done);
      return true;
    });
    if (!started) return false;
    while (done < n) {
      yield;
      const from = done;
      done = Math.min(n, from + batch);
      unsynced(db, () => {
        stageRange(from, done);
        if (done === n) this.q.chunk.run(index, n, sum);
      });
    }
    return true;
  }

  /** The rows an interrupted staging of this chunk left: a chunk's cards are one range of card hashes. */
  private dropRowsOf(rows: RowSource, snapshot: boolean): void {
    let low = rows.cardHash(0);
    let high = low;
    for (let i = 1; i < rows.length; i++) {
      const h = rows.cardHash(i);
      if (Buffer.compare(h, low) < 0) low = h;
      else if (Buffer.compare(h, high) > 0) high = h;
    }
    (snapshot ? this.q.dropMembersBetween : this.q.dropRowsBetween).run(low, high);
  }

  /**
   * Drops the staged transfer. Its staged rows are left for `cleanUp` / `cleanUpSteps` (or the next `begin`):
   * deleting a million of them at once would hold the event loop.
   */
  discard(): void {
    this.db.transaction(() => this.db.exec('DELETE FROM member_sync; DELETE FROM member_sync_chunks;'))();
  }

  /**
   * Applies the complete staged transfer as the list in force, in one transaction, only if its count and hash
   * are the announced ones. Throws MemberListError (nothing changes, the staged transfer stays) when they are not.
   */
  apply(options: ApplyOptions): ApplyResult {
    const result = runNow(this.applySteps(options));
    this.cleanUp();
    return result;
  }

  /**
   * `apply` in steps: what needs no lock (counting the staged rows, a delta's new count and hash) is done first,
   * with the event loop turning; then the same single transaction, checked again and kept short. The old list a
   * snapshot replaced is left for `cleanUpSteps`.
   */
  *applySteps(options: ApplyOptions): Steps<ApplyResult> {
    const header = this.transfer();
    if (header === null) throw new MemberListError('no member-list transfer is staged');
    if (header.received.length !== header.total) {
      throw new MemberListError(`the transfer is incomplete: ${header.received.length} of ${header.total} chunks`);
    }
    // The previous swap's old list, if its deletion was cut short: the name must be free for this swap.
    if (this.q.retired.get(RETIRED)!.n > 0) yield* this.cleanUpSteps();
    const prepared = header.kind === 'snapshot' ? yield* this.prepareSnapshot() : yield* this.prepareDelta(header);
    let lockMs = 0;
    const run = this.db.transaction((): ApplyResult => {
      const started = performance.now();
      const now = this.transfer();
      if (now === null || now.transfer !== header.transfer || now.received.length !== now.total) {
        throw new MemberListError('the staged transfer changed while it was being applied');
      }
      const result = header.kind === 'snapshot' ? this.swapSnapshot(header, prepared as SnapshotCheck) : this.writeDelta(header, prepared as DeltaCheck);
      this.q.writeMeta.run(header.version, header.count, header.hash, options.source, options.appliedAt.toISOString());
      // The header goes in this transaction (nothing is staged any more once it commits); a delta's rows are
      // deleted with it, a snapshot's staging table is the new members table.
      this.db.exec('DELETE FROM member_sync; DELETE FROM member_sync_chunks; DELETE FROM member_sync_rows;');
      options.beforeCommit?.();
      lockMs = performance.now() - started;
      return result;
    });
    const started = performance.now();
    const result = run.immediate();
    // The commit itself (the fsync of the WAL) is part of the time the lock is held.
    return { ...result, lockMs: Math.max(lockMs, performance.now() - started) };
  }

  /** Whether `cleanUpSteps` has anything to do: the list a swap replaced, or rows of a dropped transfer. */
  hasLeftovers(): boolean {
    if (this.q.retired.get(RETIRED)!.n > 0) return true;
    return this.q.header.get() === undefined && this.q.anyStaged.get()!.n === 1;
  }

  /** Deletes the leftovers at once (DROP, one DELETE): for the synchronous API. */
  cleanUp(): void {
    if (this.q.retired.get(RETIRED)!.n > 0) this.db.exec(`DROP TABLE ${RETIRED}`);
    if (this.q.header.get() === undefined) this.db.exec('DELETE FROM member_sync_members; DELETE FROM member_sync_rows;');
  }

  /** Deletes the leftovers a batch at a time. */
  *cleanUpSteps(): Steps<void> {
    const db = this.db;
    const tables = [RETIRED, 'member_sync_members', 'member_sync_rows'];
    for (const table of tables) {
      const retired = table === RETIRED;
      if (retired && this.q.retired.get(RETIRED)!.n === 0) continue;
      // Rows of a staged transfer are not leftovers.
      if (!retired && this.q.header.get() !== undefined) return;
      const batch = db.prepare<[number]>(`DELETE FROM ${table} WHERE card_hash IN (SELECT card_hash FROM ${table} ORDER BY card_hash LIMIT ?)`);
      while (unsynced(db, () => batch.run(DELETE_BATCH).changes) === DELETE_BATCH) yield;
      // Empty now: dropping it frees nothing more than a page or two.
      if (retired) db.exec(`DROP TABLE ${RETIRED}`);
      yield;
    }
  }

  private *prepareSnapshot(): Steps<SnapshotCheck> {
    let staged = 0;
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const { n, last } = this.q.countStaged.get(after)!;
      staged += n;
      if (n < COUNT_PAGE || last === null) break;
      after = last;
      yield;
    }
    // What changed is counted only when the list in force is small beside the new one (a new branch): comparing a
    // million members with a million members is seconds of work for a figure nobody acts on.
    const meta = this.q.meta.get() ?? null;
    let counts: Counts = NO_COUNTS;
    if ((meta?.count ?? 0) * 2 < staged) {
      let seen = 0;
      let matched = 0;
      let unchanged = 0;
      after = Buffer.alloc(0);
      for (;;) {
        yield;
        const page = this.q.compareOld.get(after)!;
        seen += page.seen;
        matched += page.matched;
        unchanged += page.unchanged;
        if (page.seen < COMPARE_PAGE || page.last === null) break;
        after = page.last;
      }
      counts = seen * 2 < staged ? { added: staged - matched, changed: matched - unchanged, removed: seen - matched } : NO_COUNTS;
    }
    return { staged, meta, counts };
  }

  private swapSnapshot(h: StagedTransfer, check: SnapshotCheck): ApplyResult {
    const db = this.db;
    const sum = new ListHash();
    let entries = 0;
    for (const chunk of this.q.sums.all()) {
      sum.addSum(ListHash.fromHex(chunk.sum));
      entries += chunk.entries;
    }
    const staged = check.staged;
    if (staged !== h.count || entries !== h.count) throw new MemberListError(`the list has ${staged} members where ${h.count} were announced`);
    if (sum.toHex() !== h.hash) throw new MemberListError(`the list's hash ${sum.toHex()} does not match the announced ${h.hash}`);
    // Counted against the list as it was then; another change since (a local import) makes them unknown.
    const counts = sameMeta(this.q.meta.get() ?? null, check.meta) ? check.counts : NO_COUNTS;
    // The staged table becomes the members table (a rename), and the old one is set aside by another rename: the
    // write lock is held for a few milliseconds, not for a million rows copied or a million rows' pages freed.
    const old = this.q.hasMembers.get()!.n === 1 ? `ALTER TABLE members RENAME TO ${RETIRED}` : 'DROP TABLE members';
    db.exec(`
      ${old};
      ALTER TABLE member_sync_members RENAME TO members;
      ${stagingTableSql(db)};
    `);
    return { kind: 'snapshot', version: h.version, count: staged, hash: h.hash, ...counts, lockMs: 0 };
  }

  /** A delta's resulting count and hash, computed from the list in force and the staged changes, a page per step. */
  private *prepareDelta(h: StagedTransfer): Steps<DeltaCheck> {
    const meta = this.q.meta.get();
    if (meta === undefined || meta.version !== h.base || meta.hash !== h.baseHash) {
      throw new MemberListError(`the list in force (version ${meta?.version ?? 'none'}) is not the base of this delta (version ${h.base})`);
    }
    const sum = ListHash.fromHex(meta.hash ?? EMPTY_LIST_HASH);
    let count = meta.count;
    let added = 0;
    let changed = 0;
    let removed = 0;
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const page = this.q.page.all(after);
      if (page.length === 0) break;
      for (const staged of page) {
        const old = this.q.findRow.get(staged.cardHash);
        if (old !== undefined) {
          sum.subtract(toMemberRow(old));
          count--;
        }
        if (staged.removed === 1) {
          if (old !== undefined) removed++;
          continue;
        }
        sum.add(toMemberRow(staged));
        count++;
        if (old === undefined) added++;
        else changed++;
      }
      after = page[page.length - 1]!.cardHash;
      yield;
    }
    return { meta, count, hash: sum.toHex(), counts: { added, changed, removed } };
  }

  private writeDelta(h: StagedTransfer, check: DeltaCheck): ApplyResult {
    // The list in force changed since the check (a local change): check again, now under the lock.
    const c = sameMeta(this.q.meta.get() ?? null, check.meta) ? check : runNow(this.prepareDelta(h));
    if (c.count !== h.count) throw new MemberListError(`the list has ${c.count} members after the delta where ${h.count} were announced`);
    if (c.hash !== h.hash) throw new MemberListError(`the list's hash ${c.hash} after the delta does not match the announced ${h.hash}`);
    this.q.writeDelta.run();
    this.q.removeDelta.run();
    return { kind: 'delta', version: h.version, count: c.count, hash: h.hash, ...c.counts, lockMs: 0 };
  }

  private clear(): void {
    this.db.exec('DELETE FROM member_sync; DELETE FROM member_sync_chunks; DELETE FROM member_sync_rows; DELETE FROM member_sync_members;');
  }
}

interface SnapshotCheck {
  staged: number;
  meta: ListMeta | null;
  counts: Counts;
}

interface DeltaCheck {
  meta: ListMeta;
  count: number;
  hash: string;
  counts: { added: number; changed: number; removed: number };
}

function sameMeta(a: ListMeta | null, b: ListMeta | null): boolean {
  return a?.version === b?.version && a?.count === b?.count && a?.hash === b?.hash;
}
