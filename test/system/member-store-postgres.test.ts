// Central's member list on PostgreSQL: the shared suite (test/store-suites/member-store-suite.ts) that SQLite passes
// too, each test on a database of its own with two store objects on their own pools (two central instances): a
// version made through one is current through the other, and changes made at once make consecutive versions.
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { PgMemberStore } from '../../central/members/pg-member-store.js';
import { memberStoreSuite } from '../store-suites/member-store-suite.js';
import { startPostgres, type RunningPostgres, storesOnNewDatabase } from '../helpers/postgres.js';

const logger = pino({ level: 'silent' });
let server: RunningPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server.stop();
});

memberStoreSuite('postgres', () => storesOnNewDatabase(server, (url) => PgMemberStore.open(url, { logger, max: 4 })));
