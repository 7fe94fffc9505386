// The gateway uplink against a real broker in process (aedes, MQTT 3.1.1): what central would see.
import { connect, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedBroker, EmbeddedBrokerOptions } from '../../central/broker.js';
import { mqttCredentials, startTestBroker, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { Uplink } from '../../gateway/uplink/index.js';
import { CONTRACT_MINOR, topics } from '../../policies/contract/index.js';
import { accessEvent, commandFixture, occupancyEvent } from '../unit/contract/fixtures.js';
import { FakeGateway, until } from '../unit/uplink/fakes.js';
import { signedJson, testSigningKey } from '../helpers/signing-keys.js';

const T = topics('oa/v1', 'town');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let mqtt: MqttCredentials;
beforeAll(async () => {
  mqtt = await mqttCredentials(['town']);
});
afterAll(() => mqtt.remove());

async function broker(port = 0, aedes?: EmbeddedBrokerOptions['aedes']): Promise<EmbeddedBroker> {
  const b = await startTestBroker(['town'], { port, mqtt, ...(aedes ? { aedes } : {}) });
  cleanups.push(() => b.close());
  return b.broker;
}

interface Seen {
  topic: string;
  json: Record<string, unknown>;
  retain: boolean;
}

/** A watcher like central: every site's topics, remembering what arrived. */
async function watcher(b: EmbeddedBroker): Promise<{ client: MqttClient; seen: Seen[]; events: () => Seen[] }> {
  const client = connect(b.url, { protocolVersion: 4, reconnectPeriod: 20, clientId: `watch-${Math.random()}`, ...b.central });
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => {
    if (payload.length === 0) return;
    try {
      seen.push({ topic, json: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain });
    } catch {
      seen.push({ topic, json: { raw: payload.toString() }, retain: packet.retain });
    }
  });
  client.on('connect', () => client.subscribe('oa/v1/sites/+/#', { qos: 1 }));
  await until(() => client.connected, 'watcher connected');
  await new Promise((r) => setTimeout(r, 50));
  cleanups.push(() => {
    client.end(true);
  });
  return { client, seen, events: () => seen.filter((s) => s.topic === T.events) };
}

function uplink(gw: FakeGateway, url: string): Uplink {
  const u = new Uplink(gw.deps({ url, protocolVersion: 4, ...mqtt.login('town') }));
  u.start();
  cleanups.push(() => u.stop());
  return u;
}

