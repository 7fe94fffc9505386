// Central's side of the desk (docs/members.md, "At the desk"): a branch links a card a member tapped at the desk
// reader, or sets the member's PIN, over MQTT through central's own broker; central answers on the site's reply
// topic, signed, and the change reaches every branch with the next list version. Each refusal as a branch meets it.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import { ConsoleUsers } from '../../gateway/console/users.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { createCardHasher } from '../../policies/cards.js';
import {
  CONTRACT_MINOR,
  parseSignedMessage,
  ReceivedMemberDeskReplySchema,
  topics,
  type MemberDeskChange,
} from '../../policies/contract/index.js';
import { hashPin, verifyPin } from '../../policies/pin.js';
import { encodeCardHash, memberFieldsText, parseMemberFields, type MemberRecord } from '../../policies/member-list.js';
import { PASSWORD } from '../helpers/console.js';
import { addMqttUser, mqttPasswordFileIn } from '../helpers/mqtt-credentials.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { branchConfig, hashCard, importRecords, records, startBranch, startTestCentral, tap, tempDir, TEST_KEY_HEX, until } from '../unit/members-sync/helpers.js';

type Reply = ReturnType<typeof ReceivedMemberDeskReplySchema.parse>;

let dir: string;
let central: RunningCentral;
const clients: MqttClient[] = [];
const branches: RunningGateway[] = [];
/** Five members registered for open access, cards 21000000000000…21000000000004. */
const rows: MemberRecord[] = records(5);
const card = (i: number): string => `21${String(i).padStart(12, '0')}`;
/** The UID of a new card a member taps at the desk reader. */
const NEW_UID = '04A1B2C3D4E5F6';

/** A site's MQTT client, as a branch's uplink: publishes desk changes, reads central's replies (checked signatures). */
async function site(name: string): Promise<{ send(change: Partial<MemberDeskChange> & { change: MemberDeskChange['change'] }): Promise<Reply>; raw(payload: string, id: string): Promise<Reply> }> {
  const login = await addMqttUser(mqttPasswordFileIn(dir), name);
  const client = await connectAsync(central.brokerUrl, { protocolVersion: central.mqttProtocolVersion, ...login, reconnectPeriod: 0 });
  clients.push(client);
  const t = topics('oa/v1', name);
  const replies = new Map<string, Reply[]>();
  client.on('message', (topic, payload) => {
    const read = parseSignedMessage(ReceivedMemberDeskReplySchema, payload, { topic, keys: [testSigningKey().central] });
    if (!read.ok) throw new Error(`unsigned or malformed reply: ${read.errors.join('; ')}`);
    replies.set(read.value.id, [...(replies.get(read.value.id) ?? []), read.value]);
  });
  await client.subscribeAsync(t.membersChangeReply, { qos: 1 });
  const raw = async (payload: string, id: string): Promise<Reply> => {
    const before = replies.get(id)?.length ?? 0;
    await client.publishAsync(t.membersChange, payload, { qos: 1 });
    await until(() => (replies.get(id)?.length ?? 0) > before, `central's reply to ${id}`);
    return replies.get(id)!.at(-1)!;
  };
  return {
    raw,
    send: (change) => {
      const message = { v: CONTRACT_MINOR, id: randomUUID(), at: new Date().toISOString(), keyId: central.members!.keyId, actor: 'alice', member: encodeCardHash(hashCard(card(0))), ...change };
      return raw(JSON.stringify(message), message.id);
    },
  };
}

const fieldsOf = (cardNumber: string): Promise<string | undefined> => central.members!.store.fields(hashCard(cardNumber));

beforeAll(async () => {
  dir = tempDir('members-desk-central');
  central = await startTestCentral(dir, { config: { members: { pollSeconds: 1, desk: { sites: ['town', 'village'] } } } });
});

