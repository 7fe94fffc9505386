// The shared sign-in suite (test/shared/auth-store-suite.ts) on SQLite, central's embedded default: a file in a temp
// folder, opened twice, so that a second store object (another instance, or the same one restarted) sees the first's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteAuthStore } from '../../../central/auth/auth-store.js';
import { authStoreSuite } from '../../shared/auth-store-suite.js';

authStoreSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oag-auth-'));
  const path = join(dir, 'central.sqlite');
  const dbs: Database.Database[] = [];
  const open = (): SqliteAuthStore => {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    dbs.push(db);
    return new SqliteAuthStore(db);
  };
  return {
    store: open(),
    another: async () => open(),
    close: async () => {
      for (const db of dbs) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
