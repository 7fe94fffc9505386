// A member who carries a barcode and two NFC cards (issue #17, 3): the library system's export lists the card UIDs,
// central publishes each as a credential of the member, and a real branch on central's broker lets the member in
// with any of the three; a PIN set at central through one card holds for all; a delta file that blocks the member
// refuses all three.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { normaliseUid } from '../../firmware-bridge/readers/uid.js';
import { parseMemberFields } from '../../policies/member-list.js';
import { stopBranchAndCentral } from '../helpers/branch-and-central.js';
import { hashCard, startBranch, startTestCentral, tap, tempDir, until } from '../unit/members-sync/helpers.js';

const HEADER = 'cardnumber,card_uids,dateofbirth,dateexpiry,debarred,open_access';
const BARCODE = '21000000000001';
/** As a reader prints them; the export writes them its own way. */
const CARDS = ['04:a2:1b:7c:3d:5e:80', '0a:0b:0c:0d'];
const OTHERS = Array.from({ length: 9 }, (_, i) => `${`2100000000010${i}`},,1980-05-01,2030-01-31,,Y`);

let dir: string;
let central: RunningCentral;
let branch: RunningGateway | undefined;

beforeAll(async () => {
  dir = tempDir('members-credentials');
  central = await startTestCentral(dir, {
    config: {
      members: {
        pollSeconds: 1,
        import: { columns: { cardNumber: 'cardnumber', cardUids: 'card_uids', birthDate: 'dateofbirth', expires: 'dateexpiry', blocked: 'debarred', openAccess: 'open_access' } },
      },
    },
  });
});

afterAll(() => stopBranchAndCentral({ branch, central, dir }));

describe('a member with a barcode and two NFC cards', () => {
  it('gets in with each at a branch; a PIN set through one card holds for all; a delta block refuses all three', async () => {
    writeFileSync(join(dir, 'export.csv'), [HEADER, `${BARCODE},"04A21B7C3D5E80 | 0A0B0C0D",1980-05-01,2030-01-31,,Y`, ...OTHERS, ''].join('\n'));
    const summary = await central.members!.importFile(join(dir, 'export.csv'));
    expect(summary).toMatchObject({ rejectedCount: 0, count: 12, version: 1 });
    branch = await startBranch(dir, 'town', central);
    const town = branch;
    await until(() => town.store.members.stats().version === 1, 'town to apply version 1');
    for (const credential of [BARCODE, ...CARDS]) expect(tap(town, credential)).toEqual({ decision: 'granted', reason: 'member' });

    // The member's website sets a PIN giving one of the cards: the PIN is the member's, on every card.
    const token = (await central.auth.tokens.create({ name: 'website', role: 'operator', expiresDays: 1 }, 'test')).token;
    const response = await fetch(new URL('/api/members/pin', central.httpUrl), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ cardNumber: CARDS[1], pin: '482913' }),
    });
    expect(response.status).toBe(200);
    const hashes = [hashCard(BARCODE), ...CARDS.map((c) => hashCard(normaliseUid(c)))];
    const pins = await Promise.all(hashes.map(async (h) => parseMemberFields((await central.members!.store.fields(h))!).pinHash));
    expect(pins[0]).toMatch(/^scrypt\$/);
    expect(pins).toEqual([pins[0], pins[0], pins[0]]);
    await until(() => town.store.members.stats().version === 2, 'town to apply the PIN');

    writeFileSync(join(dir, 'block.delta.csv'), [`${HEADER},deleted`, `${BARCODE},"04A21B7C3D5E80;0A0B0C0D",1980-05-01,2030-01-31,Y,Y,N`, ''].join('\n'));
    expect(await central.members!.importDeltaFile(join(dir, 'block.delta.csv'))).toMatchObject({ rejectedCount: 0, changed: 3, version: 3 });
    await until(() => town.store.members.stats().version === 3, 'town to apply the block');
    for (const credential of [BARCODE, ...CARDS]) expect(tap(town, credential)).toEqual({ decision: 'refused', reason: 'blocked' });
    expect(tap(town, '21000000000100').decision).toBe('granted');
    // The block kept the PIN on every card (export rows carry none).
    expect(await Promise.all(hashes.map(async (h) => parseMemberFields((await central.members!.store.fields(h))!).pinHash))).toEqual(pins);
  });
});
