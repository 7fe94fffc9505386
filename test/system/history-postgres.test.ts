// Central's history on PostgreSQL: the shared suite (test/store-suites/history-store-suite.ts) that SQLite passes too, each
// test on a database of its own, then what only PostgreSQL has: a partition per month, dropped whole by retention,
// and several instances writing one history at once.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { monthOf, PgHistory } from '../../central/history/pg-history.js';
import type { ReceivedEvent } from '../../policies/contract/index.js';
import { historyStoreSuite } from '../store-suites/history-store-suite.js';
import { postgresPerFile } from '../helpers/postgres-per-file.js';
import { storesOnNewDatabase } from '../helpers/postgres.js';
import { accessEvent, eventId, stateFixture } from '../unit/contract/fixtures.js';

const logger = pino({ level: 'silent' });
const server = postgresPerFile();

async function twoStores(): Promise<{ a: PgHistory; b: PgHistory; close(): Promise<void> }> {
  const url = await server.newDatabase();
  const a = await PgHistory.open(url, { logger, max: 4 });
  const b = await PgHistory.open(url, { logger, max: 4 });
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

historyStoreSuite('postgres', () => storesOnNewDatabase(server, (url) => PgHistory.open(url, { logger, max: 4 })));

const access = (iso: string, site = 'town'): ReceivedEvent => accessEvent({ id: eventId(Date.parse(iso)), at: iso, site }) as ReceivedEvent;

describe('PgHistory (PostgreSQL only)', () => {
  it('keeps events in a partition per month, made with the first event of a month', async () => {
    const { a, close } = await twoStores();
    try {
      expect(await a.eventMonths()).toEqual([]);
      await a.insertEvent(access('2026-03-31T23:59:59.999Z'), new Date());
      await a.insertEvent(access('2026-06-01T00:00:00.000Z'), new Date());
      // each month's partition, and the month after it made ahead
      expect((await a.eventMonths()).map((m) => m.name)).toEqual(['events_y2026m03', 'events_y2026m04', 'events_y2026m06', 'events_y2026m07']);
      const counts = await a.pool.query<{ name: string; n: number }>(
        "SELECT tableoid::regclass::text AS name, count(*) AS n FROM events GROUP BY 1 ORDER BY 1",
      );
      expect(counts.rows).toEqual([
        { name: 'events_y2026m03', n: 1 },
        { name: 'events_y2026m06', n: 1 },
      ]);
    } finally {
      await close();
    }
  });

  it('retention drops the months wholly before the cutoff and deletes the rest of the month it falls in', async () => {
    const { a, close } = await twoStores();
    try {
      const kept = [access('2026-05-20T00:00:00.000Z'), access('2026-06-02T00:00:00.000Z')];
      for (const iso of ['2026-03-10T00:00:00.000Z', '2026-04-30T23:00:00.000Z', '2026-05-03T00:00:00.000Z']) await a.insertEvent(access(iso), new Date());
      for (const e of kept) await a.insertEvent(e, new Date());
      await a.purgeBefore(new Date('2026-05-15T00:00:00.000Z'));
      expect((await a.eventMonths()).map((m) => m.name)).toEqual(['events_y2026m05', 'events_y2026m06', 'events_y2026m07']);
      expect((await a.recentEvents('town', { limit: 10 })).map((s) => s.event.id)).toEqual([kept[1]!.id, kept[0]!.id]);
    } finally {
      await close();
    }
  });

  it('an instance inserting into a month another instance just dropped makes it again', async () => {
    const { a, b, close } = await twoStores();
    try {
      await a.insertEvent(access('2026-02-10T00:00:00.000Z'), new Date());
      await b.insertEvent(access('2026-02-11T00:00:00.000Z'), new Date());
      await b.purgeBefore(new Date('2026-03-01T00:00:00.000Z'));
      // a still believes February's partition is there
      const late = access('2026-02-12T00:00:00.000Z');
      expect(await a.insertEvent(late, new Date())).toBe(true);
      expect((await b.recentEvents('town', { limit: 10 })).map((s) => s.event.id)).toEqual([late.id]);
    } finally {
      await close();
    }
  });

  it('two instances inserting the same 1,000 events at once store each once, and agree on which were new', async () => {
    const { a, b, close } = await twoStores();
    try {
      const events = Array.from({ length: 1000 }, (_, i) => access(new Date(Date.parse('2026-07-31T23:00:00.000Z') + i * 7_000).toISOString()));
      const run = async (h: PgHistory): Promise<boolean[]> => {
        const out: boolean[] = [];
        // each instance works through the stream a few messages at a time, as the link hands them over
        for (let i = 0; i < events.length; i += 8) out.push(...(await Promise.all(events.slice(i, i + 8).map((e) => h.insertEvent(e, new Date())))));
        return out;
      };
      const [fromA, fromB] = await Promise.all([run(a), run(b)]);
      expect(await a.eventCount()).toBe(1000);
      // exactly one of the two took each event (the other was told it was a copy)
      expect(fromA.map((x, i) => Number(x) + Number(fromB[i]))).toEqual(events.map(() => 1));
      expect((await a.eventMonths()).map((m) => m.name)).toEqual(['events_y2026m07', 'events_y2026m08', 'events_y2026m09']);
    } finally {
      await close();
    }
  });

  it('two instances told one count at once add one sample, not two', async () => {
    const { a, b, close } = await twoStores();
    try {
      const base = Date.parse('2026-08-01T10:00:00.000Z');
      const stateAt = (seconds: number, inside: number) =>
        stateFixture({ at: new Date(base + seconds * 1000).toISOString(), occupancy: { inside, capacity: 40 } }) as never;
      // each round, both instances get a state with a new count (a resend on one, the original on the other)
      for (let round = 1; round <= 30; round += 1) {
        await Promise.all([a.setState(stateAt(2 * round, round), new Date()), b.setState(stateAt(2 * round + 1, round), new Date())]);
      }
      const samples = await a.occupancy('town', new Date(base), new Date(base + 3_600_000));
      expect(samples.map((s) => s.inside)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect((await b.site('town'))?.state?.at).toBe(new Date(base + 61_000).toISOString());
    } finally {
      await close();
    }
  });

  it('names each month by UTC', () => {
    expect(monthOf(Date.parse('2026-12-31T23:59:59.999Z'))).toEqual({ start: Date.parse('2026-12-01T00:00:00Z'), end: Date.parse('2027-01-01T00:00:00Z'), name: 'events_y2026m12' });
  });
});