describe('uplink → broker', () => {
  it('publishes availability and state retained, then every outbox event in order, once', async () => {
    const b = await broker();
    const w = await watcher(b);
    const gw = new FakeGateway();
    for (let i = 1; i <= 120; i++) gw.outbox.append(occupancyEvent(i));
    const u = uplink(gw, b.url);
    await until(() => gw.outbox.pending === 0, 'outbox drained');
    await until(() => w.events().length === 120, 'all events at the watcher');
    expect(u.connected).toBe(true);
    expect(w.events().map((e) => e.json.inside)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(w.seen.find((s) => s.topic === T.availability)?.json.state).toBe('online');
    const state = w.seen.find((s) => s.topic === T.state)?.json;
    expect(state).toMatchObject({ site: 'town', occupancy: { inside: 3, capacity: 40 }, uplink: { reconnects: 0 } });

    // A later append goes out after kick(), without waiting on anything.
    gw.outbox.append(accessEvent());
    u.kick();
    await until(() => w.events().length === 121, 'kicked event');
    expect(w.events()[120]?.json.type).toBe('access');

    // The retained state is what a dashboard that connects later gets.
    const late = await watcher(b);
    await until(() => late.seen.some((s) => s.topic === T.state && s.retain), 'retained state');
  });

  it('marks an event published only once the broker acknowledged it', async () => {
    const held: Array<() => void> = [];
    const b = await broker(0, {
      authorizePublish: (_client, packet, cb) => {
        if (packet.topic === T.events) held.push(() => cb(null));
        else cb(null);
      },
    });
    const gw = new FakeGateway();
    gw.outbox.append(occupancyEvent(1));
    gw.outbox.append(occupancyEvent(2));
    uplink(gw, b.url);
    await until(() => held.length === 2, 'events reached the broker');
    await new Promise((r) => setTimeout(r, 100));
    expect(gw.outbox.pending).toBe(2);
    held.shift()?.();
    await until(() => gw.outbox.pending === 1, 'first acknowledged');
    expect(gw.outbox.rows[0]?.published).toBe(true);
    expect(gw.outbox.rows[1]?.published).toBe(false);
    held.shift()?.();
    await until(() => gw.outbox.pending === 0, 'second acknowledged');
  });

  it('keeps events through a broker outage and sends the backlog once, in order, after it returns', async () => {
    const first = await broker();
    const port = first.port;
    const w = await watcher(first);
    const gw = new FakeGateway();
    const u = uplink(gw, first.url);
    for (let i = 1; i <= 10; i++) gw.outbox.append(occupancyEvent(i));
    u.kick();
    await until(() => w.events().length === 10, 'first events');

    await first.close();
    await until(() => !u.connected, 'uplink sees the outage');
    // Taps go on while the broker is away.
    for (let i = 11; i <= 40; i++) {
      gw.outbox.append(occupancyEvent(i));
      u.kick();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.outbox.pending).toBe(30);

    const second = await broker(port);
    // Central's login is new at each start: the watcher standing in for central reconnects with the new one.
    w.client.options.password = second.central.password;
    await until(() => gw.outbox.pending === 0, 'backlog drained', 15_000);
    await until(() => w.events().length >= 40, 'backlog at the watcher', 15_000);
    const insides = w.events().map((e) => e.json.inside);
    expect(insides).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(u.connected).toBe(true);
  });

  it('sends each event once while the store cannot mark them published, and marks them when it can again', async () => {
    const b = await broker();
    const w = await watcher(b);
    const gw = new FakeGateway();
    const realMark = gw.outbox.markPublished.bind(gw.outbox);
    let diskFull = true;
    let refusedMarks = 0;
    gw.outbox.markPublished = (ids) => {
      if (diskFull) {
        refusedMarks++;
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      }
      realMark(ids);
    };
    for (let i = 1; i <= 30; i++) gw.outbox.append(occupancyEvent(i));
    const u = uplink(gw, b.url);
    await until(() => w.events().length >= 30 && refusedMarks > 0, 'events at the watcher');
    // New events keep going out meanwhile; the ones already acknowledged are not sent again.
    gw.outbox.append(occupancyEvent(31));
    u.kick();
    await until(() => w.events().length >= 31, 'the later event');
    await new Promise((r) => setTimeout(r, 1200));
    expect(w.events().map((e) => e.json.inside)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(gw.outbox.pending).toBe(31);
    // Retried with backoff, not on every turn of the loop.
    expect(refusedMarks).toBeLessThan(10);

    diskFull = false;
    await until(() => gw.outbox.pending === 0, 'events marked once the store takes writes');
    expect(w.events()).toHaveLength(31);
  });

  it('answers commands with their id, refuses retained, stale and malformed ones, and changes nothing then', async () => {
    const b = await broker();
    const w = await watcher(b);
    const gw = new FakeGateway();
    const u = uplink(gw, b.url);
    await until(() => u.connected, 'connected');
    await new Promise((r) => setTimeout(r, 100));
    const replies = (): Array<Record<string, unknown>> => w.seen.filter((s) => s.topic === T.commandReply).map((s) => s.json);

    const ok = commandFixture({ id: 'a3bb189e-8bf9-4888-9912-ace4e6543002' }, gw.now.toISOString());
    w.client.publish(T.command, signedJson(T.command, ok), { qos: 1 });
    await until(() => replies().length === 1, 'reply to unlock');
    expect(replies()[0]).toEqual({ v: CONTRACT_MINOR, ok: true, id: ok.id });
    expect(gw.executed).toEqual([{ cmd: ok, actor: 'central:alice' }]);

    // The same command delivered again (QoS 1 redelivery) unlocks once.
    w.client.publish(T.command, signedJson(T.command, ok), { qos: 1 });
    await until(() => replies().length === 2, 'reply to the repeat');
    expect(replies()[1]).toEqual({ v: CONTRACT_MINOR, ok: true, id: ok.id });
    expect(gw.executed).toHaveLength(1);

    const stale = commandFixture({ id: 'b3bb189e-8bf9-4888-9912-ace4e6543002' }, new Date(gw.now.getTime() - 11_000).toISOString());
    w.client.publish(T.command, signedJson(T.command, stale), { qos: 1 });
    await until(() => replies().length === 3, 'reply to stale');
    expect(replies()[2]).toMatchObject({ ok: false, id: stale.id, error: expect.stringMatching(/stale/) });

    w.client.publish(T.command, signedJson(T.command, { ...ok, id: 'c3bb189e-8bf9-4888-9912-ace4e6543002', command: 'open-sesame' }), { qos: 1 });
    await until(() => replies().length === 4, 'reply to unknown command');
    expect(replies()[3]).toMatchObject({ ok: false, error: expect.stringMatching(/^unknown command "open-sesame": this gateway \(contract /) });

    w.client.publish(T.command, 'not json', { qos: 1 });
    await until(() => replies().length === 5, 'reply to garbage');
    expect(replies()[4]).toMatchObject({ ok: false, error: expect.stringMatching(/not JSON/) });

    // A retained command: arrives with the retain flag when the gateway (re)subscribes; refused.
    const retained = commandFixture({ id: 'd3bb189e-8bf9-4888-9912-ace4e6543002' }, gw.now.toISOString());
    w.client.publish(T.command, signedJson(T.command, retained), { qos: 1, retain: true });
    await until(() => replies().length === 6, 'live delivery of the retained publish');
    const gw2 = new FakeGateway();
    const u2 = new Uplink(gw2.deps({ url: b.url, protocolVersion: 4, clientId: 'oag-town-2', ...mqtt.login('town') }));
    u2.start();
    cleanups.push(() => u2.stop());
    await until(() => replies().length === 7, 'reply to the retained copy');
    expect(replies()[6]).toMatchObject({ ok: false, id: retained.id, error: expect.stringMatching(/retained/) });
    expect(gw2.executed).toHaveLength(0);
    w.client.publish(T.command, '', { qos: 1, retain: true });

    expect(gw.executed.map((e) => e.cmd.id)).toEqual([ok.id, retained.id]);
  });

  it('offers a retained policy once, and reports what the gateway said', async () => {
    const b = await broker();
    const w = await watcher(b);
    w.client.publish(T.policy, signedJson(T.policy, { version: 4, site: 'town' }), { qos: 1, retain: true });
    const gw = new FakeGateway();
    const u = uplink(gw, b.url);
    await until(() => gw.offers.length === 1, 'policy offered');
    expect(gw.policyVersion).toBe(4);
    // Signed by central but not a policy: offered, and the gateway says why not.
    w.client.publish(T.policy, signedJson(T.policy, { not: 'a policy' }), { qos: 1, retain: true });
    await until(() => gw.offers.length === 2, 'bad policy offered');
    expect(gw.offers[1]).toEqual({ not: 'a policy' });
    expect(gw.policyVersion).toBe(4);
    // Not JSON, unsigned, forged, or signed for another branch: never offered.
    w.client.publish(T.policy, '{"not":"a policy"', { qos: 1, retain: true });
    w.client.publish(T.policy, JSON.stringify({ version: 99, site: 'town' }), { qos: 1, retain: true });
    w.client.publish(T.policy, signedJson(T.policy, { version: 98, site: 'town' }, testSigningKey('attacker')), { qos: 1, retain: true });
    w.client.publish(T.policy, signedJson('oa/v1/sites/village/policy', { version: 97, site: 'town' }), { qos: 1, retain: true });
    // Over the policy limit, or not UTF-8: refused unread, never offered; the next good one still is.
    w.client.publish(T.policy, signedJson(T.policy, { version: 5, site: 'town', padding: 'x'.repeat(300 * 1024) }), { qos: 1, retain: true });
    w.client.publish(T.policy, Buffer.from([0x7b, 0xff, 0x7d]), { qos: 1, retain: true });
    w.client.publish(T.policy, signedJson(T.policy, { version: 6, site: 'town' }), { qos: 1, retain: true });
    await until(() => gw.offers.length === 3, 'the next good policy offered');
    expect(gw.policyVersion).toBe(6);
    expect(gw.offers.some((offer) => typeof offer === 'string' && offer.includes('padding'))).toBe(false);
    expect(u.connected).toBe(true);
  });

  it('republishes state on change, debounced, and says offline when stopped', async () => {
    const b = await broker();
    const w = await watcher(b);
    const gw = new FakeGateway();
    const u = uplink(gw, b.url);
    await until(() => w.seen.some((s) => s.topic === T.state), 'first state');
    const states = (): Seen[] => w.seen.filter((s) => s.topic === T.state);
    for (let i = 4; i < 14; i++) gw.setState({ occupancy: { inside: i, capacity: 40 } });
    await until(() => states().at(-1)?.json.occupancy !== undefined && (states().at(-1)?.json.occupancy as { inside: number }).inside === 13, 'last state');
    expect(states().length).toBeLessThanOrEqual(3);
    await u.stop();
    await until(() => w.seen.filter((s) => s.topic === T.availability).at(-1)?.json.state === 'offline', 'offline');
  });
});

describe('a backlog against a broker that limits its rate', () => {
  it('gets every event through: a connection the broker cuts at once is retried later each time, until the tokens cover a window', async () => {
    // 100 a second and 60 at once; the uplink sends 50 at a time and retries every 100 ms. Each cut loses the PUBACKs
    // of what did get through, so at a steady 100 ms (10 tokens) the same 50 would go out, and be cut, for ever.
    const b = await startTestBroker(['town'], { mqtt, rate: { perSecond: 100, burst: 60 } });
    cleanups.push(() => b.close());
    const gw = new FakeGateway();
    const start = Date.parse('2025-06-02T09:00:00.000Z');
    for (let i = 0; i < 150; i++) gw.outbox.append(occupancyEvent(1, new Date(start + i * 1000).toISOString()));
    const u = new Uplink(gw.deps({ url: b.broker.url, protocolVersion: 4, ...mqtt.login('town'), reconnectPeriodMs: 100, reconnectMaxMs: 3200, eventBatch: 50 }));
    u.start();
    cleanups.push(() => u.stop());
    await until(() => gw.outbox.pending === 0, 'every event of the backlog published', 60_000);
  }, 90_000);
});
