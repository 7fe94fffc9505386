// Alerting's store in central's SQLite file, for one instance: the tables as they have always been (incident-store.ts,
// outbox-store.ts and the three small ones here; all made by central/sqlite-migrations/002-alerts.sql), each compound
// change one SQLite transaction. Asynchronous only by its interface (AlertsStore): every call is done when its promise
// is made.
import type { Database as Db, Statement } from 'better-sqlite3';
import type {
  ActInput,
  ActResult,
  AlertsStore,
  HandOverPlan,
  HandRow,
  LinkRow,
  OutboxInsert,
  RaiseInput,
  Raised,
  RuleVersionRow,
} from './alerts-store.js';
import { IncidentTables, type IncidentRow, type NotificationKeyParts } from './incident-store.js';
import { OutboxStore, type OutboxState } from './outbox-store.js';
import { severityRank } from './rules.js';

/** Thrown inside a transaction to roll it back with an answer. */
class Refused<T> {
  constructor(readonly answer: T) {}
}

export class SqliteAlertsStore implements AlertsStore {
  readonly incidents: IncidentTables;
  readonly outbox: OutboxStore;
  private readonly q: {
    seen: Statement<[string]>;
    ruleInsert: Statement<[string, string, number]>;
    ruleNewest: Statement<[number], RuleVersionRow>;
    ruleByVersion: Statement<[number], RuleVersionRow>;
    ruleLatest: Statement<[], { v: number | null }>;
    linkInsert: Statement<[Buffer, number, string, number, number]>;
    linkByHash: Statement<[Buffer], LinkRow>;
    linkUse: Statement<[number, Buffer, number]>;
    linkPrune: Statement<[number]>;
    offlineClaim: Statement<[number], { site: string; since_ms: number }>;
    raiseSeen: Statement<[string, string, number]>;
    latestFor: Statement<[string, string], IncidentRow>;
    raisesPrune: Statement<[number]>;
    cancelDone: Statement<[number, number]>;
  };

  constructor(readonly db: Db) {
    // The tables (central/sqlite-migrations/002-alerts.sql) are made, if need be, by the first of these.
    this.incidents = new IncidentTables(db);
    this.outbox = new OutboxStore(db);
    this.q = {
      seen: db.prepare('INSERT OR IGNORE INTO alert_state_seen (site) VALUES (?)'),
      ruleInsert: db.prepare('INSERT INTO alert_rule_versions (doc, actor, created_ms) VALUES (?, ?, ?)'),
      ruleNewest: db.prepare('SELECT * FROM alert_rule_versions ORDER BY version DESC LIMIT ?'),
      ruleByVersion: db.prepare('SELECT * FROM alert_rule_versions WHERE version = ?'),
      ruleLatest: db.prepare('SELECT max(version) AS v FROM alert_rule_versions'),
      linkInsert: db.prepare('INSERT INTO alert_ack_links (token_hash, incident_id, contact, issued_ms, expires_ms) VALUES (?, ?, ?, ?, ?)'),
      linkByHash: db.prepare('SELECT incident_id, contact, issued_ms, expires_ms, used_ms FROM alert_ack_links WHERE token_hash = ?'),
      linkUse: db.prepare('UPDATE alert_ack_links SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?'),
      linkPrune: db.prepare('DELETE FROM alert_ack_links WHERE expires_ms < ?'),
      offlineClaim: db.prepare('UPDATE alert_offline SET raised = 1 WHERE raised = 0 AND since_ms <= ? RETURNING site, since_ms'),
      raiseSeen: db.prepare('INSERT OR IGNORE INTO alert_raises (site, event_id, at_ms) VALUES (?, ?, ?)'),
      latestFor: db.prepare('SELECT * FROM alert_incidents WHERE site = ? AND alarm = ? ORDER BY (cleared_ms IS NULL) DESC, id DESC LIMIT 1'),
      raisesPrune: db.prepare('DELETE FROM alert_raises WHERE at_ms < ?'),
      // Due rows of an incident acknowledged or closed (through any instance, whoever's outbox was told) are not sent.
      cancelDone: db.prepare(
        `UPDATE alert_outbox SET state = 'cancelled', finished_ms = ?, next_ms = NULL, ack_link = NULL,
           last_error = 'not needed any more: the incident was ' || (
             SELECT i.status FROM alert_incidents i WHERE i.id = CAST(alert_outbox.incident_id AS INTEGER) AND CAST(i.id AS TEXT) = alert_outbox.incident_id)
         WHERE state = 'pending' AND next_ms <= ? AND EXISTS (
           SELECT 1 FROM alert_incidents i
           WHERE i.id = CAST(alert_outbox.incident_id AS INTEGER) AND CAST(i.id AS TEXT) = alert_outbox.incident_id AND i.status IN ('acknowledged', 'cleared'))`,
      ),
    };
  }

