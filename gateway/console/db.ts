// The console's own connection to the gateway's store file. The store's classes do not hand out their database
// handle, and the console's tables (users, sessions: migration `console`; API tokens: `console-tokens`) are nobody
// else's business, so the
// console opens the same file a second time. WAL lets both connections work side by side; a write waits for the
// other's (busy timeout) instead of failing.
import Database from 'better-sqlite3';
import { StoreError } from '../store/index.js';
import type { Store } from '../store/index.js';
import { migrations } from '../store/migrations.js';

export type ConsoleDb = Database.Database;

const CONSOLE_MIGRATIONS = migrations.filter((m) => m.name === 'console' || m.name === 'console-tokens');
const NEEDED_VERSION = Math.max(...CONSOLE_MIGRATIONS.map((m) => m.id));

export function openConsoleDb(store: Pick<Store, 'path'>, options: { busyTimeoutMs?: number } = {}): ConsoleDb {
  if (CONSOLE_MIGRATIONS.length !== 2) throw new StoreError('the store has no "console" and "console-tokens" migrations');
  const memory = store.path === ':memory:' || store.path === '';
  if (memory) {
    // A memory store cannot be shared between connections: the console keeps its tables in its own, for tests.
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    for (const migration of CONSOLE_MIGRATIONS) db.exec(migration.up);
    return db;
  }
  const db = new Database(store.path, { timeout: options.busyTimeoutMs ?? 5000, fileMustExist: true });
  try {
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < NEEDED_VERSION) {
      throw new StoreError(`${store.path}: the store (schema ${version}) has no console tables yet; open it with the gateway first`);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
