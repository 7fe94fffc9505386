// Central's connection pool to PostgreSQL (node-postgres, pure JS): one per process, shared by the stores that live
// there (the history, and the auth store). A connection that dies while idle (the server restarted, a failover, a
// network cut) is logged and dropped from the pool, never thrown into the process: the next query opens a new one.
import type { Logger } from 'pino';
import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

export interface PgOptions {
  logger: Logger;
  /** Connections at most (node-postgres' default is 10). */
  max?: number | undefined;
  /** As pg_stat_activity shows it. */
  applicationName?: string | undefined;
}

const INT8_OID = 20;

// bigint columns (times in ms, counts) as numbers: a millisecond time stays below 2^53 for 285,000 years, and a
// string where the SQLite store gives a number would leak into every caller.
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** The URL without its password, for the log. */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres URL (unreadable)';
  }
}

export function openPg(url: string, options: PgOptions): PgPool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'oag-central',
    // a server that does not answer fails the call (and the MQTT message is redelivered) instead of hanging it
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  pool.on('error', (err) => {
    options.logger.warn({ err: err.message, db: describePgUrl(url) }, 'PostgreSQL: an idle connection failed; the pool opens a new one');
  });
  return pool;
}

/**
 * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws (and the error
 * goes on to the caller). A connection that broke during it is destroyed, not returned to the pool.
 */
export async function inTransaction<T>(pool: PgPool, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client is not watched by the pool: without a listener, its error would crash the process.
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
      broken ??= rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    });
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
