// Where the Koha poller has got to: the newest `updated_on` it has applied, kept in central's database so that a
// restart goes on from there rather than from now (which would miss what changed while central was down).
import type { Database as Db, Statement } from 'better-sqlite3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lms_feed_marks (
  feed TEXT PRIMARY KEY,
  -- Koha's updated_on as Koha wrote it (RFC 3339 with its offset): no member data
  mark TEXT NOT NULL,
  saved_ms INTEGER NOT NULL
) WITHOUT ROWID;
`;

export class FeedMarks {
  private readonly getQ: Statement<[string], { mark: string }>;
  private readonly setQ: Statement<[string, string, number]>;

  constructor(db: Db) {
    db.exec(SCHEMA);
    this.getQ = db.prepare('SELECT mark FROM lms_feed_marks WHERE feed = ?');
    this.setQ = db.prepare(
      'INSERT INTO lms_feed_marks (feed, mark, saved_ms) VALUES (?, ?, ?) ON CONFLICT (feed) DO UPDATE SET mark = excluded.mark, saved_ms = excluded.saved_ms',
    );
  }

  get(feed: string): string | null {
    return this.getQ.get(feed)?.mark ?? null;
  }

  set(feed: string, mark: string, at: Date): void {
    this.setQ.run(feed, mark, at.getTime());
  }
}
