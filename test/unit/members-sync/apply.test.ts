// The staged transfer and its apply in the gateway store: one transaction, only after count and hash check, the
// members table the same afterwards whichever way the snapshot went in, and a failure before commit changes nothing.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MemberListError } from '../../../gateway/store/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { ListHash, chunkOfCard, snapshotChunkCount, type MemberRecord } from '../../../policies/member-list.js';
import { useTempDir } from '../store/helpers.js';
import { records } from './helpers.js';

const tmp = useTempDir();
const KEY_ID = '0123456789abcdef';
const AT = new Date('2026-03-02T10:00:00.000Z');

function hashOf(rows: readonly MemberRecord[]): string {
  const sum = new ListHash();
  for (const r of rows) sum.add(r);
  return sum.toHex();
}

/** Stages `rows` as a snapshot of `version` in chunks of about `size`, as the sync does. */
function stageSnapshot(store: Store, rows: readonly MemberRecord[], version: number, size = 50, header: { count?: number; hash?: string } = {}): void {
  const total = snapshotChunkCount(rows.length, size);
  store.memberSync.begin(
    { transfer: '6a1f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b', kind: 'snapshot', version, base: null, baseHash: null, keyId: KEY_ID, total, count: header.count ?? rows.length, hash: header.hash ?? hashOf(rows) },
    AT,
  );
  for (let i = 0; i < total; i++) {
    const part = rows.filter((r) => chunkOfCard(r.cardHash, total) === i);
    store.memberSync.stageChunk(i, part.map((r) => ({ removed: false as const, ...r })), hashOf(part));
  }
}

/** The members table as SQLite describes it, read on a connection of its own. */
function layout(path: string): { columns: unknown[]; sql: string } {
  const db = new Database(path, { readonly: true });
  try {
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'members'").pluck().get() as string;
    return { columns: db.pragma('table_info(members)') as unknown[], sql: sql.replace(/^CREATE TABLE "?members"?\s*/, '').replace(/\s+/g, ' ') };
  } finally {
    db.close();
  }
}

