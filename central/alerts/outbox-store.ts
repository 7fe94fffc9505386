// The alert outbox's tables in central's SQLite: one row per (incident, step, repeat, recipient, channel), so a
// planner asking twice gets the row it already has, and each channel's health. The only module that speaks SQL about them.
//
// A row holds the recipient's acknowledgement link in clear only while it may still be sent: the column is set to
// NULL in the same statement that marks the row delivered, failed or cancelled. Text is stored as the planner gave
// it (card-number-like runs already masked by the outbox).
import type { Database as Db, Statement } from 'better-sqlite3';
import type { MessageSeverity } from './channels/types.js';
import { migrateSqlite } from '../sqlite-migrations/migrate.js';

export type OutboxState = 'pending' | 'sending' | 'delivered' | 'failed' | 'cancelled';

/** What hooks and the dashboard see: never the link. */
export interface OutboxRow {
  id: number;
  incidentId: string;
  step: number;
  repeat: number;
  recipientId: string;
  recipientName: string | null;
  address: string;
  channel: string;
  severity: MessageSeverity | null;
  subject: string;
  text: string;
  state: OutboxState;
  attempts: number;
  createdAt: Date;
  /** When a pending row is next tried. */
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  /** When it was delivered, failed or cancelled. */
  finishedAt: Date | null;
  /** The last failure's reason (kept after a later success, as history). */
  lastError: string | null;
}

/** A claimed row, with what its channel needs to send it. */
export interface SendingRow extends OutboxRow {
  details: Record<string, string | number | boolean | null> | undefined;
  ackLink: string | undefined;
}

export interface NewRow {
  incidentId: string;
  step: number;
  repeat: number;
  recipientId: string;
  recipientName: string | undefined;
  address: string;
  channel: string;
  severity: MessageSeverity | undefined;
  subject: string;
  text: string;
  details: Record<string, string | number | boolean | null> | undefined;
  ackLink: string | undefined;
}

export interface ChannelHealthRow {
  channel: string;
  ok: boolean;
  since: Date;
  reason: string;
}

export type OutboxDbRow = {
  id: number;
  incident_id: string;
  step: number;
  repeat: number;
  recipient_id: string;
  recipient_name: string | null;
  address: string;
  channel: string;
  severity: string | null;
  subject: string;
  body: string;
  details: string | null;
  ack_link: string | null;
  state: OutboxState;
  attempts: number;
  created_ms: number;
  next_ms: number | null;
  last_attempt_ms: number | null;
  finished_ms: number | null;
  last_error: string | null;
};

/** Critical alarms go out first when more are due than there are free slots. */
export const PRIORITY: Record<MessageSeverity, number> = { critical: 0, major: 1, warning: 2, minor: 3 };
export const NO_SEVERITY_PRIORITY = 4;

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export function toRow(r: OutboxDbRow): OutboxRow {
  return {
    id: r.id,
    incidentId: r.incident_id,
    step: r.step,
    repeat: r.repeat,
    recipientId: r.recipient_id,
    recipientName: r.recipient_name,
    address: r.address,
    channel: r.channel,
    severity: r.severity as MessageSeverity | null,
    subject: r.subject,
    text: r.body,
    state: r.state,
    attempts: r.attempts,
    createdAt: new Date(r.created_ms),
    nextAttemptAt: r.state === 'pending' ? date(r.next_ms) : null,
    lastAttemptAt: date(r.last_attempt_ms),
    finishedAt: date(r.finished_ms),
    lastError: r.last_error,
  };
}

export function toSending(r: OutboxDbRow): SendingRow {
  return { ...toRow(r), details: r.details === null ? undefined : (JSON.parse(r.details) as SendingRow['details']), ackLink: r.ack_link ?? undefined };
}

