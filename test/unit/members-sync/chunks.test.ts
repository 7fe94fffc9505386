// The branch's checks on what central sends, with central's publisher and the gateway's sync wired together in
// memory (no broker): chunks staged a window at a time, a damaged or misplaced chunk refused and asked for again, a
// list whose count or hash is not the announced one never applied, another key's list refused, a stale list alarmed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteMemberStore, SqliteMemberTables } from '../../../central/members/sqlite-member-store.js';
import { MembersPublisher, type PublisherHooks } from '../../../central/members/publisher.js';
import { CentralStore } from '../../../central/store.js';
import { MemberSync } from '../../../gateway/members/sync.js';
import { openStore, type Store } from '../../../gateway/store/index.js';
import { deploymentKeyId } from '../../../policies/cards.js';
import { MembersChunkSchema, type MembersRequest } from '../../../policies/contract/index.js';
import { chunkHash, memberFieldsText } from '../../../policies/member-list.js';
import { OTHER_KEY_HEX, TEST_KEY_HEX, importRecords, records, until } from './helpers.js';
import { centralFor, signedJson, testSigningKey } from '../../helpers/signing-keys.js';

const KEY_ID = deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex'));
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Rig {
  members: SqliteMemberTables;
  publisher: MembersPublisher;
  store: Store;
  sync: MemberSync;
  clock: { now(): Date; set(d: Date): void };
  requests: MembersRequest[];
  recorded: Array<{ result: string; version: number | null; error?: string }>;
  alarms: Map<string, boolean>;
  announce(): Promise<void>;
}

