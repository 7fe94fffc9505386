-- Central's member list (central/members/pg-member-store.ts): the tables of the SQLite store (central/store.ts,
-- central/members/sqlite-member-store.ts), shared by every instance, so that a version made through one is the
-- current one, and its delta servable, through every other. Card hashes are bytea (they sort bytewise, as SQLite's
-- BLOBs do, so snapshot chunks by hash range hold the same members); times are milliseconds (bigint), as in SQLite.

-- The current list: one row a credential, 'fields' the member's canonical text after the hash (policies/member-list.ts).
CREATE TABLE members_current (
  card_hash bytea PRIMARY KEY CHECK (length(card_hash) = 32),
  fields    text NOT NULL
);

-- Members the branches' list leaves out (members.branchList: registered), in the same form; never published.
CREATE TABLE members_unlisted (
  card_hash bytea PRIMARY KEY CHECK (length(card_hash) = 32),
  fields    text NOT NULL
);

-- A card UID (or a card linked at a desk) and the member (their card number's hash) it opens as.
CREATE TABLE member_credentials (
  card_hash   bytea PRIMARY KEY CHECK (length(card_hash) = 32),
  member_hash bytea NOT NULL CHECK (length(member_hash) = 32)
);
CREATE INDEX member_credentials_member ON member_credentials (member_hash);

-- Cards linked to a member by staff at a branch's desk, kept through the library system's imports.
CREATE TABLE member_desk_cards (
  card_hash   bytea PRIMARY KEY CHECK (length(card_hash) = 32),
  member_hash bytea NOT NULL CHECK (length(member_hash) = 32),
  site        text NOT NULL,
  linked_ms   bigint NOT NULL
);
CREATE INDEX member_desk_cards_member ON member_desk_cards (member_hash);

-- The answers to recent desk changes by the branch's id, so a change resent is answered again, not applied twice.
CREATE TABLE member_desk_changes (
  site  text COLLATE "C" NOT NULL,
  id    text COLLATE "C" NOT NULL,
  at_ms bigint NOT NULL,
  reply text NOT NULL,
  PRIMARY KEY (site, id)
);
CREATE INDEX member_desk_changes_at ON member_desk_changes (at_ms);

-- One row per version. Versions are made one at a time across instances (an advisory lock, pg-member-store.ts);
-- the primary key refuses a second version of one number should anything get past it.
CREATE TABLE member_versions (
  version    integer PRIMARY KEY,
  count      integer NOT NULL,
  hash       text NOT NULL,
  key_id     text NOT NULL,
  created_ms bigint NOT NULL,
  source     text NOT NULL,
  added      integer NOT NULL,
  changed    integer NOT NULL,
  removed    integer NOT NULL,
  -- while member_deltas holds the cards this version changed (the last members.keepVersions versions)
  delta_kept boolean NOT NULL
);

-- Which cards each kept version changed; a delta from version b is the current state of the cards changed after b.
CREATE TABLE member_deltas (
  version   integer NOT NULL,
  card_hash bytea NOT NULL,
  PRIMARY KEY (version, card_hash)
);
