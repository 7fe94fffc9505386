-- Alerting in central's SQLite file (central/alerts/sqlite-alerts-store.ts), as it was before migrations were
-- numbered: incidents and their history, what was handed to the outbox, branches offline (incident-store.ts), the
-- outbox and each channel's health (outbox-store.ts), branches seen, the rules' versions, acknowledgement links and
-- the alarm events recorded (sqlite-alerts-store.ts). PostgreSQL's are in central/pg/migrations/020-alerts.sql.
CREATE TABLE IF NOT EXISTS alert_incidents (
  id INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  alarm TEXT NOT NULL,
  known INTEGER NOT NULL,
  severity TEXT NOT NULL,
  detail TEXT,
  status TEXT NOT NULL CHECK (status IN ('raised', 'notified', 'acknowledged', 'cleared')),
  -- when the branch says the alarm was raised (its clock), for people to read
  raised_ms INTEGER NOT NULL,
  -- when central opened the incident (its clock): escalation and time to acknowledge count from here
  opened_ms INTEGER NOT NULL,
  notified_ms INTEGER,
  acknowledged_ms INTEGER,
  acknowledged_by TEXT,
  ack_note TEXT,
  cleared_ms INTEGER,
  cleared_by TEXT
);
-- One open incident per site and alarm: a repeat raise while it is open is history, not a second incident.
CREATE UNIQUE INDEX IF NOT EXISTS alert_incidents_one_open ON alert_incidents (site, alarm) WHERE cleared_ms IS NULL;
CREATE INDEX IF NOT EXISTS alert_incidents_open_by_time ON alert_incidents (opened_ms) WHERE cleared_ms IS NULL;
CREATE INDEX IF NOT EXISTS alert_incidents_opened ON alert_incidents (opened_ms);
CREATE TABLE IF NOT EXISTS alert_incident_history (
  id INTEGER PRIMARY KEY,
  incident_id INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  note TEXT
);
CREATE INDEX IF NOT EXISTS alert_incident_history_by_incident ON alert_incident_history (incident_id, id);
-- Each request handed to the outbox, once: its key is the outbox's once-only key (types.ts, notificationKey).
CREATE TABLE IF NOT EXISTS alert_notifications (
  incident_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  repeat INTEGER NOT NULL,
  channel TEXT NOT NULL,
  address TEXT NOT NULL,
  recipient TEXT NOT NULL,
  handed_ms INTEGER NOT NULL,
  delivered_ms INTEGER,
  failed TEXT,
  PRIMARY KEY (incident_id, step, repeat, channel, address)
) WITHOUT ROWID;
-- Branches whose last will said offline, since when, and whether that absence is an incident yet.
CREATE TABLE IF NOT EXISTS alert_offline (
  site TEXT PRIMARY KEY,
  since_ms INTEGER NOT NULL,
  raised INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY,
  incident_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  repeat INTEGER NOT NULL,
  recipient_id TEXT NOT NULL,
  recipient_name TEXT,
  address TEXT NOT NULL,
  channel TEXT NOT NULL,
  severity TEXT,
  priority INTEGER NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  details TEXT,
  ack_link TEXT,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  next_ms INTEGER,
  last_attempt_ms INTEGER,
  finished_ms INTEGER,
  last_error TEXT,
  UNIQUE (incident_id, step, repeat, recipient_id, channel)
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (priority, next_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS alert_outbox_sending ON alert_outbox (id) WHERE state = 'sending';
CREATE TABLE IF NOT EXISTS alert_channel_health (
  channel TEXT PRIMARY KEY,
  ok INTEGER NOT NULL,
  since_ms INTEGER NOT NULL,
  reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_state_seen (
  site TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_rule_versions (
  version INTEGER PRIMARY KEY,
  -- the document as the administrator wrote it (JSON), defaults left out
  doc TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_ack_links (
  -- SHA-256 of the token; the token itself is only in the message sent
  token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
  incident_id INTEGER NOT NULL,
  contact TEXT NOT NULL,
  issued_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_ack_links_by_incident ON alert_ack_links (incident_id);
-- Each alarm event recorded once, by its id: several instances each handed the same event record it once.
CREATE TABLE IF NOT EXISTS alert_raises (
  site TEXT NOT NULL,
  event_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (site, event_id)
) WITHOUT ROWID;
