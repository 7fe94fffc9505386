// Numbered migrations for central's PostgreSQL database: `NNN-name.sql` in a folder (central/pg/migrations, copied
// into dist/ by scripts/copy-assets.mjs), applied in order, each once, recorded in `schema_migrations` with a
// checksum. Every instance runs this at its start: all of it is one transaction under an advisory lock, so when
// three start together one migrates and the others wait, then find nothing left to do. A migration already applied
// is never edited: a changed file refuses the start, since the database no longer says what the file says.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { inTransaction, openPg, type PgPool } from './pool.js';

export interface Migration {
  /** `001`: the order. */
  number: string;
  /** `001-history`: the file's name without `.sql`, as recorded. */
  name: string;
  sql: string;
  /** sha256 of the SQL (line ends as LF, so a checkout with CRLF does not count as a change). */
  checksum: string;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** The migration runner's advisory lock: (namespace, key) in pg_advisory_xact_lock's two-int form. */
export const MIGRATION_LOCK = [0x0a6_0001, 1] as const;

const FILE_NAME = /^(\d{3})-([a-z0-9][a-z0-9-]*)\.sql$/;

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** The folder's migrations in order; a `.sql` file not named NNN-name.sql, or two with one number, is an error. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const m = FILE_NAME.exec(file);
    if (!m) throw new MigrationError(`${join(dir, file)}: a migration is named NNN-name.sql (three digits, then lower-case letters, digits and dashes)`);
    const number = m[1]!;
    const twin = out.find((x) => x.number === number);
    if (twin) throw new MigrationError(`${join(dir, file)}: migration number ${number} is taken by ${twin.name}.sql`);
    const sql = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n');
    out.push({ number, name: file.slice(0, -'.sql'.length), sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

export interface MigrateOptions {
  logger: Logger;
  /** Default: central/pg/migrations. */
  migrations?: Migration[] | undefined;
}

/** Applies what is not applied yet; returns the names applied now (empty when the database was up to date). */
export async function migrate(pool: PgPool, options: MigrateOptions): Promise<string[]> {
  const migrations = options.migrations ?? loadMigrations();
  const applied = await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = (await client.query<{ name: string; checksum: string; applied_at: Date }>('SELECT name, checksum, applied_at FROM schema_migrations')).rows;
    const done = new Map(rows.map((r) => [r.name, r]));
    for (const m of migrations) {
      const row = done.get(m.name);
      if (row && row.checksum !== m.checksum) {
        throw new MigrationError(
          `migration ${m.name}.sql was changed after it was applied to this database (on ${row.applied_at.toISOString()}): ` +
            'an applied migration is never edited; put the change in a new, higher-numbered migration, or restore the file as it was',
        );
      }
    }
    const known = new Set(migrations.map((m) => m.name));
    const unknown = rows.filter((r) => !known.has(r.name)).map((r) => r.name);
    if (unknown.length > 0) {
      // A newer central has been here (a rolling upgrade, or a downgrade): its migrations only add, so this one runs.
      options.logger.warn({ migrations: unknown }, 'PostgreSQL: the database has migrations this version of central does not know (applied by a newer one)');
    }
    const now: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new MigrationError(`migration ${m.name}.sql failed, and none of this start's migrations were applied: ${(err as Error).message}`);
      }
      await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum]);
      now.push(m.name);
    }
    return now;
  });
  if (applied.length > 0) options.logger.info({ migrations: applied }, 'PostgreSQL: migrations applied');
  return applied;
}

/**
 * A pool on `url` with every migration applied: what a store's own `open` and central's start use. A database that
 * cannot be reached or migrated leaves no pool behind, and its error goes on to the caller.
 */
export async function openMigrated(url: string, options: { logger: Logger; max?: number | undefined }): Promise<PgPool> {
  const pool = openPg(url, options);
  try {
    await migrate(pool, { logger: options.logger });
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return pool;
}
