// Alerting's store on PostgreSQL (tables: central/pg/migrations/020-alerts.sql), shared by every instance of a
// cluster: the same answers as the SQLite store (sqlite-alerts-store.ts). Each change that reads before it writes
// runs in one transaction with the rows it reads locked (FOR UPDATE), and the outbox's claim skips rows another
// instance holds (FOR UPDATE SKIP LOCKED), so that a message is claimed, and sent, by one of them.
import type { Logger } from 'pino';
import { openMigrated } from '../pg/migrate.js';
import { inTransaction, type PgClient, type PgPool } from '../pg/pool.js';
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
import type { HistoryRow, IncidentRow, NotificationKeyParts, NotificationRow } from './incident-store.js';
import { insertValues, toRow, toSending, type ChannelHealthRow, type OutboxDbRow, type OutboxState } from './outbox-store.js';
import { severityRank } from './rules.js';

type Queryable = Pick<PgClient, 'query'>;

const UNIQUE_VIOLATION = '23505';
/** The incident an outbox row (alias `o`) is for: its incident_id is text, an incident's id when it is digits only. */
const INCIDENT_OF_ROW = (o: string): string => `(CASE WHEN ${o}.incident_id ~ '^[0-9]{1,18}$' THEN ${o}.incident_id::bigint END)`;

/** Thrown inside a transaction to roll it back with an answer. */
class Refused {
  constructor(readonly answer: ActResult) {}
}

export class PgAlertsStore implements AlertsStore {
  private constructor(
    readonly pool: PgPool,
    private readonly ownsPool: boolean,
  ) {}

  /** On central's shared pool (central/main.ts): closing the store leaves the pool open. */
  static onPool(pool: PgPool): PgAlertsStore {
    return new PgAlertsStore(pool, false);
  }

