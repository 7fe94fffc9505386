// The member list through Debian's mosquitto with TLS, passwords and the per-site ACL (test/helpers/mosquitto.ts,
// as docs/central.md and docs/members.md give it): a real gateway pulls its list on its own channel; another site
// reads the announcement but can neither pull on that channel, overhear its chunks, nor publish an announcement.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { deploymentKeyId } from '../../policies/cards.js';
import { membersCurrentTopic, topics } from '../../policies/contract/index.js';
import { generateMembersCsv } from '../../scripts/bench/import.js';
import { startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.js';
import { TEST_KEY_HEX, branchConfig, tap, tempDir, until } from '../unit/members-sync/helpers.js';
import { testSigningKey } from '../helpers/signing-keys.js';

let broker: RunningMosquitto;
let central: RunningCentral;
let town: RunningGateway;
let dir: string;
let valid: string[];
const clients: MqttClient[] = [];

function tlsOptions(user: string, password: string, clientId: string): IClientOptions {
  const { ca, clientCert, clientKey } = broker.certs;
  return { protocolVersion: 5, username: user, password, clientId, ca: readFileSync(ca), cert: readFileSync(clientCert), key: readFileSync(clientKey), reconnectPeriod: 0 };
}

async function client(user: string, password: string, clientId: string): Promise<MqttClient> {
  const c = connect(broker.url, tlsOptions(user, password, clientId));
  clients.push(c);
  await until(() => c.connected, `${clientId} connected`);
  return c;
}

beforeAll(async () => {
  dir = tempDir('members-mosquitto');
  broker = await startMosquitto({ users: { central: 'central-pw', town: 'town-pw', village: 'village-pw' }, centralUser: 'central' });
  const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
  central = await startCentral(
    parseCentralConfig({
      signing: { keyFile: testSigningKey().privateFile },
      broker: { url: broker.url, username: 'central', password: 'central-pw', tls, clientId: 'oag-central-members-test' },
      http: { port: 0 },
      store: { path: join(dir, 'central.sqlite') },
      // Everyone on the list: this test is about the transport, and its counts are the whole export's.
      members: { chunkSize: 100, branchList: 'everyone' },
      log: { level: 'silent' },
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } },
  );
  const generated = await generateMembersCsv(join(dir, 'export.csv'), 1000, 11, { keepCards: 10 });
  valid = generated.cards.valid;
  await central.members!.importFile(join(dir, 'export.csv'));
  const config = branchConfig(dir, 'town', { url: broker.url, username: 'town', password: 'town-pw', tls, reconnectPeriodMs: 200, centralKeys: [testSigningKey().publicFile] });
  town = await startGateway(config, { logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await town?.stop();
  await central?.close();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('member lists through mosquitto with a per-site ACL', () => {
  it('lets a gateway read the announcement and pull its list on its own channel', async () => {
    await until(() => town.store.members.stats().version === 1, 'town to apply version 1', 20_000);
    expect(town.store.members.stats()).toMatchObject({ count: 1000, hash: (await central.members!.store.current())!.hash });
    expect(town.memberSync!.status().lastApply).toMatchObject({ kind: 'snapshot', count: 1000 });
    expect(tap(town, valid[0]!).decision).toBe('granted');
  });

  it('lets another site read the announcement, but not pull on that channel, overhear it, or announce', async () => {
    const village = await client('village', 'village-pw', 'village-probe');
    const seen: Array<{ topic: string; payload: string }> = [];
    village.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await village.subscribeAsync(membersCurrentTopic('oa/v1'), { qos: 1 });
    await village.subscribeAsync(topics('oa/v1', 'town').membersChunk, { qos: 1 });
    await village.subscribeAsync('oa/v1/sites/+/members/chunk', { qos: 1 });
    await until(() => seen.some((m) => m.topic === membersCurrentTopic('oa/v1')), 'the retained announcement');
    expect(JSON.parse(seen[0]!.payload)).toMatchObject({ version: 1, count: 1000 });

    // A pull on town's channel is refused by the broker and never reaches central.
    const requestsBefore = central.members!.publisher.stats.requests;
    const request = {
      transfer: '5d2f3e0c-8a8b-4b0e-9f5b-1c3d2e4f5a6b',
      at: new Date().toISOString(),
      keyId: deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex')),
      version: 1,
      kind: 'snapshot',
      base: null,
      from: 0,
      count: 2,
    };
    const err = await village.publishAsync(topics('oa/v1', 'town').membersRequest, JSON.stringify(request), { qos: 1 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/Not authorized/);
    const forged = await village.publishAsync(membersCurrentTopic('oa/v1'), JSON.stringify({ version: 99 }), { qos: 1, retain: true }).then(
      () => null,
      (e: Error) => e,
    );
    expect(forged?.message).toMatch(/Not authorized/);

    // Town pulls a delta after a block at central: village overhears none of it.
    await central.members!.change(valid[0]!, { blocked: true }, 'desk');
    await until(() => town.store.members.stats().version === 2, 'town to apply version 2');
    expect(tap(town, valid[0]!)).toEqual({ decision: 'refused', reason: 'blocked' });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((m) => m.topic.endsWith('/members/chunk'))).toEqual([]);
    expect(central.members!.publisher.stats.requests - requestsBefore).toBe(1);
    expect(JSON.parse(seen.at(-1)!.payload)).toMatchObject({ version: 2 });

    // On its own channel, village may pull.
    await village.subscribeAsync(topics('oa/v1', 'village').membersChunk, { qos: 1 });
    await village.publishAsync(topics('oa/v1', 'village').membersRequest, JSON.stringify({ ...request, version: 2, at: new Date().toISOString() }), { qos: 1 });
    await until(() => seen.filter((m) => m.topic === topics('oa/v1', 'village').membersChunk).length >= 2, 'village’s own chunks');
    expect(JSON.parse(seen.find((m) => m.topic.endsWith('village/members/chunk'))!.payload)).toMatchObject({ type: 'chunk', kind: 'snapshot', total: 10 });
  });
});
