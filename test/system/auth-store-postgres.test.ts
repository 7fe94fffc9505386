// Central's sign-in on PostgreSQL: the shared suite (test/store-suites/auth-store-suite.ts) that SQLite passes too, each test
// on a database of its own with two store objects on their own pools (two central instances); then what only a shared
// server has: a session outlives the restart of the database, and an instance signing in while another removes the
// account leaves no session behind; `oag central users add` and `tokens add` write there when central's config says so.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PgAuthStore } from '../../central/auth/pg-auth-store.js';
import { CentralSessions } from '../../central/auth/sessions.js';
import { runCentralTokensAdd, runCentralUsersAdd } from '../../scripts/commands/central-auth.js';
import { authStoreSuite } from '../store-suites/auth-store-suite.js';
import { postgresPerFile } from '../helpers/postgres-per-file.js';
import { storesOnNewDatabase } from '../helpers/postgres.js';

const logger = pino({ level: 'silent' });
const server = postgresPerFile();

authStoreSuite('postgres', () => storesOnNewDatabase(server, (url) => PgAuthStore.open(url, { logger, max: 4 })));

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

  it('oag central users add and tokens add write to PostgreSQL when the config has store.postgres, for every instance to see', async () => {
    const url = await server.newDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'oag-auth-cli-'));
    const store = await PgAuthStore.open(url, { logger, max: 2 });
    try {
      writeFileSync(join(dir, 'pg-url'), `${url}\n`);
      writeFileSync(join(dir, 'pw'), 'a password from a file\n');
      const config = join(dir, 'central.yaml');
      writeFileSync(config, 'store: { path: central.sqlite, postgres: { urlFile: pg-url } }\n');
      const out = { stdout: '', stderr: '', out: (t: string) => void (out.stdout += t), err: (t: string) => void (out.stderr += t), askHidden: undefined };
      expect(await runCentralUsersAdd('ada', { config, role: 'administrator', passwordFile: join(dir, 'pw') }, out)).toBe(0);
      expect(out.stdout).toMatch(/^postgres(ql)?:\/\/.*: added ada, administrator\n$/);
      expect(await runCentralTokensAdd({ config, name: 'nightly', role: 'viewer', expiresDays: '30' }, out)).toBe(0);
      expect((await store.user('ada'))?.role).toBe('administrator');
      expect((await store.tokens()).map((t) => t.name)).toEqual(['nightly']);
      expect((await store.auditRows({ limit: 5 })).map((r) => r.action)).toEqual(['token-add', 'user-add']);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
