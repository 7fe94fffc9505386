-- Central's alerting (central/alerts/pg-alerts-store.ts): the tables of the SQLite store (central/alerts/
-- sqlite-alerts-store.ts, incident-store.ts, outbox-store.ts), shared by every instance, so
-- that an incident acknowledged through one instance is acknowledged on the leader, which tells. Times are
-- milliseconds (bigint), as in SQLite: the same rows whatever the database. Names sort bytewise (COLLATE "C").

CREATE TABLE alert_incidents (
  id              bigserial PRIMARY KEY,
  site            text COLLATE "C" NOT NULL,
  alarm           text COLLATE "C" NOT NULL,
  known           integer NOT NULL,
  severity        text NOT NULL,
  detail          text,
  status          text NOT NULL CHECK (status IN ('raised', 'notified', 'acknowledged', 'cleared')),
  raised_ms       bigint NOT NULL,
  opened_ms       bigint NOT NULL,
  notified_ms     bigint,
  acknowledged_ms bigint,
  acknowledged_by text,
  ack_note        text,
  cleared_ms      bigint,
  cleared_by      text
);
-- One open incident per site and alarm: two instances raising it at once make one, the other a repeat.
CREATE UNIQUE INDEX alert_incidents_one_open ON alert_incidents (site, alarm) WHERE cleared_ms IS NULL;
CREATE INDEX alert_incidents_open_by_time ON alert_incidents (opened_ms) WHERE cleared_ms IS NULL;
CREATE INDEX alert_incidents_opened ON alert_incidents (opened_ms);

-- Each alarm event recorded once, by its id: every instance is handed every alarm event (LISTEN/NOTIFY), and the
-- incident records it once, not once an instance.
CREATE TABLE alert_raises (
  site     text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  at_ms    bigint NOT NULL,
  PRIMARY KEY (site, event_id)
);

CREATE TABLE alert_incident_history (
  id          bigserial PRIMARY KEY,
  incident_id bigint NOT NULL,
  at_ms       bigint NOT NULL,
  kind        text NOT NULL,
  actor       text NOT NULL,
  note        text
);
CREATE INDEX alert_incident_history_by_incident ON alert_incident_history (incident_id, id);

CREATE TABLE alert_notifications (
  incident_id  bigint NOT NULL,
  step         integer NOT NULL,
  repeat       integer NOT NULL,
  channel      text COLLATE "C" NOT NULL,
  address      text COLLATE "C" NOT NULL,
  recipient    text NOT NULL,
  handed_ms    bigint NOT NULL,
  delivered_ms bigint,
  failed       text,
  PRIMARY KEY (incident_id, step, repeat, channel, address)
);

CREATE TABLE alert_offline (
  site     text COLLATE "C" PRIMARY KEY,
  since_ms bigint NOT NULL,
  raised   integer NOT NULL DEFAULT 0
);

CREATE TABLE alert_state_seen (
  site text COLLATE "C" PRIMARY KEY
);

CREATE TABLE alert_rule_versions (
  version    bigserial PRIMARY KEY,
  doc        text NOT NULL,
  actor      text NOT NULL,
  created_ms bigint NOT NULL
);

CREATE TABLE alert_ack_links (
  token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  incident_id bigint NOT NULL,
  contact     text NOT NULL,
  issued_ms   bigint NOT NULL,
  expires_ms  bigint NOT NULL,
  used_ms     bigint
);
CREATE INDEX alert_ack_links_by_incident ON alert_ack_links (incident_id);

CREATE TABLE alert_outbox (
  id              bigserial PRIMARY KEY,
  incident_id     text COLLATE "C" NOT NULL,
  step            integer NOT NULL,
  repeat          integer NOT NULL,
  recipient_id    text COLLATE "C" NOT NULL,
  recipient_name  text,
  address         text NOT NULL,
  channel         text COLLATE "C" NOT NULL,
  severity        text,
  priority        integer NOT NULL,
  subject         text NOT NULL,
  body            text NOT NULL,
  details         text,
  ack_link        text,
  state           text NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
  attempts        integer NOT NULL DEFAULT 0,
  created_ms      bigint NOT NULL,
  next_ms         bigint,
  last_attempt_ms bigint,
  finished_ms     bigint,
  last_error      text,
  UNIQUE (incident_id, step, repeat, recipient_id, channel)
);
CREATE INDEX alert_outbox_due ON alert_outbox (priority, next_ms) WHERE state = 'pending';
CREATE INDEX alert_outbox_sending ON alert_outbox (id) WHERE state = 'sending';

CREATE TABLE alert_channel_health (
  channel  text COLLATE "C" PRIMARY KEY,
  ok       integer NOT NULL,
  since_ms bigint NOT NULL,
  reason   text NOT NULL
);
