// Central on PostgreSQL when PostgreSQL goes away: nothing is acknowledged that was not stored, so the branch's event
// sent meanwhile is stored once the database is back; and the outage shows at /api/health/store for a monitor
// outside central (its incidents live in the same database, so it cannot file one of its own meanwhile).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { topics } from '../../policies/contract/index.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';
import { accessEvent, eventId } from '../unit/contract/fixtures.js';

const SITE = 'town';
let dir: string;
let pg: RunningPostgres;
let mqtt: MqttCredentials;
let central: RunningCentral;
let branch: MqttClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-central-pg-down-'));
  pg = await startPostgres();
  writeFileSync(join(dir, 'db.url'), `${await pg.newDatabase()}\n`);
  mqtt = await mqttCredentials([SITE], dir);
  const config = parseCentralConfig({
    embedded: { port: 0, passwordFile: mqtt.passwordFile },
    http: { port: 0 },
    store: { path: join(dir, 'central.sqlite'), postgres: { urlFile: join(dir, 'db.url'), poolSize: 2 } },
    signing: { keyFile: testSigningKey().privateFile },
    log: { level: 'silent' },
  });
  central = await startCentral(config, { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) });
  branch = await connectAsync(central.brokerUrl, { ...mqtt.login(SITE), protocolVersion: 4, clientId: `${SITE}-test` });
}, 60_000);

afterAll(async () => {
  await branch?.endAsync();
  await central?.close();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stored = async (id: string): Promise<boolean> => {
  const res = await fetch(`${central.httpUrl}/api/sites/${SITE}/events?limit=50`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) return false;
  return ((await res.json()) as { events: Array<{ event: { id: string } }> }).events.some((e) => e.event.id === id);
};
let token = '';
// `await`: alerting's store is becoming asynchronous too; a value that is not a promise awaits as itself.
const storeIncident = async () => (await central.alerts.alerts.incidents.open()).find((i) => i.site === '(central)' && i.alarm === 'store-failed');

describe('central on PostgreSQL, PostgreSQL down', () => {
  it('keeps the event sent meanwhile unacknowledged and stores it once PostgreSQL is back; an outside monitor sees the outage', async () => {
    token = (await central.auth.tokens.create({ name: 'reader', role: 'viewer', expiresDays: 1 }, 'test')).token;
    const send = async (minute: number): Promise<string> => {
      const at = new Date(Date.UTC(2026, 11, 3, 10, minute)).toISOString();
      const event = accessEvent({ id: eventId(Date.parse(at)), at, site: SITE });
      await branch.publishAsync(topics('oa/v1', SITE).events, JSON.stringify(event), { qos: 1 });
      return event.id;
    };
    const before = await send(1);
    await until(() => stored(before), 'the first event stored');
    expect(await storeIncident()).toBeUndefined();

    await pg.kill9();
    const during = await send(2);
    // The incidents live in PostgreSQL too: while it is down, the outage is seen from outside, at /api/health/store.
    const health = async () => {
      const res = await fetch(`${central.httpUrl}/api/health/store`);
      return { status: res.status, body: (await res.json()) as { ok: boolean; problem?: string } };
    };
    await until(async () => (await health()).status === 503, '/api/health/store to say the history refuses writes', 20_000);
    const down = await health();
    expect(down.body.problem).toMatch(/^central's postgres history refuses writes since \d{4}-\d\d-\d\dT.*: see central's log$/);
    expect(down.body.problem).not.toContain('127.0.0.1');

    await pg.restart();
    // The link reconnects on its session and the broker sends the unacknowledged event again.
    await until(() => stored(during), 'the event sent while PostgreSQL was down, stored after it came back', 60_000);
    expect((await health()).body).toEqual({ ok: true });
    // Recorded once PostgreSQL took writes again (raised when it first failed, if its incident store could take it).
    expect(await storeIncident()).toBeUndefined();
    const events = (await (await fetch(`${central.httpUrl}/api/sites/${SITE}/events?limit=50&type=access`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      events: Array<{ event: { id: string } }>;
    };
    expect(events.events.map((e) => e.event.id).sort()).toEqual([before, during].sort());
  }, 180_000);
});
