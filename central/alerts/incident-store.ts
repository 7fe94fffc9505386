// The incidents' tables at central: incidents, their history, the notifications handed to the outbox, and the
// branches that are offline, in central's SQLite file. Used by the SQLite alerts store (sqlite-alerts-store.ts), which
// runs each of its changes in one transaction with the outbox's tables; PostgreSQL's are in pg-alerts-store.ts.
import type { Database as Db, Statement } from 'better-sqlite3';
import { migrateSqlite } from '../sqlite-migrations/migrate.js';

export type IncidentStatus = 'raised' | 'notified' | 'acknowledged' | 'cleared';

export interface IncidentRow {
  id: number;
  site: string;
  alarm: string;
  known: number;
  severity: string;
  detail: string | null;
  status: IncidentStatus;
  raised_ms: number;
  opened_ms: number;
  notified_ms: number | null;
  acknowledged_ms: number | null;
  acknowledged_by: string | null;
  ack_note: string | null;
  cleared_ms: number | null;
  cleared_by: string | null;
}

export interface HistoryRow {
  at_ms: number;
  kind: string;
  actor: string;
  note: string | null;
}

export interface NotificationRow {
  incident_id: number;
  step: number;
  repeat: number;
  channel: string;
  address: string;
  recipient: string;
  handed_ms: number;
  delivered_ms: number | null;
  failed: string | null;
}

export interface NewIncident {
  site: string;
  alarm: string;
  known: number;
  severity: string;
  detail: string | null;
  raised_ms: number;
  opened_ms: number;
}

