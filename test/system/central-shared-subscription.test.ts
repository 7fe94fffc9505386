// Several centrals on one broker (docs/central.md, "Several instances"): Debian's Mosquitto (MQTT 5, TLS, the ACL),
// two CentralLinks in one share group, each with its own client id and an ingest that records what it is handed.
// The branches' events are spread over the two, each event to one; retained state and command replies reach both,
// and a command is answered to the instance that sent it. An instance that goes away with messages it never
// acknowledged gets them again when it comes back on its session: Mosquitto 2.0 does not hand them to the other.
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CentralBus } from '../../central/bus.js';
import { parseCentralConfig } from '../../central/config.js';
import type { IncomingMessage } from '../../central/ingest.js';
import { CentralLink, type LinkIngest } from '../../central/link.js';
import { readSigningKey } from '../../central/signing-key.js';
import { CommandReplySchema, parseMessage, parseTopic, ReceivedCommandReplySchema, topics } from '../../policies/contract/index.js';
import { startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

const PREFIX = 'oa/v1';
const CENTRAL_PASSWORD = 'central-pw';
const SITES = Array.from({ length: 10 }, (_, i) => `branch-${i + 1}`);

/** One central instance: its link and what its ingest was handed. */
interface Instance {
  name: string;
  link: CentralLink;
  bus: CentralBus;
  ingest: RecordingIngest;
}

/** Records events by payload and retained states; replies go on the bus as ingest sends them. `hold` keeps a message unanswered. */
class RecordingIngest implements LinkIngest {
  readonly events: string[] = [];
  readonly states: Array<{ site: string; retain: boolean }> = [];
  readonly replies: string[] = [];
  hold = false;

  constructor(private readonly bus: CentralBus) {}

  handle(msg: IncomingMessage): Promise<void> {
    const where = parseTopic(PREFIX, msg.topic);
    if (where?.kind === 'events') {
      if (this.hold) return new Promise<void>(() => {}); // never stored, never acknowledged
      this.events.push(msg.payload.toString());
    } else if (where?.kind === 'state') {
      this.states.push({ site: where.site, retain: msg.retain });
    } else if (where?.kind === 'command/reply') {
      const m = parseMessage(ReceivedCommandReplySchema, msg.payload);
      if (m.ok) {
        this.replies.push(m.value.id ?? '');
        this.bus.emit('reply', { site: where.site, reply: m.value, correlation: msg.correlationData?.toString('utf8') ?? null });
      }
    }
    return Promise.resolve();
  }
}

let broker: RunningMosquitto;
const branches = new Map<string, MqttClient>();
const instances: Instance[] = [];

function tls(): { ca: string; cert: string; key: string } {
  return { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
}

async function startInstance(name: string): Promise<Instance> {
  const config = parseCentralConfig({
    broker: { url: broker.url, username: 'central', password: CENTRAL_PASSWORD, tls: tls(), clientId: `oag-central-${name}`, sessionExpirySeconds: 3600, shareGroup: 'central' },
    // A share group needs a shared history; these links feed a recording ingest, so the file is never read.
    store: { postgres: { urlFile: '/nonexistent/central-db.url' } },
  });
  const bus = new CentralBus();
  const ingest = new RecordingIngest(bus);
  const link = new CentralLink({
    url: broker.url,
    broker: config.broker!,
    prefix: PREFIX,
    commandTimeoutMs: 10_000,
    signingKey: readSigningKey(testSigningKey().privateFile, 'signing.keyFile'),
    ingest,
    bus,
    clock: { now: () => new Date() },
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  });
  await link.start(10_000);
  const instance = { name, link, bus, ingest };
  instances.push(instance);
  return instance;
}

/** A branch: publishes at QoS 1 and answers every command (MQTT 5 response topic and correlation data). */
async function startBranch(site: string): Promise<MqttClient> {
  const { ca, cert, key } = tls();
  const options: IClientOptions = {
    protocolVersion: 5,
    username: site,
    password: `${site}-pw`,
    clientId: site,
    ca: readFileSync(ca),
    cert: readFileSync(cert),
    key: readFileSync(key),
    reconnectPeriod: 0,
  };
  const client = connect(broker.url, options);
  await until(() => client.connected, `${site} connected`);
  await client.subscribeAsync(topics(PREFIX, site).command, { qos: 1 });
  client.on('message', (_topic, payload, packet) => {
    const { id } = JSON.parse(payload.toString()) as { id: string };
    const reply = Buffer.from(JSON.stringify(CommandReplySchema.parse({ ok: true, id })));
    const { responseTopic, correlationData } = packet.properties ?? {};
    void client.publishAsync(responseTopic ?? topics(PREFIX, site).commandReply, reply, { qos: 1, properties: correlationData ? { correlationData } : {} });
  });
  branches.set(site, client);
  return client;
}

/** Each branch publishes `perSite` events at QoS 1, named `<site>:<from + i>`, all at once. */
async function publishEvents(from: number, perSite: number): Promise<string[]> {
  const sent: string[] = [];
  await Promise.all(
    SITES.map(async (site) => {
      const client = branches.get(site)!;
      for (let i = 0; i < perSite; i++) {
        const name = `${site}:${from + i}`;
        await client.publishAsync(topics(PREFIX, site).events, name, { qos: 1 });
        sent.push(name);
      }
    }),
  );
  return sent;
}

function allEvents(): string[] {
  return instances.flatMap((i) => i.ingest.events);
}

let a: Instance;
let b: Instance;

beforeAll(async () => {
  broker = await startMosquitto({
    users: { central: CENTRAL_PASSWORD, ...Object.fromEntries(SITES.map((s) => [s, `${s}-pw`])) },
    centralUser: 'central',
  });
  for (const site of SITES) await startBranch(site);
  // Retained before any central is there: an instance gets it when it subscribes.
  await branches.get('branch-1')!.publishAsync(topics(PREFIX, 'branch-1').state, '{"retained":true}', { qos: 1, retain: true });
  a = await startInstance('a');
  b = await startInstance('b');
});

afterAll(async () => {
  for (const client of branches.values()) client.end(true);
  for (const instance of instances) await instance.link.close();
  await broker?.stop();
});

describe('two centrals in one share group on Mosquitto', () => {
  it('spreads 1,000 events from 10 branches over both instances, each event to exactly one', async () => {
    const sent = await publishEvents(0, 100);
    expect(sent).toHaveLength(1000);
    await until(() => allEvents().length >= 1000, () => `1000 events taken in; a has ${a.ingest.events.length}, b ${b.ingest.events.length}`);
    const taken = allEvents();
    expect(taken).toHaveLength(1000);
    expect(new Set(taken)).toEqual(new Set(sent));
    expect(a.ingest.events.length).toBeGreaterThan(0);
    expect(b.ingest.events.length).toBeGreaterThan(0);
  });

  it('gives both instances the retained state (a shared subscription would give it to none)', async () => {
    await until(() => a.ingest.states.length > 0 && b.ingest.states.length > 0, 'the retained state at both instances');
    expect(a.ingest.states[0]).toEqual({ site: 'branch-1', retain: true });
    expect(b.ingest.states[0]).toEqual({ site: 'branch-1', retain: true });
  });

  it("answers each instance's command to that instance: both see both replies, each resolves its own", async () => {
    const [fromA, fromB] = await Promise.all([
      a.link.sendCommand('branch-2', { command: 'unlock', actor: 'team-a' }),
      b.link.sendCommand('branch-2', { command: 'unlock', actor: 'team-b' }),
    ]);
    expect(fromA.status).toBe('answered');
    expect(fromB.status).toBe('answered');
    expect(fromA.id).not.toBe(fromB.id);
    expect(fromA.status === 'answered' && fromA.reply.id).toBe(fromA.id);
    expect(fromB.status === 'answered' && fromB.reply.id).toBe(fromB.id);
    // Each reply goes to both: the other instance has no waiter for it and leaves it.
    for (const instance of [a, b]) {
      await until(() => [fromA.id, fromB.id].every((id) => instance.ingest.replies.includes(id)), `both replies at ${instance.name}`);
    }
  });

  it("keeps what an instance never acknowledged for that instance's session: it gets them when it comes back, the other never", async () => {
    const before = new Set(allEvents());
    const fresh = (instance: Instance): string[] => instance.ingest.events.filter((e) => !before.has(e));
    // a stops storing: what it is sent stays unacknowledged; b takes its share meanwhile.
    a.ingest.hold = true;
    const held = await publishEvents(100, 20);
    await until(() => fresh(b).some((e) => held.includes(e)), 'b to take its share');
    // a goes away with them, its session kept by the broker.
    await a.link.close();
    instances.splice(instances.indexOf(a), 1);
    // While a is away, Mosquitto 2.0 goes on giving a's session its share: queued for it, not sent to b.
    const whileAway = await publishEvents(200, 20);
    const all = [...held, ...whileAway];

    // a's session back (same client id): whatever b did not take arrives, at a.
    const again = await startInstance('a');
    await until(() => new Set([...fresh(b), ...again.ingest.events]).size === all.length, () => `all ${all.length} taken in; b has ${fresh(b).length}, a ${again.ingest.events.length}`);
    const taken = [...fresh(b), ...again.ingest.events];
    expect(taken).toHaveLength(all.length); // none twice: b never had a's
    expect(new Set(taken)).toEqual(new Set(all));
    expect(again.ingest.events.filter((e) => held.includes(e)).length).toBeGreaterThan(0);
    expect(again.ingest.events.filter((e) => whileAway.includes(e)).length).toBeGreaterThan(0);
  });
});
