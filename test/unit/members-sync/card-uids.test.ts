// Several credentials per member from the library system (issue #17, 3): the export's card UIDs become rows of the
// list of their own with the member's fields; a change, block or deletion reaches every one; a UID the export drops
// stops opening; a UID two members share, or one that is not a UID, is refused by line, never quoted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCardUids } from '../../../central/members/card-uids.js';
import { LmsMappingSchema, type LmsMappingInput } from '../../../central/members/config.js';
import { createKohaMapping } from '../../../central/members/koha/mapping.js';
import type { KohaPatron } from '../../../central/members/koha/patron.js';
import { importLmsDelta } from '../../../central/members/lms-delta.js';
import { importLmsCsv } from '../../../central/members/lms-import.js';
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../../central/store.js';
import { normaliseUid } from '../../../firmware-bridge/readers/uid.js';
import { createCardHasher, deploymentKeyId, normaliseCardId } from '../../../policies/cards.js';
import { memberFieldsText, parseMemberFields } from '../../../policies/member-list.js';
import { TEST_KEY_HEX, hashCard } from './helpers.js';

const KEY = Buffer.from(TEST_KEY_HEX, 'hex');
const NOW = new Date('2026-03-02T10:00:00.000Z');
const MAPPING: LmsMappingInput = { columns: { cardNumber: 'card', cardUids: 'card_uids', expires: 'expires', blocked: 'blocked', openAccess: 'oa' } };
const HEADER = 'card,card_uids,expires,blocked,oa';
const card = (i: number): string => `21${String(i).padStart(12, '0')}`;
/** A 7-byte NFC UID as a reader prints it, and how a tap of it is hashed at a branch. */
const UID_A = '04:a2:1b:7c:3d:5e:80';
const UID_B = '04-11-22-33-44-55-66';
const UID_C = '0a0b0c0d';
const tapped = (uid: string): Buffer => hashCard(normaliseUid(uid));

