// What the core does when the store fails under it: the door goes on deciding from what can still be read, the
// fault becomes the `storage` alarm, and the log says what failed, once per kind of fault rather than per tap.
import type { Logger } from 'pino';
import type { Alarms } from './alarms.js';
import type { AlarmName } from './model.js';

export const STORAGE_ALARM: AlarmName = 'storage';
const LOG_EVERY_MS = 60_000;

/** SQLite's error code (better-sqlite3 puts it on `code`: SQLITE_FULL, SQLITE_BUSY, SQLITE_IOERR_WRITE...). */
export function storageErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** A fault that another process causes and that passes by itself (a held write lock), as against a full disk. */
export function isTransientStorageError(error: unknown): boolean {
  const code = storageErrorCode(error);
  return code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED';
}

/** One line a person can act on, without the statement or any value in it. */
export function describeStorageError(error: unknown): string {
  const code = storageErrorCode(error);
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'the disk is full';
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY_') || code === 'EROFS') return 'the store is read-only';
  if (isTransientStorageError(error)) return 'another process holds the store’s write lock';
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return 'the store is corrupt';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return 'the disk gave an I/O error';
  if (code === 'SQLITE_CANTOPEN') return 'the store cannot be opened';
  return `storage error (${code})`;
}

export class StorageFaults {
  private readonly lastLogged = new Map<string, number>();

  constructor(private readonly deps: { alarms: Alarms; logger: Logger; now?: () => number }) {}

  /** Runs a store call for the core; on a storage error, reports it and gives `fallback` instead. */
  guard<T>(what: string, fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (error) {
      this.report(what, error);
      return fallback;
    }
  }

  report(what: string, error: unknown): void {
    const description = describeStorageError(error);
    const code = storageErrorCode(error);
    const now = (this.deps.now ?? Date.now)();
    const key = `${what}:${code}`;
    if (now - (this.lastLogged.get(key) ?? -Infinity) >= LOG_EVERY_MS) {
      this.lastLogged.set(key, now);
      this.deps.logger.error({ what, code, err: { message: (error as Error)?.message } }, `storage fault while ${what}: ${description}`);
    }
    // A held write lock passes by itself (an import at the branch): the store writer raises it if it lasts.
    if (!isTransientStorageError(error)) this.deps.alarms.raise(STORAGE_ALARM, `${what}: ${description}`);
  }
}
