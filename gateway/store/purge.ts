// Retention in steps. The door decides on the same event loop as everything else, so a purge of a long backlog (a
// branch whose retention was just shortened, or one that was off for weeks) must not delete it in one statement:
// that holds the loop for as long as SQLite takes, and a tap waits behind it. Each batch is its own short
// transaction, and the loop runs (taps, timers, I/O) between batches.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import type { PurgeTally } from './events.js';
import type { Store } from './index.js';

/**
 * Runs `fn` in a transaction committed without an fsync (synchronous=NORMAL for that commit only), and puts the
 * connection's level back before anything else can write. For work that is simply done again when a power cut
 * loses it (a purge batch, a staged chunk, the old list's clean-up): WAL commits are replayed in order, so what
 * survives is a prefix, and the next FULL commit (an event, a list swap) makes everything before it durable. An
 * fsync per batch would add ~0.2 ms (an SD card: 1–10 ms, a busy VM: tens) to every step, the door's loop waiting.
 */
export function unsyncedTransaction<T>(db: BetterSqlite3.Database, fn: () => T): T {
  // The level cannot change inside a transaction; nested in the caller's, this one commits with it.
  if (db.inTransaction) return db.transaction(fn)();
  const level = db.pragma('synchronous', { simple: true }) as number;
  if (level <= 1) return db.transaction(fn)();
  db.pragma('synchronous = NORMAL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma(`synchronous = ${level}`);
  }
}

/** Rows per batch: about a millisecond or two of SQLite work on a Pi-class machine. */
export const DEFAULT_PURGE_BATCH = 500;

export interface PurgeOptions {
  batch?: number;
  /** Runs between batches; the default lets one turn of the event loop pass. */
  yieldToLoop?: () => Promise<void>;
}

/**
 * Deletes the events and wrong-PIN counts from before `cutoff`, `batch` rows at a time with a turn of the event
 * loop between batches. Events not yet at central are deleted too (retention wins) and counted in one warning for
 * the pass. Returns how many of each were deleted.
 */
export async function purgeInBatches(store: Store, cutoff: Date, options: PurgeOptions = {}): Promise<{ events: number; pins: number }> {
  const batch = options.batch ?? DEFAULT_PURGE_BATCH;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError('purge batch: must be a whole number of at least 1');
  const yieldToLoop = options.yieldToLoop ?? (() => nextTurn());
  const tally: PurgeTally = { purged: 0, unpublished: 0 };
  try {
    while (store.events.purgeBatch(cutoff, batch, tally) === batch) await yieldToLoop();
  } finally {
    // Also when a batch failed: what was deleted before it is gone, and the warning must say so.
    store.events.warnUnpublishedPurged(cutoff, tally);
  }
  let pins = 0;
  for (;;) {
    await yieldToLoop();
    const n = store.pins.purgeBatch(cutoff, batch);
    pins += n;
    if (n < batch) break;
  }
  return { events: tally.purged, pins };
}
