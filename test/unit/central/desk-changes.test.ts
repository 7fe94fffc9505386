// Central's rules for a desk change (central/members/desk-changes.ts) on its own clock: how old a change may be, one
// answer per id however it is resent and for how long, and what the log says (pseudonyms only).
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CentralMembersConfigSchema } from '../../../central/members/config.js';
import { MemberDeskChanges, type ReceivedMemberDeskChange } from '../../../central/members/desk-changes.js';
import { CentralMembers } from '../../../central/members/service.js';
import { CentralStore } from '../../../central/store.js';
import { CONTRACT_MINOR, MEMBER_CHANGE_MAX_AGE_MS, ReceivedMemberDeskReplySchema } from '../../../policies/contract/index.js';
import { encodeCardHash } from '../../../policies/member-list.js';
import { hashPin } from '../../../policies/pin.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { hashCard, importRecords, records, TEST_KEY_HEX } from '../members-sync/helpers.js';

type Reply = ReturnType<typeof ReceivedMemberDeskReplySchema.parse>;

function rig() {
  let now = new Date('2026-03-02T10:00:00.000Z');
  const clock = { now: () => now, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
  const replies: Reply[] = [];
  const link = {
    connected: true,
    publish: async (topic: string, payload: Buffer) => {
      if (topic.endsWith('/members/change/reply')) replies.push(ReceivedMemberDeskReplySchema.parse(JSON.parse(payload.toString())));
    },
  };
  const store = new CentralStore(':memory:');
  const config = CentralMembersConfigSchema.parse({});
  const members = new CentralMembers({ db: store.db, key: Buffer.from(TEST_KEY_HEX, 'hex'), config, prefix: 'oa/v1', link, signingKey: testSigningKey(), clock, logger, pseudonym: (h) => `p${h.toString('hex', 0, 3)}` });
  importRecords(members.store, records(3), members.keyId);
  const desk = new MemberDeskChanges({ members, config: config.desk, prefix: 'oa/v1', link, signingKey: testSigningKey(), clock, logger });
  const change = (over: Partial<ReceivedMemberDeskChange> = {}): ReceivedMemberDeskChange => ({
    v: CONTRACT_MINOR,
    id: randomUUID(),
    at: clock.now().toISOString(),
    keyId: members.keyId,
    actor: 'alice',
    member: encodeCardHash(hashCard('21000000000000')),
    change: { kind: 'set-pin', pinHash: hashPin('2468') },
    ...over,
  });
  const send = async (c: ReceivedMemberDeskChange): Promise<Reply> => {
    await desk.handle('town', { change: c });
    return replies.at(-1)!;
  };
  return { clock, logs, replies, members, desk, change, send };
}

describe('a desk change at central', () => {
  it('takes a change up to 60 s from its `at` either way, and refuses one older or newer as stale', async () => {
    const { change, send, clock } = rig();
    const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
    expect(await send(change({ at: at(-MEMBER_CHANGE_MAX_AGE_MS) }))).toMatchObject({ result: 'done' });
    expect(await send(change({ at: at(-MEMBER_CHANGE_MAX_AGE_MS - 1), change: { kind: 'remove-pin' } }))).toMatchObject({ result: 'refused', reason: 'stale' });
    expect(await send(change({ at: at(MEMBER_CHANGE_MAX_AGE_MS + 1), change: { kind: 'remove-pin' } }))).toMatchObject({ result: 'refused', reason: 'stale' });
  });

  it('answers a resend that arrives while the first is being applied with the same answer, and makes one version', async () => {
    const { change, desk, replies, members } = rig();
    const c = change({ change: { kind: 'link-card', card: encodeCardHash(hashCard('04A1B2C3D4E5F6')) } });
    await Promise.all([desk.handle('town', { change: c }), desk.handle('town', { change: c })]);
    expect(replies).toHaveLength(2);
    expect(replies[1]).toEqual(replies[0]);
    expect(replies[0]).toMatchObject({ result: 'done', version: 2 });
    expect((await members.store.current())!.version).toBe(2);
  });

  it('keeps answers a day: a resend after that is judged again (and is stale by then)', async () => {
    const { change, send, clock, members } = rig();
    const c = change();
    expect(await send(c)).toMatchObject({ result: 'done', version: 2 });
    clock.advance(3_600_000);
    expect(await send(c)).toMatchObject({ result: 'done', version: 2 });
    clock.advance(86_400_000);
    // Another change records its answer and forgets those older than a day.
    await send(change({ change: { kind: 'remove-pin' } }));
    expect(await send(c)).toMatchObject({ result: 'refused', reason: 'stale' });
    expect((await members.store.current())!.version).toBe(3);
  });

  it('keeps at most the newest answers it is told to', async () => {
    const { members } = rig();
    const at = new Date('2026-03-02T10:00:00.000Z');
    for (let i = 0; i < 5; i++) (await members.store.recordDeskAnswer('town', `id-${i}`, new Date(at.getTime() + i), `{"n":${i}}`, { ms: 86_400_000, count: 3 }));
    expect(await Promise.all([0, 1, 2, 3, 4].map((i) => members.store.deskAnswer('town', `id-${i}`)))).toEqual([undefined, undefined, '{"n":2}', '{"n":3}', '{"n":4}']);
    // By site and id: another site's change with the same id is its own.
    expect((await members.store.deskAnswer('village', 'id-4'))).toBeUndefined();
  });

  it('refuses a PIN hash the doors would not check (a cost past theirs, a short key), and the member keeps their PIN', async () => {
    const { change, send, members } = rig();
    expect(await send(change())).toMatchObject({ result: 'done', version: 2 });
    const salt = Buffer.alloc(16, 1).toString('base64');
    const key = Buffer.alloc(32, 2).toString('base64');
    for (const pinHash of [`scrypt$20$8$1$${salt}$${key}`, `scrypt$10$64$1$${salt}$${key}`, `scrypt$10$8$1$${salt}$a2V5`]) {
      expect(await send(change({ change: { kind: 'set-pin', pinHash } }))).toMatchObject({ result: 'refused', reason: 'bad-request' });
    }
    expect((await members.store.current())!.version).toBe(2);
  });

  it("answers a change its store failed on as unavailable, and applies the same change resent once the store recovers", async () => {
    const { change, send, members, logs } = rig();
    const c = change({ change: { kind: 'link-card', card: encodeCardHash(hashCard('04A1B2C3D4E5F6')) } });
    const link = members.store.linkDeskCard.bind(members.store);
    members.store.linkDeskCard = () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    expect(await send(c)).toMatchObject({ result: 'refused', reason: 'unavailable' });
    expect(logs.join('')).toContain('SQLITE_FULL');
    members.store.linkDeskCard = link;
    expect(await send(c)).toMatchObject({ result: 'done', version: 2 });
  });

  it('logs the member by pseudonym and the PIN as set or removed; no card hash, no PIN hash', async () => {
    const { change, send, logs } = rig();
    const pinHash = hashPin('2468');
    const uid = encodeCardHash(hashCard('04A1B2C3D4E5F6'));
    await send(change({ change: { kind: 'set-pin', pinHash } }));
    await send(change({ change: { kind: 'link-card', card: uid } }));
    await send(change({ change: { kind: 'link-card', card: encodeCardHash(hashCard('21000000000001')) } }));
    const text = logs.join('');
    expect(text).toContain('"pin":"set"');
    expect(text).toContain('card linked at a desk');
    expect(text).toContain('card-taken');
    for (const secret of [pinHash, uid, encodeCardHash(hashCard('21000000000000')), hashCard('04A1B2C3D4E5F6').toString('hex')]) expect(text).not.toContain(secret);
  });
});
