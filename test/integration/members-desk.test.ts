// The branch's half of desk changes (docs/members.md, "At the desk"): staff at the console link a member's new card
// tapped at the desk reader, or set or remove the PIN the member types, and the change goes to central over a real
// broker. A test central answers, signed as central signs; the branch changes nothing itself. Refusals: an unknown
// member, a card the list has already, a PIN that is not one or not confirmed, central refusing, an unsigned reply,
// no link to central, no answer.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { connect, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import type { DeskChangeAnswer, DeskChangeRequest } from '../../gateway/core/desk-reader.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import { ConsoleUsers } from '../../gateway/console/users.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import type { LoggedEvent } from '../../gateway/core/model.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { topics, type MemberDeskChange, type MemberDeskReply } from '../../policies/contract/index.js';
import { verifyPin } from '../../policies/pin.js';
import { OPEN_ALL_DAY, PASSWORD, startConsole, type ConsoleHarness } from '../helpers/console.js';
import { adult, removeDir, TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import { mqttCredentials, startTestBroker, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { signedJson, testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

const SITE = 'town-central';
const T = topics('oa/v1', SITE);
const MEMBER = '29000000000017';
const OTHER_MEMBER = '29000000000025';
const NEW_CARD = '04A1B2C3D4E5F6';
const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
const hashOf = (card: string): string => hash(normaliseCardId(card)).toString('base64url');

/** What the test central does with a change: a reply to sign, `unsigned` to send it without a signature, or nothing. */
type Answer = (change: MemberDeskChange) => { reply: MemberDeskReply; unsigned?: boolean } | null;

let dir: string;
let mqtt: MqttCredentials;
let broker: Awaited<ReturnType<typeof startTestBroker>>;
let gateway: RunningGateway;
let app: FastifyInstance;
let closeDb: () => void;
let central: MqttClient;
const received: MemberDeskChange[] = [];
let answer: Answer = () => null;
const logLines: string[] = [];
const events: LoggedEvent[] = [];
let staff: { cookie: string; csrf: string };

const done = (change: MemberDeskChange, version = 8): { reply: MemberDeskReply } => ({
  reply: { id: change.id, result: 'done', message: `the change is in member list version ${version}; every branch has it within seconds`, version },
});

async function signIn(username: string): Promise<{ cookie: string; csrf: string }> {
  const response = await app.inject({ method: 'POST', url: '/api/console/login', payload: { username, password: PASSWORD } });
  const cookie = response.cookies.find((c) => c.name.endsWith('oag_session'))!;
  return { cookie: `${cookie.name}=${cookie.value}`, csrf: response.json<{ csrfToken: string }>().csrfToken };
}

function call(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { cookie: staff.cookie };
  if (method !== 'GET') headers['x-csrf-token'] = staff.csrf;
  return app.inject({ method, url: `/api/console${url}`, headers, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
}

async function linkEnd(id: string): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await until(async () => {
    last = (await call('GET', `/members/link-card/${id}`)).json<Record<string, unknown>>();
    return last.state !== 'waiting' && last.state !== 'tapped';
  }, 'the link to end');
  return last;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-members-desk-'));
  mqtt = await mqttCredentials([SITE], dir);
  broker = await startTestBroker([SITE], { mqtt });
  const signing = testSigningKey();
  writeFileSync(join(dir, 'policy.yaml'), stringify(OPEN_ALL_DAY));
  const config = parseGatewayConfig({
    site: SITE,
    policyFile: join(dir, 'policy.yaml'),
    store: { path: join(dir, 'gateway.sqlite') },
    clock: { trust: 'trusted' },
    http: { enabled: false },
    log: { level: 'info' },
    hardware: {
      gpio: { driver: 'simulated' },
      inputs: { doorContact: { debounceMs: 0 } },
      readers: [
        { id: 'entry', driver: 'simulated', role: 'entry' },
        { id: 'desk', driver: 'simulated', role: 'desk' },
      ],
    },
    mqtt: { url: broker.broker.url, protocolVersion: 4, reconnectPeriodMs: 100, ...mqtt.login(SITE), centralKeys: [signing.publicFile] },
  });
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(line) });
  gateway = await startGateway(config, { logger, env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX }, power: { platformRoot: join(dir, 'no-sys') } });
  gateway.gateway.bus.on('event-logged', (event) => events.push(event));
  gateway.store.members.replaceAll(
    [MEMBER, OTHER_MEMBER].map((card) => ({ cardHash: hash(normaliseCardId(card)), ...adult })),
    { version: 7, source: 'test' },
  );
  app = buildLocalApi({ gateway: gateway.gateway, hardware: gateway.hardware, console: { store: gateway.store, hashCard: hash, clock: { now: () => new Date() } }, logger });
  await app.ready();
  const db = openConsoleDb(gateway.store);
  await new ConsoleUsers(db, { now: () => new Date() }).add('desk-anna', 'staff', PASSWORD);
  closeDb = () => db.close();
  staff = await signIn('desk-anna');

  central = connect(broker.broker.url, { protocolVersion: 4, reconnectPeriod: 50, clientId: 'oag-central', ...broker.broker.central });
  central.on('message', (topic, payload) => {
    const change = JSON.parse(payload.toString()) as MemberDeskChange;
    received.push(change);
    const made = answer(change);
    if (made === null) return;
    const replyTopic = `${topic}/reply`;
    central.publish(replyTopic, made.unsigned === true ? JSON.stringify(made.reply) : signedJson(replyTopic, made.reply), { qos: 1 });
  });
  await until(() => central.connected, 'the test central connected');
  await central.subscribeAsync('oa/v1/sites/+/members/change', { qos: 1 });
  await until(() => gateway.gateway.access.desk.changes?.connected === true, 'the branch linked to the broker');
});

