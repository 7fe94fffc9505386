// Changes from the library system applied at central (CentralMembers.applyChanges, what a delta file and the Koha
// poller call): one version with exactly those changes, nothing for the same changes again, the removal guard, and
// members held off the list by `branchList: registered`.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CentralMembersConfigSchema, type CentralMembersConfig } from '../../../central/members/config.js';
import { CentralMembers, TooManyRemovalsError, type MemberDeltaChange } from '../../../central/members/service.js';
import { readSigningKey } from '../../../central/signing-key.js';
import { CentralStore } from '../../../central/store.js';
import { decodeMemberEntry, parseMemberFields } from '../../../policies/member-list.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { TEST_KEY_HEX, hashCard, member } from './helpers.js';

const card = (i: number): string => `21${String(i).padStart(12, '0')}`;
const stores: CentralStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function central(config: Partial<CentralMembersConfig> = {}): CentralMembers {
  const store = new CentralStore(':memory:');
  stores.push(store);
  return new CentralMembers({
    db: store.db,
    key: Buffer.from(TEST_KEY_HEX, 'hex'),
    config: { ...CentralMembersConfigSchema.parse({}), ...config },
    prefix: 'oag',
    link: { connected: false, publish: () => Promise.resolve() },
    signingKey: readSigningKey(testSigningKey().privateFile, 'test key'),
    clock: { now: () => new Date('2026-03-02T10:00:00Z') },
    logger: pino({ level: 'silent' }),
    pseudonym: (h) => h.toString('hex').slice(0, 8),
  });
}

/** Ten registered members, 0..9, as version 1. */
async function tenMembers(m: CentralMembers): Promise<void> {
  await m.applyChanges(Array.from({ length: 10 }, (_, i) => ({ cardNumber: card(i), row: member() })), { source: 'test' });
}

describe('changes from the library system at central', () => {
  it('makes one version holding exactly the 3 changed, 1 new and 1 deleted members', async () => {
    const m = central();
    await tenMembers(m);
    const changes: MemberDeltaChange[] = [
      { cardNumber: card(0), row: member({ blocked: true }) },
      { cardNumber: card(1), row: member({ expires: '2026-12-31' }) },
      { cardNumber: card(2), row: member({ staff: true }) },
      { cardNumber: card(20), row: member() },
      { cardNumber: card(3), row: null },
    ];
    const result = await m.applyChanges(changes, { source: 'delta:test.delta.csv' });
    expect(result.version).toMatchObject({ version: 2, count: 10, added: 1, changed: 3, removed: 1, source: 'delta:test.delta.csv', deltaKept: true });
    const delta = (await m.store.deltaEntries(1)).map(decodeMemberEntry);
    expect(delta).toHaveLength(5);
    expect(delta.filter((d) => d.kind === 'removal').map((d) => d.cardHash)).toEqual([hashCard(card(3))]);
    expect(parseMemberFields((await m.store.fields(hashCard(card(0))))!).blocked).toBe(true);
    expect((await m.store.fields(hashCard(card(3))))).toBeUndefined();
  });

  it('makes no version when the same changes come again', async () => {
    const m = central();
    await tenMembers(m);
    const changes = [{ cardNumber: card(0), row: member({ blocked: true }) }, { cardNumber: card(3), row: null }];
    expect((await m.applyChanges(changes, { source: 'a' })).version?.version).toBe(2);
    const again = await m.applyChanges(changes, { source: 'a' });
    expect(again.version).toBeNull();
    expect(again.current?.version).toBe(2);
  });

  it('refuses changes that would delete more of the list than maxRemovedFraction, changing nothing', async () => {
    const m = central();
    await tenMembers(m);
    const sixGone = Array.from({ length: 6 }, (_, i) => ({ cardNumber: card(i), row: null }));
    await expect(m.applyChanges([...sixGone, { cardNumber: card(30), row: member() }], { source: 'x' })).rejects.toThrow(TooManyRemovalsError);
    expect((await m.store.current())).toMatchObject({ version: 1, count: 10 });
    expect((await m.store.fields(hashCard(card(30))))).toBeUndefined();
  });

  it('holds an unregistered member off the list, moves one on when registered, and deletes one held off', async () => {
    const m = central();
    await tenMembers(m);
    const r = await m.applyChanges(
      [
        { cardNumber: card(0), row: member({ openAccess: false }) },
        { cardNumber: card(40), row: member({ openAccess: false }) },
        { cardNumber: card(41), row: member({ openAccess: false }) },
      ],
      { source: 'x' },
    );
    expect(r.version).toMatchObject({ version: 2, count: 9, removed: 1 });
    expect((await m.store.unlistedCount())).toBe(3);
    // Registered at the LMS: onto the list. Deleted at the LMS: gone from central too, no version needed.
    expect((await m.applyChanges([{ cardNumber: card(40), row: member() }], { source: 'x' })).version).toMatchObject({ added: 1, count: 10 });
    expect((await m.applyChanges([{ cardNumber: card(41), row: null }], { source: 'x' })).version).toBeNull();
    expect((await m.store.unlistedFields(hashCard(card(41))))).toBeUndefined();
    expect((await m.store.unlistedCount())).toBe(1);
  });
});
