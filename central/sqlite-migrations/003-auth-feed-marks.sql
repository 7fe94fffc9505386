-- Central's accounts, sessions, API tokens and audit (central/auth/auth-store.ts) and where the Koha poller has got to
-- (central/members/koha/feed-mark.ts): the DDL those modules ran at open before it was moved here, as it was, every
-- statement IF NOT EXISTS, so that a database whose tables they made already is upgraded in place, no row touched. PostgreSQL's are in central/pg/migrations/010-auth.sql and
-- 031-koha-feed-mark.sql.

-- People who sign in at central. 'local': a password (scrypt, with its parameters); 'oidc': single sign-on, no
-- password, the role taken from the provider's claims at every sign-in.
CREATE TABLE IF NOT EXISTS central_users (
  username            TEXT PRIMARY KEY NOT NULL,
  role                TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'administrator')),
  source              TEXT NOT NULL CHECK (source IN ('local', 'oidc')),
  password_hash       TEXT,
  created_at          TEXT NOT NULL,
  password_changed_at TEXT,
  last_login_at       TEXT,
  CHECK ((source = 'local') = (password_hash IS NOT NULL))
) WITHOUT ROWID;
-- Sessions (kit/auth/sessions.ts): the cookie's SHA-256, the CSRF token bound to it, idle and absolute limits.
CREATE TABLE IF NOT EXISTS central_sessions (
  token_hash   BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
  username     TEXT NOT NULL,
  csrf_token   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS central_sessions_user ON central_sessions (username);
-- API tokens (kit/auth/api-tokens.ts): the id finds the row, the SHA-256 of the whole token proves it.
CREATE TABLE IF NOT EXISTS central_tokens (
  id            TEXT PRIMARY KEY NOT NULL,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'administrator')),
  hash          BLOB NOT NULL CHECK (length(hash) = 32),
  created_at    TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  revoked_at    TEXT,
  revoked_by    TEXT,
  last_used_at  TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS central_tokens_live_name ON central_tokens (name) WHERE revoked_at IS NULL;
-- Who did what, to which branch, when: sign-ins, commands, policies, member changes, accounts and tokens.
CREATE TABLE IF NOT EXISTS central_audit (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms  INTEGER NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  site   TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS central_audit_at ON central_audit (at_ms);
CREATE INDEX IF NOT EXISTS central_audit_site_at ON central_audit (site, at_ms);
CREATE INDEX IF NOT EXISTS central_audit_actor_at ON central_audit (actor, at_ms);
-- Where the Koha poller has got to: the newest updated_on it has applied.
CREATE TABLE IF NOT EXISTS lms_feed_marks (
  feed TEXT PRIMARY KEY,
  -- Koha's updated_on as Koha wrote it (RFC 3339 with its offset): no member data
  mark TEXT NOT NULL,
  saved_ms INTEGER NOT NULL
) WITHOUT ROWID;
