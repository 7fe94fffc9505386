// A member-list transfer from central, staged in the store (migration `member-sync`) and applied in one
// transaction (docs/members.md).
//
// Chunks are staged as they arrive, each in its own short transaction, so a restart or an outage resumes where
// it stopped. Nothing touches the list in force until every chunk is there; then one IMMEDIATE transaction checks
// the count and the list hash against what central announced, puts the staged table in the members table's place
// (a snapshot) or writes the changes (a delta), records the version and empties the staging tables. An exception
// or a power cut at any point before that commit leaves the previous version in force, and the staged transfer
// still there to apply.
import type BetterSqlite3 from 'better-sqlite3';
import { EMPTY_LIST_HASH, ListHash } from '../../policies/member-list.js';
import { MemberListError } from './errors.js';
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

export interface ApplyResult {
  kind: 'delta' | 'snapshot';
  version: number;
  count: number;
  hash: string;
  /** Members added, changed and removed; null for a snapshot that replaced a big list (not counted, to keep the lock short). */
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

const SAME_MEMBER = `m.expires IS s.expires AND m.blocked = s.blocked AND m.blocked_until IS s.blocked_until AND
  m.open_access = s.open_access AND m.birth_date IS s.birth_date AND m.adult IS s.adult AND m.staff = s.staff AND
  m.groups = s.groups AND m.pin_hash IS s.pin_hash`;
const PAGE = 2000;

/**
 * The members table's own definition, renamed: the staging table a snapshot is built in must be laid out exactly like
 * it, since it takes its place by rename. Read from the schema so that a later migration of members carries over.
 */
function stagingTableSql(db: Db): string {
  const { sql } = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'members'").get()!;
  return sql.replace(/^CREATE TABLE\s+("members"|members)/i, 'CREATE TABLE member_sync_members');
}

export class MemberSyncStore {
  private readonly q;

