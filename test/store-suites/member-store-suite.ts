// One behaviour for central's member list whatever the database: every MemberStore (SQLite, PostgreSQL) runs this
// suite (test/unit/central/member-store-sqlite.test.ts, test/system/member-store-postgres.test.ts). Two store objects
// on one database stand for two central instances: a version made through one is current, and its delta servable,
// through the other; two changes at once make two consecutive versions, never two of one number; an import that
// read the list before another instance changed it is refused (ConcurrentChangeError), not committed over it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConcurrentChangeError, OtherKeyError, type ListDiff, type MemberStore, type MemberUpdate, type VersionMeta } from '../../central/members/member-store.js';
import { createCardHasher, normaliseCardId } from '../../policies/cards.js';
import { ListHash, decodeMemberEntry, digestOfParts, memberFieldsText, parseMemberFields } from '../../policies/member-list.js';
import type { Member } from '../../policies/types.js';
import { SqliteMemberStore } from '../../central/members/sqlite-member-store.js';
import { storesOnOneSqliteFile } from './sqlite-fixture.js';

export interface MemberStoreFixture {
  /** A store on a fresh, empty database. */
  store: MemberStore;
  /** Another store object on the same database: a second central instance. */
  another(): Promise<MemberStore>;
  /** Closes every store it opened and removes the database. */
  close(): Promise<void>;
}

const hasher = createCardHasher(Buffer.alloc(32, 7));
const hashCard = (card: string): Buffer => hasher(normaliseCardId(card));
const card = (i: number): string => `21${String(i).padStart(12, '0')}`;
const KEY = 'key-1';
const T0 = Date.parse('2026-03-02T10:00:00Z');
const meta = (minutes = 0, over: Partial<VersionMeta> = {}): VersionMeta => ({ keyId: KEY, source: 'test', at: new Date(T0 + minutes * 60_000), keepVersions: 50, ...over });

function person(overrides: Partial<Member> = {}): Member {
  return { expires: '2027-03-31', blocked: false, blockedUntil: null, openAccess: true, birthDate: '1980-05-01', adult: null, staff: false, groups: [], pinHash: null, ...overrides };
}
const fieldsOf = (i: number, overrides: Partial<Member> = {}): string => memberFieldsText({ cardHash: hashCard(card(i)), ...person(overrides) });
const PIN = '$scrypt$N=16384,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

/** The list hash of members 0..n-1 as `fieldsOf` gives them: what a branch computes from the entries. */
function hashOf(rows: ReadonlyArray<{ cardHash: Buffer; fields: string }>): string {
  const sum = new ListHash();
  for (const r of rows) sum.addDigest(digestOfParts(r.cardHash, r.fields));
  return sum.toHex();
}

interface Row {
  i: number;
  over?: Partial<Member>;
  listed?: boolean;
  uids?: string[];
}

/** A whole export staged and committed as one import would; the duplicates and shared lines it reported. */
async function importRows(
  store: MemberStore,
  rows: readonly Row[],
  at = meta(),
  verify?: (diff: ListDiff) => void,
): Promise<{ version: number | null; diff: ListDiff; duplicates: Array<[number, number]>; shared: Array<[number, number[]]>; unlisted: number }> {
  const staging = await store.beginImport();
  try {
    rows.forEach((r, k) => {
      const line = k + 2;
      const fields = memberFieldsText({ cardHash: Buffer.alloc(0), ...person(r.over) });
      const cardHash = hashCard(card(r.i));
      if (r.listed === false) staging.addUnlisted(cardHash, fields, line);
      else staging.add(cardHash, fields, digestOfParts(cardHash, fields), line);
      for (const uid of r.uids ?? []) {
        const uidHash = hashCard(uid);
        if (r.listed === false) staging.addUnlisted(uidHash, fields, line, cardHash);
        else staging.add(uidHash, fields, digestOfParts(uidHash, fields), line, cardHash);
      }
    });
    await staging.settle();
    const duplicates: Array<[number, number]> = [];
    const shared: Array<[number, number[]]> = [];
    await staging.finish(
      (line, first) => duplicates.push([line, first]),
      (line, others) => shared.push([line, others]),
    );
    const { version, diff } = await staging.commit(at, verify);
    return { version: version?.version ?? null, diff, duplicates, shared, unlisted: staging.unlisted };
  } finally {
    await staging.dispose();
  }
}

