// Where central's history lives, from `store:` in its config: the SQLite file (one central, the default) or
// PostgreSQL (`store.postgres`, which several instances share). The pool is opened here once, migrated, and handed
// to whatever else lives in PostgreSQL (the leader lock, the live stream across instances).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { openMigrated } from '../pg/migrate.js';
import { describePgUrl, type PgPool } from '../pg/pool.js';
import type { CentralStore } from '../store.js';
import type { HistoryStore } from './history-store.js';
import { PgHistory } from './pg-history.js';
import { SqliteHistory } from './sqlite-history.js';

export class CentralDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CentralDatabaseError';
  }
}

export interface CentralDatabase {
  history: HistoryStore;
  /** The PostgreSQL pool (null on SQLite). */
  pool: PgPool | null;
  /** Where, for the log (a URL without its password, or the file). */
  where: string;
  /** The PostgreSQL URL, for the connections that live outside the pool (the live stream's LISTEN); a secret. */
  url: string | null;
  close(): Promise<void>;
}

export interface HistoryConfig {
  path: string;
  postgres?: { urlFile: string; poolSize: number } | undefined;
}

export async function openCentralDatabase(config: HistoryConfig, sqlite: CentralStore, logger: Logger): Promise<CentralDatabase> {
  if (config.postgres === undefined) {
    return { history: new SqliteHistory(sqlite), pool: null, where: config.path, url: null, close: async () => {} };
  }
  const url = readPostgresUrl(config.postgres.urlFile);
  let pool: PgPool;
  try {
    pool = await openMigrated(url, { logger, max: config.postgres.poolSize });
  } catch (err) {
    // Unreachable, refused, or a migration that cannot run: central does not start half-way.
    throw new CentralDatabaseError(`store.postgres (${describePgUrl(url)}): ${(err as Error).message}`);
  }
  const history = new PgHistory(pool, { logger });
  return { history, pool, where: describePgUrl(url), url, close: () => pool.end() };
}

/** The URL in `store.postgres.urlFile`, or a CentralDatabaseError naming the setting and what is wrong. */
export function readPostgresUrl(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CentralDatabaseError(`store.postgres.urlFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!/^postgres(ql)?:\/\//.test(text)) {
    throw new CentralDatabaseError(`store.postgres.urlFile: ${file} must hold one URL, postgres://user:password@host:port/database`);
  }
  return text;
}
