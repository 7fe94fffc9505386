// Desk changes end to end (docs/members.md, "At the desk"): staff at the town branch's console link a member's new
// card tapped at the town's desk reader, and set the member's PIN typed there; central makes the change and the
// next list version carries it to every branch, so the new card opens the village's door, and at the village, where
// open access asks for a PIN, the member's card with that PIN does (and with another PIN does not).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { RunningCentral } from '../../central/main.js';
import { createCardHasher } from '../../gateway/core/cards.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import { ConsoleUsers } from '../../gateway/console/users.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { PASSWORD } from '../helpers/console.js';
import { addMqttUser, mqttPasswordFileIn } from '../helpers/mqtt-credentials.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { alwaysOpen, branchConfig, importRecords, records, startTestCentral, tempDir, TEST_KEY_HEX, until } from '../unit/members-sync/helpers.js';

/** The member: card 21000000000002 of the five imported. */
const MEMBER = `21${String(2).padStart(12, '0')}`;
const NEW_UID = '04D35C0FFEE001';

let dir: string;
let central: RunningCentral;
let town: RunningGateway;
let village: RunningGateway;
let app: FastifyInstance;
let closeDb: () => void;
let headers: Record<string, string>;

async function branch(site: string, policy: Record<string, unknown>, hardware: GatewayConfigInput['hardware']): Promise<RunningGateway> {
  const login = await addMqttUser(mqttPasswordFileIn(dir), site);
  const config = branchConfig(dir, site, { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 100, ...login, centralKeys: [testSigningKey().publicFile] }, { hardware });
  // This branch's own policy in place of the helper's open one.
  writeFileSync(config.policyFile, stringify(policy));
  return startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX }, power: { platformRoot: join(dir, 'no-sys') } });
}

/** The last access event's decision and reason at a branch, after a tap (and a PIN, where asked) there. */
async function entry(gateway: RunningGateway, uid: string, pin?: string): Promise<{ decision: unknown; reason: unknown }> {
  gateway.hardware.simulated!.reader!.tap(uid, 'entry');
  if (pin !== undefined) {
    gateway.hardware.simulated!.keypad!.enter(pin);
    await gateway.gateway.access.pinChecksDone();
  }
  const event = gateway.store.events.query({ limit: 1, types: ['access'] })[0];
  return { decision: event?.data.decision, reason: event?.reason };
}

function call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method, url: `/api/console${url}`, headers, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
}

const version = (gateway: RunningGateway): number | null => gateway.store.members.stats().version;

beforeAll(async () => {
  dir = tempDir('members-desk-e2e');
  central = await startTestCentral(dir, { config: { members: { pollSeconds: 1, desk: { sites: ['town'] } } } });
  expect(importRecords(central.members!.store, records(5), central.members!.keyId)).toBe(1);
  await until(() => central.members!.publisher.lastAnnouncement?.version === 1, 'central to announce version 1');
  town = await branch('town', alwaysOpen('town'), {
    gpio: { driver: 'simulated' },
    inputs: { doorContact: { debounceMs: 0 } },
    readers: [
      { id: 'entry', driver: 'simulated', role: 'entry' },
      { id: 'desk', driver: 'simulated', role: 'desk' },
    ],
  });
  const villagePolicy = alwaysOpen('village');
  village = await branch('village', { ...villagePolicy, rules: { ...(villagePolicy.rules as Record<string, unknown>), pin: 'open-access' } }, {
    gpio: { driver: 'simulated' },
    inputs: { doorContact: { debounceMs: 0 } },
    readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
    keypad: { driver: 'simulated' },
  });
  await until(() => version(town) === 1 && version(village) === 1, 'both branches to hold version 1');

  app = buildLocalApi({ gateway: town.gateway, hardware: town.hardware, console: { store: town.store, hashCard: createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex')), clock: { now: () => new Date() } }, logger: pino({ level: 'silent' }) });
  await app.ready();
  const db = openConsoleDb(town.store);
  closeDb = () => db.close();
  await new ConsoleUsers(db, { now: () => new Date() }).add('desk-cleo', 'staff', PASSWORD);
  const signedIn = await app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'desk-cleo', password: PASSWORD } });
  const cookie = signedIn.cookies.find((c) => c.name.endsWith('oag_session'))!;
  headers = { cookie: `${cookie.name}=${cookie.value}`, 'x-csrf-token': signedIn.json<{ csrfToken: string }>().csrfToken };
  await until(() => town.gateway.access.desk.changes?.connected === true, 'the town linked to the broker');
}, 30_000);

afterAll(async () => {
  await app?.close();
  closeDb?.();
  await town?.stop();
  await village?.stop();
  await central?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a desk change at one branch, at the door of another', () => {
  it('a card linked at the town’s desk opens the village’s door with the next list version', async () => {
    // At the village the new card is nobody's yet.
    expect(await entry(village, NEW_UID)).toMatchObject({ decision: 'refused', reason: 'unknown-card' });

    const armed = await call('POST', '/members/link-card', { card: MEMBER });
    expect(armed.statusCode).toBe(202);
    town.hardware.simulated!.reader!.tap(NEW_UID, 'desk');
    let end: Record<string, unknown> = {};
    await until(async () => {
      end = (await call('GET', `/members/link-card/${armed.json<{ id: string }>().id}`)).json<Record<string, unknown>>();
      return end.state !== 'waiting' && end.state !== 'tapped';
    }, 'the link to end');
    expect(end).toMatchObject({ state: 'done', version: 2 });

    await until(() => version(village) === 2, 'the village to apply version 2');
    // The village asks a PIN in open access: the linked card is the member's, and like their own card it is not set
    // up for that until a PIN is (below).
    expect(await entry(village, NEW_UID)).toMatchObject({ decision: 'refused', reason: 'not-registered' });
    expect(await entry(village, MEMBER)).toMatchObject({ decision: 'refused', reason: 'not-registered' });
    // The town, which asks none, lets it straight in; the desk reader itself opened nothing.
    await until(() => version(town) === 2, 'the town to apply version 2');
    expect(await entry(town, NEW_UID)).toMatchObject({ decision: 'granted' });
  });

  it('a PIN set at the town’s desk then opens the village’s door with the member’s card, and no other PIN does', async () => {
    const set = await call('POST', '/members/pin', { card: MEMBER, pin: '582046', confirm: '582046' });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ result: 'done', version: 3 });
    await until(() => version(village) === 3, 'the village to apply version 3');

    expect(await entry(village, MEMBER, '111111')).toMatchObject({ decision: 'refused', reason: 'pin-wrong' });
    expect(await entry(village, MEMBER, '582046')).toMatchObject({ decision: 'granted' });
    // The card linked at the desk is the same member: the same PIN.
    expect(await entry(village, NEW_UID, '582046')).toMatchObject({ decision: 'granted' });
  });
});
