// Central's SQLite file (WAL): its schema, by the numbered migrations in central/sqlite-migrations/, and the history's
// statements, which central reaches through central/history/sqlite-history.ts (the async HistoryStore; PostgreSQL is
// the other one).
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { ReceivedEvent, ReceivedKnownEvent, ReceivedState } from '../policies/contract/index.js';

export type { CommandRecord, OccupancySample, SiteRow, StoredEvent } from './history/history-store.js';
import type { CommandRecord, OccupancySample, SiteRow, StoredEvent } from './history/history-store.js';
import { migrateSqlite } from './sqlite-migrations/migrate.js';

export class CentralStore {
  readonly db: Db;
  private readonly q: Record<string, Statement>;
  // Made once: better-sqlite3 builds a transaction's wrapper each time it is asked for one, a cost on every event.
  private readonly insertEventTx: (event: ReceivedEvent, receivedAt: Date) => boolean;
  private readonly insertEventsTx: (items: ReadonlyArray<{ event: ReceivedEvent; receivedAt: Date }>) => boolean[];
  private readonly setStateTx: (state: ReceivedState, receivedAt: Date) => void;

  /** Throws MigrationError (naming the file) when a migration cannot be applied or an applied one was edited. */
  constructor(path: string, options: { logger?: Pick<Logger, 'info' | 'warn'> | undefined } = {}) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a crash of the process loses nothing committed; a power cut may lose the last commits, which
    // the broker then redelivers only if they were not yet acknowledged. Central runs on a server, not an SD card.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    try {
      migrateSqlite(this.db, { logger: options.logger });
    } catch (err) {
      this.db.close();
      throw err;
    }
    const p = (sql: string): Statement => this.db.prepare(sql);
    this.q = {
      insertEvent: p('INSERT OR IGNORE INTO events (id, site, type, at_ms, received_ms, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      setState: p(`INSERT INTO sites (id, state, state_at_ms, last_seen_ms) VALUES (@id, @state, @at, @seen)
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, state_at_ms = excluded.state_at_ms,
          last_seen_ms = MAX(COALESCE(last_seen_ms, 0), excluded.last_seen_ms)
        WHERE sites.state_at_ms IS NULL OR sites.state_at_ms <= excluded.state_at_ms`),
      setOnline: p(`INSERT INTO sites (id, online, since_ms, last_seen_ms) VALUES (@id, @online, @since, @since)
        ON CONFLICT (id) DO UPDATE SET
          since_ms = CASE WHEN sites.online = excluded.online AND sites.since_ms IS NOT NULL THEN sites.since_ms ELSE excluded.since_ms END,
          online = excluded.online,
          last_seen_ms = MAX(COALESCE(last_seen_ms, 0), excluded.last_seen_ms)`),
      sample: p('INSERT OR REPLACE INTO occupancy_samples (site, at_ms, inside, capacity) VALUES (?, ?, ?, ?)'),
      lastSample: p('SELECT inside, capacity FROM occupancy_samples WHERE site = ? ORDER BY at_ms DESC LIMIT 1'),
      sites: p(`SELECT s.*, pl.version AS policy_version FROM sites s LEFT JOIN policies pl ON pl.site = s.id ORDER BY s.id`),
      site: p(`SELECT s.*, pl.version AS policy_version FROM sites s LEFT JOIN policies pl ON pl.site = s.id WHERE s.id = ?`),
      event: p('SELECT payload FROM events WHERE id = ? AND site = ?'),
      recent: p('SELECT payload, received_ms FROM events WHERE site = ? AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT ?'),
      recentOfType: p('SELECT payload, received_ms FROM events WHERE site = ? AND type = ? AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT ?'),
      eventsBetween: p('SELECT payload FROM events WHERE type = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms, id'),
      lastModeBefore: p("SELECT payload FROM events WHERE site = ? AND type = 'mode' AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT 1"),
      samples: p('SELECT at_ms, inside, capacity FROM occupancy_samples WHERE site = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms'),
      sampleBefore: p('SELECT at_ms, inside, capacity FROM occupancy_samples WHERE site = ? AND at_ms < ? ORDER BY at_ms DESC LIMIT 1'),
      setPolicy: p(`INSERT INTO policies (site, version, doc, seen_ms) VALUES (?, ?, ?, ?)
        ON CONFLICT (site) DO UPDATE SET version = excluded.version, doc = excluded.doc, seen_ms = excluded.seen_ms`),
      policy: p('SELECT version, doc, seen_ms FROM policies WHERE site = ?'),
      command: p('INSERT OR REPLACE INTO commands (id, site, command, actor, at_ms, result) VALUES (?, ?, ?, ?, ?, ?)'),
      commands: p('SELECT * FROM commands WHERE site = ? ORDER BY at_ms DESC LIMIT ?'),
      eventCount: p('SELECT COUNT(*) AS n FROM events'),
      purgeEvents: p('DELETE FROM events WHERE at_ms < ?'),
      purgeSamples: p('DELETE FROM occupancy_samples WHERE at_ms < ?'),
      personBatch: p("SELECT id FROM events WHERE json_type(payload, '$.person') = 'text' AND at_ms < ? ORDER BY at_ms LIMIT ?").pluck(),
      blankPerson: p("UPDATE events SET payload = json_set(payload, '$.person', NULL) WHERE id = ?"),
      addSecret: p('INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)'),
      secret: p('SELECT value FROM secrets WHERE name = ?'),
    } as Record<string, Statement>;
    this.insertEventTx = this.db.transaction((event: ReceivedEvent, receivedAt: Date) => this.insertEventRows(event, receivedAt));
    this.insertEventsTx = this.db.transaction((items: ReadonlyArray<{ event: ReceivedEvent; receivedAt: Date }>) =>
      items.map((i) => this.insertEventRows(i.event, i.receivedAt)),
    );
    this.setStateTx = this.db.transaction((state: ReceivedState, receivedAt: Date) => this.setStateRows(state, receivedAt));
  }

  private stmt(name: string): Statement {
    const s = this.q[name];
    if (!s) throw new Error(`no statement ${name}`);
    return s;
  }

  /** Stores an event once: a second copy with the same id (a resend after an outage) changes nothing. */
  insertEvent(event: ReceivedEvent, receivedAt: Date): boolean {
    // One transaction, so one commit per event (several autocommits cost several WAL writes).
    return this.insertEventTx(event, receivedAt);
  }

  /**
   * Several events in one transaction, one commit for all (ingest's group commit): for each, whether it was new. A
   * second copy of an id in the same call is a resend like any other (false). Nothing is stored if any row fails.
   */
  insertEvents(items: ReadonlyArray<{ event: ReceivedEvent; receivedAt: Date }>): boolean[] {
    return this.insertEventsTx(items);
  }

  private insertEventRows(event: ReceivedEvent, receivedAt: Date): boolean {
    const atMs = Date.parse(event.at);
    const res = this.stmt('insertEvent').run(event.id, event.site, event.type, atMs, receivedAt.getTime(), JSON.stringify(event));
    if (res.changes === 1 && event.type === 'occupancy') {
      const last = this.stmt('lastSample').get(event.site) as { capacity: number | null } | undefined;
      this.stmt('sample').run(event.site, atMs, event.inside, last?.capacity ?? null);
    }
    return res.changes === 1;
  }

  /** The latest state of a site; an older one arriving late does not overwrite a newer one. */
  setState(state: ReceivedState, receivedAt: Date): void {
    this.setStateTx(state, receivedAt);
  }

  private setStateRows(state: ReceivedState, receivedAt: Date): void {
    const atMs = Date.parse(state.at);
    this.stmt('setState').run({ id: state.site, state: JSON.stringify(state), at: atMs, seen: receivedAt.getTime() });
    const last = this.stmt('lastSample').get(state.site) as { inside: number; capacity: number | null } | undefined;
    if (!last || last.inside !== state.occupancy.inside || last.capacity !== state.occupancy.capacity) {
      this.stmt('sample').run(state.site, atMs, state.occupancy.inside, state.occupancy.capacity);
    }
  }

  setAvailability(site: string, online: boolean, at: Date): void {
    this.stmt('setOnline').run({ id: site, online: online ? 1 : 0, since: at.getTime() });
  }

  setPolicy(site: string, version: number, doc: unknown, at: Date): void {
    this.stmt('setPolicy').run(site, version, JSON.stringify(doc), at.getTime());
  }

  policy(site: string): { version: number; doc: unknown; seenAt: string } | null {
    const row = this.stmt('policy').get(site) as { version: number; doc: string; seen_ms: number } | undefined;
    return row ? { version: row.version, doc: JSON.parse(row.doc) as unknown, seenAt: new Date(row.seen_ms).toISOString() } : null;
  }

  sites(): SiteRow[] {
    return (this.stmt('sites').all() as RawSite[]).map(toSite);
  }

  site(id: string): SiteRow | null {
    const row = this.stmt('site').get(id) as RawSite | undefined;
    return row ? toSite(row) : null;
  }

  event(site: string, id: string): ReceivedEvent | null {
    const row = this.stmt('event').get(id, site) as { payload: string } | undefined;
    return row ? (JSON.parse(row.payload) as ReceivedEvent) : null;
  }

  recentEvents(site: string, options: { limit: number; before?: Date | undefined; type?: string | undefined }): StoredEvent[] {
    const before = options.before?.getTime() ?? Number.MAX_SAFE_INTEGER;
    const rows = (
      options.type
        ? this.stmt('recentOfType').all(site, options.type, before, options.limit)
        : this.stmt('recent').all(site, before, options.limit)
    ) as Array<{ payload: string; received_ms: number }>;
    return rows.map((r) => ({ event: JSON.parse(r.payload) as ReceivedEvent, receivedAt: new Date(r.received_ms).toISOString() }));
  }

  /** All events of one type in [from, to), in time order (for the figures). */
  eventsOfType(type: ReceivedKnownEvent['type'], from: Date, to: Date): ReceivedKnownEvent[] {
    return (this.stmt('eventsBetween').all(type, from.getTime(), to.getTime()) as Array<{ payload: string }>).map(
      (r) => JSON.parse(r.payload) as ReceivedKnownEvent,
    );
  }

  lastModeBefore(site: string, at: Date): ReceivedKnownEvent | null {
    const row = this.stmt('lastModeBefore').get(site, at.getTime()) as { payload: string } | undefined;
    return row ? (JSON.parse(row.payload) as ReceivedKnownEvent) : null;
  }

  /** Samples in [from, to), starting with the last one before `from` (so a chart starts at the right level). */
  occupancy(site: string, from: Date, to: Date): OccupancySample[] {
    type Raw = { at_ms: number; inside: number; capacity: number | null };
    const before = this.stmt('sampleBefore').get(site, from.getTime()) as Raw | undefined;
    const rows = this.stmt('samples').all(site, from.getTime(), to.getTime()) as Raw[];
    const out = rows.map((r) => ({ at: new Date(r.at_ms).toISOString(), inside: r.inside, capacity: r.capacity }));
    if (before) out.unshift({ at: from.toISOString(), inside: before.inside, capacity: before.capacity });
    return out;
  }

  recordCommand(c: CommandRecord): void {
    this.stmt('command').run(c.id, c.site, c.command, c.actor, Date.parse(c.at), c.result);
  }

  commands(site: string, limit: number): CommandRecord[] {
    return (this.stmt('commands').all(site, limit) as Array<{ id: string; site: string; command: string; actor: string; at_ms: number; result: string }>).map(
      (r) => ({ id: r.id, site: r.site, command: r.command, actor: r.actor, at: new Date(r.at_ms).toISOString(), result: r.result }),
    );
  }

  eventCount(): number {
    return (this.stmt('eventCount').get() as { n: number }).n;
  }

  purgeBefore(at: Date): void {
    this.stmt('purgeEvents').run(at.getTime());
    this.stmt('purgeSamples').run(at.getTime());
  }

  /**
   * Blanks the card holder's pseudonym (`person`, set to null) in up to `limit` of the oldest events from before
   * `at` that still have one; the event and everything counted from it stay. One short transaction; returns how many.
   */
  blankPersonsBefore(at: Date, limit: number): number {
    return this.db.transaction(() => {
      const ids = this.stmt('personBatch').all(at.getTime(), limit) as string[];
      for (const id of ids) this.stmt('blankPerson').run(id);
      return ids.length;
    })();
  }

  /** The secret of that name: made (random, `bytes` long) the first time it is asked for, the same ever after. */
  secret(name: string, bytes: number): Buffer {
    this.stmt('addSecret').run(name, randomBytes(bytes));
    return (this.stmt('secret').get(name) as { value: Buffer }).value;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

type RawSite = {
  id: string;
  online: number;
  since_ms: number | null;
  last_seen_ms: number | null;
  state: string | null;
  policy_version: number | null;
};

function toSite(r: RawSite): SiteRow {
  return {
    id: r.id,
    online: r.online === 1,
    since: r.since_ms === null ? null : new Date(r.since_ms).toISOString(),
    lastSeen: r.last_seen_ms === null ? null : new Date(r.last_seen_ms).toISOString(),
    state: r.state === null ? null : (JSON.parse(r.state) as ReceivedState),
    policyVersion: r.policy_version,
  };
}
