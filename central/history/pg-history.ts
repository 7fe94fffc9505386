// The history on PostgreSQL, shared by several central instances (docs/central.md "PostgreSQL"): the same behaviour
// as the SQLite store (central/store.ts), where several instances may write one site at once. The tables are
// central/pg/migrations/001-history.sql. Events are partitioned by month on `at`: a month's partition is made before
// its first insert, and retention drops whole months.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ReceivedEvent, ReceivedKnownEvent, ReceivedState } from '../../policies/contract/index.js';
import { openMigrated } from '../pg/migrate.js';
import { inTransaction, type PgClient, type PgPool } from '../pg/pool.js';
import type { CommandRecord, EventToStore, HistoryStore, OccupancySample, PublishedPolicy, SiteRow, StoredEvent } from './history-store.js';

/** Advisory locks (pg_advisory_xact_lock's two-int form): one namespace, and under it what is locked. */
const LOCK_NAMESPACE_SITE = 0x0a6_0002;
const LOCK_PARTITIONS: readonly [number, number] = [0x0a6_0001, 2];

/** PostgreSQL's "no partition of relation found for row": a month whose partition someone dropped under us. */
const NO_PARTITION = '23514';

const PARTITION_NAME = /^events_y(\d{4,6})m(\d{2})$/;

/** The month [start, end) in UTC holding `ms`, and its partition's name. */
export function monthOf(ms: number): { start: number; end: number; name: string } {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    start: Date.UTC(y, m, 1),
    end: Date.UTC(y, m + 1, 1),
    name: `events_y${String(y).padStart(4, '0')}m${String(m + 1).padStart(2, '0')}`,
  };
}

function monthOfName(name: string): { start: number; end: number } | null {
  const m = PARTITION_NAME.exec(name);
  if (!m) return null;
  const y = Number(m[1]);
  const month = Number(m[2]) - 1;
  return { start: Date.UTC(y, month, 1), end: Date.UTC(y, month + 1, 1) };
}

/**
 * The event as jsonb takes it. jsonb cannot hold U+0000 in a string, which an event of a type this version does not
 * know may carry (its fields are not checked): that one character becomes U+FFFD rather than the event being refused
 * for ever (and resent for ever). Only that rare event pays for the second pass.
 */
