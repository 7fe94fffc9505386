// Where the Koha poller has got to: the newest `updated_on` it has applied, kept where the member list is, so that a
// restart goes on from there rather than from now (which would miss what changed while central was down). On
// PostgreSQL the mark is shared: the leader polls, and a new leader goes on from where the last one stopped.
// Tables: central/sqlite-migrations/003-auth-feed-marks.sql, central/pg/migrations/031-koha-feed-mark.sql.
import type { Database as Db, Statement } from 'better-sqlite3';
import type { PgPool } from '../../pg/pool.js';
import { migrateSqlite } from '../../sqlite-migrations/migrate.js';

export interface FeedMarks {
  /** Koha's updated_on as Koha wrote it (RFC 3339 with its offset), or null before the first poll. */
  get(feed: string): Promise<string | null>;
  set(feed: string, mark: string, at: Date): Promise<void>;
}

/** In central's SQLite file (one instance, which always leads). */
export class SqliteFeedMarks implements FeedMarks {
  private readonly getQ: Statement<[string], { mark: string }>;
  private readonly setQ: Statement<[string, string, number]>;

  constructor(db: Db) {
    migrateSqlite(db);
    this.getQ = db.prepare('SELECT mark FROM lms_feed_marks WHERE feed = ?');
    this.setQ = db.prepare(
      'INSERT INTO lms_feed_marks (feed, mark, saved_ms) VALUES (?, ?, ?) ON CONFLICT (feed) DO UPDATE SET mark = excluded.mark, saved_ms = excluded.saved_ms',
    );
  }

  async get(feed: string): Promise<string | null> {
    return this.getQ.get(feed)?.mark ?? null;
  }

  async set(feed: string, mark: string, at: Date): Promise<void> {
    this.setQ.run(feed, mark, at.getTime());
  }
}

/** In PostgreSQL, shared by every instance (only the leader polls). */
export class PgFeedMarks implements FeedMarks {
  constructor(private readonly pool: PgPool) {}

  async get(feed: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ mark: string }>('SELECT mark FROM lms_feed_marks WHERE feed = $1', [feed]);
    return rows[0]?.mark ?? null;
  }

  async set(feed: string, mark: string, at: Date): Promise<void> {
    // Never back: a leader that lost the lead in the middle of a poll must not undo what the new one has saved.
    await this.pool.query(
      `INSERT INTO lms_feed_marks (feed, mark, saved_ms) VALUES ($1, $2, $3)
       ON CONFLICT (feed) DO UPDATE SET mark = excluded.mark, saved_ms = excluded.saved_ms
       WHERE lms_feed_marks.mark::timestamptz <= excluded.mark::timestamptz`,
      [feed, mark, at.getTime()],
    );
  }
}
