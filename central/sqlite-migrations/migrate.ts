// Numbered migrations for central's SQLite file, as central/pg/migrate.ts does them for PostgreSQL (the dialects
// apart: `NNN-name.sql` in this folder, copied into dist/ by scripts/copy-assets.mjs): applied in order, each once,
// recorded in `schema_migrations` with a checksum, all of one start's in one transaction. An applied migration is
// never edited: a changed file refuses the start, since the database no longer says what the file says.
//
// A database made before the migrations were numbered (its tables there, no schema_migrations) is upgraded in place:
// the baseline (001-003: the DDL of before moved here as it was, every statement IF NOT EXISTS) is recorded as applied,
// its statements making only what that database lacks, and no row is touched.
import type { Database as Db } from 'better-sqlite3';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { loadMigrations, MigrationError, type Migration } from '../pg/migrate.js';

export { MigrationError, type Migration } from '../pg/migrate.js';

export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL('./', import.meta.url));

/** The migrations that hold central's DDL of before they were numbered, each statement IF NOT EXISTS. */
const BASELINE = new Set(['001-central', '002-alerts', '003-auth-feed-marks']);

let cached: Migration[] | null = null;
/** This folder's migrations, read once a process (every store on central's file asks). */
export function sqliteMigrations(): Migration[] {
  cached ??= loadMigrations(SQLITE_MIGRATIONS_DIR);
  return cached;
}

export interface SqliteMigrateOptions {
  logger?: Pick<Logger, 'info' | 'warn'> | undefined;
  /** Default: this folder's. */
  migrations?: Migration[] | undefined;
}

/** Applies what is not applied yet; returns the names applied now (empty when the file was up to date). */
export function migrateSqlite(db: Db, options: SqliteMigrateOptions = {}): string[] {
  const migrations = options.migrations ?? sqliteMigrations();
  const tableExists = (name: string): boolean => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  // Up to date: one read, no write lock (every store on central's file runs this when it opens).
  if (tableExists('schema_migrations')) {
    const rows = db.prepare('SELECT name, checksum FROM schema_migrations').all() as Array<{ name: string; checksum: string }>;
    const done = new Map(rows.map((r) => [r.name, r.checksum]));
    if (migrations.every((m) => done.get(m.name) === m.checksum)) {
      warnUnknown(rows, migrations, options);
      return [];
    }
  }
  const run = db.transaction((): { applied: string[]; legacy: boolean } => {
    const legacy = !tableExists('schema_migrations') && tableExists('sites');
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name TEXT PRIMARY KEY,
      checksum TEXT NOT NULL,
      applied_ms INTEGER NOT NULL
    )`);
    const rows = db.prepare('SELECT name, checksum, applied_ms FROM schema_migrations').all() as Array<{ name: string; checksum: string; applied_ms: number }>;
    const done = new Map(rows.map((r) => [r.name, r]));
    for (const m of migrations) {
      const row = done.get(m.name);
      if (row && row.checksum !== m.checksum) {
        throw new MigrationError(
          `SQLite migration ${m.name}.sql was changed after it was applied to this database (on ${new Date(row.applied_ms).toISOString()}): ` +
            'an applied migration is never edited; put the change in a new, higher-numbered migration, or restore the file as it was',
        );
      }
    }
    warnUnknown(rows, migrations, options);
    const insert = db.prepare('INSERT INTO schema_migrations (name, checksum, applied_ms) VALUES (?, ?, ?)');
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new MigrationError(`SQLite migration ${m.name}.sql failed, and none of this start's migrations were applied: ${(err as Error).message}`);
      }
      insert.run(m.name, m.checksum, Date.now());
      applied.push(m.name);
    }
    return { applied, legacy };
  });
  const { applied, legacy } = run.immediate();
  if (legacy) options.logger?.info({ baseline: [...BASELINE] }, 'SQLite: a central database from before numbered migrations; its schema recorded as the baseline, no row changed');
  if (applied.length > 0) options.logger?.info({ migrations: applied }, 'SQLite: migrations applied');
  return applied;
}

function warnUnknown(rows: ReadonlyArray<{ name: string }>, migrations: readonly Migration[], options: SqliteMigrateOptions): void {
  const known = new Set(migrations.map((m) => m.name));
  const unknown = rows.filter((r) => !known.has(r.name)).map((r) => r.name);
  // A newer central has been here (a downgrade): its migrations only add, so this one runs.
  if (unknown.length > 0) options.logger?.warn({ migrations: unknown }, 'SQLite: the database has migrations this version of central does not know (applied by a newer one)');
}
