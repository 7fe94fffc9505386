// Consecutive wrong PINs per card, for the lockout rule (policies decide; the gateway keeps the count).
import type BetterSqlite3 from 'better-sqlite3';
import { unsyncedTransaction } from './purge.js';
import type { PinFailures } from './types.js';

export class PinStore {
  private readonly recordStmt;
  private readonly resetStmt;
  private readonly getStmt;
  private readonly purgeStmt;
  private readonly purgeBatchStmt;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.recordStmt = db.prepare<[Buffer, string], { count: number; lastAt: string }>(
      `INSERT INTO pin_failures (card_hash, count, last_at) VALUES (?, 1, ?)
       ON CONFLICT (card_hash) DO UPDATE SET count = count + 1, last_at = excluded.last_at
       RETURNING count, last_at AS lastAt`,
    );
    this.resetStmt = db.prepare<[Buffer]>('DELETE FROM pin_failures WHERE card_hash = ?');
    this.getStmt = db.prepare<[Buffer], { count: number; lastAt: string }>(
      'SELECT count, last_at AS lastAt FROM pin_failures WHERE card_hash = ?',
    );
    this.purgeStmt = db.prepare<[string]>('DELETE FROM pin_failures WHERE last_at < ?');
    // No index on last_at: the table holds only cards with wrong PINs not yet followed by a right one, a few rows.
    this.purgeBatchStmt = db.prepare<[string, number]>(
      'DELETE FROM pin_failures WHERE card_hash IN (SELECT card_hash FROM pin_failures WHERE last_at < ? LIMIT ?)',
    );
  }

  recordFailure(cardHash: Buffer, at: Date): PinFailures {
    const row = this.recordStmt.get(cardHash, at.toISOString())!;
    return { count: row.count, lastAt: new Date(row.lastAt) };
  }

  reset(cardHash: Buffer): void {
    this.resetStmt.run(cardHash);
  }

  get(cardHash: Buffer): PinFailures | undefined {
    const row = this.getStmt.get(cardHash);
    return row === undefined ? undefined : { count: row.count, lastAt: new Date(row.lastAt) };
  }

  /** Forgets failures last seen before `cutoff` (retention, like the event log). Returns how many. */
  purgeOlderThan(cutoff: Date): number {
    return this.purgeStmt.run(cutoff.toISOString()).changes;
  }

  /** `purgeOlderThan`, at most `limit` rows at a time (`purgeInBatches`). Returns how many. */
  purgeBatch(cutoff: Date, limit: number): number {
    if (Number.isNaN(cutoff.getTime())) throw new RangeError('purge cutoff: not a valid date');
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('purge batch: limit must be a whole number of at least 1');
    // Not fsynced: a batch lost to a power cut is deleted again by the next pass (purge.ts).
    return unsyncedTransaction(this.db, () => this.purgeBatchStmt.run(cutoff.toISOString(), limit).changes);
  }
}
