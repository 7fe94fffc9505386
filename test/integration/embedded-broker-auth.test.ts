// Issue #13's attacks on the broker against central's embedded one (aedes), with the same list Mosquitto is tested
// with (test/helpers/broker-attacks.ts), and what only the embedded broker does: central's own per-start login,
// client ids that cannot be taken over, the password file read again when it changes, the packet limit and the
// per-site rate limit, each refusal told in the log once.
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_MAX_PACKET_BYTES, startEmbeddedBroker, type EmbeddedBroker } from '../../central/broker.js';
import { hashPassword, setPassword } from '../../central/mqtt-passwords.js';
import { topics } from '../../policies/contract/topics.js';
import { brokerAttacks, runAttack, type AttackTarget } from '../helpers/broker-attacks.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { SITE, startBranchAndCentral } from '../helpers/branch-and-central.js';
import { parse } from 'yaml';

const PREFIX = 'oa/v1';
let credentials: MqttCredentials;
let broker: EmbeddedBroker;
let target: AttackTarget;
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  credentials = await mqttCredentials(['town', 'village', 'flood']);
  // A `central` line, as a file shared with Mosquitto has: the embedded broker must not let it in.
  appendFileSync(credentials.passwordFile, `central:${await hashPassword('central in the file', 101)}\n`);
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    prefix: PREFIX,
    passwordFile: credentials.passwordFile,
    centralClientId: 'oag-central',
    rate: { perSecond: 5, burst: 20 },
    logger,
  });
  target = {
    url: broker.url,
    prefix: PREFIX,
    passwords: { central: broker.central.password, town: credentials.passwords.town!, village: credentials.passwords.village! },
    clientOptions: { protocolVersion: 4 },
  };
});

afterAll(async () => {
  await broker?.close();
  credentials?.remove();
});

/** Connects and reports whether the broker took it; `client` stays open for the caller (ended in `finally`). */
async function login(options: IClientOptions, url = broker.url): Promise<{ client: MqttClient; connected: boolean; closed: Promise<void> }> {
  const client = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  client.on('error', () => {});
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const connected = await Promise.race([new Promise<boolean>((r) => client.once('connect', () => r(true))), closed.then(() => false)]);
  return { client, connected, closed };
}

/** MQTT's variable-length encoding of a packet's remaining length. */
function remainingLength(n: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return bytes;
}

function refusalsLogged(pattern: RegExp): Array<Record<string, unknown>> {
  return logged.filter((l) => typeof l.reason === 'string' && pattern.test(l.reason));
}

describe('the embedded broker refuses every broker attack', () => {
  it.each(brokerAttacks(PREFIX).map((attack) => [attack.name, attack] as const))('%s', async (_name, attack) => {
    expect(await runAttack(target, attack)).toMatchObject(attack.mustSee);
  });

  it('still carries what the ACL allows: a site’s events to central', async () => {
    const outcome = await runAttack(target, { name: 'allowed', as: { username: 'town' }, does: { publish: `${PREFIX}/sites/town/events` }, mustSee: {} });
    expect(outcome).toEqual({ connected: true, deliveredTo: ['central'], overheard: [] });
  });

  it('logs why, once per client: anonymous, wrong password, outside the ACL, an oversized packet', () => {
    expect(refusalsLogged(/^anonymous client$/).length).toBeGreaterThan(0);
    expect(refusalsLogged(/^wrong username or password for "town"$/).length).toBeGreaterThan(0);
    expect(refusalsLogged(/^town may not publish to "oa\/v1\/sites\/village\/command"$/).length).toBe(1);
    expect(refusalsLogged(/-byte packet \(at most \d+\); disconnected before reading it$/).length).toBe(1);
  });
});