  /** On a pool of its own, migrated (tests, tools). */
  static async open(url: string, options: { logger: Logger; max?: number | undefined }): Promise<PgAlertsStore> {
    return new PgAlertsStore(await openMigrated(url, options), true);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  private async rows<R extends object>(sql: string, values: unknown[] = [], on: Queryable = this.pool): Promise<R[]> {
    return (await on.query<R>(sql, values)).rows;
  }

  private tx<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  // ---- incidents ----

  async incident(id: number): Promise<IncidentRow | undefined> {
    return (await this.rows<IncidentRow>('SELECT * FROM alert_incidents WHERE id = $1', [id]))[0];
  }
  openIncidents(limit: number): Promise<IncidentRow[]> {
    return this.rows('SELECT * FROM alert_incidents WHERE cleared_ms IS NULL ORDER BY opened_ms DESC, id DESC LIMIT $1', [limit]);
  }
  incidentPage(f: { openOnly: boolean; site: string | null; alarm: string | null; beforeId: number; limit: number }): Promise<IncidentRow[]> {
    return this.rows(
      `SELECT * FROM alert_incidents
       WHERE ($1::boolean = false OR cleared_ms IS NULL) AND ($2::text IS NULL OR site = $2) AND ($3::text IS NULL OR alarm = $3) AND id < $4
       ORDER BY id DESC LIMIT $5`,
      [f.openOnly, f.site, f.alarm, f.beforeId, f.limit],
    );
  }
  awaitingAcknowledgement(): Promise<IncidentRow[]> {
    return this.rows(`SELECT * FROM alert_incidents WHERE cleared_ms IS NULL AND status IN ('raised', 'notified') ORDER BY opened_ms, id`);
  }
  historyOf(id: number): Promise<HistoryRow[]> {
    return this.rows('SELECT at_ms, kind, actor, note FROM alert_incident_history WHERE incident_id = $1 ORDER BY id', [id]);
  }
  notificationsOf(id: number): Promise<NotificationRow[]> {
    return this.rows('SELECT * FROM alert_notifications WHERE incident_id = $1 ORDER BY handed_ms, step, repeat', [id]);
  }

  private async history(c: Queryable, id: number, atMs: number, kind: string, actor: string, note: string | null): Promise<void> {
    await c.query('INSERT INTO alert_incident_history (incident_id, at_ms, kind, actor, note) VALUES ($1, $2, $3, $4, $5)', [id, atMs, kind, actor, note]);
  }

  private async byId(c: Queryable, id: number): Promise<IncidentRow> {
    return (await this.rows<IncidentRow>('SELECT * FROM alert_incidents WHERE id = $1', [id], c))[0] as IncidentRow;
  }

  async raise(r: RaiseInput, nowMs: number): Promise<Raised> {
    // Two instances raising one alarm at once: the second's insert meets the one-open index, and is then a repeat.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.tx((c) => this.raiseIn(c, r, nowMs));
      } catch (error) {
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION || attempt > 0) throw error;
      }
    }
  }

  private async raiseIn(c: Queryable, r: RaiseInput, nowMs: number): Promise<Raised> {
    const seen = r.eventId === null ? null : await c.query('INSERT INTO alert_raises (site, event_id, at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [r.site, r.eventId, nowMs]);
    if (seen !== null && (seen.rowCount ?? 0) === 0) {
      // Recorded already (another instance was handed the same event): told as it stands, nothing written.
      const row = (
        await this.rows<IncidentRow>('SELECT * FROM alert_incidents WHERE site = $1 AND alarm = $2 ORDER BY (cleared_ms IS NULL) DESC, id DESC LIMIT 1', [r.site, r.alarm], c)
      )[0];
      if (row) return { row, kind: row.raised_ms === r.raised_ms ? 'raised' : 'raised-again' };
    }
    const open = (await this.rows<IncidentRow>('SELECT * FROM alert_incidents WHERE site = $1 AND alarm = $2 AND cleared_ms IS NULL FOR UPDATE', [r.site, r.alarm], c))[0];
    if (open) {
      if (severityRank(r.severity) > severityRank(open.severity)) await c.query('UPDATE alert_incidents SET severity = $1 WHERE id = $2', [r.severity, open.id]);
      await this.history(c, open.id, nowMs, 'raised-again', r.actor, r.detail);
      return { row: await this.byId(c, open.id), kind: 'raised-again' };
    }
    const row = (
      await this.rows<IncidentRow>(
        `INSERT INTO alert_incidents (site, alarm, known, severity, detail, status, raised_ms, opened_ms)
         VALUES ($1, $2, $3, $4, $5, 'raised', $6, $7) RETURNING *`,
        [r.site, r.alarm, r.known, r.severity, r.detail, r.raised_ms, nowMs],
        c,
      )
    )[0] as IncidentRow;
    await this.history(c, row.id, nowMs, 'raised', r.actor, r.detail);
    return { row, kind: 'raised' };
  }

  clearOpen(x: { site: string; alarm: string; actor: string; atMs: number; note: string | null; online?: boolean }): Promise<IncidentRow | null> {
    return this.tx(async (c) => {
      if (x.online === true) await c.query('DELETE FROM alert_offline WHERE site = $1', [x.site]);
      const row = (
        await this.rows<IncidentRow>(
          `UPDATE alert_incidents SET status = 'cleared', cleared_ms = $1, cleared_by = $2
           WHERE site = $3 AND alarm = $4 AND cleared_ms IS NULL RETURNING *`,
          [x.atMs, x.actor, x.site, x.alarm],
          c,
        )
      )[0];
      if (!row) return null;
      await this.history(c, row.id, x.atMs, 'cleared', x.actor, x.note);
      return row;
    });
  }

  act(a: ActInput): Promise<ActResult> {
    return this.tx((c) => this.actIn(c, a));
  }

  private async actIn(c: Queryable, a: ActInput): Promise<ActResult> {
    const row = (await this.rows<IncidentRow>('SELECT * FROM alert_incidents WHERE id = $1 FOR UPDATE', [a.id], c))[0];
    if (!row) return { ok: false, code: 'not-found' };
    if (row.cleared_ms !== null) return { ok: false, code: 'cleared', row };
    if (a.kind === 'acknowledged') {
      if (row.acknowledged_ms !== null) return { ok: false, code: 'already-acknowledged', row };
      await c.query(`UPDATE alert_incidents SET status = 'acknowledged', acknowledged_ms = $1, acknowledged_by = $2, ack_note = $3 WHERE id = $4`, [
        a.atMs,
        a.actor,
        a.note,
        a.id,
      ]);
    } else {
      await c.query(`UPDATE alert_incidents SET status = 'cleared', cleared_ms = $1, cleared_by = $2 WHERE id = $3`, [a.atMs, a.actor, a.id]);
    }
    await this.history(c, a.id, a.atMs, a.kind, a.actor, a.note);
    return { ok: true, row: await this.byId(c, a.id) };
  }

  async offline(site: string, sinceMs: number): Promise<void> {
    await this.pool.query('INSERT INTO alert_offline (site, since_ms) VALUES ($1, $2) ON CONFLICT (site) DO NOTHING', [site, sinceMs]);
  }

  async claimOverdueOffline(beforeMs: number): Promise<Array<{ site: string; since_ms: number }>> {
    const rows = await this.rows<{ site: string; since_ms: number }>('UPDATE alert_offline SET raised = 1 WHERE raised = 0 AND since_ms <= $1 RETURNING site, since_ms', [beforeMs]);
    return rows.sort((a, b) => a.since_ms - b.since_ms || (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
  }

  handOver(requests: readonly HandRow[], atMs: number, plan: (fresh: HandRow[]) => HandOverPlan) {
    return this.tx(async (c) => {
      const fresh: HandRow[] = [];
      for (const r of requests) {
        const done = await c.query(
          `INSERT INTO alert_notifications (incident_id, step, repeat, channel, address, recipient, handed_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [r.incident_id, r.step, r.repeat, r.channel, r.address, r.recipient, r.handed_ms],
        );
        if ((done.rowCount ?? 0) > 0) fresh.push(r);
      }
      const { notified, outbox } = plan(fresh);
      for (const n of notified) {
        await c.query(`UPDATE alert_incidents SET status = 'notified', notified_ms = COALESCE(notified_ms, $1) WHERE id = $2 AND status = 'raised'`, [atMs, n.incidentId]);
        await this.history(c, n.incidentId, atMs, 'notified', 'central', n.note);
      }
      return { fresh, outbox: await this.insertOutbox(c, outbox, atMs) };
    });
  }

  reportDelivery(key: NotificationKeyParts, atMs: number, outcome: { delivered: true } | { failed: string }, note: string): Promise<boolean> {
    return this.tx(async (c) => {
      const where = 'incident_id = $2 AND step = $3 AND repeat = $4 AND channel = $5 AND address = $6 AND delivered_ms IS NULL';
      const keys = [key.incidentId, key.step, key.repeat, key.channel, key.address];
      const done =
        'delivered' in outcome
          ? await c.query(`UPDATE alert_notifications SET delivered_ms = $1, failed = NULL WHERE ${where}`, [atMs, ...keys])
          : await c.query(`UPDATE alert_notifications SET failed = $1 WHERE ${where}`, [outcome.failed, ...keys]);
      if ((done.rowCount ?? 0) === 0) return false;
      await this.history(c, key.incidentId, atMs, 'delivered' in outcome ? 'delivered' : 'delivery-failed', 'central', note);
      return true;
    });
  }

  countsBetween(fromMs: number, toMs: number) {
    return this.rows<{ site: string; alarm: string; n: number }>(
      `SELECT site, alarm, count(*) AS n FROM alert_incidents WHERE opened_ms >= $1 AND opened_ms < $2
       GROUP BY site, alarm ORDER BY n DESC, site, alarm`,
      [fromMs, toMs],
    );
  }
  async ackTimesBetween(fromMs: number, toMs: number): Promise<number[]> {
    const rows = await this.rows<{ ms: number }>(
      `SELECT acknowledged_ms - opened_ms AS ms FROM alert_incidents
       WHERE opened_ms >= $1 AND opened_ms < $2 AND acknowledged_ms IS NOT NULL ORDER BY ms`,
      [fromMs, toMs],
    );
    return rows.map((r) => r.ms);
  }
  async unacknowledgedBetween(fromMs: number, toMs: number): Promise<number> {
    const rows = await this.rows<{ n: number }>('SELECT count(*) AS n FROM alert_incidents WHERE opened_ms >= $1 AND opened_ms < $2 AND acknowledged_ms IS NULL', [fromMs, toMs]);
    return rows[0]?.n ?? 0;
  }
  pruneIncidents(beforeMs: number): Promise<number> {
    return this.tx(async (c) => {
      await c.query('DELETE FROM alert_raises WHERE at_ms < $1', [beforeMs]);
      const ids = (await this.rows<{ id: number }>('DELETE FROM alert_incidents WHERE cleared_ms IS NOT NULL AND cleared_ms < $1 RETURNING id', [beforeMs], c)).map((r) => r.id);
      if (ids.length > 0) {
        await c.query('DELETE FROM alert_incident_history WHERE incident_id = ANY($1::bigint[])', [ids]);
        await c.query('DELETE FROM alert_notifications WHERE incident_id = ANY($1::bigint[])', [ids]);
      }
      return ids.length;
    });
  }

  // ---- branches seen ----

  firstSight(site: string, raises: readonly RaiseInput[], nowMs: number): Promise<Raised[] | null> {
    return this.tx(async (c) => {
      const seen = await c.query('INSERT INTO alert_state_seen (site) VALUES ($1) ON CONFLICT DO NOTHING', [site]);
      if ((seen.rowCount ?? 0) === 0) return null;
      const out: Raised[] = [];
      for (const r of raises) out.push(await this.raiseIn(c, r, nowMs));
      return out;
    });
  }

  // ---- rule versions ----

  ruleVersions(limit: number): Promise<RuleVersionRow[]> {
    return this.rows('SELECT * FROM alert_rule_versions ORDER BY version DESC LIMIT $1', [limit]);
  }
  async ruleVersion(version: number): Promise<RuleVersionRow | undefined> {
    return (await this.rows<RuleVersionRow>('SELECT * FROM alert_rule_versions WHERE version = $1', [version]))[0];
  }
  saveRuleVersion(doc: string, actor: string, atMs: number, basedOn: number | undefined) {
    return this.tx(async (c): Promise<{ ok: true; version: number } | { ok: false; latest: number }> => {
      // Two administrators saving at once: one after the other, the second told when it was based on the first's.
      await c.query('LOCK TABLE alert_rule_versions IN SHARE ROW EXCLUSIVE MODE');
      const latest = (await this.rows<{ v: number | null }>('SELECT max(version) AS v FROM alert_rule_versions', [], c))[0]?.v ?? 0;
      if (basedOn !== undefined && basedOn !== latest) return { ok: false, latest };
      const row = await this.rows<{ version: number }>('INSERT INTO alert_rule_versions (doc, actor, created_ms) VALUES ($1, $2, $3) RETURNING version', [doc, actor, atMs], c);
      return { ok: true, version: (row[0] as { version: number }).version };
    });
  }

  // ---- acknowledgement links ----

  async insertLink(hash: Buffer, incidentId: number, contact: string, issuedMs: number, expiresMs: number): Promise<void> {
    await this.pool.query('INSERT INTO alert_ack_links (token_hash, incident_id, contact, issued_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)', [
      hash,
      incidentId,
      contact,
      issuedMs,
      expiresMs,
    ]);
  }
  async link(hash: Buffer): Promise<LinkRow | undefined> {
    return (await this.rows<LinkRow>('SELECT incident_id, contact, issued_ms, expires_ms, used_ms FROM alert_ack_links WHERE token_hash = $1', [hash]))[0];
  }
  async acknowledgeByLink(hash: Buffer, act: ActInput): Promise<ActResult | { ok: false; code: 'used' }> {
    try {
      return await this.tx(async (c) => {
        const used = await c.query('UPDATE alert_ack_links SET used_ms = $1 WHERE token_hash = $2 AND used_ms IS NULL AND expires_ms > $1', [act.atMs, hash]);
        if ((used.rowCount ?? 0) === 0) return { ok: false as const, code: 'used' as const };
        const done = await this.actIn(c, act);
        // Refused: rolled back, so the link stays as it was.
        if (!done.ok) throw new Refused(done);
        return done;
      });
    } catch (error) {
      if (error instanceof Refused) return error.answer;
      throw error;
    }
  }
  async pruneLinks(beforeMs: number): Promise<number> {
    return (await this.pool.query('DELETE FROM alert_ack_links WHERE expires_ms < $1', [beforeMs])).rowCount ?? 0;
  }

  // ---- outbox ----

  private async insertOutbox(c: Queryable, rows: readonly OutboxInsert[], nowMs: number): Promise<Array<{ id: number; created: boolean }>> {
    const out: Array<{ id: number; created: boolean }> = [];
    for (const { row, refused } of rows) {
      const inserted = await this.rows<{ id: number }>(
        `INSERT INTO alert_outbox (incident_id, step, repeat, recipient_id, recipient_name, address, channel, severity, priority, subject, body,
           details, ack_link, state, created_ms, next_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', $14, $15)
         ON CONFLICT (incident_id, step, repeat, recipient_id, channel) DO NOTHING RETURNING id`,
        insertValues(row, nowMs),
        c,
      );
      const id = inserted[0]?.id;
      if (id !== undefined) {
        if (refused !== null) {
          await c.query(
            `UPDATE alert_outbox SET state = 'failed', finished_ms = $1, next_ms = NULL, ack_link = NULL, last_error = $2 WHERE id = $3 AND state IN ('pending', 'sending')`,
            [nowMs, refused, id],
          );
        }
        out.push({ id, created: true });
        continue;
      }
      const existing = await this.rows<{ id: number }>(
        'SELECT id FROM alert_outbox WHERE incident_id = $1 AND step = $2 AND repeat = $3 AND recipient_id = $4 AND channel = $5',
        [row.incidentId, row.step, row.repeat, row.recipientId, row.channel],
        c,
      );
      if (existing[0] === undefined) throw new Error('alert outbox: a row that conflicted is gone');
      out.push({ id: existing[0].id, created: false });
    }
    return out;
  }

  outboxInsert(rows: readonly OutboxInsert[], nowMs: number) {
    return this.tx((c) => this.insertOutbox(c, rows, nowMs));
  }
  async outboxRow(id: number) {
    const r = (await this.rows<OutboxDbRow>('SELECT * FROM alert_outbox WHERE id = $1', [id]))[0];
    return r === undefined ? undefined : toRow(r);
  }
  async outboxForIncident(incidentId: string) {
    return (await this.rows<OutboxDbRow>('SELECT * FROM alert_outbox WHERE incident_id = $1 ORDER BY step, repeat, id', [incidentId])).map(toRow);
  }
  async claimDue(nowMs: number, excludeChannels: readonly string[], limit: number) {
    // Due rows of an incident acknowledged or closed through any instance are not sent: recorded cancelled, saying why.
    await this.pool.query(
      `UPDATE alert_outbox o SET state = 'cancelled', finished_ms = $1, next_ms = NULL, ack_link = NULL,
         last_error = 'not needed any more: the incident was ' || i.status
       FROM alert_incidents i
       WHERE o.state = 'pending' AND o.next_ms <= $1 AND i.id = ${INCIDENT_OF_ROW('o')} AND i.status IN ('acknowledged', 'cleared')`,
      [nowMs],
    );
    // Rows another instance is claiming are skipped, not waited for: each row goes to one claimant. The incident is
    // looked at again here: one acknowledged since the statement above is not sent either.
    const rows = await this.rows<OutboxDbRow>(
      `UPDATE alert_outbox SET state = 'sending', attempts = attempts + 1, last_attempt_ms = $1
       WHERE id IN (
         SELECT o.id FROM alert_outbox o
         WHERE o.state = 'pending' AND o.next_ms <= $1 AND NOT (o.channel = ANY($2::text[]))
           AND NOT EXISTS (SELECT 1 FROM alert_incidents i WHERE i.id = ${INCIDENT_OF_ROW('o')} AND i.status IN ('acknowledged', 'cleared'))
         ORDER BY o.priority, o.next_ms, o.id LIMIT $3
         FOR UPDATE OF o SKIP LOCKED)
       RETURNING *`,
      [nowMs, [...excludeChannels], limit],
    );
    return rows.sort((a, b) => a.id - b.id).map(toSending);
  }
  async outboxDelivered(id: number, nowMs: number) {
    const r = await this.pool.query(
      `UPDATE alert_outbox SET state = 'delivered', finished_ms = $1, next_ms = NULL, ack_link = NULL WHERE id = $2 AND state = 'sending'`,
      [nowMs, id],
    );
    return r.rowCount === 1;
  }
  async outboxRetry(id: number, nextMs: number, error: string) {
    const r = await this.pool.query(`UPDATE alert_outbox SET state = 'pending', next_ms = $1, last_error = $2 WHERE id = $3 AND state = 'sending'`, [nextMs, error, id]);
    return r.rowCount === 1;
  }
  async outboxFailed(id: number, nowMs: number, error: string) {
    const r = await this.pool.query(
      `UPDATE alert_outbox SET state = 'failed', finished_ms = $1, next_ms = NULL, ack_link = NULL, last_error = $2 WHERE id = $3 AND state IN ('pending', 'sending')`,
      [nowMs, error, id],
    );
    return r.rowCount === 1;
  }
  async outboxCancel(incidentId: string, nowMs: number, reason: string) {
    const r = await this.pool.query(
      `UPDATE alert_outbox SET state = 'cancelled', finished_ms = $1, next_ms = NULL, ack_link = NULL, last_error = $2 WHERE incident_id = $3 AND state = 'pending'`,
      [nowMs, reason, incidentId],
    );
    return r.rowCount ?? 0;
  }
  async resumeSending(nowMs: number, claimedBeforeMs = Number.MAX_SAFE_INTEGER) {
    const r = await this.pool.query(`UPDATE alert_outbox SET state = 'pending', next_ms = $1 WHERE state = 'sending' AND last_attempt_ms <= $2`, [nowMs, claimedBeforeMs]);
    return r.rowCount ?? 0;
  }
  async oldestSendingMs() {
    return (await this.rows<{ at: number | null }>(`SELECT min(last_attempt_ms) AS at FROM alert_outbox WHERE state = 'sending'`))[0]?.at ?? null;
  }
  async nextDueMs() {
    return (await this.rows<{ next: number | null }>(`SELECT min(next_ms) AS next FROM alert_outbox WHERE state = 'pending'`))[0]?.next ?? null;
  }
  async outboxCounts(): Promise<Record<OutboxState, number>> {
    const out: Record<OutboxState, number> = { pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 };
    for (const { state, n } of await this.rows<{ state: OutboxState; n: number }>('SELECT state, count(*) AS n FROM alert_outbox GROUP BY state')) out[state] = n;
    return out;
  }
  async waitingByChannel() {
    const rows = await this.rows<{ channel: string; n: number }>(`SELECT channel, count(*) AS n FROM alert_outbox WHERE state IN ('pending', 'sending') GROUP BY channel`);
    return new Map(rows.map(({ channel, n }) => [channel, n]));
  }
  async purgeFinishedBefore(beforeMs: number) {
    return (await this.pool.query(`DELETE FROM alert_outbox WHERE state IN ('delivered', 'failed', 'cancelled') AND finished_ms < $1`, [beforeMs])).rowCount ?? 0;
  }
  async channelHealth(): Promise<ChannelHealthRow[]> {
    const rows = await this.rows<{ channel: string; ok: number; since_ms: number; reason: string }>('SELECT channel, ok, since_ms, reason FROM alert_channel_health');
    return rows.map((h) => ({ channel: h.channel, ok: h.ok === 1, since: new Date(h.since_ms), reason: h.reason }));
  }
  async putChannelHealth(channel: string, ok: boolean, sinceMs: number, reason: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO alert_channel_health (channel, ok, since_ms, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (channel) DO UPDATE SET ok = EXCLUDED.ok, since_ms = EXCLUDED.since_ms, reason = EXCLUDED.reason`,
      [channel, ok ? 1 : 0, sinceMs, reason],
    );
  }
}