function payloadText(event: ReceivedEvent): string {
  const text = JSON.stringify(event);
  if (!text.includes('\\u0000')) return text;
  return JSON.stringify(event, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD') : value));
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

type RawSite = {
  id: string;
  online: boolean;
  since_ms: number | null;
  last_seen_ms: number | null;
  state: ReceivedState | null;
  policy_version: number | null;
};

function toSite(r: RawSite): SiteRow {
  return {
    id: r.id,
    online: r.online,
    since: isoOrNull(r.since_ms),
    lastSeen: isoOrNull(r.last_seen_ms),
    state: r.state,
    policyVersion: r.policy_version,
  };
}

const SITE_SELECT = 'SELECT s.id, s.online, s.since_ms, s.last_seen_ms, s.state, pl.version AS policy_version FROM sites s LEFT JOIN policies pl ON pl.site = s.id';

// Upserts of the sample at `at`: the same instant twice keeps the last (SQLite's INSERT OR REPLACE).
const UPSERT_SAMPLE = `ON CONFLICT (site, at_ms) DO UPDATE SET inside = excluded.inside, capacity = excluded.capacity`;

interface BatchRow {
  event: ReceivedEvent;
  atMs: number;
  receivedMs: number;
}

/** The pool or a client in a transaction: what a statement runs on. */
type PgQueryable = Pick<PgClient, 'query'>;

export interface PgHistoryOptions {
  logger: Logger;
  /** Whether close() ends the pool (it does when PgHistory.open made it). */
  ownsPool?: boolean | undefined;
}

export class PgHistory implements HistoryStore {
  readonly engine = 'postgres' as const;
  /** Month starts (ms) whose partition this instance has made or seen made. */
  private readonly partitions = new Set<number>();
  /** Month starts this instance has tried to make ahead (once each: a try may wait a second). */
  private readonly triedAhead = new Set<number>();

  constructor(
    readonly pool: PgPool,
    private readonly options: PgHistoryOptions,
  ) {}

  /** A pool of its own on `url`, the migrations applied: what central's composition root calls. */
  static async open(url: string, options: { logger: Logger; max?: number | undefined }): Promise<PgHistory> {
    return new PgHistory(await openMigrated(url, options), { logger: options.logger, ownsPool: true });
  }

  /**
   * Makes the partition of `ms`'s month before its first event, under a lock so that two instances do not race to
   * make one; once made, this instance does not ask again. The month after is made with it, so that the turn of the
   * month does not wait for it: but making a partition locks the whole events table, behind any long read of it
   * (a report) and ahead of every insert after it, so that one is given up after a second and made when it is due.
   */
  private async ensurePartition(ms: number): Promise<void> {
    const month = monthOf(ms);
    if (!this.partitions.has(month.start)) {
      await this.createPartition(month, null);
      this.partitions.add(month.start);
    }
    const next = monthOf(month.end);
    if (this.partitions.has(next.start) || this.triedAhead.has(next.start)) return;
    this.triedAhead.add(next.start);
    try {
      await this.createPartition(next, '1s');
      this.partitions.add(next.start);
    } catch (err) {
      this.options.logger.info({ partition: next.name, err: (err as Error).message }, "history: next month's partition not made ahead; made with its first event");
    }
  }

  private async createPartition(month: { start: number; end: number; name: string }, lockTimeout: string | null): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      if (lockTimeout) await client.query(`SET LOCAL lock_timeout = '${lockTimeout}'`);
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_PARTITIONS]);
      // Made from numbers and a name of digits: nothing from outside is spliced into this statement.
      await client.query(`CREATE TABLE IF NOT EXISTS "${month.name}" PARTITION OF events FOR VALUES FROM (${month.start}) TO (${month.end})`);
    });
  }

  async insertEvent(event: ReceivedEvent, receivedAt: Date): Promise<boolean> {
    const atMs = Date.parse(event.at);
    if (!Number.isFinite(atMs)) throw new Error(`event ${event.id}: at is not a time (${String(event.at)})`);
    await this.ensurePartition(atMs);
    try {
      return await this.insertEventRows(event, atMs, receivedAt);
    } catch (err) {
      if ((err as { code?: string }).code !== NO_PARTITION) throw err;
      // Another instance's retention dropped this month after we had made it: make it again, once.
      this.partitions.delete(monthOf(atMs).start);
      await this.ensurePartition(atMs);
      return this.insertEventRows(event, atMs, receivedAt);
    }
  }

  async insertEvents(items: ReadonlyArray<EventToStore>): Promise<boolean[]> {
    if (items.length === 0) return [];
    const rows = items.map((i): BatchRow => {
      const atMs = Date.parse(i.event.at);
      if (!Number.isFinite(atMs)) throw new Error(`event ${i.event.id}: at is not a time (${String(i.event.at)})`);
      return { event: i.event, atMs, receivedMs: i.receivedAt.getTime() };
    });
    const months = [...new Set(rows.map((r) => monthOf(r.atMs).start))];
    for (const m of months) await this.ensurePartition(m);
    try {
      return await this.insertEventBatch(rows);
    } catch (err) {
      if ((err as { code?: string }).code !== NO_PARTITION) throw err;
      // As insertEvent: a month another instance's retention dropped under us is made again, once.
      for (const m of months) this.partitions.delete(m);
      for (const m of months) await this.ensurePartition(m);
      return this.insertEventBatch(rows);
    }
  }

  /**
   * One statement for the plain events (unnest of arrays: any number of rows in one round trip), one for the
   * occupancy events (migration 011's function per row, sites in order so that two instances take the sites' locks
   * in the same order and cannot deadlock), and a transaction around both only when the batch holds both kinds.
   */
  private async insertEventBatch(rows: BatchRow[]): Promise<boolean[]> {
    const plain = rows.filter((r) => r.event.type !== 'occupancy');
    const occupancy = rows.filter((r) => r.event.type === 'occupancy');
    const run = async (q: PgQueryable): Promise<{ plainKeys: string[]; occupancyStored: boolean[] }> => {
      const plainKeys = plain.length === 0 ? [] : await this.insertPlainEvents(q, plain);
      const occupancyStored = occupancy.length === 0 ? [] : await this.insertOccupancyEvents(q, occupancy);
      return { plainKeys, occupancyStored };
    };
    const { plainKeys, occupancyStored } = plain.length > 0 && occupancy.length > 0 ? await inTransaction(this.pool, run) : await run(this.pool);
    // The first copy of an id in the batch is the one stored; a second copy is a resend (false).
    const inserted = new Set(plainKeys);
    const stored = new Map<BatchRow, boolean>();
    for (const r of plain) {
      const key = `${r.event.id}|${r.atMs}`;
      stored.set(r, inserted.delete(key));
    }
    occupancy.forEach((r, k) => stored.set(r, occupancyStored[k] === true));
    return rows.map((r) => stored.get(r) === true);
  }

  private async insertPlainEvents(q: PgQueryable, rows: BatchRow[]): Promise<string[]> {
    const res = await q.query<{ id: string; at_ms: string }>(
      `INSERT INTO events (id, site, type, at_ms, received_ms, payload)
       SELECT id, site, type, at_ms, received_ms, payload::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) AS t(id, site, type, at_ms, received_ms, payload)
       ORDER BY id
       ON CONFLICT (id, at_ms) DO NOTHING
       RETURNING id, at_ms`,
      [
        rows.map((r) => r.event.id),
        rows.map((r) => r.event.site),
        rows.map((r) => r.event.type),
        rows.map((r) => r.atMs),
        rows.map((r) => r.receivedMs),
        rows.map((r) => payloadText(r.event)),
      ],
    );
    return res.rows.map((r) => `${r.id}|${Number(r.at_ms)}`);
  }

  /** Whether each occupancy event was new, in the order given. */
  private async insertOccupancyEvents(q: PgQueryable, rows: BatchRow[]): Promise<boolean[]> {
    const res = await q.query<{ n: string; stored: boolean }>(
      `SELECT t.n, oag_store_occupancy_event($1, t.id, t.site, t.at_ms, t.received_ms, t.payload::jsonb, t.inside) AS stored
       FROM (SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::integer[]) WITH ORDINALITY
             AS u(id, site, at_ms, received_ms, payload, inside, n) ORDER BY u.site, u.n) t`,
      [
        LOCK_NAMESPACE_SITE,
        rows.map((r) => r.event.id),
        rows.map((r) => r.event.site),
        rows.map((r) => r.atMs),
        rows.map((r) => r.receivedMs),
        rows.map((r) => payloadText(r.event)),
        rows.map((r) => (r.event as Extract<ReceivedKnownEvent, { type: 'occupancy' }>).inside),
      ],
    );
    const stored = new Array<boolean>(rows.length).fill(false);
    for (const r of res.rows) stored[Number(r.n) - 1] = r.stored === true;
    return stored;
  }

  private async insertEventRows(event: ReceivedEvent, atMs: number, receivedAt: Date): Promise<boolean> {
    const insert = `INSERT INTO events (id, site, type, at_ms, received_ms, payload) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
      ON CONFLICT (id, at_ms) DO NOTHING`;
    const values = [event.id, event.site, event.type, atMs, receivedAt.getTime(), payloadText(event)];
    if (event.type !== 'occupancy') {
      // one statement, its own commit: nothing else to keep in step with
      return (await this.pool.query(insert, values)).rowCount === 1;
    }
    const inside = (event as Extract<ReceivedKnownEvent, { type: 'occupancy' }>).inside;
    // The event, and its chart sample under the site's lock (lockSite), in one round trip (migration 011).
    const stored = await this.pool.query<{ stored: boolean }>('SELECT oag_store_occupancy_event($1, $2, $3, $4, $5, $6::jsonb, $7) AS stored', [
      LOCK_NAMESPACE_SITE,
      event.id,
      event.site,
      atMs,
      receivedAt.getTime(),
      payloadText(event),
      inside,
    ]);
    return stored.rows[0]?.stored === true;
  }

  /**
   * The samples of one site are written by reading its latest one first: two instances doing it at once for one
   * site would both read the same latest. A lock per site, held to the commit, puts them one after the other (two
   * states would already wait on the site's row; an occupancy event does not touch that row).
   */
  private async lockSite(client: PgClient, site: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE_SITE, site]);
  }

  async setState(state: ReceivedState, receivedAt: Date): Promise<void> {
    const atMs = Date.parse(state.at);
    await inTransaction(this.pool, async (client) => {
      await this.lockSite(client, state.site);
      // An older state arriving late (a resend after an outage, another instance slower) loses to the newer one.
      await client.query(
        `INSERT INTO sites (id, state, state_at_ms, last_seen_ms) VALUES ($1, $2::json, $3, $4)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, state_at_ms = excluded.state_at_ms,
           last_seen_ms = GREATEST(COALESCE(sites.last_seen_ms, 0), excluded.last_seen_ms)
         WHERE sites.state_at_ms IS NULL OR sites.state_at_ms <= excluded.state_at_ms`,
        [state.site, JSON.stringify(state), atMs, receivedAt.getTime()],
      );
      // A sample when the count or the capacity differs from the latest sample (as the SQLite store does, a late
      // state still tells the occupancy at its own time).
      await client.query(
        `INSERT INTO occupancy_samples (site, at_ms, inside, capacity)
         SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (
           SELECT 1 FROM (SELECT inside, capacity FROM occupancy_samples WHERE site = $1 ORDER BY at_ms DESC LIMIT 1) last
           WHERE last.inside = $3 AND last.capacity IS NOT DISTINCT FROM $4::integer)
         ${UPSERT_SAMPLE}`,
        [state.site, atMs, state.occupancy.inside, state.occupancy.capacity],
      );
    });
  }

  async setAvailability(site: string, online: boolean, at: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO sites (id, online, since_ms, last_seen_ms) VALUES ($1, $2, $3, $3)
       ON CONFLICT (id) DO UPDATE SET
         since_ms = CASE WHEN sites.online = excluded.online AND sites.since_ms IS NOT NULL THEN sites.since_ms ELSE excluded.since_ms END,
         online = excluded.online,
         last_seen_ms = GREATEST(COALESCE(sites.last_seen_ms, 0), excluded.last_seen_ms)`,
      [site, online, at.getTime()],
    );
  }

  async setPolicy(site: string, version: number, doc: unknown, at: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO policies (site, version, doc, seen_ms) VALUES ($1, $2, $3::json, $4)
       ON CONFLICT (site) DO UPDATE SET version = excluded.version, doc = excluded.doc, seen_ms = excluded.seen_ms`,
      [site, version, JSON.stringify(doc), at.getTime()],
    );
  }

  async policy(site: string): Promise<PublishedPolicy | null> {
    const row = (await this.pool.query<{ version: number; doc: unknown; seen_ms: number }>('SELECT version, doc, seen_ms FROM policies WHERE site = $1', [site])).rows[0];
    return row ? { version: row.version, doc: row.doc, seenAt: new Date(row.seen_ms).toISOString() } : null;
  }

  async sites(): Promise<SiteRow[]> {
    return (await this.pool.query<RawSite>(`${SITE_SELECT} ORDER BY s.id`)).rows.map(toSite);
  }

  async site(id: string): Promise<SiteRow | null> {
    const row = (await this.pool.query<RawSite>(`${SITE_SELECT} WHERE s.id = $1`, [id])).rows[0];
    return row ? toSite(row) : null;
  }

  async event(site: string, id: string): Promise<ReceivedEvent | null> {
    const row = (await this.pool.query<{ payload: ReceivedEvent }>('SELECT payload FROM events WHERE id = $1 AND site = $2 LIMIT 1', [id, site])).rows[0];
    return row ? row.payload : null;
  }

  async recentEvents(site: string, options: { limit: number; before?: Date | undefined; type?: string | undefined }): Promise<StoredEvent[]> {
    const before = options.before?.getTime() ?? Number.MAX_SAFE_INTEGER;
    const rows = options.type
      ? await this.pool.query<{ payload: ReceivedEvent; received_ms: number }>(
          'SELECT payload, received_ms FROM events WHERE site = $1 AND type = $2 AND at_ms < $3 ORDER BY at_ms DESC, id DESC LIMIT $4',
          [site, options.type, before, options.limit],
        )
      : await this.pool.query<{ payload: ReceivedEvent; received_ms: number }>(
          'SELECT payload, received_ms FROM events WHERE site = $1 AND at_ms < $2 ORDER BY at_ms DESC, id DESC LIMIT $3',
          [site, before, options.limit],
        );
    return rows.rows.map((r) => ({ event: r.payload, receivedAt: new Date(r.received_ms).toISOString() }));
  }

  async eventsOfType(type: ReceivedKnownEvent['type'], from: Date, to: Date): Promise<ReceivedKnownEvent[]> {
    const rows = await this.pool.query<{ payload: ReceivedKnownEvent }>(
      'SELECT payload FROM events WHERE type = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms, id',
      [type, from.getTime(), to.getTime()],
    );
    return rows.rows.map((r) => r.payload);
  }

  async lastModeBefore(site: string, at: Date): Promise<ReceivedKnownEvent | null> {
    const row = (
      await this.pool.query<{ payload: ReceivedKnownEvent }>(
        "SELECT payload FROM events WHERE site = $1 AND type = 'mode' AND at_ms < $2 ORDER BY at_ms DESC, id DESC LIMIT 1",
        [site, at.getTime()],
      )
    ).rows[0];
    return row ? row.payload : null;
  }

  async occupancy(site: string, from: Date, to: Date): Promise<OccupancySample[]> {
    // One statement, so the level before `from` and the samples after it are read from one snapshot.
    const rows = (
      await this.pool.query<{ at_ms: number; inside: number; capacity: number | null; before: boolean }>(
        `(SELECT at_ms, inside, capacity, true AS before FROM occupancy_samples WHERE site = $1 AND at_ms < $2 ORDER BY at_ms DESC LIMIT 1)
         UNION ALL
         (SELECT at_ms, inside, capacity, false AS before FROM occupancy_samples WHERE site = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms)
         ORDER BY before DESC, at_ms`,
        [site, from.getTime(), to.getTime()],
      )
    ).rows;
    return rows.map((r) => ({ at: r.before ? from.toISOString() : new Date(r.at_ms).toISOString(), inside: r.inside, capacity: r.capacity }));
  }

  async recordCommand(c: CommandRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO commands (id, site, command, actor, at_ms, result) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET site = excluded.site, command = excluded.command, actor = excluded.actor,
         at_ms = excluded.at_ms, result = excluded.result`,
      [c.id, c.site, c.command, c.actor, Date.parse(c.at), c.result],
    );
  }

  async commands(site: string, limit: number): Promise<CommandRecord[]> {
    const rows = await this.pool.query<{ id: string; site: string; command: string; actor: string; at_ms: number; result: string }>(
      'SELECT id, site, command, actor, at_ms, result FROM commands WHERE site = $1 ORDER BY at_ms DESC LIMIT $2',
      [site, limit],
    );
    return rows.rows.map((r) => ({ id: r.id, site: r.site, command: r.command, actor: r.actor, at: new Date(r.at_ms).toISOString(), result: r.result }));
  }

  async eventCount(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM events')).rows[0]!.n;
  }

  /** The months that hold events (partitions), oldest first. */
  async eventMonths(): Promise<Array<{ name: string; start: number; end: number }>> {
    const rows = await this.pool.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
    );
    return rows.rows
      .flatMap((r) => {
        const m = monthOfName(r.name);
        return m ? [{ name: r.name, ...m }] : [];
      })
      .sort((a, b) => a.start - b.start);
  }

  /**
   * Drops every month wholly before `at` (a DROP TABLE, at once, however many events), deletes the events before
   * `at` in the month it falls in, and the samples before it.
   */
  async purgeBefore(at: Date): Promise<void> {
    const cutoff = at.getTime();
    for (const month of await this.eventMonths()) {
      if (month.end <= cutoff) {
        await this.pool.query(`DROP TABLE IF EXISTS "${month.name}"`);
        this.partitions.delete(month.start);
        this.options.logger.info({ partition: month.name }, 'history: a month of events dropped (retention)');
      }
    }
    await this.pool.query('DELETE FROM events WHERE at_ms < $1', [cutoff]);
    await this.pool.query('DELETE FROM occupancy_samples WHERE at_ms < $1', [cutoff]);
  }

  async blankPersonsBefore(at: Date, limit: number): Promise<number> {
    // The recheck in the UPDATE's WHERE: another instance blanking the same batch at once counts each event once.
    const res = await this.pool.query(
      `WITH batch AS (
         SELECT id, at_ms FROM events WHERE jsonb_typeof(payload -> 'person') = 'string' AND at_ms < $1 ORDER BY at_ms LIMIT $2)
       UPDATE events e SET payload = jsonb_set(e.payload, '{person}', 'null'::jsonb)
       FROM batch WHERE e.id = batch.id AND e.at_ms = batch.at_ms AND jsonb_typeof(e.payload -> 'person') = 'string'`,
      [at.getTime(), limit],
    );
    return res.rowCount ?? 0;
  }

  async secret(name: string, bytes: number): Promise<Buffer> {
    // Two statements, not one: the SELECT must see the row another instance committed while our INSERT waited on it.
    await this.pool.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(bytes)]);
    return (await this.pool.query<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [name])).rows[0]!.value;
  }

  async close(): Promise<void> {
    if (this.options.ownsPool) await this.pool.end();
  }
}
