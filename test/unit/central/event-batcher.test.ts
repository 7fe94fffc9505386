// Group commit in ingest (central/history/event-batcher.ts) on a real SQLite file: the events that arrive while a
// commit runs are committed together; each message's promise (the link's PUBACK waits for it) settles only after the
// commit that holds it, in the order the messages came; a refused message does not fail its batch-mates, and a
// store failure fails every message of its batch, so that none is acknowledged and the broker sends them again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CentralBus } from '../../../central/bus.js';
import { SqliteHistory } from '../../../central/history/sqlite-history.js';
import { Ingest } from '../../../central/ingest.js';
import { CentralStore } from '../../../central/store.js';
import { topics } from '../../../policies/contract/index.js';
import { accessEvent, eventId, occupancyEvent } from '../contract/fixtures.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function centralOnAFile() {
  const dir = mkdtempSync(join(tmpdir(), 'oag-batcher-'));
  const path = join(dir, 'central.db');
  const store = new CentralStore(path);
  // Another connection on the same file sees only what is committed: what a crash after the PUBACK would leave.
  const reader = new Database(path, { readonly: true });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.db.close());
  cleanups.push(() => reader.close());
  const ingest = new Ingest({ prefix: 'oa/v1', store: new SqliteHistory(store), bus: new CentralBus(), clock: { now: () => new Date('2025-06-02T09:30:00.000Z') }, logger: pino({ level: 'silent' }) });
  const committed = (id: string): boolean => reader.prepare('SELECT 1 FROM events WHERE id = ?').get(id) !== undefined;
  const message = (payload: unknown) => ({ topic: topics('oa/v1', 'town').events, payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), retain: false });
  return { store, ingest, committed, message };
}

const access = (n: number) => accessEvent({ id: eventId(Date.parse('2025-06-02T09:00:00.000Z') + n * 1000) });

describe('group commit of events', () => {
  it('commits the events that came during a commit together, and settles each in arrival order only once it is committed', async () => {
    const { ingest, committed, message } = centralOnAFile();
    const events = [access(1), access(2), access(3), access(4), access(5)];
    const settled: Array<{ id: string; committed: boolean }> = [];
    await Promise.all(events.map((e) => ingest.handle(message(e)).then(() => settled.push({ id: e.id, committed: committed(e.id) }))));

    expect(settled).toEqual(events.map((e) => ({ id: e.id, committed: true })));
    // All five came in one turn of the event loop: one commit.
    expect(ingest.commits).toEqual({ batches: 1, events: 5, largest: 5 });
    expect(ingest.stats).toMatchObject({ received: 5, stored: 5, duplicates: 0 });
  });

  it('refuses a bad message alone: the events around it are stored and its refusal fails none of them', async () => {
    const { ingest, committed, message } = centralOnAFile();
    const [a, b, c] = [access(1), access(2), access(3)];
    const outcomes = await Promise.allSettled([ingest.handle(message(a)), ingest.handle(message(b)), ingest.handle(message({ ...c, type: 'occupancy' })), ingest.handle(message(c))]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect([a, b, c].map((e) => committed(e.id))).toEqual([true, true, true]);
    expect(ingest.stats).toMatchObject({ stored: 3, rejected: 1 });
    expect(ingest.stats.lastRejections[0]?.errors).toContain('inside: required');
  });

  it('counts a copy of an event in the same batch once, and an occupancy event in a batch adds its sample', async () => {
    const { ingest, store, message } = centralOnAFile();
    const a = access(1);
    const inside = occupancyEvent(7, '2025-06-02T09:10:00.000Z');
    await Promise.all([ingest.handle(message(access(0))), ingest.handle(message(a)), ingest.handle(message(inside)), ingest.handle(message(a))]);

    expect(ingest.stats).toMatchObject({ stored: 3, duplicates: 1 });
    expect(store.eventCount()).toBe(3);
    expect(store.occupancy('town', new Date('2025-06-02T09:00:00.000Z'), new Date('2025-06-02T10:00:00.000Z')).map((s) => s.inside)).toEqual([7]);
  });

  it('fails every message of a batch whose commit failed, stores none of them, and stores them all when sent again', async () => {
    const { store, ingest, committed, message } = centralOnAFile();
    const events = [access(1), access(2), access(3), access(4)];
    // A real failure of the store: SQLite refuses every write ("attempt to write a readonly database").
    store.db.pragma('query_only = ON');
    const outcomes = await Promise.allSettled(events.map((e) => ingest.handle(message(e))));

    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(ingest.commits).toMatchObject({ batches: 1, largest: 4 });
    expect(events.some((e) => committed(e.id))).toBe(false);
    expect(ingest.stats).toMatchObject({ stored: 0, storeFailures: 4 });
    expect(ingest.storeProblem()?.error).toMatch(/readonly/);

    store.db.pragma('query_only = OFF');
    await Promise.all(events.map((e) => ingest.handle(message(e))));
    expect(events.every((e) => committed(e.id))).toBe(true);
    expect(ingest.stats).toMatchObject({ stored: 4, duplicates: 0 });
    expect(ingest.storeProblem()).toBeNull();
  });
});
