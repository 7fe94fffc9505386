// The attacks of issue #13 on the broker, written once and run against both brokers: Mosquitto with the rendered
// ACL (test/system/broker-acl-both.test.ts) and the embedded aedes broker. Each case says what the attacker does and
// what must be seen; `runAttack` does it with real MQTT clients and reports what actually happened, so a test is
// `expect(await runAttack(target, c)).toMatchObject(c.mustSee)`.
//
// "Not delivered" is watched by clients that may read the topic (central on `{prefix}/#`, and the site the topic
// belongs to), and by one that subscribes after the attack (a retained forgery would reach it at once). A marker
// that central publishes after the attack, on the same topic, tells when to stop watching: once every watcher has it,
// a forgery the broker had taken would have arrived before it.
import { randomUUID } from 'node:crypto';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { aclAllows, CENTRAL_USERNAME, MAX_BROKER_PACKET_BYTES, topics } from '../../policies/contract/index.js';
import { until } from './until.js';

export interface AttackTarget {
  url: string;
  prefix: string;
  /** The right password of `central`, `town` and `village`. */
  passwords: Record<typeof CENTRAL_USERNAME | 'town' | 'village', string>;
  /** What every client of this broker needs besides its login: TLS files, protocolVersion. */
  clientOptions: IClientOptions;
}

type Login = { username?: string; password?: string | 'wrong' };

export interface AttackCase {
  name: string;
  /** Who the attacker is: a site's username with its right password unless `password: 'wrong'`; none is anonymous. */
  as: Login;
  /** A publish (`payload` of `bytes` length when given) or a subscription. */
  does: { publish: string; retain?: boolean; bytes?: number } | { subscribe: string };
  mustSee: Partial<AttackOutcome>;
}

export interface AttackOutcome {
  /** The broker took the attacker's connection. */
  connected: boolean;
  /** Watchers that received the forged payload (`central`, a site, `late` for a subscriber after the attack). */
  deliveredTo: string[];
  /** Topics delivered to the attacker's subscription that its ACL does not let it read. */
  overheard: string[];
}

/** The list both brokers are tested with (issue #13 "Bad input", the broker's half). */
export function brokerAttacks(prefix: string): AttackCase[] {
  const town = topics(prefix, 'town');
  const village = topics(prefix, 'village');
  const refusedAtTheDoor = { connected: false, deliveredTo: [] };
  const notDelivered = { connected: true, deliveredTo: [] };
  return [
    { name: 'an anonymous client publishes an unlock', as: {}, does: { publish: town.command }, mustSee: refusedAtTheDoor },
    { name: 'a site with a wrong password publishes an unlock', as: { username: 'town', password: 'wrong' }, does: { publish: town.command }, mustSee: refusedAtTheDoor },
    { name: 'a site publishes an unlock on its own command topic', as: { username: 'town' }, does: { publish: town.command }, mustSee: notDelivered },
    { name: "a site publishes an unlock on another site's command topic", as: { username: 'town' }, does: { publish: village.command }, mustSee: notDelivered },
    { name: 'a site publishes a retained policy for itself', as: { username: 'town' }, does: { publish: town.policy, retain: true }, mustSee: notDelivered },
    { name: 'a site publishes a forged retained members/current announcement', as: { username: 'town' }, does: { publish: `${prefix}/members/current`, retain: true }, mustSee: notDelivered },
    { name: "a site answers another site's member-list request with chunks", as: { username: 'town' }, does: { publish: village.membersChunk }, mustSee: notDelivered },
    { name: 'a site publishes events for another site', as: { username: 'town' }, does: { publish: village.events }, mustSee: notDelivered },
    { name: "a site forges another site's command reply", as: { username: 'town' }, does: { publish: village.commandReply }, mustSee: notDelivered },
    { name: `a site subscribes to ${prefix}/#`, as: { username: 'town' }, does: { subscribe: `${prefix}/#` }, mustSee: { overheard: [] } },
    { name: `a site subscribes to ${prefix}/sites/+/command`, as: { username: 'town' }, does: { subscribe: `${prefix}/sites/+/command` }, mustSee: { overheard: [] } },
    // the 128 MB publish of the issue, cut to just over the limit so the test stays light
    { name: 'a site publishes a packet over the broker-wide limit', as: { username: 'town' }, does: { publish: town.events, bytes: MAX_BROKER_PACKET_BYTES + 1 }, mustSee: { deliveredTo: [] } },
  ];
}

