// The event log, which is also the outbox: every event is a row before it is anything else; the uplink publishes
// unpublished rows in id order and marks them. Rows carry the keyed card hash at most, never a card number.
import type BetterSqlite3 from 'better-sqlite3';
import { StoreError } from './errors.js';
import { unsyncedTransaction } from './purge.js';
import type { EventInput, EventQuery, StoreLogger, StoredEvent } from './types.js';
import { createIdGenerator } from './ulid.js';

type Db = BetterSqlite3.Database;

interface DbEvent {
  id: string;
  at: string;
  type: string;
  reason: string | null;
  cardHash: Buffer | null;
  data: string;
  published: number;
}

const SELECT_EVENT = 'id, at, type, reason, card_hash AS cardHash, data, published';
export const MAX_QUERY_LIMIT = 1000;

/** What a purge pass deleted so far, for one warning at its end instead of one per batch. */
export interface PurgeTally {
  purged: number;
  unpublished: number;
}

function toEvent(row: DbEvent): StoredEvent {
  return {
    id: row.id,
    at: row.at,
    type: row.type,
    reason: row.reason,
    cardHash: row.cardHash,
    data: JSON.parse(row.data) as Record<string, unknown>,
    published: row.published === 1,
  };
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number');
  return Math.min(limit, MAX_QUERY_LIMIT);
}

export class EventStore {
  private readonly nextId;
  private readonly insertStmt;
  private readonly unpublishedStmt;
  private readonly markStmt;
  private readonly queryStmt;
  private readonly purgeStmt;
  private readonly purgeBatchStmt;
  private readonly countOldUnpublishedStmt;
  private readonly countStmt;
  private readonly countUnpublishedStmt;

