// The embedded broker over TLS (what embedded.tls gives a broker beyond loopback), with certificates made by openssl:
// a branch with the CA and its login gets in, a plain-text client does not, and central's own client reaches it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type IClientOptions } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { makeCerts, type TestCerts } from '../helpers/mosquitto.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/branch-and-central.js';

let dir: string;
let certs: TestCerts;
let mqtt: MqttCredentials;
let central: RunningCentral;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-embedded-tls-'));
  certs = makeCerts(dir);
  mqtt = await mqttCredentials(['town'], dir);
  central = await startCentral(
    parseCentralConfig({
      embedded: { host: '127.0.0.1', port: 0, passwordFile: mqtt.passwordFile, tls: { cert: certs.serverCert, key: certs.serverKey } },
      http: { port: 0 },
      store: { path: ':memory:' },
      signing: { keyFile: testSigningKey().privateFile },
      log: { level: 'silent' },
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
  );
});

afterAll(async () => {
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Whether the broker took the client's CONNECT. */
function connects(url: string, options: IClientOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const client = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.on('error', () => {});
    client.once('connect', () => {
      client.end(true);
      resolve(true);
    });
    client.once('close', () => resolve(false));
  });
}

describe('the embedded broker with embedded.tls', () => {
  it('listens on mqtts://, and central itself is connected to it', async () => {
    expect(central.brokerUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    // Central's link subscribes once connected: the branch's availability reaches central's API.
    const ca = readFileSync(certs.ca);
    const client = connect(central.brokerUrl, { protocolVersion: 4, ca, ...mqtt.login('town'), clientId: 'oag-town', reconnectPeriod: 0 });
    client.on('error', () => {});
    await until(() => client.connected, 'the branch connected');
    await client.publishAsync('oa/v1/sites/town/availability', JSON.stringify({ state: 'online', at: new Date().toISOString() }), { qos: 1, retain: true });
    const token = (await central.auth.tokens.create({ name: 'tls-test', role: 'viewer', expiresDays: 1 }, 'test')).token;
    await until(async () => (await fetch(`${central.httpUrl}/api/sites/town`, { headers: { authorization: `Bearer ${token}` } })).status === 200, 'the branch at central');
    client.end(true);
  });

  it('takes a branch with the CA and its login; not one without TLS, nor one with a wrong password', async () => {
    const url = central.brokerUrl;
    const ca = readFileSync(certs.ca);
    expect(await connects(url, { ca, ...mqtt.login('town') })).toBe(true);
    expect(await connects(url, { ca, username: 'town', password: 'wrong' })).toBe(false);
    expect(await connects(url.replace('mqtts:', 'mqtt:'), mqtt.login('town'))).toBe(false);
  });
});