afterAll(async () => {
  for (const c of clients) await c.endAsync();
  for (const b of branches) await b.stop();
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("central's side of a desk change", () => {
  it('refuses a change while it has no member list, and takes it once one is imported', async () => {
    const town = await site('town');
    const link = { change: { kind: 'link-card', card: encodeCardHash(hashCard(NEW_UID)) } } as const;
    expect(await town.send(link)).toMatchObject({ result: 'refused', reason: 'unavailable', message: 'central has no member list yet: nothing changed' });
    expect(importRecords(central.members!.store, rows, central.members!.keyId)).toBe(1);
    await until(() => central.members!.publisher.lastAnnouncement?.version === 1, 'central to announce version 1');
  });

  it('links a card tapped at the desk: a new version carries it with the member’s fields, and a branch lets it in', async () => {
    const town = await site('town');
    const reply = await town.send({ change: { kind: 'link-card', card: encodeCardHash(hashCard(NEW_UID)) } });
    expect(reply).toMatchObject({ result: 'done', version: 2, message: 'it opens doors as the member from list version 2' });
    const entries = (await central.members!.store.snapshotEntries(2, 0, 1))!;
    expect(entries).toContain(encodeCardHash(hashCard(NEW_UID)) + (await fieldsOf(card(0))));
    expect((await central.members!.store.current())).toMatchObject({ version: 2, count: 6, source: 'desk:town/alice' });
    // Central's audit names the branch's staff user and the member's pseudonym, never a card or its hash.
    const audit = (await central.auth.audit.query({ limit: 5, actor: 'town/alice' })).rows;
    expect(audit).toEqual([expect.objectContaining({ action: 'member-change', site: 'town', detail: expect.stringMatching(/^member [0-9a-f]{8}: card linked at the desk; version 2$/) })]);
    expect(JSON.stringify(audit)).not.toContain(encodeCardHash(hashCard(NEW_UID)));

    const branch = await startBranch(dir, 'harbour', central);
    branches.push(branch);
    await until(() => branch.store.members.stats().version === 2, 'the branch to apply version 2');
    expect(tap(branch, NEW_UID).decision).toBe('granted');

    // The same card again is already the member's: done, and no version.
    expect(await town.send({ change: { kind: 'link-card', card: encodeCardHash(hashCard(NEW_UID)) } })).toMatchObject({ result: 'done', version: null });
    expect((await central.members!.store.current())!.version).toBe(2);
  });

  it('answers a repeated id with the same answer and makes no second version', async () => {
    const town = await site('town');
    const message = { v: CONTRACT_MINOR, id: randomUUID(), at: new Date().toISOString(), keyId: central.members!.keyId, actor: 'alice', member: encodeCardHash(hashCard(card(1))), change: { kind: 'set-pin', pinHash: hashPin('2468') } };
    const first = await town.raw(JSON.stringify(message), message.id);
    expect(first).toMatchObject({ result: 'done', version: 3 });
    expect(await town.raw(JSON.stringify(message), message.id)).toEqual(first);
    expect((await central.members!.store.current())!.version).toBe(3);
    // The PIN's hash as the branch made it, on the member's row; the log and the audit say only that one was set.
    expect(verifyPin(parseMemberFields((await fieldsOf(card(1)))!).pinHash!, '2468')).toBe(true);
    expect((await central.auth.audit.query({ limit: 1, actor: 'town/alice' })).rows[0]!.detail).toMatch(/^member [0-9a-f]{8}: PIN set at the desk; version 3$/);

    const removed = await town.send({ member: encodeCardHash(hashCard(card(1))), change: { kind: 'remove-pin' } });
    expect(removed).toMatchObject({ result: 'done', version: 4, message: 'PIN removed: it holds from list version 4' });
    expect(parseMemberFields((await fieldsOf(card(1)))!).pinHash).toBeNull();
  });

  it('refuses each change it cannot make, with the reason, and changes nothing', async () => {
    const town = await site('town');
    const before = (await central.members!.store.current())!.version;
    const link = (uid: string) => ({ change: { kind: 'link-card', card: encodeCardHash(hashCard(uid)) } }) as const;
    expect(await town.send({ ...link('04AABBCCDD'), member: encodeCardHash(hashCard(card(99))) })).toMatchObject({ result: 'refused', reason: 'unknown-member' });
    // Another member's card: the message names no one.
    const taken = await town.send({ ...link(card(2)) });
    expect(taken).toMatchObject({ result: 'refused', reason: 'card-taken', message: 'that card already opens doors as another member: it was not linked' });
    expect(await town.send({ ...link('04AABBCCDD'), at: new Date(Date.now() - 120_000).toISOString() })).toMatchObject({ result: 'refused', reason: 'stale' });
    expect(await town.send({ ...link('04AABBCCDD'), keyId: '0123456789abcdef' })).toMatchObject({ result: 'refused', reason: 'key-mismatch' });
    const elsewhere = await site('elsewhere');
    expect(await elsewhere.send(link('04AABBCCDD'))).toMatchObject({ result: 'refused', reason: 'not-allowed' });
    // A malformed change with a readable id is answered with what is wrong.
    const id = randomUUID();
    const bad = await town.raw(JSON.stringify({ v: CONTRACT_MINOR, id, at: new Date().toISOString(), keyId: central.members!.keyId, actor: 'alice', member: '04A1B2C3', change: { kind: 'remove-pin' } }), id);
    expect(bad).toMatchObject({ result: 'refused', reason: 'bad-request', message: expect.stringMatching(/^member: must be a card hash/) });
    expect((await central.members!.store.current())!.version).toBe(before);
    expect((await central.members!.store.ownerOf(hashCard('04AABBCCDD')))).toBeUndefined();
  });

  it('takes a card linked at a branch console’s desk reader: the branch shows the version, and lets the card in', async () => {
    const login = await addMqttUser(mqttPasswordFileIn(dir), 'village');
    const mqtt = { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 100, ...login, centralKeys: [testSigningKey().publicFile] };
    const config = branchConfig(dir, 'village', mqtt, {
      hardware: {
        gpio: { driver: 'simulated' },
        inputs: { doorContact: { debounceMs: 0 } },
        readers: [
          { id: 'entry', driver: 'simulated', role: 'entry' },
          { id: 'desk', driver: 'simulated', role: 'desk' },
        ],
      },
    });
    const village = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX }, power: { platformRoot: `${dir}/no-sys` } });
    branches.push(village);
    const current = (await central.members!.store.current())!.version;
    await until(() => village.store.members.stats().version === current, 'the village to apply the current version');
    const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
    const app = buildLocalApi({ gateway: village.gateway, hardware: village.hardware, console: { store: village.store, hashCard: hash, clock: { now: () => new Date() } }, logger: pino({ level: 'silent' }) });
    await app.ready();
    const db = openConsoleDb(village.store);
    try {
      await new ConsoleUsers(db, { now: () => new Date() }).add('desk-bob', 'staff', PASSWORD);
      const signedIn = await app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'desk-bob', password: PASSWORD } });
      const cookie = signedIn.cookies.find((c) => c.name.endsWith('oag_session'))!;
      const headers = { cookie: `${cookie.name}=${cookie.value}`, 'x-csrf-token': signedIn.json<{ csrfToken: string }>().csrfToken };
      await until(() => village.gateway.access.desk.changes?.connected === true, 'the village linked to the broker');

      const NEXT_UID = '04C0FFEE000001';
      expect(tap(village, NEXT_UID)).toMatchObject({ decision: 'refused', reason: 'unknown-card' });
      const armed = await app.inject({ method: 'POST', url: '/api/console/members/link-card', headers, payload: { card: card(3) } });
      expect(armed.statusCode).toBe(202);
      const { id } = armed.json<{ id: string }>();
      village.hardware.simulated!.reader!.tap(NEXT_UID, 'desk');
      let end: Record<string, unknown> = {};
      await until(async () => {
        end = (await app.inject({ method: 'GET', url: `/api/console/members/link-card/${id}`, headers })).json<Record<string, unknown>>();
        return end.state !== 'waiting' && end.state !== 'tapped';
      }, 'the link to end');
      expect(end).toMatchObject({ state: 'done', version: current + 1, message: `it opens doors as the member from list version ${current + 1}` });
      await until(() => village.store.members.stats().version === current + 1, 'the village to apply the new version');
      expect(tap(village, NEXT_UID).decision).toBe('granted');
      expect((await central.auth.audit.query({ limit: 1, actor: 'village/desk-bob' })).rows[0]!.detail).toMatch(/: card linked at the desk; version \d+$/);
    } finally {
      await app.close();
      db.close();
    }
  });

  it('keeps a desk-linked card through the next full import and delta, and drops it with its member', async () => {
    const store = central.members!.store;
    const keyId = central.members!.keyId;
    const uid = hashCard(NEW_UID);
    // The export knows nothing of the card; the member's row changes (blocked), and the card follows it.
    const blocked = rows.map((r, i) => (i === 0 ? { ...r, blocked: true } : r));
    const version = importRecords(store, blocked, keyId);
    expect(version).not.toBeNull();
    expect((await store.fields(uid))).toBe(memberFieldsText(blocked[0]!));
    expect((await store.credentials(hashCard(card(0)))).cards).toContainEqual(uid);
    // A delta from the library system with the member's UIDs (none) keeps it too.
    await central.members!.applyChanges([{ cardNumber: card(0), cardUids: [], row: { ...rows[0]!, blocked: false } }], { source: 'delta:test' });
    expect((await store.fields(uid))).toBe((await fieldsOf(card(0))));
    expect(parseMemberFields((await store.fields(uid))!).blocked).toBe(false);
    // An export without the member takes the card with them.
    importRecords(store, rows.slice(1), keyId);
    expect((await store.fields(uid))).toBeUndefined();
    expect(await store.ownerOf(uid)).toBeUndefined();
    expect(await store.deskCards(hashCard(card(0)))).toEqual([]);
  });
});
