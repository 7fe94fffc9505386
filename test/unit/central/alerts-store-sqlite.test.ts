// The shared alerting suite (test/shared/alerts-store-suite.ts) on SQLite, central's embedded default.
import { SqliteAlertsStore } from '../../../central/alerts/sqlite-alerts-store.js';
import { alertsStoreSuite } from '../../shared/alerts-store-suite.js';
import { storesOnOneSqliteFile } from '../../shared/sqlite-fixture.js';

alertsStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteAlertsStore(central.db)));