function prepare(db: Db) {
  const p = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql);
  return {
    insert: p<[NewIncident]>(`INSERT INTO alert_incidents (site, alarm, known, severity, detail, status, raised_ms, opened_ms)
      VALUES (@site, @alarm, @known, @severity, @detail, 'raised', @raised_ms, @opened_ms)`),
    byId: p<[number], IncidentRow>('SELECT * FROM alert_incidents WHERE id = ?'),
    openFor: p<[string, string], IncidentRow>('SELECT * FROM alert_incidents WHERE site = ? AND alarm = ? AND cleared_ms IS NULL'),
    open: p<[number], IncidentRow>('SELECT * FROM alert_incidents WHERE cleared_ms IS NULL ORDER BY opened_ms DESC, id DESC LIMIT ?'),
    // A page of the list, newest first, before an id (paging); NULL leaves the filter out.
    page: p<[{ openOnly: number; site: string | null; alarm: string | null; beforeId: number; limit: number }], IncidentRow>(`SELECT * FROM alert_incidents
      WHERE (@openOnly = 0 OR cleared_ms IS NULL) AND (@site IS NULL OR site = @site) AND (@alarm IS NULL OR alarm = @alarm) AND id < @beforeId
      ORDER BY id DESC LIMIT @limit`),
    awaiting: p<[], IncidentRow>(`SELECT * FROM alert_incidents WHERE cleared_ms IS NULL AND status IN ('raised', 'notified') ORDER BY opened_ms, id`),
    setSeverity: p<[string, number]>('UPDATE alert_incidents SET severity = ? WHERE id = ?'),
    notified: p<[number, number]>(`UPDATE alert_incidents SET status = 'notified', notified_ms = COALESCE(notified_ms, ?)
      WHERE id = ? AND status = 'raised'`),
    acknowledge: p<[number, string, string | null, number]>(`UPDATE alert_incidents
      SET status = 'acknowledged', acknowledged_ms = ?, acknowledged_by = ?, ack_note = ?
      WHERE id = ? AND status IN ('raised', 'notified')`),
    clear: p<[number, string, number]>(`UPDATE alert_incidents SET status = 'cleared', cleared_ms = ?, cleared_by = ?
      WHERE id = ? AND cleared_ms IS NULL`),
    history: p<[number, number, string, string, string | null]>(
      'INSERT INTO alert_incident_history (incident_id, at_ms, kind, actor, note) VALUES (?, ?, ?, ?, ?)',
    ),
    historyOf: p<[number], HistoryRow>('SELECT at_ms, kind, actor, note FROM alert_incident_history WHERE incident_id = ? ORDER BY id'),
    handed: p<[number], NotificationRow>('SELECT * FROM alert_notifications WHERE incident_id = ? ORDER BY handed_ms, step, repeat'),
    hand: p<[number, number, number, string, string, string, number]>(`INSERT OR IGNORE INTO alert_notifications
      (incident_id, step, repeat, channel, address, recipient, handed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    delivered: p<[number, number, number, number, string, string]>(`UPDATE alert_notifications SET delivered_ms = ?, failed = NULL
      WHERE incident_id = ? AND step = ? AND repeat = ? AND channel = ? AND address = ? AND delivered_ms IS NULL`),
    failed: p<[string, number, number, number, string, string]>(`UPDATE alert_notifications SET failed = ?
      WHERE incident_id = ? AND step = ? AND repeat = ? AND channel = ? AND address = ? AND delivered_ms IS NULL`),
    offlineSince: p<[string, number]>('INSERT INTO alert_offline (site, since_ms) VALUES (?, ?) ON CONFLICT (site) DO NOTHING'),
    online: p<[string]>('DELETE FROM alert_offline WHERE site = ?'),
    overdue: p<[number], { site: string; since_ms: number }>('SELECT site, since_ms FROM alert_offline WHERE raised = 0 AND since_ms <= ? ORDER BY since_ms'),
    offlineRaised: p<[string]>('UPDATE alert_offline SET raised = 1 WHERE site = ?'),
    countsBetween: p<[number, number], { site: string; alarm: string; n: number }>(`SELECT site, alarm, count(*) AS n FROM alert_incidents
      WHERE opened_ms >= ? AND opened_ms < ? GROUP BY site, alarm ORDER BY n DESC, site, alarm`),
    ackTimesBetween: p<[number, number], { ms: number }>(`SELECT acknowledged_ms - opened_ms AS ms FROM alert_incidents
      WHERE opened_ms >= ? AND opened_ms < ? AND acknowledged_ms IS NOT NULL ORDER BY ms`),
    unackedBetween: p<[number, number], { n: number }>(`SELECT count(*) AS n FROM alert_incidents
      WHERE opened_ms >= ? AND opened_ms < ? AND acknowledged_ms IS NULL`),
    prunable: p<[number], { id: number }>('SELECT id FROM alert_incidents WHERE cleared_ms IS NOT NULL AND cleared_ms < ?'),
    deleteIncident: p<[number]>('DELETE FROM alert_incidents WHERE id = ?'),
    deleteHistory: p<[number]>('DELETE FROM alert_incident_history WHERE incident_id = ?'),
    deleteNotifications: p<[number]>('DELETE FROM alert_notifications WHERE incident_id = ?'),
  };
}

export class IncidentTables {
  private readonly q: ReturnType<typeof prepare>;

  constructor(readonly db: Db) {
    // The tables: central/sqlite-migrations/002-alerts.sql.
    migrateSqlite(db);
    this.q = prepare(db);
  }

  insert(row: NewIncident): number {
    return Number(this.q.insert.run(row).lastInsertRowid);
  }
  byId(id: number): IncidentRow | undefined {
    return this.q.byId.get(id);
  }
  openFor(site: string, alarm: string): IncidentRow | undefined {
    return this.q.openFor.get(site, alarm);
  }
  open(limit: number): IncidentRow[] {
    return this.q.open.all(limit);
  }
  /** Newest first, ids below `beforeId`; `openOnly` leaves out cleared ones. */
  page(filter: { openOnly: boolean; site: string | null; alarm: string | null; beforeId: number; limit: number }): IncidentRow[] {
    return this.q.page.all({ ...filter, openOnly: filter.openOnly ? 1 : 0 });
  }
  awaitingAcknowledgement(): IncidentRow[] {
    return this.q.awaiting.all();
  }
  setSeverity(id: number, severity: string): void {
    this.q.setSeverity.run(severity, id);
  }
  markNotified(id: number, atMs: number): boolean {
    return this.q.notified.run(atMs, id).changes > 0;
  }
  acknowledge(id: number, atMs: number, actor: string, note: string | null): boolean {
    return this.q.acknowledge.run(atMs, actor, note, id).changes > 0;
  }
  clear(id: number, atMs: number, actor: string): boolean {
    return this.q.clear.run(atMs, actor, id).changes > 0;
  }
  addHistory(id: number, atMs: number, kind: string, actor: string, note: string | null): void {
    this.q.history.run(id, atMs, kind, actor, note);
  }
  historyOf(id: number): HistoryRow[] {
    return this.q.historyOf.all(id);
  }
  notificationsOf(id: number): NotificationRow[] {
    return this.q.handed.all(id);
  }
  /** False when this one was already handed over. */
  hand(n: Omit<NotificationRow, 'delivered_ms' | 'failed'>): boolean {
    return this.q.hand.run(n.incident_id, n.step, n.repeat, n.channel, n.address, n.recipient, n.handed_ms).changes > 0;
  }
  markDelivered(key: NotificationKeyParts, atMs: number): boolean {
    return this.q.delivered.run(atMs, key.incidentId, key.step, key.repeat, key.channel, key.address).changes > 0;
  }
  markFailed(key: NotificationKeyParts, reason: string): boolean {
    return this.q.failed.run(reason, key.incidentId, key.step, key.repeat, key.channel, key.address).changes > 0;
  }
  offline(site: string, sinceMs: number): void {
    this.q.offlineSince.run(site, sinceMs);
  }
  online(site: string): void {
    this.q.online.run(site);
  }
  overdueOffline(beforeMs: number): Array<{ site: string; since_ms: number }> {
    return this.q.overdue.all(beforeMs);
  }
  offlineRaised(site: string): void {
    this.q.offlineRaised.run(site);
  }
  countsBetween(fromMs: number, toMs: number): Array<{ site: string; alarm: string; n: number }> {
    return this.q.countsBetween.all(fromMs, toMs);
  }
  ackTimesBetween(fromMs: number, toMs: number): number[] {
    return this.q.ackTimesBetween.all(fromMs, toMs).map((r) => r.ms);
  }
  unacknowledgedBetween(fromMs: number, toMs: number): number {
    return this.q.unackedBetween.get(fromMs, toMs)?.n ?? 0;
  }
  /** Incidents cleared before `beforeMs`, with their history and notifications. */
  prune(beforeMs: number): number {
    const ids = this.q.prunable.all(beforeMs);
    for (const { id } of ids) {
      this.q.deleteHistory.run(id);
      this.q.deleteNotifications.run(id);
      this.q.deleteIncident.run(id);
    }
    return ids.length;
  }
}

export interface NotificationKeyParts {
  incidentId: number;
  step: number;
  repeat: number;
  channel: string;
  address: string;
}
