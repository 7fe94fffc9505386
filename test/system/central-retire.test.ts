// Retiring one instance of a share group for good (`oag central retire`, central/retire.ts). Mosquitto hands a stopped
// instance's persistent session its share of the branches' events; taken away with nothing more, those events would
// never be stored. Two `oag central` processes on Debian's Mosquitto and one PostgreSQL (test/helpers/central-cluster.ts).
import { readFileSync } from 'node:fs';
import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCentralRetire } from '../../scripts/commands/central-retire.js';
import { ulid } from '../../policies/contract/ulid.js';
import { CLUSTER_CENTRAL_PASSWORD, CLUSTER_SITE_PASSWORD, startCentralCluster, type CentralCluster } from '../helpers/central-cluster.js';
import { until } from '../helpers/until.js';

const sites = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(4, '0')}`);

async function stored(cluster: CentralCluster): Promise<{ rows: number; ids: number }> {
  const [r] = await cluster.query<{ rows: string; ids: string }>('SELECT COUNT(*) AS rows, COUNT(DISTINCT id) AS ids FROM events');
  return { rows: Number(r!.rows), ids: Number(r!.ids) };
}

/** One alarm raised at each site, published at QoS 1 on the site's own login; how many. */
async function raiseAlarms(cluster: CentralCluster, at: readonly string[]): Promise<number> {
  for (const site of at) {
    const branch = connect(cluster.broker.url, { protocolVersion: 5, clientId: `alarm-${site}`, username: site, password: CLUSTER_SITE_PASSWORD, ...tlsOf(cluster), reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      branch.once('connect', () => resolve());
      branch.once('error', reject);
    });
    const alarm = { id: ulid(Date.now()), at: new Date().toISOString(), site, type: 'alarm', alarm: 'forced-open', state: 'raised', severity: 'major' };
    await branch.publishAsync(`oa/v1/sites/${site}/events`, JSON.stringify(alarm), { qos: 1 });
    await branch.endAsync();
  }
  return at.length;
}

/** The sites of instance 1's open incidents, sorted. */
async function openIncidentSites(cluster: CentralCluster): Promise<string[]> {
  const { body } = await cluster.instances[0]!.api<{ incidents: Array<{ site: string }> }>('/api/incidents?limit=100');
  return body.incidents.map((i) => i.site).sort();
}

const tlsOf = (cluster: CentralCluster) => ({ ca: readFileSync(cluster.tls.ca), cert: readFileSync(cluster.tls.cert), key: readFileSync(cluster.tls.key) });

/** Whether the broker still keeps a session for `clientId`: MQTT's CONNACK says so to a connection that asks to resume it. */
async function sessionPresent(cluster: CentralCluster, clientId: string): Promise<boolean> {
  const client = connect(cluster.broker.url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    username: 'central',
    password: CLUSTER_CENTRAL_PASSWORD,
    ca: readFileSync(cluster.tls.ca),
    cert: readFileSync(cluster.tls.cert),
    key: readFileSync(cluster.tls.key),
    reconnectPeriod: 0,
    // Asked with no expiry, so that this look ends whatever it found.
    properties: { sessionExpiryInterval: 0 },
  });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      client.once('connect', (connack) => resolve(connack.sessionPresent));
      client.once('error', reject);
    });
  } finally {
    await client.endAsync(true);
  }
}

describe('oag central retire', () => {
  const EVENTS = 2000;
  let cluster: CentralCluster;

  beforeAll(async () => {
    cluster = await startCentralCluster({ instances: 2, sites });
  }, 180_000);
  afterAll(() => cluster?.stop(), 60_000);

  it("stores the events a stopped instance's session holds, then has the broker forget it, so that later events all go to the others", async () => {
    await cluster.kill9(2);
    const first = await cluster.publisher(EVENTS);
    expect(await first.go()).toEqual({ acked: EVENTS, failed: 0 });
    await first.close();
    // Alarms too, one a branch: about half wait in instance 2's session with its share of the events.
    const alarms = await raiseAlarms(cluster, sites.slice(0, 8));
    // Instance 1 stores its share; the rest waits in instance 2's session and nobody stores it.
    let last = -1;
    await until(
      async () => {
        const now = (await stored(cluster)).rows;
        const settled = now > 0 && now === last;
        last = now;
        return settled;
      },
      'instance 1 done with its share',
      120_000,
      1500,
    );
    expect(last).toBeLessThan(EVENTS + alarms);

    const out = { stdout: '', stderr: '', out: (t: string) => void (out.stdout += t), err: (t: string) => void (out.stderr += t) };
    expect(await runCentralRetire({ config: cluster.configFile(2), quietSeconds: '2' }, out)).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`^oag-central-2: retired\\. \\d+ messages its session held were taken \\(${EVENTS + alarms - last} stored in postgres`));
    expect(await stored(cluster)).toEqual({ rows: EVENTS + alarms, ids: EVENTS + alarms });
    // The running instance heard of the alarms the command stored (LISTEN/NOTIFY), as of its own: each an incident.
    await until(async () => (await openIncidentSites(cluster)).length === alarms, 'an incident for every alarm', 60_000, 250);
    expect(await openIncidentSites(cluster)).toEqual(sites.slice(0, 8));

    // No share of new events goes to the retired instance any more: instance 1 stores them all.
    const second = await cluster.publisher(500);
    expect(await second.go()).toEqual({ acked: 500, failed: 0 });
    await until(async () => (await stored(cluster)).rows === EVENTS + alarms + 500, 'the later events all stored by instance 1', 120_000, 250);
    expect(await sessionPresent(cluster, 'oag-central-2')).toBe(false);
  }, 600_000);

  it('refuses while the instance still runs, and changes nothing; asks for the config when none is given', async () => {
    const out = { stdout: '', stderr: '', out: (t: string) => void (out.stdout += t), err: (t: string) => void (out.stderr += t) };
    expect(await runCentralRetire({ config: cluster.configFile(1) }, out)).toBe(1);
    expect(out.stderr).toMatch(/^something answers on this instance's http address \(127\.0\.0\.1:\d+\): stop the instance first/);
    expect(cluster.instances[0]!.running()).toBe(true);
    const usage = { stdout: '', stderr: '', out: (t: string) => void (usage.stdout += t), err: (t: string) => void (usage.stderr += t) };
    expect(await runCentralRetire({}, usage)).toBe(2);
    expect(usage.stderr).toBe("--config: give the retired instance's config file (its broker client id is the session to end)\n");
  });
});
