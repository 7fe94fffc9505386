// A shared store suite's fixture on SQLite, central's embedded default: one central.sqlite in a temp folder, opened
// as central opens it (WAL, its schema), and opened again for `another()` store object (another instance, or the
// same one restarted), so that what one wrote the other reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CentralStore } from '../../central/store.js';

export async function storesOnOneSqliteFile<S>(make: (central: CentralStore) => S): Promise<{ store: S; another(): Promise<S>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-store-'));
  const path = join(dir, 'central.sqlite');
  const opened: CentralStore[] = [];
  const open = (): S => {
    const central = new CentralStore(path);
    opened.push(central);
    return make(central);
  };
  return {
    store: open(),
    another: async () => open(),
    close: async () => {
      for (const central of opened) central.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