/** The row's values for an insert, in the column order of `INSERT_COLUMNS`. */
export function insertValues(row: NewRow, nowMs: number): unknown[] {
  return [
    row.incidentId,
    row.step,
    row.repeat,
    row.recipientId,
    row.recipientName ?? null,
    row.address,
    row.channel,
    row.severity ?? null,
    row.severity === undefined ? NO_SEVERITY_PRIORITY : PRIORITY[row.severity],
    row.subject,
    row.text,
    row.details === undefined ? null : JSON.stringify(row.details),
    row.ackLink ?? null,
    nowMs,
    nowMs,
  ];
}

export class OutboxStore {
  private readonly q: {
    insert: Statement<unknown[], { id: number }>;
    byKey: Statement<[string, number, number, string, string], OutboxDbRow>;
    get: Statement<[number], OutboxDbRow>;
    due: Statement<[number, string, number], { id: number; channel: string }>;
    claim: Statement<[number, number], OutboxDbRow>;
    delivered: Statement<[number, number]>;
    retry: Statement<[number, string, number]>;
    failed: Statement<[number, string, number]>;
    cancel: Statement<[number, string, string]>;
    resume: Statement<[number, number]>;
    oldestSending: Statement<[], { at: number | null }>;
    nextDue: Statement<[], { next: number | null }>;
    forIncident: Statement<[string], OutboxDbRow>;
    counts: Statement<[], { state: OutboxState; n: number }>;
    pendingByChannel: Statement<[], { channel: string; n: number }>;
    purge: Statement<[number]>;
    health: Statement<[], { channel: string; ok: number; since_ms: number; reason: string }>;
    putHealth: Statement<[string, number, number, string]>;
  };