interface Connected {
  client: MqttClient;
  connected: boolean;
}

async function open(target: AttackTarget, login: Login, clientId: string): Promise<Connected> {
  const password = login.username === undefined ? undefined : login.password === 'wrong' ? 'not-the-password' : target.passwords[login.username as keyof AttackTarget['passwords']];
  const client = connect(target.url, { ...target.clientOptions, username: login.username, password, clientId, reconnectPeriod: 0, connectTimeout: 10_000 });
  // An error after a refused CONNACK is what is being tested, not a failure of the test.
  client.on('error', () => {});
  const connected = await new Promise<boolean>((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('close', () => resolve(false));
  });
  return { client, connected };
}


/** Settles when the broker answered, refused or dropped the attacker, whichever comes first. */
async function answered(client: MqttClient, action: Promise<unknown>): Promise<void> {
  await Promise.race([action.catch(() => undefined), new Promise<void>((r) => client.once('close', () => r()))]);
}

/** Does the attack against a running broker and reports what was seen. */
export async function runAttack(target: AttackTarget, attack: AttackCase): Promise<AttackOutcome> {
  const tag = randomUUID();
  const forged = 'bytes' in attack.does && attack.does.bytes !== undefined ? Buffer.alloc(attack.does.bytes, 'x') : Buffer.from(JSON.stringify({ command: 'unlock', forged: tag }));
  const isForged = (payload: Buffer): boolean => payload.length === forged.length && payload.equals(forged);
  const marker = `marker-${tag}`;
  const clients: MqttClient[] = [];
  try {
    const topic = 'publish' in attack.does ? attack.does.publish : `${target.prefix}/sites/village/command`;
    const watchers: Array<{ name: string; client: MqttClient; filter: string; forged: boolean; marked: boolean }> = [];
    const watch = async (name: string, username: string, filter: string): Promise<void> => {
      const { client, connected } = await open(target, { username }, `watch-${name}-${tag}`);
      clients.push(client);
      if (!connected) throw new Error(`watcher ${username} could not connect: the broker under test is misconfigured`);
      const w = { name, client, filter, forged: false, marked: false };
      client.on('message', (_t, payload) => {
        if (isForged(payload)) w.forged = true;
        if (payload.toString() === marker) w.marked = true;
      });
      await client.subscribeAsync(filter, { qos: 1 });
      watchers.push(w);
    };
    await watch('central', CENTRAL_USERNAME, `${target.prefix}/#`);
    const owner = ['town', 'village'].find((site) => aclAllows(target.prefix, site, 'subscribe', topic).ok);
    if (owner !== undefined) await watch(owner, owner, topic);

    const attacker = await open(target, attack.as, `attacker-${tag}`);
    clients.push(attacker.client);
    const overheard: string[] = [];
    if (attacker.connected) {
      attacker.client.on('message', (t) => {
        if (!aclAllows(target.prefix, attack.as.username, 'subscribe', t).ok) overheard.push(t);
      });
      if ('subscribe' in attack.does) await answered(attacker.client, attacker.client.subscribeAsync(attack.does.subscribe, { qos: 1 }));
      else await answered(attacker.client, attacker.client.publishAsync(topic, forged, { qos: 1, retain: attack.does.retain ?? false }));
    }
    await watch('late', CENTRAL_USERNAME, topic);

    // Central then publishes on the attacked topic (a subscription attack: on another site's command): once every
    // watcher and a still-connected attacker have it, anything the broker took earlier has arrived too.
    const central = watchers[0]!.client;
    await central.publishAsync(topic, marker, { qos: 1 });
    if ('subscribe' in attack.does) await central.publishAsync(`${target.prefix}/members/current`, marker, { qos: 1 });
    await until(() => watchers.every((w) => w.marked), `the marker on ${topic}`);
    if ('publish' in attack.does && attack.does.retain) await central.publishAsync(topic, '', { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 200));
    return { connected: attacker.connected, deliveredTo: watchers.filter((w) => w.forged).map((w) => w.name), overheard };
  } finally {
    for (const c of clients) c.end(true);
  }
}
