-- Central's accounts, sessions, API tokens and audit (central/auth/pg-auth-store.ts): the tables of the SQLite store
-- (central/auth/auth-store.ts), shared by every instance, so that a session made on one is valid on all and a
-- sign-out, a removed account or a revoked token ends everywhere at once. No secret in clear: passwords are scrypt
-- hashes, session cookies and API tokens SHA-256 hashes. Names and ids sort bytewise (COLLATE "C"), as SQLite's do.

CREATE TABLE central_users (
  username            text COLLATE "C" PRIMARY KEY,
  role                text NOT NULL CHECK (role IN ('viewer', 'operator', 'administrator')),
  source              text NOT NULL CHECK (source IN ('local', 'oidc')),
  password_hash       text,
  created_at          timestamptz NOT NULL,
  password_changed_at timestamptz,
  last_login_at       timestamptz,
  CHECK ((source = 'local') = (password_hash IS NOT NULL))
);

-- A session goes with its account: one made by an instance while another removed the account is refused here,
-- rather than coming alive for a later account of the same name.
CREATE TABLE central_sessions (
  token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  username     text COLLATE "C" NOT NULL REFERENCES central_users (username) ON DELETE CASCADE,
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX central_sessions_user ON central_sessions (username);
CREATE INDEX central_sessions_expires ON central_sessions (expires_at);
CREATE INDEX central_sessions_last_seen ON central_sessions (last_seen_at);

CREATE TABLE central_tokens (
  id           text COLLATE "C" PRIMARY KEY,
  name         text NOT NULL,
  role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'administrator')),
  hash         bytea NOT NULL CHECK (length(hash) = 32),
  created_at   timestamptz NOT NULL,
  created_by   text NOT NULL,
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  revoked_by   text,
  last_used_at timestamptz
);
CREATE UNIQUE INDEX central_tokens_live_name ON central_tokens (name) WHERE revoked_at IS NULL;

-- Times in ms since the epoch, as the history's; the id orders the rows (newest first) and pages them.
CREATE TABLE central_audit (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at_ms  bigint NOT NULL,
  actor  text NOT NULL,
  action text NOT NULL,
  site   text,
  detail text NOT NULL
);
CREATE INDEX central_audit_at ON central_audit (at_ms);
CREATE INDEX central_audit_site_at ON central_audit (site, at_ms);
CREATE INDEX central_audit_actor_at ON central_audit (actor, at_ms);
