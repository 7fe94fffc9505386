// Central's alerting on PostgreSQL: the shared suite (test/store-suites/alerts-store-suite.ts) that SQLite passes too, each
// test on a database of its own with two store objects on their own pools (two central instances): an incident
// acknowledged through one stops the other's reminders, and two outboxes claiming due rows at once send each once.
import pino from 'pino';
import { PgAlertsStore } from '../../central/alerts/pg-alerts-store.js';
import { alertsStoreSuite } from '../store-suites/alerts-store-suite.js';
import { postgresPerFile } from '../helpers/postgres-per-file.js';
import { storesOnNewDatabase } from '../helpers/postgres.js';

const logger = pino({ level: 'silent' });
const server = postgresPerFile();

alertsStoreSuite('postgres', () => storesOnNewDatabase(server, (url) => PgAlertsStore.open(url, { logger, max: 4 })));
