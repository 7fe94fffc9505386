// The branches whose state central has read at least once, kept in central's database: the first state of a branch
// may carry alarms raised before central knew it, and those become incidents once, not at every restart (a
// resolved incident for an alarm still active must not come back each time central starts).
import type { Database as Db, Statement } from 'better-sqlite3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_state_seen (
  site TEXT PRIMARY KEY
) WITHOUT ROWID;
`;

export class StateSeen {
  private readonly insert: Statement<[string]>;

  constructor(private readonly db: Db) {
    db.exec(SCHEMA);
    this.insert = db.prepare('INSERT OR IGNORE INTO alert_state_seen (site) VALUES (?)');
  }

  /** Runs `first` in the transaction that records the site, only the first time; says whether it ran. */
  firstTime(site: string, first: () => void): boolean {
    return this.db.transaction((): boolean => {
      if (this.insert.run(site).changes === 0) return false;
      first();
      return true;
    })();
  }
}
