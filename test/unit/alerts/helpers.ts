// A rules document and central's alert parts on a real SQLite database, for the alert tests.
import Database from 'better-sqlite3';
import { Incidents, type AlarmReport } from '../../../central/alerts/incidents.js';
import { SqliteAlertsStore } from '../../../central/alerts/sqlite-alerts-store.js';
import { AlertRules, AlertRulesSchema, type AlertRulesInput } from '../../../central/alerts/rules.js';
import type { OutboxInsert } from '../../../central/alerts/alerts-store.js';
import type { NotificationRequest, NotificationSink } from '../../../central/alerts/types.js';

export const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** Alice on call by day, Carol by night; Bob behind them; an alarm centre on a webhook. */
export function rulesInput(over: Partial<AlertRulesInput> = {}): AlertRulesInput {
  return {
    contacts: [
      { name: 'Alice', email: 'alice@example.org', sms: '+447700900001' },
      { name: 'Bob', email: 'bob@example.org' },
      { name: 'Carol', email: 'carol@example.org', sms: '+447700900003' },
      { name: 'ARC', webhook: 'https://arc.example.org/hook' },
    ],
    rotas: {
      primary: {
        shifts: [
          { days: [...EVERY_DAY], from: '08:00', to: '20:00', contact: 'Alice' },
          { days: [...EVERY_DAY], from: '20:00', to: '08:00', contact: 'Carol' },
        ],
      },
    },
    regions: { north: ['north-a', 'north-b'] },
    offline: { afterMinutes: 10 },
    rules: [
      {
        id: 'fire',
        alarms: ['fire', 'door-released-closed'],
        steps: [
          { afterMinutes: 0, onCall: 'primary', via: ['sms'] },
          { afterMinutes: 15, contacts: ['Bob'] },
        ],
      },
      { id: 'north-major', alarms: ['*'], regions: ['north'], minSeverity: 'major', steps: [{ afterMinutes: 0, contacts: ['Bob', 'ARC'] }] },
      { id: 'offline', alarms: ['offline'], steps: [{ afterMinutes: 0, contacts: ['Bob'] }] },
    ],
    ...over,
  };
}

export function rulesOf(input: AlertRulesInput = rulesInput(), version = 1): AlertRules {
  return new AlertRules(AlertRulesSchema.parse(input), version, 'Europe/London');
}

export function incidentsDb() {
  const db = new Database(':memory:');
  const incidents = new Incidents(new SqliteAlertsStore(db));
  return { db, incidents };
}

export function raise(over: Partial<AlarmReport> = {}): AlarmReport {
  return { site: 'riverside', alarm: 'fire', state: 'raised', severity: 'critical', at: '2025-06-02T20:59:58.000Z', ...over };
}

/**
 * The outbox's side of the boundary: what the scheduler handed over, in order, in a table of the same database,
 * written in the hand-over's transaction (a refusal rolls it back with the hand-over).
 */
export class TableSink implements NotificationSink {
  failNext = 0;
  constructor(private readonly db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS test_outbox (seq INTEGER PRIMARY KEY, request TEXT NOT NULL, at_ms INTEGER NOT NULL)');
  }
  rows(requests: readonly NotificationRequest[], at: Date): OutboxInsert[] {
    const insert = this.db.prepare('INSERT INTO test_outbox (request, at_ms) VALUES (?, ?)');
    for (const r of requests) insert.run(JSON.stringify(r), at.getTime());
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('outbox refused (disk full)');
    }
    return [];
  }
  async handed(): Promise<void> {}
  all(): NotificationRequest[] {
    return (this.db.prepare('SELECT request FROM test_outbox ORDER BY seq').all() as Array<{ request: string }>).map((r) => JSON.parse(r.request) as NotificationRequest);
  }
  /** `name channel step.repeat` for each request, in order. */
  summary(): string[] {
    return this.all().map((r) => `${r.recipient.name} ${r.recipient.channel} ${r.step}.${r.repeat}`);
  }
}
