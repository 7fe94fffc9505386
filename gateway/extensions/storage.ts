// The store writer: takes the core's recorded events from its in-memory buffer into the SQLite outbox, in order
// and once. Normally that happens inside `record` (this listens on `event-logged`), so an event is on disk when
// recording returns. When a write fails (disk full, read-only, I/O error, another process holding the write lock)
// the events stay in the buffer, the `storage` alarm is raised, and writing is tried again with backoff, never
// by waiting on the door's event loop. A store that could not be opened read-write is reopened here too.
import type { Logger } from 'pino';
import type { Alarms } from '../core/alarms.js';
import type { EventLog } from '../core/event-log.js';
import { STORAGE_ALARM, describeStorageError, isTransientStorageError } from '../core/storage-faults.js';
import type { StorageFaults } from '../core/storage-faults.js';
import type { OpenedStore, ReplaceableStore } from '../store/index.js';
import type { Extension, ExtensionContext, RetryPolicy } from './extension.js';

const BATCH = 500;

export interface StorageDeps {
  store: ReplaceableStore;
  events: EventLog;
  alarms: Alarms;
  faults: StorageFaults;
  /** Opens the configured store again (read-write if it can). */
  reopen: () => OpenedStore;
  logger: Logger;
  /** A held write lock is only an alarm once it has lasted this long (an import at the branch holds it briefly). */
  busyGraceMs?: number | undefined;
  retry?: RetryPolicy | undefined;
  now?: () => number;
  /** Why the store is not read-write at start, when it is not. */
  openFault?: unknown;
}

export class StorageExtension implements Extension {
  readonly name = 'storage';
  private flushing = false;
  private faultSince: number | undefined;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;

  constructor(private readonly deps: StorageDeps) {}

  /** Events waiting for storage. */
  get backlog(): number {
    return this.deps.events.pending.size;
  }

  get failing(): boolean {
    return this.faultSince !== undefined;
  }

  start(context: ExtensionContext): void {
    this.running = true;
    context.on('event-logged', () => this.flush(false));
    if (this.deps.store.mode !== 'read-write') this.fault(this.deps.openFault ?? new StoreNotWritable(this.deps.store.mode));
    this.flush(false);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    // The last events (the stop itself) get one more try; what still fails is lost with the process, as a crash.
    this.flush(true);
  }

  /** Writes the buffer out. While a fault lasts, only the retry timer (or stop) tries: not every new event. */
  flush(force: boolean): void {
    if (this.flushing || (this.failing && !force)) return;
    this.flushing = true;
    try {
      if (this.deps.store.mode !== 'read-write') this.reopen();
      this.writeAll();
      this.recovered();
      // Clearing the alarm recorded an event while `flushing` kept it waiting.
      this.writeAll();
    } catch (error) {
      this.fault(error);
    } finally {
      this.flushing = false;
    }
  }

  private writeAll(): void {
    const { events, store } = this.deps;
    while (events.pending.size > 0) {
      const batch = events.pending.peek(BATCH);
      store.transaction(() => {
        for (const event of batch) store.events.append(event);
      });
      events.pending.remove(batch.length);
    }
  }

  private reopen(): void {
    const opened = this.deps.reopen();
    if (opened.mode !== 'read-write') {
      opened.store.close();
      throw opened.fault ?? new StoreNotWritable(opened.mode);
    }
    this.deps.store.replace(opened);
    this.deps.logger.info({ path: opened.store.path }, 'store opened read-write again');
  }

  private recovered(): void {
    if (this.faultSince === undefined) return;
    this.faultSince = undefined;
    this.attempts = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    const dropped = this.deps.events.pending.dropped;
    this.deps.events.pending.dropped = 0;
    const detail =
      dropped > 0
        ? `events written again; ${dropped} events were lost while the buffer was full`
        : 'events written again';
    this.deps.logger.info({ dropped }, `storage recovered: ${detail}`);
    this.deps.alarms.clear(STORAGE_ALARM, detail);
  }

  private fault(error: unknown): void {
    const now = (this.deps.now ?? Date.now)();
    this.faultSince ??= now;
    this.attempts += 1;
    if (!isTransientStorageError(error)) this.deps.faults.report('writing events', error);
    else if (now - this.faultSince >= (this.deps.busyGraceMs ?? 2000)) {
      this.deps.alarms.raise(STORAGE_ALARM, `writing events: ${describeStorageError(error)}`);
    }
    this.scheduleRetry(isTransientStorageError(error));
  }

  private scheduleRetry(transient: boolean): void {
    if (!this.running || this.timer !== undefined) return;
    const retry = this.deps.retry ?? (transient ? { firstMs: 50, maxMs: 1000 } : { firstMs: 500, maxMs: 10_000 });
    const delay = Math.min(retry.maxMs, retry.firstMs * 2 ** Math.min(this.attempts - 1, 20));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush(true);
    }, delay);
    this.timer.unref?.();
  }
}

class StoreNotWritable extends Error {
  readonly code: string;
  constructor(mode: string) {
    super(mode === 'memory' ? 'the store could not be opened; running on an empty list in memory' : 'the store is open read-only');
    this.code = mode === 'memory' ? 'SQLITE_CANTOPEN' : 'SQLITE_READONLY';
  }
}
