// The shared history suite (test/shared/history-store-suite.ts) on SQLite: central's embedded default, a file in a
// temp folder so that a second store object (an instance restarted) opens the same history.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteHistory } from '../../../central/history/sqlite-history.js';
import { CentralStore } from '../../../central/store.js';
import { historyStoreSuite } from '../../shared/history-store-suite.js';

historyStoreSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oag-history-'));
  const path = join(dir, 'central.sqlite');
  const stores: CentralStore[] = [];
  const open = (): SqliteHistory => {
    const store = new CentralStore(path);
    stores.push(store);
    return new SqliteHistory(store);
  };
  return {
    store: open(),
    another: async () => open(),
    close: async () => {
      for (const s of stores) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
