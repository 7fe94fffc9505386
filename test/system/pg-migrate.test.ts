// Central's PostgreSQL pool and migrations on a real server: each migration applied once and in order, three
// instances starting together migrate once, an edited migration refuses the start, a failed one leaves nothing
// half-done, and a connection the server drops while idle is logged, not thrown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../central/pg/migrate.js';
import { openPg, type PgPool } from '../../central/pg/pool.js';
import { collectingLogger } from '../helpers/console.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';

const logger = pino({ level: 'silent' });
let server: RunningPostgres;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await server.stop();
});

async function pool(url: string, max = 4): Promise<PgPool> {
  const p = openPg(url, { logger, max });
  cleanups.push(() => p.end());
  return p;
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'oag-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function tables(p: PgPool): Promise<string[]> {
  const rows = (await p.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows;
  return rows.map((r) => r.t);
}

describe('central/pg migrations', () => {
  it("applies central's migrations once: a second start finds nothing to do", async () => {
    const p = await pool(await server.newDatabase());
    const names = loadMigrations().map((m) => m.name);
    expect(names[0]).toBe('001-history');
    expect(await migrate(p, { logger })).toEqual(names);
    expect(await tables(p)).toEqual(expect.arrayContaining(['events', 'sites', 'occupancy_samples', 'policies', 'commands', 'secrets', 'schema_migrations']));
    expect(await migrate(p, { logger })).toEqual([]);
  });

  it('applies new migrations in number order after the ones already there', async () => {
    const p = await pool(await server.newDatabase());
    const dir = folder({ '001-a.sql': 'CREATE TABLE a (n int);' });
    expect(await migrate(p, { logger, migrations: loadMigrations(dir) })).toEqual(['001-a']);
    // 003 needs 002's table: only in order does it work
    writeFileSync(join(dir, '003-c.sql'), 'INSERT INTO b VALUES (3);');
    writeFileSync(join(dir, '002-b.sql'), 'CREATE TABLE b (n int);');
    expect(await migrate(p, { logger, migrations: loadMigrations(dir) })).toEqual(['002-b', '003-c']);
    expect((await p.query('SELECT n FROM b')).rows).toEqual([{ n: 3 }]);
  });

  it('three instances starting together migrate once, and none of them fails', async () => {
    const url = await server.newDatabase();
    const dir = folder({ '001-count.sql': 'CREATE TABLE runs (n int); INSERT INTO runs VALUES (1);' });
    const pools = await Promise.all([pool(url), pool(url), pool(url)]);
    const results = await Promise.all(pools.map((p) => migrate(p, { logger, migrations: loadMigrations(dir) })));
    expect(results.filter((r) => r.length > 0)).toEqual([['001-count']]);
    expect((await pools[0]!.query('SELECT count(*) AS n FROM runs')).rows).toEqual([{ n: 1 }]);
  });

  it('refuses to start when a migration was edited after it was applied, naming it', async () => {
    const p = await pool(await server.newDatabase());
    const dir = folder({ '001-a.sql': 'CREATE TABLE a (n int);\n' });
    await migrate(p, { logger, migrations: loadMigrations(dir) });
    writeFileSync(join(dir, '001-a.sql'), 'CREATE TABLE a (n bigint);\n');
    await expect(migrate(p, { logger, migrations: loadMigrations(dir) })).rejects.toThrow(/migration 001-a\.sql was changed after it was applied/);
    // the same text with CRLF line ends (a Windows checkout) is the same migration
    writeFileSync(join(dir, '001-a.sql'), 'CREATE TABLE a (n int);\r\n');
    expect(await migrate(p, { logger, migrations: loadMigrations(dir) })).toEqual([]);
  });

  it('a failing migration applies nothing of that start, and says which one failed', async () => {
    const p = await pool(await server.newDatabase());
    const dir = folder({ '001-a.sql': 'CREATE TABLE a (n int);', '002-b.sql': 'CREATE TABLE b (n no_such_type);' });
    await expect(migrate(p, { logger, migrations: loadMigrations(dir) })).rejects.toThrow(/migration 002-b\.sql failed.*no_such_type/);
    expect(await tables(p)).not.toContain('a');
    writeFileSync(join(dir, '002-b.sql'), 'CREATE TABLE b (n int);');
    expect(await migrate(p, { logger, migrations: loadMigrations(dir) })).toEqual(['001-a', '002-b']);
  });

  it('refuses a migration file that is not named NNN-name.sql, or a number used twice', () => {
    expect(() => loadMigrations(folder({ '1-a.sql': '' }))).toThrow(/1-a\.sql: a migration is named NNN-name\.sql/);
    expect(() => loadMigrations(folder({ '001-a.sql': '', '001-b.sql': '' }))).toThrow(/001-b\.sql: migration number 001 is taken by 001-a\.sql/);
  });

  it('a connection the server drops while idle is logged, and the next query opens a new one', async () => {
    const url = await server.newDatabase();
    const { logger: collecting, lines } = collectingLogger();
    const p = openPg(url, { logger: collecting, max: 2 });
    cleanups.push(() => p.end());
    const pid = (await p.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const other = await pool(url, 1);
    await other.query('SELECT pg_terminate_backend($1)', [pid]);
    await expect.poll(() => lines.some((l) => /idle connection failed/.test(String(l.msg)))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('password');
    expect((await p.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
