// The shared history suite (test/store-suites/history-store-suite.ts) on SQLite, central's embedded default.
import { SqliteHistory } from '../../../central/history/sqlite-history.js';
import { historyStoreSuite } from '../../store-suites/history-store-suite.js';
import { storesOnOneSqliteFile } from '../../store-suites/sqlite-fixture.js';

historyStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteHistory(central)));
