// The shared sign-in suite (test/store-suites/auth-store-suite.ts) on SQLite, central's embedded default.
import { SqliteAuthStore } from '../../../central/auth/auth-store.js';
import { authStoreSuite } from '../../store-suites/auth-store-suite.js';
import { storesOnOneSqliteFile } from '../../store-suites/sqlite-fixture.js';

authStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteAuthStore(central.db)));