  constructor(readonly db: Db) {
    // The tables: central/sqlite-migrations/002-alerts.sql.
    migrateSqlite(db);
    const p = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql);
    this.q = {
      insert: p(
        `INSERT INTO alert_outbox (incident_id, step, repeat, recipient_id, recipient_name, address, channel, severity, priority, subject, body,
           details, ack_link, state, created_ms, next_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (incident_id, step, repeat, recipient_id, channel) DO NOTHING
         RETURNING id`,
      ),
      byKey: p('SELECT * FROM alert_outbox WHERE incident_id = ? AND step = ? AND repeat = ? AND recipient_id = ? AND channel = ?'),
      get: p('SELECT * FROM alert_outbox WHERE id = ?'),
      // Channels at their limit are left out in SQL, so their backlog cannot hide another channel's due rows.
      due: p(
        `SELECT id, channel FROM alert_outbox
         WHERE state = 'pending' AND next_ms <= ? AND channel NOT IN (SELECT value FROM json_each(?))
         ORDER BY priority, next_ms, id LIMIT ?`,
      ),
      claim: p(
        `UPDATE alert_outbox SET state = 'sending', attempts = attempts + 1, last_attempt_ms = ?
         WHERE id = ? AND state = 'pending' RETURNING *`,
      ),
      delivered: p(
        `UPDATE alert_outbox SET state = 'delivered', finished_ms = ?, next_ms = NULL, ack_link = NULL WHERE id = ? AND state = 'sending'`,
      ),
      retry: p(`UPDATE alert_outbox SET state = 'pending', next_ms = ?, last_error = ? WHERE id = ? AND state = 'sending'`),
      failed: p(
        `UPDATE alert_outbox SET state = 'failed', finished_ms = ?, next_ms = NULL, ack_link = NULL, last_error = ?
         WHERE id = ? AND state IN ('pending', 'sending')`,
      ),
      cancel: p(
        `UPDATE alert_outbox SET state = 'cancelled', finished_ms = ?, next_ms = NULL, ack_link = NULL, last_error = ?
         WHERE incident_id = ? AND state = 'pending'`,
      ),
      resume: p(`UPDATE alert_outbox SET state = 'pending', next_ms = ? WHERE state = 'sending' AND last_attempt_ms <= ?`),
      oldestSending: p(`SELECT min(last_attempt_ms) AS at FROM alert_outbox WHERE state = 'sending'`),
      nextDue: p(`SELECT min(next_ms) AS next FROM alert_outbox WHERE state = 'pending'`),
      forIncident: p('SELECT * FROM alert_outbox WHERE incident_id = ? ORDER BY step, repeat, id'),
      counts: p('SELECT state, count(*) AS n FROM alert_outbox GROUP BY state'),
      pendingByChannel: p(`SELECT channel, count(*) AS n FROM alert_outbox WHERE state IN ('pending', 'sending') GROUP BY channel`),
      purge: p(`DELETE FROM alert_outbox WHERE state IN ('delivered', 'failed', 'cancelled') AND finished_ms < ?`),
      health: p('SELECT channel, ok, since_ms, reason FROM alert_channel_health'),
      putHealth: p('INSERT OR REPLACE INTO alert_channel_health (channel, ok, since_ms, reason) VALUES (?, ?, ?, ?)'),
    };
  }

  /** The row's id, and whether it is new (false: the planner asked before, and that row stands). */
  insert(row: NewRow, nowMs: number): { id: number; created: boolean } {
    const inserted = this.q.insert.get(...insertValues(row, nowMs));
    if (inserted !== undefined) return { id: inserted.id, created: true };
    const existing = this.q.byKey.get(row.incidentId, row.step, row.repeat, row.recipientId, row.channel);
    if (existing === undefined) throw new Error('alert outbox: a row that conflicted is gone');
    return { id: existing.id, created: false };
  }

  due(nowMs: number, excludeChannels: readonly string[], limit: number): Array<{ id: number; channel: string }> {
    return this.q.due.all(nowMs, JSON.stringify(excludeChannels), limit);
  }

  /** Marks the row sending and counts the attempt; undefined when it is no longer pending. */
  claim(id: number, nowMs: number): SendingRow | undefined {
    const r = this.q.claim.get(nowMs, id);
    if (r === undefined) return undefined;
    return toSending(r);
  }

  delivered(id: number, nowMs: number): boolean {
    return this.q.delivered.run(nowMs, id).changes === 1;
  }

  retry(id: number, nextMs: number, error: string): boolean {
    return this.q.retry.run(nextMs, error, id).changes === 1;
  }

  failed(id: number, nowMs: number, error: string): boolean {
    return this.q.failed.run(nowMs, error, id).changes === 1;
  }

  /** Pending rows of the incident are not sent any more; one being sent finishes. Returns how many. */
  cancel(incidentId: string, nowMs: number, reason: string): number {
    return this.q.cancel.run(nowMs, reason, incidentId).changes;
  }

  /** Rows a crash left `sending` are due again: they may have reached the far end, so they go at least once. */
  resumeSending(nowMs: number, claimedBeforeMs = Number.MAX_SAFE_INTEGER): number {
    return this.q.resume.run(nowMs, claimedBeforeMs).changes;
  }

  oldestSendingMs(): number | null {
    return this.q.oldestSending.get()?.at ?? null;
  }

  nextDueMs(): number | null {
    return this.q.nextDue.get()?.next ?? null;
  }

  get(id: number): OutboxRow | undefined {
    const r = this.q.get.get(id);
    return r === undefined ? undefined : toRow(r);
  }

  forIncident(incidentId: string): OutboxRow[] {
    return this.q.forIncident.all(incidentId).map(toRow);
  }

  counts(): Record<OutboxState, number> {
    const out: Record<OutboxState, number> = { pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 };
    for (const { state, n } of this.q.counts.all()) out[state] = n;
    return out;
  }

  waitingByChannel(): Map<string, number> {
    return new Map(this.q.pendingByChannel.all().map(({ channel, n }) => [channel, n]));
  }

  /** Finished rows older than this go (central's retention); pending and sending rows stay. */
  purgeFinishedBefore(beforeMs: number): number {
    return this.q.purge.run(beforeMs).changes;
  }

  health(): ChannelHealthRow[] {
    return this.q.health.all().map((h) => ({ channel: h.channel, ok: h.ok === 1, since: new Date(h.since_ms), reason: h.reason }));
  }

  putHealth(channel: string, ok: boolean, sinceMs: number, reason: string): void {
    this.q.putHealth.run(channel, ok ? 1 : 0, sinceMs, reason);
  }
}
