// `oag members import` reads a member's card UIDs as central does (members.mapping.columns.cardUids): each UID is a
// card of the member's, let in like the card number; a UID two rows share refuses both, by line; a malformed one
// refuses its row only, never quoted.
import { describe, expect, it } from 'vitest';
import { normaliseUid } from '../../../firmware-bridge/readers/uid.js';
import { MemberImportMappingSchema, importMembersCsv, type ImportSummary } from '../../../gateway/members/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { decide, type Decision } from '../../../policies/index.js';
import { ctx, everyDay, policyOf } from '../policies/helpers.js';
import { cardHash, hasher, useTempDir, writeCsv } from './helpers.js';

const tmp = useTempDir();
const now = new Date('2026-03-02T09:00:00Z');
const HEADER = 'card_number,card_uids,date_of_birth,expiry_date,open_access';
const mapping = MemberImportMappingSchema.parse({
  columns: { cardNumber: 'card_number', cardUids: 'card_uids', birthDate: 'date_of_birth', expires: 'expiry_date', openAccess: 'open_access' },
  maxRejectedFraction: 1, // small files, most of their rows refused on purpose
});
const policy = policyOf({ schedule: { weekly: everyDay([{ from: '08:00', to: '20:00', mode: 'open-access' as const }]) } });
const OPEN = '2026-03-02T12:00:00Z';

const card = (i: number): string => `2100000000${String(i).padStart(4, '0')}`;
const line = (i: number, uids = ''): string => `${card(i)},"${uids}",17/05/1990,2027-03-31,yes`;
/** 7-byte NFC UIDs as exports write them. */
const UID_A = '04:a2:1b:7c:3d:5e:80';
const UID_B = '04-11-22-33-44-55-66';
const UID_C = '0a0b0c0d';

async function importRows(store: Store, rows: readonly string[]): Promise<ImportSummary> {
  return importMembersCsv(store, writeCsv(tmp.path('members.csv'), [HEADER, ...rows]), { hasher, now, mapping });
}

/** What the door says to a tap of this card UID, as a reader reports it: the gateway's own lookup and decision. */
const tapUid = (store: Store, uid: string): Decision => decide(policy, store.members.find(cardHash(normaliseUid(uid))), ctx(OPEN));
const tapCard = (store: Store, i: number): Decision => decide(policy, store.members.find(cardHash(card(i))), ctx(OPEN));

describe('card UIDs in a branch import', () => {
  it('let the member in with each card UID, as with the card number', async () => {
    const store = tmp.open();
    const summary = await importRows(store, [line(1, `${UID_A}; ${UID_B}`), line(2)]);
    expect(summary).toMatchObject({ total: 2, count: 4, rejectedCount: 0, added: 4 });
    for (const uid of [UID_A, UID_B, '04A21B7C3D5E80']) expect(tapUid(store, uid)).toMatchObject({ allow: true });
    expect(tapCard(store, 1)).toMatchObject({ allow: true });
    expect(tapCard(store, 2)).toMatchObject({ allow: true });
    expect(tapUid(store, UID_C)).toMatchObject({ allow: false, reason: 'unknown-card' });

    // The next export drops a UID: that card stops opening, the others go on.
    const next = await importRows(store, [line(1, UID_A), line(2)]);
    expect(next).toMatchObject({ count: 3, removed: 1, unchanged: 3 });
    expect(tapUid(store, UID_B)).toMatchObject({ allow: false, reason: 'unknown-card' });
    expect(tapUid(store, UID_A)).toMatchObject({ allow: true });
  });

  it('refuse both rows when two share a UID, each naming the other', async () => {
    const store = tmp.open();
    const summary = await importRows(store, [
      line(1, UID_A), // line 2
      line(2, UID_C), // line 3
      line(3, `${UID_B};${UID_A}`), // line 4: UID_A is line 2's too
      line(4), // line 5
      line(5), // line 6
      line(6, `${UID_C}`), // line 7: UID_C is line 3's too
    ]);
    expect(summary.rejected).toEqual([
      { line: 2, reason: "card_uids: a card of this row is also on line 4 (a card opens one member's account: fix the export)" },
      { line: 3, reason: "card_uids: a card of this row is also on line 7 (a card opens one member's account: fix the export)" },
      { line: 4, reason: "card_uids: a card of this row is also on line 2 (a card opens one member's account: fix the export)" },
      { line: 7, reason: "card_uids: a card of this row is also on line 3 (a card opens one member's account: fix the export)" },
    ]);
    // Neither member of a shared card gets in with any of their cards until the export is fixed.
    for (const uid of [UID_A, UID_B, UID_C]) expect(tapUid(store, uid)).toMatchObject({ allow: false, reason: 'unknown-card' });
    for (const i of [1, 2, 3, 6]) expect(tapCard(store, i)).toMatchObject({ allow: false, reason: 'unknown-card' });
    for (const i of [4, 5]) expect(tapCard(store, i)).toMatchObject({ allow: true });
    expect(summary).toMatchObject({ total: 6, rejectedCount: 4, count: 2 });
  });

  it('refuse a UID that is another row\'s card number, and a repeated card number takes its UIDs with it', async () => {
    const store = tmp.open();
    const summary = await importRows(store, [
      '0A0B0C0D,,17/05/1990,2027-03-31,yes', // line 2: a card number that is also a 4-byte UID
      line(2, '0a:0b:0c:0d'), // line 3
      line(1), // line 4
      line(1, UID_B), // line 5: the same card as line 4, so its UID goes too
    ]);
    expect(summary.rejected).toEqual([
      { line: 2, reason: "card_uids: a card of this row is also on line 3 (a card opens one member's account: fix the export)" },
      { line: 3, reason: "card_uids: a card of this row is also on line 2 (a card opens one member's account: fix the export)" },
      { line: 5, reason: 'card_number: the same card as line 4' },
    ]);
    expect(tapUid(store, '0A0B0C0D')).toMatchObject({ allow: false, reason: 'unknown-card' });
    expect(tapCard(store, 2)).toMatchObject({ allow: false, reason: 'unknown-card' });
    expect(tapUid(store, UID_B)).toMatchObject({ allow: false, reason: 'unknown-card' });
    expect(tapCard(store, 1)).toMatchObject({ allow: true });
    expect(summary).toMatchObject({ total: 4, rejectedCount: 3, count: 1 });
  });

  it('refuse a row with a malformed UID, by line and column, never quoting it, and import the others', async () => {
    const store = tmp.open();
    const summary = await importRows(store, [line(1, UID_A), line(2, `${UID_B} 04a2zz7c`), line(3, '04a21b7c3d'), line(4)]);
    expect(summary.rejected).toEqual([
      { line: 3, reason: 'card_uids: the second card UID is not hexadecimal' },
      { line: 4, reason: 'card_uids: the first card UID has 10 hex digits (a card UID is 4, 7 or 10 bytes: 8, 14 or 20 digits)' },
    ]);
    expect(JSON.stringify(summary)).not.toContain('04a2zz7c');
    expect(tapUid(store, UID_B)).toMatchObject({ allow: false, reason: 'unknown-card' });
    expect(tapCard(store, 2)).toMatchObject({ allow: false, reason: 'unknown-card' });
    expect(tapUid(store, UID_A)).toMatchObject({ allow: true });
    expect(tapCard(store, 4)).toMatchObject({ allow: true });
  });
});
