// The gateway's local store: one SQLite file (better-sqlite3, synchronous by design: the hot path awaits nothing).
//
// Durability: WAL with synchronous=FULL. WAL alone with NORMAL survives a power cut without corruption but may
// lose the last commits; a branch's SD card loses power whenever the building does, and the outbox (events not yet
// at central) and member-list swaps must not go back in time. FULL costs one fsync per commit, a few per tap.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, StoreVersionError } from './errors.js';
import { EventStore } from './events.js';
import { MemberSyncStore } from './member-sync.js';
import { MemberStore } from './members.js';
import { SCHEMA_VERSION, migrations } from './migrations.js';
import { PinStore } from './pins.js';
import { SettingsStore } from './settings.js';
import type { Clock, StoreLogger } from './types.js';

export { StoreError, StoreVersionError, MemberListError } from './errors.js';
export { DEFAULT_RETENTION_DAYS, MAX_QUERY_LIMIT, retentionCutoff } from './events.js';
export { EMPTY_LIST_HASH, canonicalMemberBytes } from './list-hash.js';
export { SCHEMA_VERSION } from './migrations.js';
export type { EventStore } from './events.js';
export type { MemberStore } from './members.js';
export type { ApplyOptions, ApplyResult, MemberSyncStore, StagedRow, StagedTransfer, TransferHeader } from './member-sync.js';
export type { PinStore } from './pins.js';
export type { SettingsStore } from './settings.js';
export type * from './types.js';
export { ReplaceableStore, openStoreOrFallback } from './replaceable.js';
export type { OpenedStore, StoreMode } from './replaceable.js';

export interface StoreOptions {
  /** For the applied-at time of member lists; default: the system clock. */
  clock?: Clock | undefined;
  /** Where the store reports what it drops (pino's logger fits). */
  logger?: StoreLogger | undefined;
  /**
   * How long a write waits for another process's write to finish (default 5000 ms). SQLite waits by sleeping the
   * thread, so the gateway passes 0: a held lock is a fault for its store writer to retry, never a stalled door.
   */
  busyTimeoutMs?: number | undefined;
  /** Open an existing store for reading only (no migration): how the gateway still reads its list from a full disk. */
  readonly?: boolean | undefined;
}

export interface Store {
  readonly path: string;
  /** As SQLite reports them after opening: `wal` and `full` (2) on a file; memory stores have no WAL. */
  readonly durability: { journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra' };
  readonly members: MemberStore;
  /** A member-list transfer from central being staged, and its atomic apply (docs/members.md). */
  readonly memberSync: MemberSyncStore;
  readonly events: EventStore;
  readonly settings: SettingsStore;
  readonly pins: PinStore;
  /** Runs `fn` in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T;
  /** The store file's size in bytes (its pages; the WAL aside). */
  sizeBytes(): number;
  /**
   * Caps the store's size (SQLite's max_page_count; null lifts the cap): a write past it fails with SQLITE_FULL,
   * just as on a full disk, so the log can be kept from filling the card the Pi boots from.
   */
  setSizeLimit(bytes: number | null): void;
  close(): void;
}

const systemClock: Clock = { now: () => new Date() };
/** SQLite's own default for max_page_count. */
const NO_PAGE_LIMIT = 4294967294;

export function openStore(path: string, opts: StoreOptions = {}): Store {
  const memory = path === ':memory:' || path === '';
  const readonly = opts.readonly === true && !memory;
  if (!memory && !readonly) mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000, readonly, fileMustExist: readonly });
  } catch (error) {
    throw new StoreError(`${path}: cannot open the store: ${(error as Error).message}`, { cause: error });
  }
  try {
    if (readonly) checkReadable(db, path);
    else {
      configure(db, path);
      migrate(db, path);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  const clock = opts.clock ?? systemClock;
  const synchronous = (['off', 'normal', 'full', 'extra'] as const)[db.pragma('synchronous', { simple: true }) as number] ?? 'off';
  return {
    path,
    durability: { journalMode: String(db.pragma('journal_mode', { simple: true })), synchronous },
    members: new MemberStore(db, clock),
    memberSync: new MemberSyncStore(db),
    events: new EventStore(db, opts.logger),
    settings: new SettingsStore(db),
    pins: new PinStore(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    sizeBytes: () => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number),
    setSizeLimit: (bytes) => {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${bytes === null ? NO_PAGE_LIMIT : Math.max(1, Math.floor(bytes / pageSize))}`);
    },
    close: () => {
      if (db.open) db.close();
    },
  };
}

function checkReadable(db: Database.Database, path: string): void {
  let version: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (error) {
    throw new StoreError(`${path}: not a gateway store (${(error as Error).message})`, { cause: error });
  }
  // Read-only cannot migrate: only a store already at this version can be read as this version reads it.
  if (version > SCHEMA_VERSION) throw new StoreVersionError(path, version, SCHEMA_VERSION);
  if (version < SCHEMA_VERSION) throw new StoreError(`${path}: the store has schema version ${version} and cannot be upgraded read-only`);
}

function configure(db: Database.Database, path: string): void {
  try {
    db.pragma('journal_mode = WAL');
  } catch (error) {
    // The first statement is where SQLite notices the file is something else (a CSV given as --store, say).
    throw new StoreError(`${path}: not a gateway store (${(error as Error).message})`, { cause: error });
  }
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // A member-list swap writes the whole table through the WAL; give the space back after the checkpoint.
  db.pragma('journal_size_limit = 67108864');
}

function migrate(db: Database.Database, path: string): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const found = version();
  if (found > SCHEMA_VERSION) throw new StoreVersionError(path, found, SCHEMA_VERSION);
  for (const migration of migrations) {
    if (migration.id <= found) continue;
    db.transaction(() => {
      // Another process may have migrated while this one waited for the write lock.
      if (version() >= migration.id) return;
      db.exec(migration.up);
      db.pragma(`user_version = ${migration.id}`);
    }).immediate();
  }
}
