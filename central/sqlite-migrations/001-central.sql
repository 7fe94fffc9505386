-- Central's SQLite file as it was before its migrations were numbered (central/store.ts's DDL, moved here as it was):
-- the history (sites, events, occupancy samples, policies, commands), the member list and central's own secrets.
-- Every statement is IF NOT EXISTS: a database made by a central of before is upgraded in place by recording this
-- file as applied (central/sqlite-migrations/migrate.ts).
CREATE TABLE IF NOT EXISTS sites (
  id TEXT PRIMARY KEY,
  online INTEGER NOT NULL DEFAULT 0,
  since_ms INTEGER,
  last_seen_ms INTEGER,
  state TEXT,
  state_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  site TEXT NOT NULL,
  type TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  payload TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_site_at ON events (site, at_ms);
CREATE INDEX IF NOT EXISTS events_type_at ON events (type, at_ms);
-- The events that still name a card holder (a pseudonym), oldest first: what person-level retention walks, so that
-- each daily pass reads only what it has to blank, not every event it blanked before (docs/privacy.md).
CREATE INDEX IF NOT EXISTS events_person_at ON events (at_ms) WHERE json_type(payload, '$.person') = 'text';
CREATE TABLE IF NOT EXISTS occupancy_samples (
  site TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  inside INTEGER NOT NULL,
  capacity INTEGER,
  PRIMARY KEY (site, at_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS policies (
  site TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL,
  seen_ms INTEGER NOT NULL
);
-- The member list (central/members/member-store.ts). Only keyed card hashes (HMAC-SHA256 with the deployment key)
-- and what a decision needs: 'fields' is the member's canonical text after the hash (policies/member-list.ts).
CREATE TABLE IF NOT EXISTS members_current (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  fields TEXT NOT NULL
) WITHOUT ROWID;
-- Members the branches' list leaves out (members.branchList: registered), in the same form; never published. Kept so
-- that registering one at the desk (PATCH /api/members) puts them on the list at once, not after the next export.
CREATE TABLE IF NOT EXISTS members_unlisted (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  fields TEXT NOT NULL
) WITHOUT ROWID;
-- A member's card UIDs from the library system (members.import.columns.cardUids, a Koha attribute): each is a row of
-- the list of its own with the member's fields, and here names the member (their card number's hash) it belongs to,
-- so that a change, a PIN or a deletion of the member reaches every credential.
CREATE TABLE IF NOT EXISTS member_credentials (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  member_hash BLOB NOT NULL CHECK (length(member_hash) = 32)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_credentials_member ON member_credentials (member_hash);
-- Cards linked to a member by staff at a branch's desk (members/change, docs/members.md "At the desk"): also in
-- member_credentials, and here so that the library system's next export or delta, which knows nothing of them, keeps
-- them as long as the member exists. The site that linked it, for the operator.
CREATE TABLE IF NOT EXISTS member_desk_cards (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  member_hash BLOB NOT NULL CHECK (length(member_hash) = 32),
  site TEXT NOT NULL,
  linked_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_desk_cards_member ON member_desk_cards (member_hash);
-- The answers to recent desk changes by the branch's id, so a change resent (QoS 1) is answered again, not applied
-- twice; kept a day.
CREATE TABLE IF NOT EXISTS member_desk_changes (
  site TEXT NOT NULL,
  id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  reply TEXT NOT NULL,
  PRIMARY KEY (site, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_desk_changes_at ON member_desk_changes (at_ms);
-- One row per version: its count and list hash, and what changed from the one before.
CREATE TABLE IF NOT EXISTS member_versions (
  version INTEGER PRIMARY KEY,
  count INTEGER NOT NULL,
  hash TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  source TEXT NOT NULL,
  added INTEGER NOT NULL,
  changed INTEGER NOT NULL,
  removed INTEGER NOT NULL,
  -- 1 while member_deltas holds the cards this version changed (the last members.keepVersions versions)
  delta_kept INTEGER NOT NULL
);
-- Which cards each kept version changed; a delta from version b is the current state of the cards changed after b.
CREATE TABLE IF NOT EXISTS member_deltas (
  version INTEGER NOT NULL,
  card_hash BLOB NOT NULL,
  PRIMARY KEY (version, card_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY,
  site TEXT NOT NULL,
  command TEXT NOT NULL,
  actor TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  result TEXT NOT NULL
);
-- Secrets central makes for itself and keeps (the key of its own pseudonyms); never sent anywhere.
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;
