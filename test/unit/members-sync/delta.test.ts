// Central's versions: what a delta from an older version holds, when one can still be given, and when a snapshot
// chunk of an older version can still be made.
import { describe, expect, it } from 'vitest';
import { ConcurrentChangeError } from '../../../central/members/member-store.js';
import { SqliteMemberTables } from '../../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../../central/store.js';
import { deploymentKeyId } from '../../../policies/cards.js';
import { chunkOfCard, decodeMemberEntry, encodeMemberEntry, memberFieldsText, snapshotChunkCount } from '../../../policies/member-list.js';
import { OTHER_KEY_HEX, TEST_KEY_HEX, importRecords, records } from './helpers.js';

const KEY_ID = deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex'));
const meta = (keepVersions = 50) => ({ keyId: KEY_ID, source: 'api:test', at: new Date('2026-03-02T11:00:00Z'), keepVersions });

function fresh(): SqliteMemberTables {
  return new SqliteMemberTables(new CentralStore(':memory:').db);
}

describe('versions at central', () => {
  it('makes a version per import that changes something, and none for the same file again', () => {
    const store = fresh();
    const rows = records(100);
    expect(importRecords(store, rows, KEY_ID)).toBe(1);
    expect(importRecords(store, [...rows].reverse(), KEY_ID)).toBeNull();
    expect(store.current()).toMatchObject({ version: 1, count: 100, added: 100, changed: 0, removed: 0, deltaKept: false });
    // Version 1 came from nothing: a branch gets it as a snapshot.
    expect(store.deltasFrom()).toBe(1);
  });

  it('gives a delta of exactly the cards changed since the branch’s version, in their current state', () => {
    const store = fresh();
    const rows = records(100);
    importRecords(store, rows, KEY_ID);
    const v1 = store.current()!;
    // v2: one blocked, one removed, one added.
    const v2rows = rows.filter((_, i) => i !== 5).map((r, i) => (i === 0 ? { ...r, blocked: true } : r));
    const added = records(1, 500)[0]!;
    importRecords(store, [...v2rows, added], KEY_ID);
    // v3: the blocked one unblocked again, another changed.
    store.changeOne(rows[0]!.cardHash, memberFieldsText(rows[0]!), meta());
    store.changeOne(rows[1]!.cardHash, memberFieldsText({ ...rows[1]!, expires: '2030-01-01' }), meta());
    expect(store.current()).toMatchObject({ version: 4, count: 100, deltaKept: true });

    const delta = store.deltaEntries(1).map(decodeMemberEntry);
    const byCard = new Map(delta.map((d) => [(d.kind === 'member' ? d.row.cardHash : d.cardHash).toString('hex'), d]));
    expect(byCard.size).toBe(delta.length); // each card once, however often it changed
    expect(byCard.get(rows[5]!.cardHash.toString('hex'))?.kind).toBe('removal');
    expect(byCard.get(added.cardHash.toString('hex'))).toMatchObject({ kind: 'member' });
    expect(byCard.get(rows[1]!.cardHash.toString('hex'))).toMatchObject({ row: { expires: '2030-01-01' } });
    // Blocked in v2 and unblocked in v3: in the delta as it is now.
    expect(byCard.get(rows[0]!.cardHash.toString('hex'))).toMatchObject({ row: { blocked: false } });
    expect(delta).toHaveLength(4);
    // Sorted by card hash, like the chunks.
    const hashes = delta.map((d) => (d.kind === 'member' ? d.row.cardHash : d.cardHash));
    expect([...hashes].sort(Buffer.compare)).toEqual(hashes);

    expect(store.canDelta({ version: 1, hash: v1.hash })).toBe(true);
    expect(store.canDelta({ version: 1, hash: 'ff'.repeat(32) })).toBe(false);
    expect(store.canDelta({ version: 4, hash: store.current()!.hash })).toBe(false);
    expect(store.canDelta(null)).toBe(false);
    expect(store.deltaEntries(3)).toEqual([encodeMemberEntry({ ...rows[1]!, expires: '2030-01-01' })]);
  });

  it('keeps the deltas of the last versions only; a branch further behind gets a snapshot', () => {
    const store = fresh();
    const rows = records(20);
    importRecords(store, rows, KEY_ID);
    const hashes = [store.current()!.hash];
    for (let i = 0; i < 5; i++) {
      store.changeOne(rows[i]!.cardHash, memberFieldsText({ ...rows[i]!, blocked: true }), meta(3));
      hashes.push(store.current()!.hash);
    }
    expect(store.current()!.version).toBe(6);
    expect(store.deltasFrom()).toBe(3);
    expect(store.canDelta({ version: 2, hash: hashes[1]! })).toBe(false);
    expect(store.canDelta({ version: 3, hash: hashes[2]! })).toBe(true);
    expect(store.deltaEntries(3)).toHaveLength(3);
  });

  it('does not keep a version that changes most of the list as a delta', () => {
    const store = fresh();
    importRecords(store, records(100), KEY_ID);
    importRecords(store, records(100, 0, () => ({ expires: '2031-01-01' })), KEY_ID);
    expect(store.current()).toMatchObject({ version: 2, changed: 100, deltaKept: false });
    expect(store.canDelta({ version: 1, hash: store.version(1)!.hash })).toBe(false);
  });

  it('treats a list made with another key as all new', () => {
    const store = fresh();
    importRecords(store, records(10), KEY_ID);
    const other = deploymentKeyId(Buffer.from(OTHER_KEY_HEX, 'hex'));
    importRecords(store, records(10), other);
    expect(store.current()).toMatchObject({ version: 2, keyId: other, deltaKept: false });
    expect(() => store.changeOne(records(1)[0]!.cardHash, memberFieldsText({ ...records(1)[0]!, blocked: true }), meta())).toThrow(/another deployment key/);
  });

  it('still makes a snapshot chunk of an older version while no card in its range has changed', () => {
    const store = fresh();
    const rows = records(400);
    importRecords(store, rows, KEY_ID);
    const total = snapshotChunkCount(400, 100);
    const v1 = Array.from({ length: total }, (_, i) => store.snapshotEntries(1, i, total)!);
    expect(v1.flat()).toHaveLength(400);
    const changed = rows[7]!;
    const inChunk = chunkOfCard(changed.cardHash, total);
    store.changeOne(changed.cardHash, memberFieldsText({ ...changed, staff: true }), meta());
    for (let i = 0; i < total; i++) {
      if (i === inChunk) expect(store.snapshotEntries(1, i, total)).toBeNull();
      else expect(store.snapshotEntries(1, i, total)).toEqual(v1[i]);
    }
    expect(store.snapshotEntries(3, 0, total)).toBeNull();
  });

  it('refuses to commit an import when another change made a version while it was read', () => {
    const store = fresh();
    const rows = records(10);
    importRecords(store, rows, KEY_ID);
    const staging = store.beginImport();
    for (const r of records(10, 0, () => ({ expires: '2029-01-01' }))) {
      const f = memberFieldsText(r);
      staging.add(r.cardHash, f, Buffer.alloc(32), 2);
    }
    staging.finish(() => undefined);
    staging.diff();
    store.changeOne(rows[0]!.cardHash, memberFieldsText({ ...rows[0]!, blocked: true }), meta());
    expect(() => staging.commit(meta())).toThrow(ConcurrentChangeError);
    staging.dispose();
    expect(store.current()!.version).toBe(2);
  });
});
