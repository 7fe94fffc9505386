// A delta from the library system reaching a branch: central's watched folder takes a `*.delta.csv`, makes one
// version, announces it at once, and the branch (a real gateway on central's embedded broker) refuses the member the
// delta blocked and the one it deleted, and lets in the one it added, without a new full export.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { stopBranchAndCentral } from '../helpers/branch-and-central.js';
import { startBranch, startTestCentral, tap, tempDir, until } from '../unit/members-sync/helpers.js';

const card = (i: number): string => `21${String(i).padStart(12, '0')}`;
const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const row = (i: number, blocked = 'N'): string => `${card(i)},1980-05-01,2030-01-31,${blocked},,Y,N,`;

let dir: string;
let central: RunningCentral;
let town: RunningGateway | undefined;

beforeAll(async () => {
  dir = tempDir('members-delta');
  central = await startTestCentral(dir, { config: { members: { pollSeconds: 1, watch: { folder: join(dir, 'drop'), intervalSeconds: 1, settleSeconds: 0 } } } });
});

afterAll(() => stopBranchAndCentral({ branch: town, central, dir }));

describe('a delta file at central reaching a branch', () => {
  it('blocks, deletes and adds members at an online branch, as one version', async () => {
    writeFileSync(join(dir, 'drop', 'nightly.csv'), [HEADER, ...Array.from({ length: 20 }, (_, i) => row(i)), ''].join('\n'));
    await until(async () => (await central.members!.store.current())?.version === 1, 'central to import the full export');
    town = await startBranch(dir, 'town', central);
    const branch = town;
    await until(() => branch.store.members.stats().version === 1, 'town to apply version 1');
    expect(tap(branch, card(0)).decision).toBe('granted');
    expect(tap(branch, card(1)).decision).toBe('granted');
    expect(tap(branch, card(50))).toEqual({ decision: 'refused', reason: 'unknown-card' });

    writeFileSync(join(dir, 'drop', 'changes.delta.csv'), [`${HEADER},deleted`, `${row(0, 'Y')},N`, `${card(1)},,,,,,,,Y`, `${row(50)},N`, ''].join('\n'));
    await until(() => branch.store.members.stats().version === 2, 'town to apply the delta’s version');
    expect((await central.members!.store.current())).toMatchObject({ version: 2, count: 20, added: 1, changed: 1, removed: 1, source: 'folder:changes.delta.csv' });
    expect(tap(branch, card(0))).toEqual({ decision: 'refused', reason: 'blocked' });
    expect(tap(branch, card(1))).toEqual({ decision: 'refused', reason: 'unknown-card' });
    expect(tap(branch, card(50))).toEqual({ decision: 'granted', reason: 'member' });
    expect(tap(branch, card(2)).decision).toBe('granted');
  });
});
