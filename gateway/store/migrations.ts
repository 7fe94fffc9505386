// The store's schema, as numbered steps. `PRAGMA user_version` holds the last step applied; each step runs in its
// own transaction together with the version bump, so a power cut mid-upgrade leaves the previous version whole.
// Never edit a step that has shipped: add the next one.

export interface Migration {
  id: number;
  name: string;
  up: string;
}

export const migrations: readonly Migration[] = [
  {
    id: 1,
    name: 'init',
    up: `
      -- Only what a decision needs; the key is HMAC-SHA256(deployment key, normalised card id), never the number.
      CREATE TABLE members (
        card_hash     BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
        expires       TEXT,
        blocked       INTEGER NOT NULL DEFAULT 0,
        blocked_until TEXT,
        open_access   INTEGER NOT NULL DEFAULT 0,
        birth_date    TEXT,
        adult         INTEGER,
        staff         INTEGER NOT NULL DEFAULT 0,
        groups        TEXT NOT NULL DEFAULT '',
        pin_hash      TEXT
      ) WITHOUT ROWID;

      -- The list in force: one row, written in the same transaction as the list itself.
      CREATE TABLE member_list (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        version    INTEGER NOT NULL,
        count      INTEGER NOT NULL,
        hash       TEXT NOT NULL,
        source     TEXT NOT NULL,
        applied_at TEXT NOT NULL
      );

      -- The event log and outbox. ids sort in insertion order (time, then a counter within the millisecond).
      CREATE TABLE events (
        id        TEXT PRIMARY KEY NOT NULL,
        at        TEXT NOT NULL,
        type      TEXT NOT NULL,
        reason    TEXT,
        card_hash BLOB CHECK (card_hash IS NULL OR length(card_hash) = 32),
        data      TEXT NOT NULL DEFAULT '{}',
        published INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE INDEX events_unpublished ON events (id) WHERE published = 0;
      CREATE INDEX events_at ON events (at);

      CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE pin_failures (
        card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
        count     INTEGER NOT NULL,
        last_at   TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    id: 2,
    name: 'console',
    up: `
      -- Staff console accounts. Passwords as scrypt hashes with their parameters (gateway/console/passwords.ts).
      CREATE TABLE console_users (
        username            TEXT PRIMARY KEY NOT NULL,
        role                TEXT NOT NULL CHECK (role IN ('staff', 'manager')),
        password_hash       TEXT NOT NULL,
        created_at          TEXT NOT NULL,
        password_changed_at TEXT NOT NULL,
        last_login_at       TEXT
      ) WITHOUT ROWID;

      -- Console sessions: the cookie holds a random token; only its SHA-256 is kept, so a copy of the store
      -- does not let anyone in. The CSRF token is bound to the session.
      CREATE TABLE console_sessions (
        token_hash   BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
        username     TEXT NOT NULL REFERENCES console_users (username) ON DELETE CASCADE,
        csrf_token   TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        expires_at   TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX console_sessions_user ON console_sessions (username);
    `,
  },
  {
    id: 3,
    name: 'member-sync',
    up: `
      -- A member-list transfer from central, staged here chunk by chunk so that a restart or an outage resumes it
      -- (docs/members.md). One row: the transfer being received; applied and emptied in the same transaction.
      CREATE TABLE member_sync (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        transfer   TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('delta', 'snapshot')),
        version    INTEGER NOT NULL,
        base       INTEGER,
        base_hash  TEXT,
        key_id     TEXT NOT NULL,
        total      INTEGER NOT NULL,
        count      INTEGER NOT NULL,
        hash       TEXT NOT NULL,
        started_at TEXT NOT NULL
      );
      -- Chunks received and checked: their members and (snapshot) the sum of their digests.
      CREATE TABLE member_sync_chunks (
        idx     INTEGER PRIMARY KEY,
        entries INTEGER NOT NULL,
        sum     TEXT NOT NULL
      );
      -- The staged members of a snapshot, laid out exactly as members: a branch with no list (or a small one) takes
      -- the whole table in one step (rename), instead of copying a million rows while holding the write lock.
      CREATE TABLE member_sync_members (
        card_hash     BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
        expires       TEXT,
        blocked       INTEGER NOT NULL DEFAULT 0,
        blocked_until TEXT,
        open_access   INTEGER NOT NULL DEFAULT 0,
        birth_date    TEXT,
        adult         INTEGER,
        staff         INTEGER NOT NULL DEFAULT 0,
        groups        TEXT NOT NULL DEFAULT '',
        pin_hash      TEXT
      ) WITHOUT ROWID;
      -- The staged changes of a delta (removed = 1: the card leaves the list).
      CREATE TABLE member_sync_rows (
        card_hash     BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
        removed       INTEGER NOT NULL DEFAULT 0,
        expires       TEXT,
        blocked       INTEGER NOT NULL DEFAULT 0,
        blocked_until TEXT,
        open_access   INTEGER NOT NULL DEFAULT 0,
        birth_date    TEXT,
        adult         INTEGER,
        staff         INTEGER NOT NULL DEFAULT 0,
        groups        TEXT NOT NULL DEFAULT '',
        pin_hash      TEXT
      ) WITHOUT ROWID;
    `,
  },
  {
    id: 4,
    name: 'console-tokens',
    up: `
      -- API tokens for scripts and monitoring at the branch (gateway/console/tokens.ts): only the SHA-256 of the
      -- token is kept; each has a role, an expiry it cannot do without, and a revocation.
      CREATE TABLE console_tokens (
        id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 12),
        name         TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('staff', 'manager')),
        token_hash   BLOB NOT NULL CHECK (length(token_hash) = 32),
        created_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        revoked_at   TEXT,
        last_used_at TEXT
      ) WITHOUT ROWID;
    `,
  },
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.id;
