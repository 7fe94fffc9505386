// Incidents across two central instances on one PostgreSQL (docs/central.md, "Several instances"): an incident raised
// and acknowledged through one shows on the other's live stream at once, not at the next reload; and the instance
// that loses the lead (its lock's session terminated) stops telling, so the alarm centre is told by the new leader,
// once.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CENTRAL_LEADER_KEY } from '../../central/cluster/leader.js';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { HttpSink } from '../helpers/http-sink.js';
import { mqttCredentials } from '../helpers/mqtt-credentials.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

let dir: string;
let server: RunningPostgres;
let databaseUrl: string;
let sink: HttpSink;
let a: RunningCentral;
let b: RunningCentral;
let token: string;

async function instance(k: number): Promise<RunningCentral> {
  const mqtt = await mqttCredentials(['town'], mkdirSync(join(dir, `mqtt-${k}`), { recursive: true }));
  const config = parseCentralConfig({
    embedded: { port: 0, passwordFile: mqtt.passwordFile },
    http: { port: 0 },
    store: { path: join(dir, `central-${k}.sqlite`), postgres: { urlFile: join(dir, 'db.url'), poolSize: 3 } },
    signing: { keyFile: testSigningKey().privateFile },
    alerts: { tickSeconds: 1, channels: { webhook: { type: 'webhook', secretFile: join(dir, 'webhook-secret'), url: sink.url('/oag') } } },
    log: { level: 'silent' },
  });
  return startCentral(config, { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) });
}

/** A dashboard's live stream on one instance: the `incident` messages it has carried so far. */
function liveIncidents(central: RunningCentral): { messages: Array<{ kind: string; incident: { id: number; status: string } }>; close(): void } {
  const messages: Array<{ kind: string; incident: { id: number; status: string } }> = [];
  const url = new URL('/api/live', central.httpUrl);
  let text = '';
  const request = get({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `Bearer ${token}` } }, (response) => {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      text += chunk;
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        if (!block.startsWith('event: incident\n')) continue;
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data !== undefined) messages.push(JSON.parse(data.slice('data: '.length)) as (typeof messages)[number]);
      }
    });
  });
  request.on('error', () => {});
  return { messages, close: () => request.destroy() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-cluster-incidents-'));
  server = await startPostgres();
  databaseUrl = await server.newDatabase();
  writeFileSync(join(dir, 'db.url'), `${databaseUrl}\n`);
  writeFileSync(join(dir, 'webhook-secret'), 'a webhook secret of the alarm centre', { mode: 0o600 });
  sink = await HttpSink.start();
  // One after the other: the first leads (its first try at the lock is at once).
  a = await instance(1);
  await until(() => a.alerts.telling, 'the first instance to lead and tell');
  b = await instance(2);
  token = (await a.auth.tokens.create({ name: 'wallboard', role: 'operator', expiresDays: 1 }, 'test')).token;
  const saved = await a.alerts.alerts.rules.save(
    { contacts: [{ name: 'Alarm centre', webhook: sink.url('/oag') }], rules: [{ id: 'everything', alarms: ['*'], steps: [{ afterMinutes: 0, contacts: ['Alarm centre'] }] }] },
    { actor: 'admin:test', at: new Date(), basedOn: 0 },
  );
  expect(saved.ok).toBe(true);
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await sink?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('incidents across two central instances on PostgreSQL', () => {
  it("shows an incident raised and acknowledged through one on the other's live stream", async () => {
    const onB = liveIncidents(b);
    try {
      // Raised by A alone (no branch event that B's bus would carry too).
      const fire = (await a.alerts.alerts.incidents.alarm({ site: 'town', alarm: 'fire', state: 'raised', severity: 'critical', at: new Date().toISOString() }, new Date()))!;
      await until(() => onB.messages.some((m) => m.incident.id === fire.id), "the raise on B's stream");
      const res = await fetch(`${a.httpUrl}/api/incidents/${fire.id}/acknowledge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ note: 'on my way' }),
      });
      expect(res.status).toBe(200);
      await until(() => onB.messages.some((m) => m.kind === 'acknowledged'), "the acknowledgement on B's stream");
      expect(onB.messages.find((m) => m.kind === 'acknowledged')).toMatchObject({ incident: { id: fire.id, status: 'acknowledged' } });
    } finally {
      onB.close();
    }
  }, 60_000);

  it('stops telling on the instance whose lock session is terminated; the new leader tells the alarm centre, once', async () => {
    expect([a.alerts.telling, b.alerts.telling]).toEqual([true, false]);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted",
        [CENTRAL_LEADER_KEY],
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      await client.end();
    }
    await until(() => !a.alerts.telling, 'the old leader to stop telling', 20_000);
    await until(() => b.alerts.telling, 'the new leader to tell', 30_000);
    expect(a.alerts.telling).toBe(false);

    const before = sink.requests.length;
    const deliveredBefore = (await b.alerts.io.outbox.counts()).delivered ?? 0;
    const door = (await a.alerts.alerts.incidents.alarm({ site: 'town', alarm: 'forced-open', state: 'raised', severity: 'major', at: new Date().toISOString() }, new Date()))!;
    let counts: Record<string, number> = {};
    await until(async () => ((counts = await b.alerts.io.outbox.counts()).delivered ?? 0) > deliveredBefore && counts.pending === 0 && counts.sending === 0, () => `the delivery recorded (${JSON.stringify(counts)})`, 30_000);
    const told = sink.requests.slice(before).filter((r) => r.body.includes('forced-open'));
    expect(told).toHaveLength(1);
    expect((await b.alerts.alerts.incidents.get(door.id))?.history.filter((h) => h.kind === 'notified')).toHaveLength(1);
  }, 90_000);
});
