// The shared history suite (test/shared/history-store-suite.ts) on SQLite, central's embedded default.
import { SqliteHistory } from '../../../central/history/sqlite-history.js';
import { historyStoreSuite } from '../../shared/history-store-suite.js';
import { storesOnOneSqliteFile } from '../../shared/sqlite-fixture.js';

historyStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteHistory(central)));