function rig(options: { chunkSize?: number; window?: number; hooks?: PublisherHooks } = {}): Rig {
  let now = new Date('2026-03-02T10:00:00.000Z');
  const clock = { now: () => now, set: (d: Date) => (now = d) };
  const central = new CentralStore(':memory:');
  const members = new SqliteMemberTables(central.db);
  let deliver: (topic: string, payload: Buffer) => void = () => undefined;
  const publisher = new MembersPublisher({
    members: new SqliteMemberStore(members),
    prefix: 'oa/v1',
    keyId: KEY_ID,
    chunkSize: options.chunkSize ?? 10,
    link: {
      connected: true,
      // Delivered on a later turn of the loop, as a broker would.
      publish: async (topic, payload) => void setImmediate(() => deliver(topic, payload)),
    },
    signingKey: testSigningKey(),
    clock,
    logger,
    hooks: options.hooks,
  });
  const dir = mkdtempSync(join(tmpdir(), 'oag-chunks-'));
  const store = openStore(join(dir, 'gateway.sqlite'), { clock });
  const recorded: Rig['recorded'] = [];
  const alarms = new Map<string, boolean>();
  const sync = new MemberSync({
    store,
    keyId: KEY_ID,
    central: centralFor('town'),
    clock,
    logger,
    record: (e) => recorded.push(e),
    alarms: { set: (name, raised) => void alarms.set(name, raised) },
    onApplied: () => undefined,
    config: { staleAfterDays: 30, windowChunks: options.window ?? 3, requestTimeoutMs: 2000 },
  });
  const requests: MembersRequest[] = [];
  sync.link((payload) => {
    requests.push(JSON.parse(payload.toString()) as MembersRequest);
    void publisher.handleRequest('town', payload);
    return true;
  });
  deliver = (topic, payload) => sync.receive(topic === 'oa/v1/members/current' ? 'announcement' : 'transfer', payload);
  sync.start();
  cleanups.push(() => {
    sync.stop();
    store.close();
    central.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { members, publisher, store, sync, clock, requests, recorded, alarms, announce: async () => void (await publisher.announce()) };
}

const inSync = (r: Rig) => r.store.members.stats().version === r.members.current()?.version && r.store.members.stats().hash === r.members.current()?.hash;

describe('the branch pulling a member list', () => {
  it('asks for a window of chunks at a time and applies the list once count and hash check', async () => {
    const r = rig({ chunkSize: 10, window: 3 });
    importRecords(r.members, records(95), KEY_ID);
    await r.announce();
    await until(() => inSync(r), 'the list to be applied');
    expect(r.requests.map((q) => [q.kind, q.from, q.count])).toEqual([
      ['auto', 0, 3],
      ['snapshot', 3, 3],
      ['snapshot', 6, 3],
      ['snapshot', 9, 1],
    ]);
    expect(new Set(r.requests.map((q) => q.transfer)).size).toBe(1);
    expect(r.store.members.stats()).toMatchObject({ count: 95, version: 1 });
    expect(r.recorded).toEqual([{ result: 'applied', version: 1, count: 95 }]);
    expect(r.store.memberSync.transfer()).toBeNull();
  });

  it('refuses a chunk whose hash does not match, asks for that chunk again, and applies nothing damaged', async () => {
    let spoiled = false;
    const r = rig({
      hooks: {
        chunk: (c) => {
          if (c.index !== 4 || spoiled) return c;
          spoiled = true;
          return { ...c, entries: c.entries.slice(1) }; // a member lost on the way
        },
      },
    });
    const rows = records(60);
    importRecords(r.members, rows, KEY_ID);
    await r.announce();
    await until(() => inSync(r), 'the list to be applied');
    expect(r.sync.status().corruptChunks).toBe(1);
    // Windows start at 0 and 3: a request from 4 is the one asking for it again.
    expect(r.requests.some((q) => q.from === 4)).toBe(true);
    expect(r.store.members.stats().count).toBe(60);
  });

  it('refuses a chunk that holds a card outside its range, even with a matching chunk hash', async () => {
    const hooks: PublisherHooks = {};
    const r = rig({ hooks });
    importRecords(r.members, records(60), KEY_ID);
    let swapped = false;
    hooks.chunk = (c) => {
      if (c.index !== 2 || swapped) return c;
      swapped = true;
      // A member of chunk 0 in chunk 2's place: the chunk hash is made to match, the card's range does not.
      const entries = [r.members.snapshotEntries(1, 0, c.total)![0]!, ...c.entries.slice(1)];
      return MembersChunkSchema.parse({ ...c, entries, chunkHash: chunkHash(entries) });
    };
    await r.announce();
    await until(() => inSync(r), 'the list to be applied');
    expect(r.sync.status().corruptChunks).toBe(1);
    // Windows start at 0 and 3: a request from 2 is the one asking for it again.
    expect(r.requests.some((q) => q.from === 2)).toBe(true);
    expect(r.store.members.stats().count).toBe(60);
  });

  it('drops a transfer half done when a newer version is announced, and fetches that one instead', async () => {
    const hooks: PublisherHooks = {};
    const r = rig({ hooks });
    const rows = records(60);
    importRecords(r.members, rows, KEY_ID);
    // Only the first two chunks of version 1 get through.
    hooks.chunk = (c) => (c.version === 1 && c.index >= 2 ? null : c);
    await r.announce();
    await until(() => r.store.memberSync.transfer()?.received.length === 2, 'two chunks staged');
    r.members.changeOne(rows[0]!.cardHash, memberFieldsText({ ...rows[0]!, blocked: true }), { keyId: KEY_ID, source: 'test', at: r.clock.now(), keepVersions: 50 });
    await r.announce();
    await until(() => inSync(r), 'version 2 to be applied');
    expect(r.store.members.stats()).toMatchObject({ version: 2, count: 60 });
    expect(new Set(r.requests.map((q) => q.transfer)).size).toBe(2);
    expect(r.requests.at(-1)).toMatchObject({ version: 2, kind: 'snapshot' });
  });

  it('never applies a snapshot whose list hash is not the announced one; the previous list stays', async () => {
    const r = rig();
    const rows = records(40);
    importRecords(r.members, rows, KEY_ID);
    await r.announce();
    await until(() => inSync(r), 'version 1');
    const before = r.store.members.stats();
    // Version 2 changes most members (a snapshot); its recorded hash is not the sum of its members.
    importRecords(r.members, records(40, 0, () => ({ expires: '2030-12-31' })), KEY_ID);
    r.members.db.prepare('UPDATE member_versions SET hash = ? WHERE version = 2').run('0f'.repeat(32));
    await r.announce();
    await until(() => r.recorded.some((e) => e.result === 'refused'), 'the refusal');
    expect(r.recorded.at(-1)).toMatchObject({ result: 'refused', version: 2, error: expect.stringMatching(/hash .* does not match the announced/) });
    expect(r.store.members.stats()).toEqual(before);
    expect(r.store.memberSync.transfer()).toBeNull();

  });

  it('refuses a delta that does not lead to the announced hash, and asks for a snapshot next', async () => {
    const r = rig();
    const rows = records(40);
    importRecords(r.members, rows, KEY_ID);
    await r.announce();
    await until(() => inSync(r), 'version 1');
    r.members.changeOne(rows[3]!.cardHash, memberFieldsText({ ...rows[3]!, blocked: true }), { keyId: KEY_ID, source: 'test', at: r.clock.now(), keepVersions: 50 });
    r.members.db.prepare('UPDATE member_versions SET count = 39 WHERE version = 2').run();
    const asked = r.requests.length;
    await r.announce();
    await until(() => r.recorded.some((e) => e.result === 'refused'), 'the refusal');
    expect(r.recorded.at(-1)?.error).toMatch(/39 were announced/);
    expect(r.store.members.stats().version).toBe(1);
    expect(r.requests[asked]).toMatchObject({ kind: 'auto', base: { version: 1 } });
    await until(() => r.requests.length > asked + 1, 'the next request', 5000);
    expect(r.requests[asked + 1]).toMatchObject({ kind: 'snapshot', from: 0 });
  });

  it('refuses chunks made with another deployment key, and ignores those of another transfer', async () => {
    const r = rig();
    importRecords(r.members, records(15), KEY_ID);
    // The sync asks; instead of central's answer, chunks that are not for it arrive.
    const sent: MembersRequest[] = [];
    r.sync.link((payload) => {
      sent.push(JSON.parse(payload.toString()) as MembersRequest);
      return true;
    });
    await r.announce();
    await until(() => sent.length === 1, 'the request');
    const current = r.members.current()!;
    const entries = r.members.snapshotEntries(1, 0, 2)!;
    // Signed by central: what is refused here is refused for what the chunks say.
    const chunk = (transfer: string, keyId: string) =>
      signedJson(centralFor('town').transferTopic, { type: 'chunk', transfer, version: 1, keyId, kind: 'snapshot', base: null, count: current.count, hash: current.hash, index: 0, total: 2, chunkHash: chunkHash(entries), entries });
    // Another transfer's chunk (an old one still on its way): ignored.
    r.sync.receive('transfer', chunk('7d444840-9dc0-41c9-9c7e-0c8a7c3a3e2b', KEY_ID));
    expect(r.store.memberSync.transfer()).toBeNull();
    r.sync.receive('transfer', chunk(sent[0]!.transfer, KEY_ID));
    expect(r.store.memberSync.transfer()).toMatchObject({ version: 1, received: [0], total: 2 });
    // A chunk of this transfer made with another key: refused, and the transfer dropped.
    r.sync.receive('transfer', chunk(sent[0]!.transfer, deploymentKeyId(Buffer.from(OTHER_KEY_HEX, 'hex'))));
    expect(r.store.memberSync.transfer()).toBeNull();
    expect(r.recorded).toEqual([expect.objectContaining({ result: 'refused', version: 1, error: expect.stringMatching(/another deployment key/) })]);
    expect(r.store.members.stats().version).toBeNull();
  });

  it('raises member-list-stale when central has not confirmed the list for too long, and clears it when it does', async () => {
    const r = rig();
    importRecords(r.members, records(5), KEY_ID);
    await r.announce();
    await until(() => inSync(r), 'version 1');
    expect(r.alarms.get('member-list-stale')).toBe(false);
    r.clock.set(new Date('2026-04-05T10:00:00.000Z'));
    r.sync.checkStale();
    expect(r.alarms.get('member-list-stale')).toBe(true);
    await r.announce();
    await until(() => r.alarms.get('member-list-stale') === false, 'the alarm to clear');
    expect(r.sync.status().lastSyncAt).toBe('2026-04-05T10:00:00.000Z');
  });
});

describe('only what central signed', () => {
  const ANNOUNCEMENTS = centralFor('town').announcementTopic;
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

  it('follows no forged or unsigned announcement: the list in force stays, and nothing is even asked for', async () => {
    const r = rig();
    importRecords(r.members, records(5), KEY_ID);
    const v1 = (await r.publisher.announce())!;
    await until(() => inSync(r), 'version 1');
    const asked = r.requests.length;
    // An attacker's version 2, in which every card is staff: signed with its own key, and not signed at all.
    const everyoneStaff = records(5, 0, () => ({ staff: true }));
    const forged = { ...v1, version: 2, count: everyoneStaff.length, at: new Date().toISOString() };
    r.sync.receive('announcement', signedJson(ANNOUNCEMENTS, forged, testSigningKey('attacker')));
    r.sync.receive('announcement', Buffer.from(JSON.stringify(forged)));
    // Central's own announcement with one field changed.
    r.sync.receive('announcement', Buffer.from(JSON.stringify({ ...JSON.parse(signedJson(ANNOUNCEMENTS, v1).toString()), version: 2 })));
    await settle();
    expect(r.requests.length).toBe(asked);
    expect(r.sync.status().announced?.version).toBe(1);
    expect(r.store.members.stats()).toMatchObject({ version: 1, count: 5 });
    expect(r.store.members.find(everyoneStaff[0]!.cardHash)).toMatchObject({ staff: false });
    expect(r.recorded).toEqual([{ result: 'applied', version: 1, count: 5 }]);
  });

  it('changes nothing for an older announcement replayed, though central signed it', async () => {
    const r = rig();
    importRecords(r.members, records(5), KEY_ID);
    const v1 = (await r.publisher.announce())!;
    await until(() => inSync(r), 'version 1');
    importRecords(r.members, records(7), KEY_ID);
    await r.announce();
    await until(() => r.store.members.stats().version === 2, 'version 2');
    const asked = r.requests.length;
    r.sync.receive('announcement', signedJson(ANNOUNCEMENTS, v1));
    await settle();
    expect(r.requests.length).toBe(asked);
    expect(r.sync.status().announced?.version).toBe(2);
    expect(r.store.members.stats()).toMatchObject({ version: 2, count: 7 });
  });
});