describe('applying a staged member list', () => {
  it('takes a snapshot into an empty list by renaming the staged table; lookups and the schema are as before', () => {
    const store = tmp.open();
    const rows = records(300);
    const before = layout(tmp.path('gateway.sqlite'));
    expect(store.members.find(rows[0]!.cardHash)).toBeUndefined(); // a prepared lookup, from before the swap
    stageSnapshot(store, rows, 1);
    const result = store.memberSync.apply({ appliedAt: AT, source: 'central' });
    expect(result).toMatchObject({ kind: 'snapshot', version: 1, count: 300, added: 300, changed: 0, removed: 0 });
    expect(store.members.find(rows[0]!.cardHash)).toMatchObject({ openAccess: true, blocked: false });
    expect(store.members.stats()).toMatchObject({ version: 1, count: 300, hash: hashOf(rows), source: 'central' });
    // Deltas and local imports still work on the renamed table.
    expect(store.members.upsert({ ...rows[1]!, blocked: true })).toBe('changed');
    expect(store.members.stats().hash).toBe(hashOf([rows[0]!, { ...rows[1]!, blocked: true }, ...rows.slice(2)]));
    expect(store.memberSync.transfer()).toBeNull();
    expect(layout(tmp.path('gateway.sqlite'))).toEqual(before);
    expect(before.sql).toMatch(/CHECK \(length\(card_hash\) = 32\).*WITHOUT ROWID/);
  });

  it('replaces a list the branch already holds the same way (changes counted only when the old list is small)', () => {
    const store = tmp.open();
    const rows = records(300);
    stageSnapshot(store, rows, 1);
    store.memberSync.apply({ appliedAt: AT, source: 'central' });
    const next = [...rows.slice(0, 250).map((r, i) => (i < 5 ? { ...r, blocked: true } : r)), ...records(10, 1000)];
    stageSnapshot(store, next, 7);
    const result = store.memberSync.apply({ appliedAt: AT, source: 'central' });
    expect(result).toMatchObject({ kind: 'snapshot', version: 7, count: 260, added: null, changed: null, removed: null });
    expect(store.members.stats()).toMatchObject({ version: 7, count: 260, hash: hashOf(next) });
    expect(store.members.find(rows[299]!.cardHash)).toBeUndefined();
  });

  it('applies nothing when the count or hash is not the announced one, and keeps what is staged after a failure', () => {
    const store = tmp.open();
    const rows = records(120);
    stageSnapshot(store, rows, 1);
    store.memberSync.apply({ appliedAt: AT, source: 'central' });
    const before = store.members.stats();

    stageSnapshot(store, records(120, 0, () => ({ staff: true })), 2, 50, { hash: 'ab'.repeat(32) });
    expect(() => store.memberSync.apply({ appliedAt: AT, source: 'central' })).toThrow(/does not match the announced/);
    stageSnapshot(store, records(120, 0, () => ({ staff: true })), 2, 50, { count: 121 });
    expect(() => store.memberSync.apply({ appliedAt: AT, source: 'central' })).toThrow(MemberListError);
    expect(store.members.stats()).toEqual(before);

    const good = records(120, 0, () => ({ staff: true }));
    stageSnapshot(store, good, 2);
    expect(() =>
      store.memberSync.apply({
        appliedAt: AT,
        source: 'central',
        beforeCommit: () => {
          throw new Error('power cut');
        },
      }),
    ).toThrow('power cut');
    expect(store.members.stats()).toEqual(before);
    expect(store.members.find(good[0]!.cardHash)).toMatchObject({ staff: false });
    expect(store.memberSync.transfer()).toMatchObject({ version: 2, received: [0, 1, 2] });
    expect(store.memberSync.apply({ appliedAt: AT, source: 'central' })).toMatchObject({ version: 2, count: 120 });
    expect(store.members.find(good[0]!.cardHash)).toMatchObject({ staff: true });
  });

  it('refuses an incomplete transfer and a card staged by two chunks', () => {
    const store = tmp.open();
    const rows = records(100);
    store.memberSync.begin({ transfer: '6a1f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b', kind: 'snapshot', version: 1, base: null, baseHash: null, keyId: KEY_ID, total: 2, count: 100, hash: hashOf(rows) }, AT);
    store.memberSync.stageChunk(0, rows.slice(0, 50).map((r) => ({ removed: false as const, ...r })), '00'.repeat(32));
    expect(() => store.memberSync.apply({ appliedAt: AT, source: 'central' })).toThrow(/incomplete: 1 of 2/);
    expect(store.memberSync.stageChunk(0, [], '00'.repeat(32))).toBe(false);
    expect(() => store.memberSync.stageChunk(1, rows.slice(49, 51).map((r) => ({ removed: false as const, ...r })), '00'.repeat(32))).toThrow(/repeats a card/);
    expect(store.memberSync.transfer()?.received).toEqual([0]);
  });

  it('applies a delta only onto the version it starts from', () => {
    const store = tmp.open();
    const rows = records(50);
    stageSnapshot(store, rows, 3);
    store.memberSync.apply({ appliedAt: AT, source: 'central' });
    const after = [...rows.slice(1).map((r, i) => (i === 0 ? { ...r, blocked: true } : r)), ...records(1, 900)];
    const header = { transfer: '7b2f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b', kind: 'delta' as const, version: 4, keyId: KEY_ID, total: 1, count: 50, hash: hashOf(after) };
    const changes = [{ cardHash: rows[0]!.cardHash, removed: true as const }, { removed: false as const, ...after[0]! }, { removed: false as const, ...after[49]! }];
    store.memberSync.begin({ ...header, base: 2, baseHash: store.members.stats().hash }, AT);
    store.memberSync.stageChunk(0, changes, '');
    expect(() => store.memberSync.apply({ appliedAt: AT, source: 'central' })).toThrow(/not the base of this delta/);
    store.memberSync.begin({ ...header, base: 3, baseHash: store.members.stats().hash }, AT);
    store.memberSync.stageChunk(0, changes, '');
    expect(store.memberSync.apply({ appliedAt: AT, source: 'central' })).toMatchObject({ kind: 'delta', version: 4, added: 1, changed: 1, removed: 1 });
    expect(store.members.stats()).toMatchObject({ version: 4, count: 50, hash: hashOf(after) });
  });
});
