// The shared alerting suite (test/store-suites/alerts-store-suite.ts) on SQLite, central's embedded default.
import { SqliteAlertsStore } from '../../../central/alerts/sqlite-alerts-store.js';
import { alertsStoreSuite } from '../../store-suites/alerts-store-suite.js';
import { storesOnOneSqliteFile } from '../../store-suites/sqlite-fixture.js';

alertsStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteAlertsStore(central.db)));
