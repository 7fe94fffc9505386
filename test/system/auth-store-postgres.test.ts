// Central's sign-in on PostgreSQL: the shared suite (test/shared/auth-store-suite.ts) that SQLite passes too, each test
// on a database of its own with two store objects on their own pools (two central instances); then what only a shared
// server has: a session outlives the restart of the database, and an instance signing in while another removes the
// account leaves no session behind.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAuthStore } from '../../central/auth/pg-auth-store.js';
import { CentralSessions } from '../../central/auth/sessions.js';
import { authStoreSuite } from '../shared/auth-store-suite.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';

const logger = pino({ level: 'silent' });
let server: RunningPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server.stop();
});

authStoreSuite('postgres', async () => {
  const url = await server.newDatabase();
  const stores = [await PgAuthStore.open(url, { logger, max: 4 })];
  return {
    store: stores[0]!,
    another: async () => {
      const s = await PgAuthStore.open(url, { logger, max: 4 });
      stores.push(s);
      return s;
    },
    close: async () => {
      for (const s of stores) await s.close();
    },
  };
});

describe('PgAuthStore (PostgreSQL only)', () => {
  const limits = { idleMs: 30 * 60_000, absoluteMs: 8 * 3_600_000 };
  const clock = { now: () => new Date() };

  it('keeps a session across a restart of the database server', async () => {
    const store = await PgAuthStore.open(await server.newDatabase(), { logger, max: 2 });
    try {
      await store.insertUser({ username: 'alice', role: 'operator', source: 'local', passwordHash: 'scrypt$ln=10$x', at: new Date() });
      const sessions = new CentralSessions(store, clock, limits);
      const { token } = await sessions.create('alice');
      await server.restart();
      // the pool's connections died with the server: the first query may fail, the next opens a new one
      const found = await sessions.find(token).catch(() => sessions.find(token));
      expect(found).toMatchObject({ username: 'alice', role: 'operator' });
    } finally {
      await store.close();
    }
  });

  it('refuses a session for an account another instance removed meanwhile, so none is left for a later account of that name', async () => {
    const url = await server.newDatabase();
    const [a, b] = [await PgAuthStore.open(url, { logger, max: 2 }), await PgAuthStore.open(url, { logger, max: 2 })];
    try {
      await a.insertUser({ username: 'root', role: 'administrator', source: 'local', passwordHash: 'scrypt$ln=10$x', at: new Date() });
      await a.insertUser({ username: 'alice', role: 'operator', source: 'local', passwordHash: 'scrypt$ln=10$x', at: new Date() });
      expect(await b.removeUser('alice')).toEqual({ ok: true });
      await expect(new CentralSessions(a, clock, limits).create('alice')).rejects.toThrow();
      const left = await a.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM central_sessions');
      expect(left.rows).toEqual([{ n: 0 }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
