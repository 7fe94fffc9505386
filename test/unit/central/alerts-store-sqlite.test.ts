// The shared alerting suite (test/shared/alerts-store-suite.ts) on SQLite, central's embedded default: a file in a
// temp folder, opened twice, so that a second store object (another instance, or the same one restarted) sees the first's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteAlertsStore } from '../../../central/alerts/sqlite-alerts-store.js';
import { alertsStoreSuite } from '../../shared/alerts-store-suite.js';

alertsStoreSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oag-alerts-store-'));
  const path = join(dir, 'central.sqlite');
  const dbs: Database.Database[] = [];
  const open = (): SqliteAlertsStore => {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    dbs.push(db);
    return new SqliteAlertsStore(db);
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