  private tx<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(fn)());
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  // ---- incidents ----

  incident(id: number) {
    return this.tx(() => this.incidents.byId(id));
  }
  openIncidents(limit: number) {
    return this.tx(() => this.incidents.open(limit));
  }
  incidentPage(filter: { openOnly: boolean; site: string | null; alarm: string | null; beforeId: number; limit: number }) {
    return this.tx(() => this.incidents.page(filter));
  }
  awaitingAcknowledgement() {
    return this.tx(() => this.incidents.awaitingAcknowledgement());
  }
  historyOf(id: number) {
    return this.tx(() => this.incidents.historyOf(id));
  }
  notificationsOf(id: number) {
    return this.tx(() => this.incidents.notificationsOf(id));
  }

  raise(r: RaiseInput, nowMs: number): Promise<Raised> {
    return this.tx(() => this.raiseNow(r, nowMs));
  }

  private raiseNow(r: RaiseInput, nowMs: number): Raised {
    const t = this.incidents;
    if (r.eventId !== null && this.q.raiseSeen.run(r.site, r.eventId, nowMs).changes === 0) {
      // Recorded already (another instance was handed the same event): told as it stands, nothing written.
      const row = this.q.latestFor.get(r.site, r.alarm);
      if (row) return { row, kind: row.raised_ms === r.raised_ms ? 'raised' : 'raised-again' };
    }
    const open = t.openFor(r.site, r.alarm);
    if (open) {
      // A higher severity on the repeat (a newer gateway's reading) is kept; a lower one never hides the first.
      if (severityRank(r.severity) > severityRank(open.severity)) t.setSeverity(open.id, r.severity);
      t.addHistory(open.id, nowMs, 'raised-again', r.actor, r.detail);
      return { row: t.byId(open.id) as IncidentRow, kind: 'raised-again' };
    }
    const id = t.insert({ site: r.site, alarm: r.alarm, known: r.known, severity: r.severity, detail: r.detail, raised_ms: r.raised_ms, opened_ms: nowMs });
    t.addHistory(id, nowMs, 'raised', r.actor, r.detail);
    return { row: t.byId(id) as IncidentRow, kind: 'raised' };
  }

  clearOpen(c: { site: string; alarm: string; actor: string; atMs: number; note: string | null; online?: boolean }): Promise<IncidentRow | null> {
    return this.tx(() => {
      const t = this.incidents;
      if (c.online === true) t.online(c.site);
      const open = t.openFor(c.site, c.alarm);
      if (!open) return null;
      t.clear(open.id, c.atMs, c.actor);
      t.addHistory(open.id, c.atMs, 'cleared', c.actor, c.note);
      return t.byId(open.id) as IncidentRow;
    });
  }

  act(a: ActInput): Promise<ActResult> {
    return this.tx(() => this.actNow(a));
  }

  private actNow(a: ActInput): ActResult {
    const t = this.incidents;
    const row = t.byId(a.id);
    if (!row) return { ok: false, code: 'not-found' };
    if (row.cleared_ms !== null) return { ok: false, code: 'cleared', row };
    if (a.kind === 'acknowledged') {
      if (row.acknowledged_ms !== null) return { ok: false, code: 'already-acknowledged', row };
      t.acknowledge(a.id, a.atMs, a.actor, a.note);
    } else {
      t.clear(a.id, a.atMs, a.actor);
    }
    t.addHistory(a.id, a.atMs, a.kind, a.actor, a.note);
    return { ok: true, row: t.byId(a.id) as IncidentRow };
  }

  offline(site: string, sinceMs: number): Promise<void> {
    return this.tx(() => this.incidents.offline(site, sinceMs));
  }

  claimOverdueOffline(beforeMs: number) {
    return this.tx(() => this.q.offlineClaim.all(beforeMs).sort((a, b) => a.since_ms - b.since_ms || a.site.localeCompare(b.site)));
  }

  handOver(requests: readonly HandRow[], atMs: number, plan: (fresh: HandRow[]) => HandOverPlan) {
    return this.tx(() => {
      const t = this.incidents;
      const fresh = requests.filter((r) => t.hand(r));
      const { notified, outbox } = plan(fresh);
      for (const n of notified) {
        t.markNotified(n.incidentId, atMs);
        t.addHistory(n.incidentId, atMs, 'notified', 'central', n.note);
      }
      return { fresh, outbox: this.insertOutbox(outbox, atMs) };
    });
  }

  reportDelivery(key: NotificationKeyParts, atMs: number, outcome: { delivered: true } | { failed: string }, note: string): Promise<boolean> {
    return this.tx(() => {
      const t = this.incidents;
      const done = 'delivered' in outcome ? t.markDelivered(key, atMs) : t.markFailed(key, outcome.failed);
      if (done) t.addHistory(key.incidentId, atMs, 'delivered' in outcome ? 'delivered' : 'delivery-failed', 'central', note);
      return done;
    });
  }

  countsBetween(fromMs: number, toMs: number) {
    return this.tx(() => this.incidents.countsBetween(fromMs, toMs));
  }
  ackTimesBetween(fromMs: number, toMs: number) {
    return this.tx(() => this.incidents.ackTimesBetween(fromMs, toMs));
  }
  unacknowledgedBetween(fromMs: number, toMs: number) {
    return this.tx(() => this.incidents.unacknowledgedBetween(fromMs, toMs));
  }
  pruneIncidents(beforeMs: number) {
    return this.tx(() => {
      this.q.raisesPrune.run(beforeMs);
      return this.incidents.prune(beforeMs);
    });
  }

  // ---- branches seen ----

  firstSight(site: string, raises: readonly RaiseInput[], nowMs: number): Promise<Raised[] | null> {
    return this.tx(() => {
      if (this.q.seen.run(site).changes === 0) return null;
      return raises.map((r) => this.raiseNow(r, nowMs));
    });
  }

  // ---- rule versions ----

  ruleVersions(limit: number) {
    return this.tx(() => this.q.ruleNewest.all(limit));
  }
  ruleVersion(version: number) {
    return this.tx(() => this.q.ruleByVersion.get(version));
  }
  saveRuleVersion(doc: string, actor: string, atMs: number, basedOn: number | undefined) {
    return this.tx((): { ok: true; version: number } | { ok: false; latest: number } => {
      const latest = this.q.ruleLatest.get()?.v ?? 0;
      if (basedOn !== undefined && basedOn !== latest) return { ok: false, latest };
      return { ok: true, version: Number(this.q.ruleInsert.run(doc, actor, atMs).lastInsertRowid) };
    });
  }

  // ---- acknowledgement links ----

  insertLink(hash: Buffer, incidentId: number, contact: string, issuedMs: number, expiresMs: number): Promise<void> {
    return this.tx(() => void this.q.linkInsert.run(hash, incidentId, contact, issuedMs, expiresMs));
  }
  link(hash: Buffer) {
    return this.tx(() => this.q.linkByHash.get(hash));
  }
  async acknowledgeByLink(hash: Buffer, act: ActInput): Promise<ActResult | { ok: false; code: 'used' }> {
    try {
      return await this.tx(() => {
        if (this.q.linkUse.run(act.atMs, hash, act.atMs).changes === 0) return { ok: false as const, code: 'used' as const };
        const done = this.actNow(act);
        // Refused: the link stays as it was.
        if (!done.ok) throw new Refused(done);
        return done;
      });
    } catch (error) {
      if (error instanceof Refused) return error.answer as ActResult;
      throw error;
    }
  }
  pruneLinks(beforeMs: number) {
    return this.tx(() => this.q.linkPrune.run(beforeMs).changes);
  }

  // ---- outbox ----

  private insertOutbox(rows: readonly OutboxInsert[], nowMs: number): Array<{ id: number; created: boolean }> {
    return rows.map(({ row, refused }) => {
      const result = this.outbox.insert(row, nowMs);
      if (result.created && refused !== null) this.outbox.failed(result.id, nowMs, refused);
      return result;
    });
  }

  outboxInsert(rows: readonly OutboxInsert[], nowMs: number) {
    return this.tx(() => this.insertOutbox(rows, nowMs));
  }
  outboxRow(id: number) {
    return this.tx(() => this.outbox.get(id));
  }
  outboxForIncident(incidentId: string) {
    return this.tx(() => this.outbox.forIncident(incidentId));
  }
  claimDue(nowMs: number, excludeChannels: readonly string[], limit: number) {
    // One transaction: another connection's claim waits for it, and then finds the rows no longer pending.
    return this.tx(() => {
      this.q.cancelDone.run(nowMs, nowMs);
      return this.outbox.due(nowMs, excludeChannels, limit).flatMap(({ id }) => this.outbox.claim(id, nowMs) ?? []);
    });
  }
  outboxDelivered(id: number, nowMs: number) {
    return this.tx(() => this.outbox.delivered(id, nowMs));
  }
  outboxRetry(id: number, nextMs: number, error: string) {
    return this.tx(() => this.outbox.retry(id, nextMs, error));
  }
  outboxFailed(id: number, nowMs: number, error: string) {
    return this.tx(() => this.outbox.failed(id, nowMs, error));
  }
  outboxCancel(incidentId: string, nowMs: number, reason: string) {
    return this.tx(() => this.outbox.cancel(incidentId, nowMs, reason));
  }
  resumeSending(nowMs: number, claimedBeforeMs?: number) {
    return this.tx(() => this.outbox.resumeSending(nowMs, claimedBeforeMs));
  }
  oldestSendingMs() {
    return this.tx(() => this.outbox.oldestSendingMs());
  }
  nextDueMs() {
    return this.tx(() => this.outbox.nextDueMs());
  }
  outboxCounts(): Promise<Record<OutboxState, number>> {
    return this.tx(() => this.outbox.counts());
  }
  waitingByChannel() {
    return this.tx(() => this.outbox.waitingByChannel());
  }
  purgeFinishedBefore(beforeMs: number) {
    return this.tx(() => this.outbox.purgeFinishedBefore(beforeMs));
  }
  channelHealth() {
    return this.tx(() => this.outbox.health());
  }
  putChannelHealth(channel: string, ok: boolean, sinceMs: number, reason: string): Promise<void> {
    return this.tx(() => this.outbox.putHealth(channel, ok, sinceMs, reason));
  }
}
