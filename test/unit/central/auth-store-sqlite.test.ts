// The shared sign-in suite (test/shared/auth-store-suite.ts) on SQLite, central's embedded default.
import { SqliteAuthStore } from '../../../central/auth/auth-store.js';
import { authStoreSuite } from '../../shared/auth-store-suite.js';
import { storesOnOneSqliteFile } from '../../shared/sqlite-fixture.js';

authStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteAuthStore(central.db)));