describe('the embedded broker knows who is who', () => {
  it('takes central only with the password of this start, never the central line of the file', async () => {
    const fromFile = await login({ username: 'central', password: 'central in the file', clientId: 'c1' });
    expect(fromFile.connected).toBe(false);
    const own = await login({ username: 'central', password: broker.central.password, clientId: 'c2' });
    expect(own.connected).toBe(true);
    own.client.end(true);
  });

  it("does not let a site take central's client id, or the id of another site's live connection", async () => {
    const asCentral = await login({ ...credentials.login('town'), clientId: 'oag-central' });
    expect(asCentral.connected).toBe(false);
    const village = await login({ ...credentials.login('village'), clientId: 'oag-village' });
    expect(village.connected).toBe(true);
    try {
      const takeover = await login({ ...credentials.login('town'), clientId: 'oag-village' });
      expect(takeover.connected).toBe(false);
      // The village's own connection was not kicked off by the attempt.
      expect(village.client.connected).toBe(true);
    } finally {
      village.client.end(true);
    }
  });

  it('reads the password file again when it changes: a new branch connects without a restart', async () => {
    const before = await login({ username: 'hamlet', password: 'hamlet password', clientId: 'h1' });
    expect(before.connected).toBe(false);
    await setPassword(credentials.passwordFile, 'hamlet', 'hamlet password', 101);
    const after = await login({ username: 'hamlet', password: 'hamlet password', clientId: 'h2' });
    expect(after.connected).toBe(true);
    after.client.end(true);
  });

  it('disconnects a client as soon as its packet announces more than its limit, before reading the rest', async () => {
    const town = await login({ ...credentials.login('town'), clientId: 'big' });
    expect(town.connected).toBe(true);
    // Only the fixed header of the 128 MB PUBLISH: a broker that waited for the body would wait for ever.
    town.client.stream.write(Buffer.from([0x30, ...remainingLength(128 * 1024 * 1024)]));
    await town.closed;
    expect(logged.some((l) => l.client === 'big' && l.reason === `a 134217728-byte packet (at most ${SITE_MAX_PACKET_BYTES}); disconnected before reading it`)).toBe(true);
  });

  it('cuts off a site flooding past its rate, while the others carry on', async () => {
    const flood = await login({ ...credentials.login('flood'), clientId: 'flood' });
    const village = await login({ ...credentials.login('village'), clientId: 'village-during-flood' });
    expect(flood.connected && village.connected).toBe(true);
    try {
      const events = topics(PREFIX, 'flood').events;
      for (let i = 0; i < 200; i++) flood.client.publish(events, `{"n":${i}}`, { qos: 0 });
      await flood.closed;
      const later = await login({ username: 'central', password: broker.central.password, clientId: 'watch-after-flood' });
      const seen = new Promise<string>((resolve) => later.client.on('message', (_t, payload) => resolve(payload.toString())));
      await later.client.subscribeAsync(topics(PREFIX, 'village').events, { qos: 1 });
      await village.client.publishAsync(topics(PREFIX, 'village').events, '{"still":"here"}', { qos: 1 });
      expect(await seen).toBe('{"still":"here"}');
      later.client.end(true);
      expect(refusalsLogged(/^over the rate limit/)).toHaveLength(1);
    } finally {
      village.client.end(true);
    }
  });
});

describe('a branch behind the embedded broker', () => {
  it('keeps its door locked when anyone but central publishes an unlock to it', async () => {
    const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
    const scene = await startBranchAndCentral({ policy: { ...town, schedule: { weekly: {} } } });
    try {
      const { gateway, central } = scene;
      expect(gateway.gateway.door.state).toBe('locked');
      const relayWrites = gateway.hardware.simulated!.outputs.door!.history.length;
      const unlock = JSON.stringify({ id: randomUUID(), at: new Date().toISOString(), actor: 'attacker', command: 'unlock' });
      const command = topics(PREFIX, SITE).command;

      const anonymous = await login({ clientId: 'anonymous-unlock' }, central.brokerUrl);
      expect(anonymous.connected).toBe(false);
      const own = await login({ ...scene.mqtt.login(SITE), clientId: 'own-unlock' }, central.brokerUrl);
      expect(own.connected).toBe(true);
      own.client.publish(command, unlock, { qos: 1 });
      await own.closed;

      // A command from central after the attack: once the branch has answered it, a forged one that got through
      // would have been handled first.
      const answered = await scene.api(`/api/sites/${SITE}/commands`, { method: 'POST', role: 'operator', body: JSON.stringify({ command: 'lockdown-off' }) });
      expect(answered.status).toBe(200);
      expect(gateway.gateway.door.state).toBe('locked');
      expect(gateway.hardware.simulated!.outputs.door!.history.length).toBe(relayWrites);
      expect(JSON.stringify(gateway.store.events.query({ limit: 100 }))).not.toContain('attacker');
    } finally {
      await scene.stop();
    }
  });
});
