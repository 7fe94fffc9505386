-- Central's history (central/history/pg-history.ts): the same tables as the SQLite store (central/store.ts), times
-- in ms since the epoch as there. Ids and site names sort bytewise (COLLATE "C") as SQLite's do, whatever the
-- database's locale, so that "newest first, then by id" pages alike on both engines.

CREATE TABLE sites (
  id text COLLATE "C" PRIMARY KEY,
  online boolean NOT NULL DEFAULT false,
  since_ms bigint,
  last_seen_ms bigint,
  -- json, not jsonb: kept as the branch sent it
  state json,
  state_at_ms bigint
);

-- One partition a month (events_yYYYYmMM, created by the store before the month's first insert, and the next
-- month's with it), so that retention drops whole months instead of deleting rows one by one. PostgreSQL wants the
-- partition key in every unique key: the key is (id, at_ms), and a resend of an event carries its id and its `at`
-- unchanged, so it still finds its first copy and is stored once.
CREATE TABLE events (
  id text COLLATE "C" NOT NULL,
  site text COLLATE "C" NOT NULL,
  type text NOT NULL,
  at_ms bigint NOT NULL,
  received_ms bigint NOT NULL,
  payload jsonb NOT NULL,
  PRIMARY KEY (id, at_ms)
) PARTITION BY RANGE (at_ms);
CREATE INDEX events_site_at ON events (site, at_ms);
CREATE INDEX events_type_at ON events (type, at_ms);
-- The events that still name a card holder (a pseudonym), oldest first: what person-level retention walks
-- (docs/privacy.md), so a daily pass reads only what it has to blank.
CREATE INDEX events_person_at ON events (at_ms) WHERE jsonb_typeof(payload -> 'person') = 'string';

CREATE TABLE occupancy_samples (
  site text COLLATE "C" NOT NULL,
  at_ms bigint NOT NULL,
  inside integer NOT NULL,
  capacity integer,
  PRIMARY KEY (site, at_ms)
);
CREATE INDEX occupancy_samples_at ON occupancy_samples (at_ms);

CREATE TABLE policies (
  site text COLLATE "C" PRIMARY KEY,
  version integer NOT NULL,
  doc json NOT NULL,
  seen_ms bigint NOT NULL
);

CREATE TABLE commands (
  id text COLLATE "C" PRIMARY KEY,
  site text COLLATE "C" NOT NULL,
  command text NOT NULL,
  actor text NOT NULL,
  at_ms bigint NOT NULL,
  result text NOT NULL
);
CREATE INDEX commands_site_at ON commands (site, at_ms);

-- Secrets central makes for itself and keeps (the key of its own pseudonyms), the same for every instance; never
-- sent anywhere.
CREATE TABLE secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL
);
