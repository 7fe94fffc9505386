// Group commit for ingest: the events that arrive while a commit is running are committed together in the next one,
// so that the store's cost per commit (on SQLite most of an event's cost) is paid once per batch, not per event.
// Nothing waits on a timer: a commit starts at the end of the event loop's turn that brought its first event
// (setImmediate), so that every message read from the sockets in that turn joins it; the events that arrive while a
// commit runs (PostgreSQL's round trips) go into the next one. SQLite's commit holds the event loop, so without that
// turn each message read in its own turn would be committed alone. Each caller's promise settles after the commit
// that holds its event: a PUBACK still follows its commit.
import type { ReceivedEvent } from '../../policies/contract/index.js';
import type { EventToStore, HistoryStore } from './history-store.js';

export interface BatchStats {
  /** Commits made. */
  batches: number;
  /** Events in them. */
  events: number;
  /** The most events one commit held. */
  largest: number;
}

interface Waiting extends EventToStore {
  resolve(stored: boolean): void;
  reject(err: unknown): void;
}

/** A batch larger than this waits for the next commit: one statement's parameters and one transaction stay bounded. */
export const MAX_BATCH = 500;

export class EventBatcher {
  readonly stats: BatchStats = { batches: 0, events: 0, largest: 0 };
  private queue: Waiting[] = [];
  /** A commit running or due (set from the first event queued until the queue is empty again). */
  private committing = false;

  constructor(
    private readonly store: Pick<HistoryStore, 'insertEvents'>,
    private readonly maxBatch = MAX_BATCH,
  ) {}

  /**
   * Resolves once the event is committed: true when it was new, false for a copy already stored. Rejects when the
   * commit of its batch failed, as does every event of that batch: none of them may be acknowledged.
   */
  insert(event: ReceivedEvent, receivedAt: Date): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ event, receivedAt, resolve, reject });
      if (!this.committing) {
        this.committing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.stats.batches++;
      this.stats.events += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      let stored: boolean[];
      try {
        stored = await this.store.insertEvents(batch.map(({ event, receivedAt }) => ({ event, receivedAt })));
      } catch (err) {
        for (const w of batch) w.reject(err);
        continue;
      }
      // In the order they came: the link acknowledges in that order.
      batch.forEach((w, k) => w.resolve(stored[k] === true));
    }
    this.committing = false;
  }
}
