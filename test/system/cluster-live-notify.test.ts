// The dashboard's live stream across central's instances on a real PostgreSQL (central/cluster/live-notify.ts): what
// instance A's bus hears ('site', 'event') arrives on B's bus as the same bus events, and never comes back to A's; an
// event too large for a notification arrives by its id, read from the store; B's LISTEN connection cut, it says so,
// listens again, and what A sends afterwards arrives.
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CentralBus } from '../../central/bus.js';
import { startLiveNotify, type LiveNotify } from '../../central/cluster/live-notify.js';
import { openPg, type PgPool } from '../../central/pg/pool.js';
import { ReceivedEventSchema, type ReceivedEvent } from '../../policies/contract/index.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';
import { until } from '../helpers/until.js';
import { AT, eventId, occupancyEvent } from '../unit/contract/fixtures.js';

/** One instance: its bus, its bridge, and what its bus heard. */
interface Instance {
  bus: CentralBus;
  bridge: LiveNotify;
  sites: string[];
  events: ReceivedEvent[];
  logs: string[];
}

let server: RunningPostgres;
let pool: PgPool;
/** The store both instances share, as far as this test needs one: events by id. */
const stored = new Map<string, ReceivedEvent>();
const instances: Instance[] = [];

function instance(): Instance {
  const bus = new CentralBus();
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) });
  const bridge = startLiveNotify({ pool, url: server.url, bus, logger, retryMs: 50, readEvent: async (_site, id) => stored.get(id) ?? null });
  const i: Instance = { bus, bridge, sites: [], events: [], logs };
  bus.on('site', (site) => i.sites.push(site));
  bus.on('event', (event) => i.events.push(event));
  instances.push(i);
  return i;
}

/** An event as ingest stores and emits it. */
function storedEvent(event: unknown): ReceivedEvent {
  const e = ReceivedEventSchema.parse(event);
  stored.set(e.id, e);
  return e;
}

let a: Instance;
let b: Instance;

beforeAll(async () => {
  server = await startPostgres();
  pool = openPg(server.url, { logger: pino({ level: 'silent' }), max: 2 });
  a = instance();
  b = instance();
  await until(() => a.bridge.listening && b.bridge.listening, 'both bridges listening');
});

afterAll(async () => {
  for (const i of instances) await i.bridge.stop();
  await pool?.end();
  await server?.stop();
});

describe('live updates across two central instances', () => {
  it("brings A's tile changes and events to B's bus, and none back to A's", async () => {
    const entry = storedEvent(occupancyEvent(3, AT, 'town'));
    a.bus.emit('site', 'town');
    a.bus.emit('event', entry);
    await until(() => b.events.length === 1 && b.sites.includes('town'), () => `B to hear A's; it heard ${JSON.stringify({ sites: b.sites, events: b.events.length })}`);
    expect(b.events).toEqual([entry]);
    expect(b.sites).toEqual(['town']);

    // B's answer comes after A's own notification on the one channel: once A has it, A's own would have come too.
    b.bus.emit('site', 'village');
    await until(() => a.sites.includes('village'), "A to hear B's");
    expect(a.sites).toEqual(['town', 'village']);
    expect(a.events).toEqual([entry]);
    // Nor does B send A's back out: it heard 'village' once, from its own emit.
    expect(b.sites).toEqual(['town', 'village']);
  });

  it('sends an event too large for a notification by its id, and B reads it from the store', async () => {
    const large = storedEvent({ id: eventId(), at: AT, site: 'hub', v: 99, type: 'air-quality', sensor: 'reading-room', readings: 'x'.repeat(9000) });
    expect(Buffer.byteLength(JSON.stringify(large))).toBeGreaterThan(8000);
    const before = b.events.length;
    a.bus.emit('event', large);
    await until(() => b.events.length === before + 1, 'B to get the large event');
    expect(b.events.at(-1)).toEqual(large);
  });

  it('says so when its LISTEN connection is cut, listens again, and then hears A again', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1', [
        `oag-live-${b.bridge.instanceId}`.slice(0, 63),
      ]);
      expect(rows[0]!.n).toBe(1);
    } finally {
      await client.end();
    }
    await until(() => b.logs.some((m) => m.startsWith('live: the LISTEN connection dropped')), 'B to say its connection dropped');
    await until(() => b.logs.includes('live: listening again'), 'B to listen again');
    const later = storedEvent(occupancyEvent(4, AT, 'town'));
    a.bus.emit('event', later);
    await until(() => b.events.some((e) => e.id === later.id), 'B to hear A after the reconnect');
  });
});
