// The throwaway PostgreSQL the other system tests build on (test/helpers/postgres.ts): it answers, keeps its data
// across a restart and across a kill -9, hands out separate databases, and leaves nothing behind when stopped.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';

let server: RunningPostgres | null = null;
afterAll(async () => {
  await server?.stop();
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startPostgres', () => {
  it('starts, answers, keeps its data over a restart and a kill -9, and stops without a trace', async () => {
    server = await startPostgres();
    expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    const db = await server.newDatabase();
    expect(db).not.toBe(server.url);
    await query(db, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
    // a second database does not see the first one's tables
    const other = await server.newDatabase();
    expect(await query(other, "SELECT to_regclass('kept') AS t")).toEqual([{ t: null }]);

    const before = server.pid();
    await server.restart();
    expect(server.pid()).not.toBe(before);
    expect(await query(db, 'SELECT n FROM kept')).toEqual([{ n: 7 }]);

    await server.kill9();
    expect(server.pid()).toBe(-1);
    await expect(query(db, 'SELECT 1')).rejects.toThrow();
    await server.restart();
    expect(await query(db, 'SELECT n FROM kept')).toEqual([{ n: 7 }]);

    const dir = server.dir;
    await server.stop();
    server = null;
    expect(existsSync(dir)).toBe(false);
  });
});