  constructor(private readonly db: Db) {
    const p = <P extends unknown[], R = unknown>(sql: string) => db.prepare<P, R>(sql);
    this.q = {
      header: p<[], RawHeader>('SELECT * FROM member_sync WHERE id = 1'),
      received: p<[], { idx: number }>('SELECT idx FROM member_sync_chunks ORDER BY idx'),
      hasChunk: p<[number], { idx: number }>('SELECT idx FROM member_sync_chunks WHERE idx = ?'),
      begin: p<[string, string, number, number | null, string | null, string, number, number, string, string]>(
        'INSERT INTO member_sync (id, transfer, kind, version, base, base_hash, key_id, total, count, hash, started_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      chunk: p<[number, number, string]>('INSERT INTO member_sync_chunks (idx, entries, sum) VALUES (?, ?, ?)'),
      row: p<[Buffer, number, string | null, number, string | null, number, string | null, number | null, number, string, string | null]>(
        'INSERT INTO member_sync_rows (card_hash, removed, expires, blocked, blocked_until, open_access, birth_date, adult, staff, groups, pin_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      member: p<MemberParams>(
        `INSERT INTO member_sync_members (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      sums: p<[], { sum: string; entries: number }>('SELECT sum, entries FROM member_sync_chunks'),
      meta: p<[], { version: number; count: number; hash: string }>('SELECT version, count, hash FROM member_list WHERE id = 1'),
      memberCount: p<[], { n: number }>('SELECT count(*) AS n FROM members'),
      page: p<[Buffer], RawRow>(
        `SELECT card_hash AS cardHash, removed, expires, blocked, blocked_until AS blockedUntil, open_access AS openAccess,
           birth_date AS birthDate, adult, staff, groups, pin_hash AS pinHash
         FROM member_sync_rows WHERE card_hash > ? ORDER BY card_hash LIMIT ${PAGE}`,
      ),
      findRow: p<[Buffer], RawRow>(
        `SELECT card_hash AS cardHash, 0 AS removed, expires, blocked, blocked_until AS blockedUntil, open_access AS openAccess,
           birth_date AS birthDate, adult, staff, groups, pin_hash AS pinHash FROM members WHERE card_hash = ?`,
      ),
      upsert: p<MemberParams>(
        `INSERT OR REPLACE INTO members (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      remove: p<[Buffer]>('DELETE FROM members WHERE card_hash = ?'),
      writeMeta: p<[number, number, string, string, string]>(
        `INSERT INTO member_list (id, version, count, hash, source, applied_at) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, count = excluded.count, hash = excluded.hash,
           source = excluded.source, applied_at = excluded.applied_at`,
      ),
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

  /** Starts staging a transfer (anything staged before is dropped). */
  begin(header: TransferHeader, at: Date): void {
    this.db.transaction(() => {
      this.clear();
      this.q.begin.run(header.transfer, header.kind, header.version, header.base, header.baseHash, header.keyId, header.total, header.count, header.hash, at.toISOString());
    })();
  }

  /**
   * Stages one checked chunk in one transaction. `sum` is the list-hash sum of its members (snapshot). Returns false
   * when that chunk was already staged (a resend). Throws MemberListError when a card is already staged from another
   * chunk: the transfer is inconsistent and must start again.
   */
  stageChunk(index: number, rows: readonly StagedRow[], sum: string): boolean {
    return this.db.transaction((): boolean => {
      if (this.q.hasChunk.get(index) !== undefined) return false;
      const snapshot = this.q.header.get()?.kind === 'snapshot';
      for (const r of rows) {
        try {
          if (r.removed) {
            if (snapshot) throw new MemberListError(`chunk ${index} of a snapshot removes a card`);
            this.q.row.run(r.cardHash, 1, null, 0, null, 0, null, null, 0, '', null);
          } else if (snapshot) {
            this.q.member.run(...toParams(r));
          } else {
            const [cardHash, ...fields] = toParams(r);
            this.q.row.run(cardHash, 0, ...fields);
          }
        } catch (error) {
          if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new MemberListError(`chunk ${index} repeats a card of another chunk`);
          }
          throw error;
        }
      }
      this.q.chunk.run(index, rows.length, sum);
      return true;
    })();
  }

  /** Drops the staged transfer. */
  discard(): void {
    this.db.transaction(() => this.clear())();
  }

  /**
   * Applies the complete staged transfer as the list in force, in one transaction, only if its count and hash
   * are the announced ones. Throws MemberListError (nothing changes, the staged transfer stays) when they are not.
   */
  apply(options: ApplyOptions): ApplyResult {
    const header = this.transfer();
    if (header === null) throw new MemberListError('no member-list transfer is staged');
    if (header.received.length !== header.total) {
      throw new MemberListError(`the transfer is incomplete: ${header.received.length} of ${header.total} chunks`);
    }
    let lockMs = 0;
    const run = this.db.transaction((): ApplyResult => {
      const started = performance.now();
      const result = header.kind === 'snapshot' ? this.applySnapshot(header) : this.applyDelta(header);
      this.q.writeMeta.run(header.version, header.count, header.hash, options.source, options.appliedAt.toISOString());
      this.clear();
      options.beforeCommit?.();
      lockMs = performance.now() - started;
      return result;
    });
    const started = performance.now();
    const result = run.immediate();
    // The commit itself (the fsync of the WAL) is part of the time the lock is held.
    return { ...result, lockMs: Math.max(lockMs, performance.now() - started) };
  }

  private applySnapshot(h: StagedTransfer): ApplyResult {
    const db = this.db;
    const sum = new ListHash();
    let entries = 0;
    for (const chunk of this.q.sums.all()) {
      sum.addSum(ListHash.fromHex(chunk.sum));
      entries += chunk.entries;
    }
    const staged = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM member_sync_members').get()!.n;
    if (staged !== h.count || entries !== h.count) throw new MemberListError(`the list has ${staged} members where ${h.count} were announced`);
    if (sum.toHex() !== h.hash) throw new MemberListError(`the list's hash ${sum.toHex()} does not match the announced ${h.hash}`);
    // The staged table becomes the members table (a rename): the write lock is held for a few milliseconds plus the
    // freeing of the old table's pages, not for a million rows copied. What changed is counted only when that is
    // cheap (the old list is small: a new branch); a branch replacing a big list reports the counts as unknown.
    const before = this.q.memberCount.get()!.n;
    let counts: Pick<ApplyResult, 'added' | 'changed' | 'removed'> = { added: null, changed: null, removed: null };
    if (before * 2 < staged) {
      const { matched, unchanged } = db
        .prepare<[], { matched: number; unchanged: number }>(
          `SELECT count(*) AS matched, coalesce(sum(${SAME_MEMBER}), 0) AS unchanged
           FROM members m JOIN member_sync_members s ON s.card_hash = m.card_hash`,
        )
        .get()!;
      counts = { added: staged - matched, changed: matched - unchanged, removed: before - matched };
    }
    db.exec(`
      DROP TABLE members;
      ALTER TABLE member_sync_members RENAME TO members;
      ${stagingTableSql(db)};
    `);
    return { kind: 'snapshot', version: h.version, count: staged, hash: h.hash, ...counts, lockMs: 0 };
  }

  private applyDelta(h: StagedTransfer): ApplyResult {
    const meta = this.q.meta.get();
    if (meta === undefined || meta.version !== h.base || meta.hash !== h.baseHash) {
      throw new MemberListError(`the list in force (version ${meta?.version ?? 'none'}) is not the base of this delta (version ${h.base})`);
    }
    const sum = ListHash.fromHex(meta.hash ?? EMPTY_LIST_HASH);
    let count = meta.count;
    let added = 0;
    let changed = 0;
    let removed = 0;
    // Paged by key: a statement may not write while another one on the connection is still reading.
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
          if (old !== undefined) {
            this.q.remove.run(staged.cardHash);
            removed++;
          }
          continue;
        }
        const row = toMemberRow(staged);
        sum.add(row);
        count++;
        this.q.upsert.run(...toParams(row));
        if (old === undefined) added++;
        else changed++;
      }
      after = page[page.length - 1]!.cardHash;
    }
    if (count !== h.count) throw new MemberListError(`the list has ${count} members after the delta where ${h.count} were announced`);
    if (sum.toHex() !== h.hash) throw new MemberListError(`the list's hash ${sum.toHex()} after the delta does not match the announced ${h.hash}`);
    return { kind: 'delta', version: h.version, count, hash: h.hash, added, changed, removed, lockMs: 0 };
  }

  private clear(): void {
    this.db.exec('DELETE FROM member_sync; DELETE FROM member_sync_chunks; DELETE FROM member_sync_rows; DELETE FROM member_sync_members;');
  }
}