afterAll(async () => {
  central?.end(true);
  await app?.close();
  closeDb?.();
  await gateway?.stop();
  await broker?.close();
  removeDir(dir);
});

beforeEach(() => {
  received.length = 0;
  answer = (change) => done(change);
});

describe('linking a card at the desk', () => {
  it('captures the next tap at the desk reader, sends its hash to central, and shows central’s answer', async () => {
    const armed = await call('POST', '/members/link-card', { card: MEMBER });
    expect(armed.statusCode).toBe(202);
    const link = armed.json<{ id: string; state: string; person: string; expiresAt: string }>();
    expect(link.state).toBe('waiting');
    expect(link.person).toBe(gateway.gateway.pseudonym(hash(normaliseCardId(MEMBER))));
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(25_000);
    expect(armed.json<{ secondsLeft: number }>().secondsLeft).toBe(30);

    gateway.hardware.simulated!.reader!.tap(NEW_CARD, 'desk');
    const end = await linkEnd(link.id);
    expect(end).toMatchObject({ state: 'done', message: 'the change is in member list version 8; every branch has it within seconds', version: 8 });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ actor: 'desk-anna', member: hashOf(MEMBER), change: { kind: 'link-card', card: hashOf(NEW_CARD) } });
    // The desk reader opened nothing and decided nothing; the list is central's to change.
    expect(gateway.hardware.outputs.door.active).toBe(false);
    expect(gateway.store.members.find(hash(normaliseCardId(NEW_CARD)))).toBeUndefined();
    expect(events.filter((e) => e.type === 'access')).toEqual([]);
  });

  it('shows central’s refusal in its words', async () => {
    answer = (change) => ({ reply: { id: change.id, result: 'refused', reason: 'card-taken', message: 'that card already opens doors as another member: nothing was changed' } });
    const link = (await call('POST', '/members/link-card', { card: MEMBER })).json<{ id: string }>();
    gateway.hardware.simulated!.reader!.tap('04FFEEDDCCBBAA', 'desk');
    expect(await linkEnd(link.id)).toMatchObject({ state: 'refused', reason: 'card-taken', message: 'that card already opens doors as another member: nothing was changed' });
  });

  it('refuses a card the list has already, before anything is sent', async () => {
    const own = (await call('POST', '/members/link-card', { card: MEMBER })).json<{ id: string }>();
    gateway.hardware.simulated!.reader!.tap(MEMBER, 'desk');
    expect(await linkEnd(own.id)).toMatchObject({ state: 'refused', message: expect.stringMatching(/^that is the card the member was looked up by/) });
    const other = (await call('POST', '/members/link-card', { card: MEMBER })).json<{ id: string }>();
    gateway.hardware.simulated!.reader!.tap(OTHER_MEMBER, 'desk');
    expect(await linkEnd(other.id)).toMatchObject({ state: 'refused', message: expect.stringMatching(/already opens doors on this branch's list/) });
    expect(received).toEqual([]);
  });

  it('waits for one card at a time, and lets staff stop waiting', async () => {
    const first = await call('POST', '/members/link-card', { card: MEMBER });
    expect(first.statusCode).toBe(202);
    const second = await call('POST', '/members/link-card', { card: OTHER_MEMBER });
    expect(second.statusCode).toBe(409);
    expect(second.json<{ error: string }>().error).toMatch(/^the desk reader is waiting for another card/);
    const stopped = await call('DELETE', `/members/link-card/${first.json<{ id: string }>().id}`);
    expect(stopped.json()).toMatchObject({ state: 'expired', message: 'stopped waiting; nothing was changed' });
    // The reader is free, and a tap now goes to nobody's link.
    gateway.hardware.simulated!.reader!.tap(NEW_CARD, 'desk');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([]);
  });

  it('with no link waiting, a desk tap is there for the member lookup, once', async () => {
    expect((await call('GET', '/members')).json()).toMatchObject({ deskReaders: ['desk'] });
    gateway.hardware.simulated!.reader!.tap(OTHER_MEMBER, 'desk');
    const found = await call('POST', '/members/lookup/desk');
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ person: gateway.gateway.pseudonym(hash(normaliseCardId(OTHER_MEMBER))), found: true, entitlement: { openAccess: true } });
    const again = await call('POST', '/members/lookup/desk');
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: 'no card was tapped at the desk reader in the last 30 seconds: tap it, then look again' });
    expect(received).toEqual([]);
    expect(gateway.hardware.outputs.door.active).toBe(false);
  });

  it('refuses a card nobody on the list has, and a card number that is none', async () => {
    const unknown = await call('POST', '/members/link-card', { card: '29999999999999' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: "no member with that card on this branch's list" });
    const bad = await call('POST', '/members/link-card', { card: '!!' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ errors: string[] }>().errors[0]).toMatch(/^card: /);
  });
});

