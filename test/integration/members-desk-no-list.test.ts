// Central without a deployment key distributes no member list; a desk change sent to it is still answered, signed,
// `unavailable` with why, so the branch's staff read it at once instead of waiting for an answer that never comes.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { CONTRACT_MINOR, parseSignedMessage, ReceivedMemberDeskReplySchema, topics } from '../../policies/contract/index.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

let dir: string;
let mqtt: MqttCredentials;
let central: RunningCentral;
let client: MqttClient | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-desk-no-list-'));
  mqtt = await mqttCredentials(['town'], dir);
  const config = parseCentralConfig({ embedded: { port: 0, passwordFile: mqtt.passwordFile }, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, signing: { keyFile: testSigningKey().privateFile }, log: { level: 'silent' } });
  central = await startCentral(config, { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), env: {} });
});

afterAll(async () => {
  await client?.endAsync();
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a desk change to a central with no member list', () => {
  it('is refused unavailable, signed, saying why', async () => {
    expect(central.members).toBeNull();
    client = await connectAsync(central.brokerUrl, { protocolVersion: central.mqttProtocolVersion, ...mqtt.login('town'), reconnectPeriod: 0 });
    const t = topics('oa/v1', 'town');
    const replies: unknown[] = [];
    client.on('message', (topic, payload) => replies.push(parseSignedMessage(ReceivedMemberDeskReplySchema, payload, { topic, keys: [testSigningKey().central] })));
    await client.subscribeAsync(t.membersChangeReply, { qos: 1 });
    const id = randomUUID();
    const change = { v: CONTRACT_MINOR, id, at: new Date().toISOString(), keyId: '0123456789abcdef', actor: 'alice', member: 'A'.repeat(43), change: { kind: 'remove-pin' } };
    await client.publishAsync(t.membersChange, JSON.stringify(change), { qos: 1 });
    await until(() => replies.length > 0, "central's reply");
    expect(replies[0]).toMatchObject({ ok: true, value: { id, result: 'refused', reason: 'unavailable', message: 'central distributes no member list (it has no deployment key): nothing changed' } });
  });
});