const listed = (i: number, overrides: Partial<Member> = {}) => ({ cardHash: hashCard(card(i)), fields: fieldsOf(i, overrides), listed: true });

export function memberStoreSuite(engine: string, open: () => Promise<MemberStoreFixture>): void {
  describe(`member store (${engine})`, () => {
    let fx: MemberStoreFixture;
    let store: MemberStore;
    beforeEach(async () => {
      fx = await open();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.close();
    });

    it('holds no list until the first change, and the first version is a snapshot only', async () => {
      expect(await store.current()).toBeNull();
      expect(await store.fields(hashCard(card(0)))).toBeUndefined();
      const { version, diff } = await store.applyChanges([listed(0), listed(1)], meta());
      expect(version).toMatchObject({ version: 1, count: 2, added: 2, keyId: KEY, source: 'test', deltaKept: false, createdAt: '2026-03-02T10:00:00.000Z' });
      expect(diff).toMatchObject({ added: 2, count: 2, previousCount: 0 });
      expect(version!.hash).toBe(hashOf([listed(0), listed(1)]));
      expect(await store.canDelta(null)).toBe(false);
      expect(await store.snapshotEntries(1, 0, 1)).toHaveLength(2);
    });

    it('serves a delta of what changed since a version, and the same list hash an import of the result makes', async () => {
      await store.applyChanges([0, 1, 2, 3, 5, 6, 7, 8].map((i) => listed(i)), meta());
      const v1 = (await store.current())!;
      const { version } = await store.applyChanges([listed(0, { blocked: true }), { cardHash: hashCard(card(3)), fields: null, listed: false }, listed(4)], meta(1));
      expect(version).toMatchObject({ version: 2, count: 8, added: 1, changed: 1, removed: 1, deltaKept: true });
      expect(await store.canDelta({ version: 1, hash: v1.hash })).toBe(true);
      expect(await store.canDelta({ version: 1, hash: 'ff'.repeat(32) })).toBe(false);
      const delta = (await store.deltaEntries(1)).map(decodeMemberEntry);
      expect(delta.map((d) => d.kind).sort()).toEqual(['member', 'member', 'removal']);
      expect(parseMemberFields((await store.fields(hashCard(card(0))))!).blocked).toBe(true);
      // The list hash moved by the changes alone equals the hash of the same list made whole.
      const other = await open();
      try {
        await importRows(other.store, [{ i: 0, over: { blocked: true } }, ...[1, 2, 4, 5, 6, 7, 8].map((i) => ({ i }))]);
        expect((await other.store.current())!.hash).toBe(version!.hash);
      } finally {
        await other.close();
      }
    });

    it('refuses a change its check throws for, and one hashed with another key, changing nothing', async () => {
      await store.applyChanges([listed(0), listed(1)], meta());
      const refuse = (): void => {
        throw new Error('too many removals');
      };
      await expect(store.applyChanges([{ cardHash: hashCard(card(0)), fields: null, listed: false }], meta(1), refuse)).rejects.toThrow('too many removals');
      await expect(store.applyChanges([listed(2)], meta(1, { keyId: 'key-2' }))).rejects.toThrow(OtherKeyError);
      expect((await store.current())!.version).toBe(1);
      expect(await store.fields(hashCard(card(0)))).toBe(fieldsOf(0));
      expect(await store.fields(hashCard(card(2)))).toBeUndefined();
    });

    it('holds members off the list, and moves one onto it', async () => {
      await store.applyChanges([listed(0), { cardHash: hashCard(card(1)), fields: fieldsOf(1, { openAccess: false }), listed: false }], meta());
      expect(await store.unlistedCount()).toBe(1);
      expect(await store.unlistedFields(hashCard(card(1)))).toBe(fieldsOf(1, { openAccess: false }));
      expect(await store.heldFields(hashCard(card(1)))).toBe(fieldsOf(1, { openAccess: false }));
      const { version } = await store.applyChanges([listed(1)], meta(1));
      expect(version).toMatchObject({ version: 2, count: 2, added: 1 });
      expect(await store.unlistedCount()).toBe(0);
    });

    it('gives a member’s card UIDs their fields and PIN, and refuses a UID two members give', async () => {
      await store.applyMemberUpdates([{ cardHash: hashCard(card(0)), fields: fieldsOf(0, { pinHash: PIN }), listed: true, uidHashes: [hashCard('04A1B2C3')] }], meta());
      const creds = await store.credentials(hashCard('04A1B2C3'));
      expect(creds.member).toEqual(hashCard(card(0)));
      expect(creds.cards).toEqual([hashCard(card(0)), hashCard('04A1B2C3')]);
      expect(await store.ownerOf(hashCard('04A1B2C3'))).toEqual(hashCard(card(0)));
      // The library system's row has no PIN (nor says which UIDs): the PIN and the UID central holds stay.
      const blocked = await store.applyMemberUpdates([{ cardHash: hashCard(card(0)), fields: fieldsOf(0, { blocked: true }), listed: true }], meta(1));
      expect(blocked).toMatchObject({ version: { version: 2, changed: 2 }, refused: [] });
      expect(parseMemberFields((await store.fields(hashCard('04A1B2C3')))!)).toMatchObject({ blocked: true, pinHash: PIN });
      // Another member giving the UID central holds for the first is left out, alone.
      const { version, refused } = await store.applyMemberUpdates(
        [
          { cardHash: hashCard(card(1)), fields: fieldsOf(1), listed: true, uidHashes: [hashCard('04A1B2C3')] },
          { cardHash: hashCard(card(2)), fields: fieldsOf(2), listed: true },
        ],
        meta(2),
      );
      expect(refused).toEqual([{ index: 0, other: null }]);
      expect(version).toMatchObject({ version: 3, added: 1 });
      expect(await store.fields(hashCard(card(1)))).toBeUndefined();
      expect(await store.ownerOf(hashCard('04A1B2C3'))).toEqual(hashCard(card(0)));
    });

    it('links a card at a desk once, keeps it through the next import, and drops it with its member', async () => {
      await importRows(store, [{ i: 0 }, { i: 1 }]);
      const desk = hashCard('04DE5C00');
      expect(await store.linkDeskCard(hashCard(card(9)), desk, 'town', meta(1))).toEqual({ outcome: 'unknown-member' });
      const linked = await store.linkDeskCard(hashCard(card(0)), desk, 'town', meta(1));
      expect(linked).toMatchObject({ outcome: 'linked', listed: true, version: { version: 2, added: 1 } });
      expect(await store.linkDeskCard(hashCard(card(0)), desk, 'town', meta(2))).toMatchObject({ outcome: 'already', version: null });
      expect(await store.linkDeskCard(hashCard(card(1)), desk, 'town', meta(2))).toEqual({ outcome: 'card-taken' });
      expect(await store.deskCards(hashCard(card(0)))).toEqual([desk]);
      await importRows(store, [{ i: 0, over: { blocked: true } }, { i: 1 }], meta(3));
      expect(parseMemberFields((await store.fields(desk))!).blocked).toBe(true);
      expect(await store.deskCards(hashCard(card(0)))).toEqual([desk]);
      await importRows(store, [{ i: 1 }], meta(4));
      expect(await store.fields(desk)).toBeUndefined();
      expect(await store.deskCards(hashCard(card(0)))).toEqual([]);
    });

    it('keeps a desk change’s answer, and forgets the oldest past the count', async () => {
      for (let i = 0; i < 5; i++) await store.recordDeskAnswer('town', `id-${i}`, new Date(T0 + i), `{"n":${i}}`, { ms: 86_400_000, count: 3 });
      const kept = await Promise.all([0, 1, 2, 3, 4].map((i) => store.deskAnswer('town', `id-${i}`)));
      expect(kept).toEqual([undefined, undefined, '{"n":2}', '{"n":3}', '{"n":4}']);
      expect(await store.deskAnswer('village', 'id-4')).toBeUndefined();
    });

    it('imports a whole list: a repeated card number keeps the first line, a UID on two lines leaves both out', async () => {
      const first = await importRows(store, [{ i: 0 }, { i: 1, uids: ['04AA5500'] }, { i: 0, over: { blocked: true } }, { i: 2, uids: ['04AA5500'] }, { i: 3, listed: false }]);
      expect(first.duplicates).toEqual([[4, 2]]);
      expect(first.shared).toEqual([
        [3, [5]],
        [5, [3]],
      ]);
      expect(first.version).toBe(1);
      expect(first.unlisted).toBe(1);
      expect(first.diff).toMatchObject({ added: 1, count: 1, previousCount: 0 });
      const current = (await store.current())!;
      expect(current.hash).toBe(hashOf([listed(0)]));
      expect(await store.fields(hashCard(card(1)))).toBeUndefined();
      expect(await store.unlistedFields(hashCard(card(3)))).toBeDefined();
      // The same export again makes no version.
      const again = await importRows(store, [{ i: 0 }, { i: 3, listed: false }], meta(1));
      expect(again.version).toBeNull();
      expect(again.diff).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: 1 });
    });

    it('keeps a PIN held at central through an import that has none, on the card and its UIDs', async () => {
      await importRows(store, [{ i: 0, uids: ['04BB5500'] }, { i: 1 }]);
      await store.applyMemberUpdates([{ cardHash: hashCard(card(0)), fields: fieldsOf(0, { pinHash: PIN }), listed: true }], meta(1));
      const { version } = await importRows(store, [{ i: 0, uids: ['04BB5500'], over: { expires: '2028-01-31' } }, { i: 1 }], meta(2));
      expect(version).toBe(3);
      for (const h of [hashCard(card(0)), hashCard('04BB5500')]) expect(parseMemberFields((await store.fields(h))!)).toMatchObject({ pinHash: PIN, expires: '2028-01-31' });
      // The list hash is the branches' hash of what is stored.
      const rows = await Promise.all([hashCard(card(0)), hashCard('04BB5500'), hashCard(card(1))].map(async (h) => ({ cardHash: h, fields: (await store.fields(h))! })));
      expect((await store.current())!.hash).toBe(hashOf(rows));
    });

    it('refuses an import its check throws for (the removal guard), changing nothing', async () => {
      await importRows(store, [0, 1, 2, 3].map((i) => ({ i })));
      const guard = (diff: ListDiff): void => {
        if (diff.removed > diff.previousCount / 2) throw new Error(`would remove ${diff.removed}`);
      };
      await expect(importRows(store, [{ i: 0 }], meta(1), guard)).rejects.toThrow('would remove 3');
      expect(await store.current()).toMatchObject({ version: 1, count: 4 });
    });

    it('serves an older version’s snapshot chunk while no card in its range changed, and forgets deltas past keepVersions', async () => {
      await importRows(store, Array.from({ length: 40 }, (_, i) => ({ i })));
      await store.changeOne(hashCard(card(0)), fieldsOf(0, { blocked: true }), meta(1));
      const total = 8;
      const chunks = await Promise.all(Array.from({ length: total }, (_, k) => store.snapshotEntries(1, k, total)));
      expect(chunks.filter((c) => c === null)).toHaveLength(1);
      expect(chunks.flatMap((c) => c ?? []).length).toBeLessThan(40);
      expect(await store.snapshotEntries(3, 0, total)).toBeNull();
      await store.changeOne(hashCard(card(1)), null, meta(2, { keepVersions: 1 }));
      expect(await store.deltasFrom()).toBe(2);
      expect((await store.versions(5)).map((v) => [v.version, v.deltaKept])).toEqual([
        [3, true],
        [2, false],
        [1, false],
      ]);
      expect(await store.canDelta({ version: 1, hash: (await store.version(1))!.hash })).toBe(false);
    });

    it('a version made through one instance is current, and its delta servable, through another', async () => {
      const other = await fx.another();
      await importRows(store, [{ i: 0 }, { i: 1 }]);
      const { version } = await other.applyChanges([listed(1, { staff: true })], meta(1));
      expect(version!.version).toBe(2);
      expect(await store.current()).toEqual(version);
      expect((await store.deltaEntries(1)).map(decodeMemberEntry)).toMatchObject([{ kind: 'member', row: { cardHash: hashCard(card(1)), staff: true } }]);
      expect(await other.fields(hashCard(card(0)))).toBe(fieldsOf(0));
    });

    it('two changes at once through two instances make two consecutive versions, not a fork', async () => {
      const other = await fx.another();
      await importRows(store, [{ i: 0 }, { i: 1 }]);
      const made = await Promise.all([
        store.applyChanges([listed(0, { blocked: true })], meta(1)),
        other.applyChanges([listed(5)], meta(1)),
        other.linkDeskCard(hashCard(card(1)), hashCard('04CC5500'), 'village', meta(1)),
      ]);
      const versions = [made[0].version!.version, made[1].version!.version, (made[2] as { version: { version: number } }).version.version].sort();
      expect(versions).toEqual([2, 3, 4]);
      const current = (await other.current())!;
      expect(current).toMatchObject({ version: 4, count: 4 });
      const rows = await Promise.all([hashCard(card(0)), hashCard(card(1)), hashCard(card(5)), hashCard('04CC5500')].map(async (h) => ({ cardHash: h, fields: (await store.fields(h))! })));
      expect(current.hash).toBe(hashOf(rows));
      expect((await store.deltaEntries(1)).length).toBe(3);
    });

    it('an import that read the list before another instance changed it is refused, and the change stands', async () => {
      const other = await fx.another();
      await importRows(store, [{ i: 0 }, { i: 1 }]);
      const staging = await store.beginImport();
      try {
        for (const i of [0, 1, 2]) {
          const fields = memberFieldsText({ cardHash: Buffer.alloc(0), ...person() });
          staging.add(hashCard(card(i)), fields, digestOfParts(hashCard(card(i)), fields), i + 2);
        }
        await staging.finish(() => undefined);
        expect(await staging.diff()).toMatchObject({ added: 1, previousCount: 2 });
        await other.changeOne(hashCard(card(0)), fieldsOf(0, { blocked: true }), meta(1));
        await expect(staging.commit(meta(2))).rejects.toThrow(ConcurrentChangeError);
      } finally {
        await staging.dispose();
      }
      expect(await store.current()).toMatchObject({ version: 2, source: 'test' });
      expect(parseMemberFields((await store.fields(hashCard(card(0))))!).blocked).toBe(true);
    });

    it('two imports through two instances at once: one commits, the other is refused as concurrent', async () => {
      const other = await fx.another();
      await importRows(store, [{ i: 0 }]);
      const a = await store.beginImport();
      const b = await other.beginImport();
      try {
        const stage = async (s: typeof a, n: number): Promise<void> => {
          for (let i = 0; i < n; i++) {
            const fields = memberFieldsText({ cardHash: Buffer.alloc(0), ...person() });
            s.add(hashCard(card(i)), fields, digestOfParts(hashCard(card(i)), fields), i + 2);
          }
          await s.finish(() => undefined);
          await s.diff();
        };
        await stage(a, 3);
        await stage(b, 5);
        expect((await a.commit(meta(1))).version).toMatchObject({ version: 2, count: 3 });
        await expect(b.commit(meta(1))).rejects.toThrow(ConcurrentChangeError);
      } finally {
        await a.dispose();
        await b.dispose();
      }
      expect(await other.current()).toMatchObject({ version: 2, count: 3 });
    });

    it('applies a delta of thousands of members as SQLite does: the same list, hash, UIDs, desk cards, PINs and refusals', async () => {
      const rows: Row[] = Array.from({ length: 3000 }, (_, i) => ({
        i,
        listed: i % 50 !== 1,
        uids: i % 100 === 0 ? [`04UID${i}`] : [],
        over: i === 2 ? { pinHash: PIN } : {},
      }));
      const update = (i: number, over: Partial<Member> | null, extra: { listed?: boolean; uids?: string[] } = {}) => ({
        cardHash: hashCard(card(i)),
        fields: over === null ? null : fieldsOf(i, over),
        listed: extra.listed ?? true,
        uidHashes: extra.uids?.map(hashCard),
      });
      const updates: MemberUpdate[] = [];
      for (let i = 0; i < 3000; i++) {
        // Member 6's row says which UIDs they have (none): the card linked at a desk is theirs until 8 is given it.
        if (i % 3 === 0) updates.push(update(i, { blocked: true }, i === 6 ? { uids: [] } : {}));
        else if (i % 7 === 0) updates.push(update(i, null));
        else if (i % 11 === 0) updates.push(update(i, {}, { listed: false }));
      }
      for (let i = 3000; i < 4000; i++) updates.push(update(i, {}));
      updates.push(update(2, { blocked: true }), update(4, { blocked: true }), update(200, {}, { uids: [] }), update(8, {}, { uids: ['DE5C0002'] }));
      const twice = updates.push(update(4100, {}, { uids: ['AA000001'] }), update(4101, {}, { uids: ['AA000001'] })) - 2;
      const heldElsewhere = updates.push(update(4102, {}, { uids: ['04UID100'] })) - 1;
      updates.push(update(9, { expires: '2028-01-31' }));

      // The same steps on this store and on a SQLite reference; then everything a branch or the desk sees, compared.
      const reference = await storesOnOneSqliteFile((central) => new SqliteMemberStore(central.db));
      try {
        const steps = async (s: MemberStore) => {
          await importRows(s, rows);
          await s.linkDeskCard(hashCard(card(4)), hashCard('DE5C0001'), 'town', meta(1));
          await s.linkDeskCard(hashCard(card(6)), hashCard('DE5C0002'), 'town', meta(1));
          return s.applyMemberUpdates(updates, meta(2));
        };
        const [got, want] = [await steps(store), await steps(reference.store)];
        expect(got.refused).toEqual([
          { index: twice, other: twice + 1 },
          { index: twice + 1, other: twice },
          { index: heldElsewhere, other: null },
        ]);
        expect(got).toEqual(want);
        const listOf = async (s: MemberStore) => (await s.snapshotEntries((await s.current())!.version, 0, 1))!;
        const list = await listOf(store);
        expect(list).toEqual(await listOf(reference.store));
        expect(hashOf(list.map(decodeMemberEntry).flatMap((e) => (e.kind === 'member' ? [{ cardHash: e.row.cardHash, fields: e.fields }] : [])))).toBe(got.version!.hash);
        expect(await store.deltaEntries(3)).toEqual(await reference.store.deltaEntries(3));
        expect(await store.unlistedCount()).toBe(await reference.store.unlistedCount());
        for (const c of ['04UID100', '04UID200', '04UID300', 'DE5C0001', 'DE5C0002', 'AA000001', card(2), card(7), card(3500)]) {
          expect(await store.credentials(hashCard(c)), c).toEqual(await reference.store.credentials(hashCard(c)));
          expect(await store.heldFields(hashCard(c)), c).toEqual(await reference.store.heldFields(hashCard(c)));
        }
        // What the rules did: the held UID and PIN kept, a dropped UID gone, a desk card given to another member.
        expect(parseMemberFields((await store.fields(hashCard('04UID300')))!)).toMatchObject({ blocked: true });
        expect(parseMemberFields((await store.fields(hashCard(card(2))))!)).toMatchObject({ blocked: true, pinHash: PIN });
        expect(await store.ownerOf(hashCard('04UID200'))).toBeUndefined();
        expect(parseMemberFields((await store.fields(hashCard('DE5C0001')))!).blocked).toBe(true);
        expect(await store.ownerOf(hashCard('DE5C0002'))).toEqual(hashCard(card(8)));
        expect(await store.deskCards(hashCard(card(6)))).toEqual([]);
        expect(parseMemberFields((await store.fields(hashCard(card(9))))!).expires).toBe('2028-01-31');
        expect(await store.heldFields(hashCard(card(7)))).toBeUndefined();
        expect(await store.unlistedFields(hashCard(card(11)))).toBe(fieldsOf(11));
      } finally {
        await reference.close();
      }
    });
  });
}

