// The member list on SQLite: the shared suite (test/store-suites/member-store-suite.ts) that PostgreSQL passes too,
// two store objects on one central.sqlite standing for two central instances.
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { memberStoreSuite } from '../../store-suites/member-store-suite.js';
import { storesOnOneSqliteFile } from '../../store-suites/sqlite-fixture.js';

memberStoreSuite('sqlite', () => storesOnOneSqliteFile((central) => new SqliteMemberStore(central.db)));