describe('setting a PIN at the desk', () => {
  it('sends only the PIN’s scrypt hash, and says what central answered', async () => {
    const response = await call('POST', '/members/pin', { card: MEMBER, pin: '4711', confirm: '4711' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ result: 'done', version: 8, message: expect.stringMatching(/version 8/) });
    expect(received).toHaveLength(1);
    const change = received[0]!.change as { kind: string; pinHash: string };
    expect(change.kind).toBe('set-pin');
    expect(verifyPin(change.pinHash, '4711')).toBe(true);
    expect(JSON.stringify(received[0])).not.toContain('4711');
  });

  it('refuses a PIN that is not 4 to 8 digits, or not typed the same twice, naming the field; nothing is sent', async () => {
    const short = await call('POST', '/members/pin', { card: MEMBER, pin: '12', confirm: '12' });
    expect(short.statusCode).toBe(400);
    expect(short.json<{ errors: string[] }>().errors).toEqual(['pin: must be 4 to 8 digits']);
    const mismatch = await call('POST', '/members/pin', { card: MEMBER, pin: '4711', confirm: '4712' });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json<{ errors: string[] }>().errors).toEqual(['confirm: must be the same PIN as pin']);
    expect(received).toEqual([]);
  });

  it('removes a PIN', async () => {
    const response = await call('DELETE', '/members/pin', { card: MEMBER });
    expect(response.statusCode).toBe(200);
    expect(received[0]).toMatchObject({ member: hashOf(MEMBER), change: { kind: 'remove-pin' } });
  });

  it('passes central’s refusal on as 409 with its words', async () => {
    answer = (change) => ({ reply: { id: change.id, result: 'refused', reason: 'not-allowed', message: 'central does not take desk changes from this branch' } });
    const response = await call('POST', '/members/pin', { card: MEMBER, pin: '123456', confirm: '123456' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({ error: 'central does not take desk changes from this branch', reason: 'not-allowed' });
  });

  it('ignores and logs a reply central did not sign, and takes the signed one', async () => {
    answer = (change) => ({ reply: { id: change.id, result: 'refused', reason: 'unknown-member', message: 'forged: nothing was changed' }, unsigned: true });
    const pending = call('POST', '/members/pin', { card: MEMBER, pin: '2468', confirm: '2468' });
    await until(() => received.length === 1, 'the change at central');
    await until(() => logLines.some((line) => line.includes('desk change reply from central refused: signature: unsigned')), 'the unsigned reply logged');
    const id = received[0]!.id;
    central.publish(T.membersChangeReply, signedJson(T.membersChangeReply, done(received[0]!, 9).reply), { qos: 1 });
    const response = await pending;
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ result: 'done', version: 9 });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('audits each change with the staff user and the member’s pseudonym; no card, UID or PIN in the log or the store', async () => {
    const person = gateway.gateway.pseudonym(hash(normaliseCardId(MEMBER)));
    await call('POST', '/members/pin', { card: MEMBER, pin: '97531', confirm: '97531' });
    const staffEvents = events.filter((e) => e.type === 'staff');
    expect(staffEvents).toContainEqual(expect.objectContaining({ action: `member-pin-set:${person}:done`, actor: 'desk-anna' }));
    expect(staffEvents).toContainEqual(expect.objectContaining({ action: `member-link-card:${person}:done`, actor: 'desk-anna' }));
    const files = readdirSync(dir).filter((f) => f.startsWith('gateway.sqlite'));
    for (const secret of [MEMBER, NEW_CARD, '97531', '4711', '2468']) {
      expect(logLines.join('\n')).not.toContain(secret);
      for (const file of files) expect(readFileSync(join(dir, file)).includes(Buffer.from(secret)), `${secret} in ${file}`).toBe(false);
    }
  });
});

describe('when central cannot answer', () => {
  let consoleHarness: ConsoleHarness;
  let signedIn: Awaited<ReturnType<ConsoleHarness['login']>>;
  const sent: DeskChangeRequest[] = [];
  let next: DeskChangeAnswer = { result: 'no-answer' };

  beforeAll(async () => {
    consoleHarness = await startConsole({ members: { [MEMBER]: {} } });
    await consoleHarness.addUser('desk-ben', 'staff');
    signedIn = await consoleHarness.login('desk-ben');
  });
  afterAll(async () => {
    await consoleHarness?.stop();
  });

  it('refuses at once without a link to central: nothing is hashed or sent', async () => {
    const response = await consoleHarness.call(signedIn, 'POST', '/api/console/members/pin', { card: MEMBER, pin: '4711', confirm: '4711' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'central is not reachable; nothing was changed' });
  });

  it('says 504 when central has not answered in time: the change may still be made', async () => {
    consoleHarness.harness.running.gateway.access.desk.setChanges({
      connected: true,
      send: async (request) => {
        sent.push(request);
        return next;
      },
    });
    const response = await consoleHarness.call(signedIn, 'DELETE', '/api/console/members/pin', { card: MEMBER });
    expect(response.statusCode).toBe(504);
    expect(response.json()).toEqual({ error: 'central has not answered; the change may still be made — look the card up again in a minute' });
    expect(sent).toHaveLength(1);
  });

  it('says which readers are desk readers: a branch without one cannot link a card', async () => {
    const response = await consoleHarness.call(signedIn, 'POST', '/api/console/members/link-card', { card: MEMBER });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({ error: 'this branch has no desk reader (a reader with role: desk in the hardware config)' });
  });

  it('lets nobody signed out change a member, and no change without the session’s CSRF token', async () => {
    next = { result: 'done', message: 'done', version: 3 };
    sent.length = 0;
    const anonymous = await consoleHarness.call(undefined, 'POST', '/api/console/members/pin', { card: MEMBER, pin: '4711', confirm: '4711' });
    expect(anonymous.statusCode).toBe(401);
    const forged = await consoleHarness.call(signedIn, 'POST', '/api/console/members/pin', { card: MEMBER, pin: '4711', confirm: '4711' }, { csrf: false });
    expect(forged.statusCode).toBe(403);
    expect(sent).toEqual([]);
  });
});
