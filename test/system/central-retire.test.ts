// Retiring one instance of a share group for good (`oag central retire`, central/retire.ts). Mosquitto hands a stopped
// instance's persistent session its share of the branches' events; taken away with nothing more, those events would
// never be stored. Two `oag central` processes on Debian's Mosquitto and one PostgreSQL (test/helpers/central-cluster.ts).
import { readFileSync } from 'node:fs';
import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCentralRetire } from '../../scripts/commands/central-retire.js';
import { CLUSTER_CENTRAL_PASSWORD, startCentralCluster, type CentralCluster } from '../helpers/central-cluster.js';
import { until } from '../helpers/until.js';

const sites = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(4, '0')}`);

async function stored(cluster: CentralCluster): Promise<{ rows: number; ids: number }> {
  const [r] = await cluster.query<{ rows: string; ids: string }>('SELECT COUNT(*) AS rows, COUNT(DISTINCT id) AS ids FROM events');
  return { rows: Number(r!.rows), ids: Number(r!.ids) };
}

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
    expect(last).toBeLessThan(EVENTS);

    const out = { stdout: '', stderr: '', out: (t: string) => void (out.stdout += t), err: (t: string) => void (out.stderr += t) };
    expect(await runCentralRetire({ config: cluster.configFile(2), quietSeconds: '2' }, out)).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`^oag-central-2: retired\\. \\d+ messages its session held were taken \\(${EVENTS - last} stored in postgres`));
    expect(await stored(cluster)).toEqual({ rows: EVENTS, ids: EVENTS });

    // No share of new events goes to the retired instance any more: instance 1 stores them all.
    const second = await cluster.publisher(500);
    expect(await second.go()).toEqual({ acked: 500, failed: 0 });
    await until(async () => (await stored(cluster)).rows === EVENTS + 500, 'the later events all stored by instance 1', 120_000, 250);
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