let dir: string;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setUp(): SqliteMemberStore {
  dir = mkdtempSync(join(tmpdir(), 'oag-uids-'));
  const central = new CentralStore(':memory:');
  cleanups.push(() => {
    central.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return new SqliteMemberStore(central.db);
}

function options(mapping: LmsMappingInput = MAPPING) {
  return { mapping: LmsMappingSchema.parse(mapping), hasher: createCardHasher(KEY), keyId: deploymentKeyId(KEY), branchList: 'everyone' as const, now: NOW, keepVersions: 50 };
}

function write(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, [...lines, ''].join('\n'));
  return file;
}

/** Ten members, 0..9; member 0 has two card UIDs. */
const FULL = [HEADER, `${card(0)},"${UID_A};${UID_B}",2027-01-31,N,Y`, ...Array.from({ length: 9 }, (_, i) => `${card(i + 1)},,2027-01-31,N,Y`)];

const held = (store: SqliteMemberStore, hash: Buffer) => {
  const fields = store.tables.fields(hash);
  return fields === undefined ? undefined : parseMemberFields(fields);
};

describe('card UIDs in an export cell', () => {
  it('are read as a branch reads the card: the same hash for the same card, however the export spells it', () => {
    const uids = parseCardUids(`${UID_A}; 04112233445566 |${UID_C},0A0B0C0D`);
    expect(uids).toEqual(['04A21B7C3D5E80', '04112233445566', '0A0B0C0D']);
    // The gateway hashes normaliseCardId(the reader's normaliseUid): the export's UID must be that string.
    expect((uids as string[]).map((u) => normaliseCardId(u))).toEqual([UID_A, UID_B, UID_C].map((u) => normaliseCardId(normaliseUid(u))));
    expect(parseCardUids('  ')).toEqual([]);
  });

  it('refuse what is not a 4, 7 or 10 byte hex UID, naming which one and never quoting it', () => {
    expect(parseCardUids(`${UID_A} 04a2zz7c`)).toEqual({ problem: 'the second card UID is not hexadecimal' });
    expect(parseCardUids('04a21b7c3d')).toEqual({ problem: 'the first card UID has 10 hex digits (a card UID is 4, 7 or 10 bytes: 8, 14 or 20 digits)' });
    expect(parseCardUids(Array.from({ length: 17 }, () => UID_C).join(';'))).toEqual({ problem: '17 card UIDs (at most 16)' });
  });
});

describe('a member with several credentials at central', () => {
  it('puts the card number and each UID on the list with the member’s fields, linked to the member', async () => {
    const store = setUp();
    const summary = await importLmsCsv(store, write('full.csv', FULL), options());
    expect(summary).toMatchObject({ rejectedCount: 0, count: 12, added: 12 });
    const member = store.tables.fields(hashCard(card(0)));
    expect(member).toBeDefined();
    expect([store.tables.fields(tapped(UID_A)), store.tables.fields(tapped(UID_B))]).toEqual([member, member]);
    expect(store.tables.credentials(tapped(UID_B))).toEqual({ member: hashCard(card(0)), cards: expect.arrayContaining([hashCard(card(0)), tapped(UID_A), tapped(UID_B)]) });
    expect(store.tables.credentials(hashCard(card(1))).cards).toHaveLength(1);

    // An export that gives no one a UID any more: the cards stop, and no card names the member.
    await importLmsCsv(store, write('none.csv', [HEADER, `${card(0)},,2027-01-31,N,Y`, ...FULL.slice(2)]), options());
    expect(store.tables.fields(tapped(UID_A))).toBeUndefined();
    expect(store.tables.credentials(tapped(UID_A))).toEqual({ member: tapped(UID_A), cards: [tapped(UID_A)] });
    expect(store.tables.credentials(hashCard(card(0))).cards).toEqual([hashCard(card(0))]);
  });

  it('refuses a malformed UID with its line and column, and imports the rest', async () => {
    const store = setUp();
    const summary = await importLmsCsv(store, write('full.csv', [...FULL, `${card(20)},"${UID_C};04a21b",2027-01-31,N,Y`]), options());
    expect(summary.rejected).toEqual([{ line: 12, reason: 'card_uids: the second card UID has 6 hex digits (a card UID is 4, 7 or 10 bytes: 8, 14 or 20 digits)' }]);
    expect(store.tables.fields(hashCard(card(20)))).toBeUndefined();
    expect(store.tables.fields(tapped(UID_C))).toBeUndefined();
    expect(store.tables.fields(tapped(UID_A))).toBeDefined();
  });

  it('refuses both members when two rows give the same card, and neither card opens as either', async () => {
    const store = setUp();
    const lines = [
      ...FULL,
      // Member 20 claims member 0's UID; member 21 gives member 5's card number as a UID.
      `${card(20)},"${UID_C} ${UID_B.toUpperCase()}",2027-01-31,N,Y`,
      `${card(21)},${card(5)},2027-01-31,N,Y`,
    ];
    const summary = await importLmsCsv(store, write('full.csv', lines), options({ ...MAPPING, maxRejectedFraction: 0.5 }));
    const reason = (others: string) => `card_uids: a card of this row is also on line ${others} (a card opens one member's account: fix the export)`;
    expect(summary.rejected).toEqual([
      { line: 2, reason: reason('12') },
      { line: 7, reason: reason('13') },
      { line: 12, reason: reason('2') },
      { line: 13, reason: reason('7') },
    ]);
    for (const hash of [hashCard(card(0)), tapped(UID_A), tapped(UID_B), hashCard(card(20)), tapped(UID_C), hashCard(card(5)), hashCard(card(21))]) {
      expect(store.tables.fields(hash)).toBeUndefined();
    }
    expect(summary.count).toBe(8);
    expect(JSON.stringify(summary)).not.toMatch(/04A21B|041122|0a0b0c|0A0B0C/i);
  });

  it('stops a UID the next full export drops, and keeps the member’s PIN on every card, a new one too', async () => {
    const store = setUp();
    await importLmsCsv(store, write('full.csv', FULL), options());
    const { cards } = store.tables.credentials(hashCard(card(0)));
    const pinned = memberFieldsText({ cardHash: hashCard(card(0)), ...held(store, hashCard(card(0)))!, pinHash: 'scrypt$test' });
    store.tables.applyChanges(
      cards.map((cardHash) => ({ cardHash, fields: pinned, listed: true })),
      { keyId: deploymentKeyId(KEY), source: 'api:test', at: NOW, keepVersions: 50 },
    );
    const next = [HEADER, `${card(0)},"${UID_B};${UID_C}",2027-01-31,N,Y`, ...FULL.slice(2)];
    const summary = await importLmsCsv(store, write('next.csv', next), options());
    expect(summary).toMatchObject({ added: 1, removed: 1, changed: 0 });
    expect(store.tables.fields(tapped(UID_A))).toBeUndefined();
    expect([hashCard(card(0)), tapped(UID_B), tapped(UID_C)].map((h) => held(store, h)?.pinHash)).toEqual(['scrypt$test', 'scrypt$test', 'scrypt$test']);
    expect(store.tables.credentials(tapped(UID_C)).member).toEqual(hashCard(card(0)));
  });

  it('keeps the PIN of a member central keeps off the branches’ list (branchList: registered) on every card', async () => {
    const store = setUp();
    const registered = { ...options(), branchList: 'registered' as const };
    const offList = [HEADER, `${card(0)},"${UID_A};${UID_B}",2027-01-31,N,N`, ...FULL.slice(2)];
    await importLmsCsv(store, write('full.csv', offList), registered);
    const { cards } = store.tables.credentials(hashCard(card(0)));
    expect(cards).toHaveLength(3);
    const offHeld = (hash: Buffer) => {
      const fields = store.tables.heldFields(hash);
      return fields === undefined ? undefined : parseMemberFields(fields);
    };
    expect(held(store, hashCard(card(0)))).toBeUndefined();
    const pinned = memberFieldsText({ cardHash: hashCard(card(0)), ...offHeld(hashCard(card(0)))!, pinHash: 'scrypt$test' });
    store.tables.applyChanges(
      cards.map((cardHash) => ({ cardHash, fields: pinned, listed: false })),
      { keyId: deploymentKeyId(KEY), source: 'api:test', at: NOW, keepVersions: 50 },
    );
    const summary = await importLmsCsv(store, write('again.csv', offList), registered);
    expect(summary.notRegistered).toBe(3);
    expect([hashCard(card(0)), tapped(UID_A), tapped(UID_B)].map((h) => offHeld(h)?.pinHash)).toEqual(['scrypt$test', 'scrypt$test', 'scrypt$test']);
  });
});

describe('a delta for a member with several credentials', () => {
  const DELTA_HEADER = `${HEADER},deleted`;

  it('blocks every card of the member, and drops the UID the row no longer lists', async () => {
    const store = setUp();
    await importLmsCsv(store, write('full.csv', FULL), options());
    const summary = await importLmsDelta(store, write('block.delta.csv', [DELTA_HEADER, `${card(0)},${UID_A},2027-01-31,Y,Y,N`]), options());
    expect(summary).toMatchObject({ rejectedCount: 0, changed: 2, removed: 1 });
    expect([held(store, hashCard(card(0)))?.blocked, held(store, tapped(UID_A))?.blocked]).toEqual([true, true]);
    expect(store.tables.fields(tapped(UID_B))).toBeUndefined();
  });

  it('applies a block to the UIDs central holds when the delta has no UID column, and a deletion removes them all', async () => {
    const store = setUp();
    await importLmsCsv(store, write('full.csv', FULL), options());
    const noUids: LmsMappingInput = { columns: { cardNumber: 'card', expires: 'expires', blocked: 'blocked', openAccess: 'oa' } };
    await importLmsDelta(store, write('block.delta.csv', ['card,expires,blocked,oa,deleted', `${card(0)},2027-01-31,Y,Y,N`]), options(noUids));
    expect([hashCard(card(0)), tapped(UID_A), tapped(UID_B)].map((h) => held(store, h)?.blocked)).toEqual([true, true, true]);

    const summary = await importLmsDelta(store, write('delete.delta.csv', ['card,expires,blocked,oa,deleted', `${card(0)},,,,Y`]), options(noUids));
    expect(summary).toMatchObject({ removed: 3, deleted: 1 });
    for (const hash of [hashCard(card(0)), tapped(UID_A), tapped(UID_B)]) expect(store.tables.fields(hash)).toBeUndefined();
    expect(store.tables.credentials(tapped(UID_A)).cards).toEqual([tapped(UID_A)]);
  });

  it('refuses a row giving another member’s UID, and two rows sharing one, by line; the other rows apply', async () => {
    const store = setUp();
    await importLmsCsv(store, write('full.csv', FULL), options());
    const lines = [
      DELTA_HEADER,
      `${card(1)},${UID_A},2027-01-31,N,Y,N`,
      `${card(2)},${UID_C},2027-01-31,N,Y,N`,
      `${card(3)},${UID_C},2027-01-31,N,Y,N`,
      `${card(4)},,2027-01-31,Y,Y,N`,
    ];
    const summary = await importLmsDelta(store, write('steal.delta.csv', lines), options({ ...MAPPING, maxRejectedFraction: 1 }));
    expect(summary.rejected).toEqual([
      { line: 2, reason: "card_uids: a card UID of this row is another member's at central (their row must drop it first, or come in the same delta)" },
      { line: 3, reason: "card_uids: a card of this row is also on line 4 (a card opens one member's account: fix the export)" },
      { line: 4, reason: "card_uids: a card of this row is also on line 3 (a card opens one member's account: fix the export)" },
    ]);
    expect(store.tables.credentials(tapped(UID_A)).member).toEqual(hashCard(card(0)));
    expect(held(store, tapped(UID_A))?.blocked).toBe(false);
    expect(store.tables.fields(tapped(UID_C))).toBeUndefined();
    expect(held(store, hashCard(card(4)))?.blocked).toBe(true);
  });

  it('moves a UID from one member to another when both rows come in the same delta', async () => {
    const store = setUp();
    await importLmsCsv(store, write('full.csv', FULL), options());
    const lines = [DELTA_HEADER, `${card(0)},${UID_A},2027-01-31,N,Y,N`, `${card(1)},${UID_B},2027-01-31,Y,Y,N`];
    const summary = await importLmsDelta(store, write('move.delta.csv', lines), options());
    expect(summary.rejectedCount).toBe(0);
    expect(store.tables.credentials(tapped(UID_B)).member).toEqual(hashCard(card(1)));
    expect(held(store, tapped(UID_B))?.blocked).toBe(true);
  });
});

describe('card UIDs from Koha', () => {
  const patron = (attributes: Array<{ type: string; value: string }>): KohaPatron => ({
    patron_id: 1,
    cardnumber: card(0),
    category_id: 'OA',
    date_of_birth: '1980-01-01',
    expiry_date: '2027-01-31',
    restricted: false,
    updated_on: '2026-03-02T10:00:00Z',
    extended_attributes: attributes,
  });

  it('reads a repeatable patron attribute, and skips a patron whose UID is not one rather than take their cards away', () => {
    const mapping = createKohaMapping({ cardUidsAttribute: 'RFID', openAccessCategories: ['OA'] });
    const mapped = mapping.map(patron([{ type: 'rfid', value: UID_A }, { type: 'RFID', value: `${UID_B};${UID_C}` }, { type: 'OTHER', value: '01020304' }]), () => undefined);
    expect(mapped).toMatchObject({ ok: true, change: { cardUids: ['04A21B7C3D5E80', '04112233445566', '0A0B0C0D'] } });
    expect(mapping.map(patron([{ type: 'RFID', value: 'lost' }]), () => undefined)).toEqual({ ok: false, skip: 'bad-card-uid' });
    // Without the attribute configured Koha does not say, and central keeps the UIDs it holds.
    expect(createKohaMapping({ openAccessCategories: ['OA'] }).map(patron([]), () => undefined)).toMatchObject({ ok: true, change: { cardUids: undefined } });
  });
});
