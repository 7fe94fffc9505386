// Faults of several central instances (issue #20; docs/central.md, "Several instances"): three `oag central`
// processes in one share group on Debian's Mosquitto (MQTT 5, TLS, the ACL) and one PostgreSQL history, as
// test/helpers/central-cluster.ts starts them. What a library's central team would notice is counted, never timed:
// events in the history, announcements on the broker, messages at the alarm centre's webhook.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulid } from '../../policies/contract/ulid.js';
import { CLUSTER_SITE_PASSWORD, clusterFolder, startCentralCluster, type CentralCluster, type ClusterInstance } from '../helpers/central-cluster.js';
import { TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import { HttpSink, verifyOagSignature, type ReceivedRequest } from '../helpers/http-sink.js';
import { until } from '../helpers/until.js';

const PREFIX = 'oa/v1';
const siteName = (i: number): string => `s${String(i).padStart(4, '0')}`;
const sitesOf = (n: number): string[] => Array.from({ length: n }, (_, i) => siteName(i));

/** Events in the history, and distinct event ids among them. */
async function stored(cluster: CentralCluster): Promise<{ rows: number; ids: number }> {
  const [r] = await cluster.query<{ rows: string; ids: string }>('SELECT COUNT(*) AS rows, COUNT(DISTINCT id) AS ids FROM events');
  return { rows: Number(r!.rows), ids: Number(r!.ids) };
}

/** A site's own MQTT 5 connection, with its login: what a branch's uplink is to the broker. */
async function siteClient(cluster: CentralCluster, site: string): Promise<MqttClient> {
  const client = connect(cluster.broker.url, {
    protocolVersion: 5,
    clientId: `test-${site}`,
    username: site,
    password: CLUSTER_SITE_PASSWORD,
    ca: readFileSync(cluster.tls.ca),
    cert: readFileSync(cluster.tls.cert),
    key: readFileSync(cluster.tls.key),
    reconnectPeriod: 0,
  });
  await until(() => client.connected, `${site} connected to the broker`);
  return client;
}

describe('an instance killed -9 in the middle of an ingest', () => {
  // The figure: 100,000 events from 200 sites (under a minute since central commits events in groups;
  // OAG_FAULT_EVENTS sets another).
  const EVENTS = Number(process.env.OAG_FAULT_EVENTS ?? 100_000);
  let cluster: CentralCluster;

  beforeAll(async () => {
    cluster = await startCentralCluster({ instances: 3, sites: sitesOf(200) });
  }, 180_000);
  afterAll(() => cluster?.stop(), 60_000);

  it('stores every event exactly once, the killed instance’s share once it is back on its client id', async () => {
    const publisher = await cluster.publisher(EVENTS);
    const published = publisher.go();
    await until(async () => (await stored(cluster)).rows >= EVENTS / 10, 'a tenth of the events stored', 300_000, 250);
    await cluster.kill9(2);
    const sent = await published;
    expect(sent).toEqual({ acked: EVENTS, failed: 0 });
    // Mosquitto 2.0 keeps the killed instance's session, with the messages it had not acknowledged and its share of
    // every message published while it was away (it gives them to no other member of the group): they are stored
    // when it comes back on its client id, as systemd would restart it. Those it stored but died before
    // acknowledging come again, and are stored once.
    await cluster.start(2);
    await until(async () => (await stored(cluster)).rows >= EVENTS, () => `all ${EVENTS} events stored`, 900_000, 500);
    expect(await stored(cluster)).toEqual({ rows: EVENTS, ids: EVENTS });
    const stats = await cluster.instances[0]!.api<{ events: number }>('/api/stats');
    expect(stats.body.events).toBe(EVENTS);
  }, 1_200_000);
});

describe('PostgreSQL restarted under load', () => {
  const EVENTS = Number(process.env.OAG_FAULT_PG_EVENTS ?? 20_000);
  let cluster: CentralCluster;

  beforeAll(async () => {
    cluster = await startCentralCluster({ instances: 3, sites: sitesOf(50) });
  }, 180_000);
  afterAll(() => cluster?.stop(), 60_000);

  it('loses no event: what could not be stored is not acknowledged, and the broker sends it again', async () => {
    const publisher = await cluster.publisher(EVENTS);
    const published = publisher.go();
    await until(async () => (await stored(cluster)).rows >= EVENTS / 5, 'a fifth of the events stored', 300_000, 250);
    await cluster.postgres.restart();
    expect(await published).toEqual({ acked: EVENTS, failed: 0 });
    await until(async () => (await stored(cluster).catch(() => ({ rows: 0 }))).rows >= EVENTS, () => `all ${EVENTS} events stored`, 600_000, 500);
    expect(await stored(cluster)).toEqual({ rows: EVENTS, ids: EVENTS });
    // Nobody had to restart central: every instance rode it out, and they lead again, one of them.
    expect(cluster.instances.map((i) => i.running())).toEqual([true, true, true]);
    expect(cluster.instances.some((i) => /message not stored: not acknowledged/.test(i.log()))).toBe(true);
    await until(() => cluster.leaders().length === 1, 'one instance leading again', 60_000, 100);
  }, 900_000);

  it('loses no event when PostgreSQL is killed -9 and started again (crash recovery)', async () => {
    const publisher = await cluster.publisher(EVENTS);
    const published = publisher.go();
    await until(async () => (await stored(cluster)).rows >= EVENTS + EVENTS / 5, 'a fifth of the second load stored', 300_000, 250);
    await cluster.postgres.kill9();
    await cluster.postgres.restart();
    expect(await published).toEqual({ acked: EVENTS, failed: 0 });
    await until(async () => (await stored(cluster).catch(() => ({ rows: 0 }))).rows >= 2 * EVENTS, () => `all ${2 * EVENTS} events stored`, 600_000, 500);
    expect(await stored(cluster)).toEqual({ rows: 2 * EVENTS, ids: 2 * EVENTS });
    expect(cluster.instances.map((i) => i.running())).toEqual([true, true, true]);
    await until(() => cluster.leaders().length === 1, 'one instance leading again', 60_000, 100);
  }, 900_000);
});

describe('the leader killed -9', () => {
  const SITES = sitesOf(3);
  const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
  const MEMBERS = 25;
  const SECRET = 'a webhook secret of the alarm centre';
  let cluster: CentralCluster;
  let sink: HttpSink;
  const announcements: Array<{ version: number; count: number; at: string }> = [];
  let watcher: MqttClient;
  const dropped = new Set<number>();

  beforeAll(async () => {
    sink = await HttpSink.start();
    cluster = await startCentralCluster({
      instances: 3,
      sites: SITES,
      tokenRole: 'administrator',
      config: (k, dir) => {
        const keyFile = join(dir, 'deployment-key');
        writeFileSync(keyFile, TEST_KEY_HEX, { mode: 0o600 });
        const secretFile = join(dir, 'webhook-secret');
        writeFileSync(secretFile, SECRET, { mode: 0o600 });
        // The member list is shared in PostgreSQL: the LMS export goes to instance 1's folder only, and whichever
        // instance leads announces it.
        const drop = clusterFolder(dir, `drop-${k}`);
        const csv = join(drop, 'nightly.csv');
        // At its first start only: the file goes once imported.
        if (k === 1 && !dropped.has(k)) {
          dropped.add(k);
          writeFileSync(csv, [HEADER, ...Array.from({ length: MEMBERS }, (_, i) => `21${String(i).padStart(12, '0')},1980-05-01,2030-01-31,N,,Y,N,`), ''].join('\n'));
        }
        return {
          deploymentKeyFile: keyFile,
          members: { pollSeconds: 1, watch: { folder: drop, intervalSeconds: 1, settleSeconds: 0 } },
          alerts: { tickSeconds: 1, channels: { webhook: { type: 'webhook', secretFile, url: sink.url('/oag') } }, outbox: { baseDelayMs: 200, maxDelayMs: 1000 } },
        };
      },
    });
    // The alert rules are each instance's own (its SQLite file): saved on every one, as on each dashboard.
    for (const instance of cluster.instances) await saveRules(instance);
    watcher = await siteClient(cluster, SITES[0]!);
    watcher.on('message', (topic, payload) => {
      if (topic === `${PREFIX}/members/current`) announcements.push(JSON.parse(payload.toString()) as (typeof announcements)[number]);
    });
    await watcher.subscribeAsync(`${PREFIX}/members/current`, { qos: 1 });
  }, 240_000);

  afterAll(async () => {
    await watcher?.endAsync();
    await cluster?.stop();
    await sink?.close();
  }, 60_000);

  /** An instance's outbox (its own file): messages by state. */
  const outbox = async (i: ClusterInstance): Promise<Record<string, number>> => (await i.api<{ outbox: Record<string, number> }>('/api/alerts/status')).body.outbox;

  /** A branch's alarm event, published at QoS 1 on its own login. */
  async function raiseAlarm(site: string, name: string): Promise<{ id: string; alarm: string }> {
    const branch = await siteClient(cluster, site);
    const alarm = { id: ulid(Date.now()), at: new Date().toISOString(), site, type: 'alarm', alarm: name, state: 'raised', severity: 'major' };
    await branch.publishAsync(`${PREFIX}/sites/${site}/events`, JSON.stringify(alarm), { qos: 1 });
    await branch.endAsync();
    return alarm;
  }

  /** The webhook calls about one branch's alarm. */
  const toldOf = (site: string, name: string): ReceivedRequest[] => sink.requests.filter((r) => r.body.includes(site) && r.body.includes(name));

  async function saveRules(instance: ClusterInstance): Promise<void> {
    const doc = {
      contacts: [{ name: 'Alarm centre', webhook: sink.url('/oag') }],
      rules: [{ id: 'everything', alarms: ['*'], steps: [{ afterMinutes: 0, contacts: ['Alarm centre'] }] }],
    };
    const saved = await instance.api('/api/alerts/rules', { method: 'PUT', body: { doc } });
    if (saved.status !== 200) throw new Error(`central ${instance.k} refused the rules: ${JSON.stringify(saved.body)}`);
  }

  it('another instance leads, announces the member list and tells the alarm centre of an alarm, once', async () => {
    await until(() => cluster.leaders().length === 1, 'one instance leading', 60_000, 100);
    const old = cluster.leaders()[0]!;
    await until(() => announcements.some((a) => a.count === MEMBERS), 'the member list announced by the first leader', 60_000, 100);

    // An alarm the first leader tells before it dies.
    await raiseAlarm(SITES[2]!, 'held-open');
    await until(() => toldOf(SITES[2]!, 'held-open').length === 1, 'the first alarm at the webhook', 60_000, 100);
    // Killed once it has recorded the delivery: one killed in the middle of a delivery would tell it again (at least
    // once), which is not what this test is about.
    await until(async () => (await outbox(old)).delivered === 1, 'the first delivery recorded', 30_000, 100);

    // One list for all: the instances that imported nothing hold it too.
    for (const instance of cluster.instances) {
      const { body } = await instance.api<{ current: { count: number } | null }>('/api/members');
      expect(body.current?.count, `central ${instance.k}'s member list`).toBe(MEMBERS);
    }

    const before = announcements.length;
    await cluster.kill9(old.k);
    await until(() => cluster.leaders().length === 1, 'another instance leading', 60_000, 100);
    const leader = cluster.leaders()[0]!;
    expect(leader.k).not.toBe(old.k);
    // Its own announcement of its list, now that the one that announced before is gone.
    await until(() => announcements.length > before, 'an announcement after the kill', 60_000, 100);
    expect(announcements.at(-1)).toMatchObject({ count: MEMBERS });

    // A branch raises an alarm with the old leader still down.
    const site = SITES[1]!;
    await raiseAlarm(site, 'forced-open');
    // The broker may have given the event to the dead instance's session (its share): it is told once that instance
    // is back, which systemd does; it comes back a follower.
    await cluster.start(old.k);
    await saveRules(old);
    await until(() => toldOf(site, 'forced-open').length > 0, 'the alarm at the webhook', 120_000, 100);
    expect(cluster.leaders().map((i) => i.k)).toEqual([leader.k]);

    // Told once: the new leader delivered it, and no instance has anything left to tell. The old leader's outbox
    // (its own file) still holds what it delivered before it died.
    let seen: Record<string, number> = {};
    await until(async () => ((seen = await outbox(leader)).pending ?? 0) + (seen.sending ?? 0) === 0 && (seen.delivered ?? 0) >= 1, () => `the delivery recorded (outbox ${JSON.stringify(seen)})`, 30_000, 100);
    for (const instance of cluster.instances) {
      const { pending, sending, failed } = await outbox(instance);
      expect({ pending, sending, failed }, `central ${instance.k}'s outbox`).toEqual({ pending: 0, sending: 0, failed: 0 });
    }
    const told = toldOf(site, 'forced-open');
    expect(told).toHaveLength(1);
    expect(verifyOagSignature(SECRET, told[0]!, Math.floor(Date.now() / 1000))).toBeNull();
  }, 600_000);

  // Which incident steps were told is in PostgreSQL with the incidents (central/alerts/pg-alerts-store.ts), so the
  // new leader, starting to tell, finds them told.
  it('does not tell again an alarm the dead leader had told', () => {
    expect(toldOf(SITES[2]!, 'held-open'), 'the alarm told before the kill, at the webhook').toHaveLength(1);
  });
});
