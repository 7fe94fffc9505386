// Against Debian's mosquitto with TLS, passwords and an ACL by username: each site reaches only its own tree;
// commands travel as MQTT 5 requests with a response topic and correlation data.
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { Uplink } from '../../gateway/uplink/index.js';
import { topics } from '../../policies/contract/index.js';
import { startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.js';
import { occupancyEvent } from '../unit/contract/fixtures.js';
import { FakeGateway, until } from '../unit/uplink/fakes.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { testSigningKey } from '../helpers/signing-keys.js';

let broker: RunningMosquitto;
let central: RunningCentral;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  broker = await startMosquitto({ users: { central: 'central-pw', town: 'town-pw', village: 'village-pw' }, centralUser: 'central' });
  central = await startCentral(
    parseCentralConfig({
      signing: { keyFile: testSigningKey().privateFile },
      broker: {
        url: broker.url,
        username: 'central',
        password: 'central-pw',
        tls: { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey },
        clientId: 'oag-central-acl-test',
      },
      http: { port: 0 },
      store: { path: ':memory:' },
      commandTimeoutMs: 3000,
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }) },
  );
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await central?.close();
  await broker?.stop();
});

function tlsOptions(user: string, password: string): IClientOptions {
  const { ca, clientCert, clientKey } = broker.certs;
  return { protocolVersion: 5, username: user, password, ca: readFileSync(ca), cert: readFileSync(clientCert), key: readFileSync(clientKey), reconnectPeriod: 0 };
}

function site(siteId: string, password: string) {
  const gw = new FakeGateway();
  gw.state = { ...gw.state, site: siteId };
  gw.now = new Date();
  const uplink = new Uplink(
    gw.deps(
      {
        url: broker.url,
        username: siteId,
        password,
        tls: { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey },
      },
      siteId,
    ),
  );
  uplink.start();
  cleanups.push(() => uplink.stop());
  return { gw, uplink };
}

interface ApiBody {
  ok?: boolean;
  events?: Array<{ event: { id: string } }>;
  [key: string]: unknown;
}

async function api(path: string, init?: RequestInit): Promise<{ status: number; body: ApiBody }> {
  const res = await fetch(`${central.httpUrl}${path}`, { ...init, headers: { ...(init?.headers as Record<string, string>), ...(await centralHeaders(central)) } });
  return { status: res.status, body: (await res.json()) as ApiBody };
}

describe('mosquitto with TLS, passwords and a per-site ACL', () => {
  it('carries a site’s state and events to central, and commands back as MQTT 5 request/response', async () => {
    const { gw, uplink } = site('town', 'town-pw');
    await until(() => uplink.connected, 'town connected over TLS', 10_000);
    for (let i = 1; i <= 3; i++) gw.outbox.append(occupancyEvent(i, new Date().toISOString()));
    uplink.kick();
    await until(() => gw.outbox.pending === 0, 'events acknowledged');
    for (let i = 0; i < 100 && (await api('/api/sites/town/events')).body.events?.length !== 3; i++) await new Promise((r) => setTimeout(r, 30));
    expect((await api('/api/sites/town/events')).body.events).toHaveLength(3);
    expect((await api('/api/sites/town')).body).toMatchObject({ online: true, state: { site: 'town' } });

    gw.now = new Date();
    const cmd = await api('/api/sites/town/commands', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'lights-on' }),
    });
    expect(cmd).toMatchObject({ status: 200, body: { ok: true } });
    expect(gw.executed.map((e) => e.cmd.command)).toEqual(['lights-on']);
  });

  it('refuses a site publishing under another site, and never delivers it to central', async () => {
    const intruder = connect(broker.url, { ...tlsOptions('village', 'village-pw'), clientId: 'village-intruder' });
    cleanups.push(() => {
      intruder.end(true);
    });
    await until(() => intruder.connected, 'village connected');
    const forged = occupancyEvent(99, new Date().toISOString(), 'town');
    const err = await intruder.publishAsync(topics('oa/v1', 'town').events, JSON.stringify(forged), { qos: 1 }).then(
      () => null,
      (e: Error & { code?: number }) => e,
    );
    // mosquitto answers an MQTT 5 publish outside the ACL with reason 0x87 "Not authorized".
    expect(err?.message).toMatch(/Not authorized/);
    await new Promise((r) => setTimeout(r, 300));
    const events = (await api('/api/sites/town/events')).body.events as Array<{ event: { id: string } }>;
    expect(events.map((e) => e.event.id)).not.toContain(forged.id);

    // Nor may it read another site's commands: mosquitto accepts the subscription but never delivers to it.
    const overheard: string[] = [];
    intruder.on('message', (topic) => overheard.push(topic));
    await intruder.subscribeAsync(topics('oa/v1', 'town').command, { qos: 1 });
    const probe = connect(broker.url, { ...tlsOptions('central', 'central-pw'), clientId: 'central-probe-2' });
    cleanups.push(() => {
      probe.end(true);
    });
    await until(() => probe.connected, 'probe connected');
    await probe.publishAsync(topics('oa/v1', 'town').command, 'probe', { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    expect(overheard).toEqual([]);
  });

  it('refuses a wrong password', async () => {
    const bad: MqttClient = connect(broker.url, { ...tlsOptions('town', 'nope'), clientId: 'town-bad' });
    const error = await new Promise<Error>((resolve) => bad.once('error', resolve));
    bad.end(true);
    expect(error.message).toMatch(/Bad User Name or Password|Not authorized/);
  });

  it('answers a malformed command on the site’s own topic with an error and changes nothing', async () => {
    const { gw, uplink } = site('village', 'village-pw');
    await until(() => uplink.connected, 'village connected');
    const c = connect(broker.url, { ...tlsOptions('central', 'central-pw'), clientId: 'central-probe' });
    cleanups.push(() => {
      c.end(true);
    });
    await until(() => c.connected, 'probe connected');
    const t = topics('oa/v1', 'village');
    await c.subscribeAsync(t.commandReply, { qos: 1 });
    const replies: Array<{ body: unknown; corr: string | undefined }> = [];
    c.on('message', (_topic, payload, packet) => replies.push({ body: JSON.parse(payload.toString()), corr: packet.properties?.correlationData?.toString() }));
    await c.publishAsync(t.command, '{"command":"unlock"', { qos: 1, properties: { responseTopic: t.commandReply, correlationData: Buffer.from('probe-1') } });
    await until(() => replies.length === 1, 'error reply');
    expect(replies[0]).toMatchObject({ corr: 'probe-1', body: { ok: false, error: expect.stringMatching(/not JSON/) } });
    expect(gw.executed).toHaveLength(0);
  });
});