  constructor(
    private readonly db: Db,
    private readonly logger: StoreLogger | undefined,
  ) {
    const newest = db.prepare<[], { id: string }>('SELECT id FROM events ORDER BY id DESC LIMIT 1').get();
    this.nextId = createIdGenerator(newest?.id);
    this.insertStmt = db.prepare<[string, string, string, string | null, Buffer | null, string]>(
      // OR IGNORE: an event given again after a write that failed half-way is stored once.
      'INSERT OR IGNORE INTO events (id, at, type, reason, card_hash, data) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.unpublishedStmt = db.prepare<[number], DbEvent>(`SELECT ${SELECT_EVENT} FROM events WHERE published = 0 ORDER BY id LIMIT ?`);
    this.markStmt = db.prepare<[string]>('UPDATE events SET published = 1 WHERE id = ? AND published = 0');
    this.queryStmt = db.prepare<[{ from: string | null; to: string | null; types: string | null; before: string | null; limit: number }], DbEvent>(
      `SELECT ${SELECT_EVENT} FROM events
       WHERE (:from IS NULL OR at >= :from) AND (:to IS NULL OR at < :to)
         AND (:types IS NULL OR type IN (SELECT value FROM json_each(:types)))
         -- coalesce rather than OR: SQLite then reads the primary key down from :before instead of scanning from the newest
         AND id < coalesce(:before, '~')
       ORDER BY id DESC LIMIT :limit`,
    );
    this.purgeStmt = db.prepare<[string]>('DELETE FROM events WHERE at < ?');
    // The index on `at` holds the primary key too (WITHOUT ROWID), so `ORDER BY at, id` reads it in order: each batch
    // starts at the oldest row and never scans the rows it keeps.
    this.purgeBatchStmt = db
      .prepare<[string, number], number>(
        'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? ORDER BY at, id LIMIT ?) RETURNING published',
      )
      .pluck();
    this.countOldUnpublishedStmt = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM events WHERE at < ? AND published = 0');
    this.countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events');
    this.countUnpublishedStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events WHERE published = 0');
  }

  /** Writes one event (durable when this returns). Its id sorts after every id written before it. */
  append(input: EventInput): StoredEvent {
    const atMs = input.at.getTime();
    if (Number.isNaN(atMs)) throw new RangeError('event at: not a valid date');
    const cardHash = input.cardHash ?? null;
    if (cardHash !== null && (!Buffer.isBuffer(cardHash) || cardHash.length !== 32)) {
      throw new TypeError('event cardHash: must be the 32-byte keyed hash, never a card number');
    }
    const id = input.id ?? this.nextId(atMs);
    const at = input.at.toISOString();
    const data = input.data ?? {};
    const reason = input.reason ?? null;
    this.insertStmt.run(id, at, input.type, reason, cardHash, JSON.stringify(data));
    return { id, at, type: input.type, reason, cardHash, data, published: false };
  }

  /** The newest event id, to number new events after it (undefined when the log is empty). */
  newestId(): string | undefined {
    return this.db.prepare<[], { id: string }>('SELECT id FROM events ORDER BY id DESC LIMIT 1').get()?.id;
  }

  /** The oldest unpublished events, in order (at most MAX_QUERY_LIMIT). */
  unpublished(limit: number): StoredEvent[] {
    const n = checkLimit(limit);
    return n === 0 ? [] : this.unpublishedStmt.all(n).map(toEvent);
  }

  /** Marks events as delivered; returns how many were unpublished until now. */
  markPublished(ids: readonly string[]): number {
    if (ids.length === 0) return 0;
    return this.db.transaction((): number => {
      let changed = 0;
      for (const id of ids) changed += this.markStmt.run(id).changes;
      return changed;
    })();
  }

  /** Events newest first, filtered by time and type; page with `before` = the last id of the previous page. */
  query(q: EventQuery): StoredEvent[] {
    if (checkLimit(q.limit) === 0) return [];
    return this.queryStmt
      .all({
        from: q.from?.toISOString() ?? null,
        to: q.to?.toISOString() ?? null,
        types: q.types === undefined ? null : JSON.stringify(q.types),
        before: q.before ?? null,
        limit: checkLimit(q.limit),
      })
      .map(toEvent);
  }

  /**
   * Retention: deletes every event that happened before `cutoff`, published or not (an access log is personal
   * data and is not kept past its period because central was unreachable). Unpublished ones are counted in a
   * warning so the loss is visible. Returns the number of events deleted. One statement: it holds the event loop
   * for as long as the delete takes; the gateway purges with `purgeInBatches` (purge.ts) instead.
   */
  purgeOlderThan(cutoff: Date): number {
    const before = checkCutoff(cutoff);
    const { purged, unpublished } = this.db.transaction(() => {
      const unpublished = this.countOldUnpublishedStmt.get(before)!.n;
      return { purged: this.purgeStmt.run(before).changes, unpublished };
    })();
    this.warnUnpublishedPurged(cutoff, { purged, unpublished });
    return purged;
  }

  /**
   * Retention, one bounded step: deletes at most `limit` of the oldest events before `cutoff` (by time, then id),
   * published or not, and returns how many. Unpublished ones are warned about as in `purgeOlderThan`; with `tally`
   * they are added to it instead, for the caller to warn once for the whole pass (`warnUnpublishedPurged`).
   */
  purgeBatch(cutoff: Date, limit: number, tally?: PurgeTally): number {
    const before = checkCutoff(cutoff);
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('purge batch: limit must be a whole number of at least 1');
    // Not fsynced: a batch lost to a power cut is deleted again by the next pass (purge.ts).
    const published = unsyncedTransaction(this.db, () => this.purgeBatchStmt.all(before, limit));
    let unpublished = 0;
    for (const p of published) if (p === 0) unpublished++;
    if (tally === undefined) {
      this.warnUnpublishedPurged(cutoff, { purged: published.length, unpublished });
    } else {
      tally.purged += published.length;
      tally.unpublished += unpublished;
    }
    return published.length;
  }

  /** The warning for events purged before central had them (none when there were none). */
  warnUnpublishedPurged(cutoff: Date, tally: PurgeTally): void {
    if (tally.unpublished > 0) {
      this.logger?.warn({ purged: tally.purged, unpublished: tally.unpublished, before: cutoff.toISOString() }, 'purged events past retention that central never received');
    }
  }

  count(): number {
    return this.countStmt.get()!.n;
  }

  countUnpublished(): number {
    return this.countUnpublishedStmt.get()!.n;
  }
}

function checkCutoff(cutoff: Date): string {
  if (Number.isNaN(cutoff.getTime())) throw new RangeError('purge cutoff: not a valid date');
  return cutoff.toISOString();
}

/** The cutoff for a retention of `days` days before `now`. */
export function retentionCutoff(now: Date, days: number): Date {
  if (!Number.isFinite(days) || days < 0) throw new StoreError('retention days must be a positive number');
  return new Date(now.getTime() - days * 86_400_000);
}

export const DEFAULT_RETENTION_DAYS = 30;
