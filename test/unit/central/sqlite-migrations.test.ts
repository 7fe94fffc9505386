// Central's SQLite file under numbered migrations (central/sqlite-migrations/): a new file gets every migration once;
// a file made by a central of before (its DDL inlined here as it was, the tables there and no schema_migrations) opens
// and is upgraded in place with every row kept; an applied migration that was edited refuses the start, naming it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlertsStore } from '../../../central/alerts/sqlite-alerts-store.js';
import { SqliteAuthStore } from '../../../central/auth/auth-store.js';
import { SqliteFeedMarks } from '../../../central/members/koha/feed-mark.js';
import { migrateSqlite, MigrationError, sqliteMigrations } from '../../../central/sqlite-migrations/migrate.js';
import { CentralStore } from '../../../central/store.js';
import { AT, occupancyEvent } from '../contract/fixtures.js';

/** Central's SQLite DDL before its migrations were numbered (central/store.ts and the alerts stores), comments left out. */
const DDL_BEFORE_MIGRATIONS = `
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
CREATE TABLE IF NOT EXISTS members_current (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  fields TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members_unlisted (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  fields TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS member_credentials (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  member_hash BLOB NOT NULL CHECK (length(member_hash) = 32)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_credentials_member ON member_credentials (member_hash);
CREATE TABLE IF NOT EXISTS member_desk_cards (
  card_hash BLOB PRIMARY KEY NOT NULL CHECK (length(card_hash) = 32),
  member_hash BLOB NOT NULL CHECK (length(member_hash) = 32),
  site TEXT NOT NULL,
  linked_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_desk_cards_member ON member_desk_cards (member_hash);
CREATE TABLE IF NOT EXISTS member_desk_changes (
  site TEXT NOT NULL,
  id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  reply TEXT NOT NULL,
  PRIMARY KEY (site, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_desk_changes_at ON member_desk_changes (at_ms);
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
  delta_kept INTEGER NOT NULL
);
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
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_incidents (
  id INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  alarm TEXT NOT NULL,
  known INTEGER NOT NULL,
  severity TEXT NOT NULL,
  detail TEXT,
  status TEXT NOT NULL CHECK (status IN ('raised', 'notified', 'acknowledged', 'cleared')),
  raised_ms INTEGER NOT NULL,
  opened_ms INTEGER NOT NULL,
  notified_ms INTEGER,
  acknowledged_ms INTEGER,
  acknowledged_by TEXT,
  ack_note TEXT,
  cleared_ms INTEGER,
  cleared_by TEXT
);
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
  doc TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_ack_links (
  token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
  incident_id INTEGER NOT NULL,
  contact TEXT NOT NULL,
  issued_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_ack_links_by_incident ON alert_ack_links (incident_id);
CREATE TABLE IF NOT EXISTS alert_raises (
  site TEXT NOT NULL,
  event_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (site, event_id)
) WITHOUT ROWID;
`;

/** What central/auth/auth-store.ts and central/members/koha/feed-mark.ts made at open before 003, comments left out. */
const AUTH_AND_MARKS_BEFORE_003 = `
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
CREATE TABLE IF NOT EXISTS central_sessions (
  token_hash   BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
  username     TEXT NOT NULL,
  csrf_token   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS central_sessions_user ON central_sessions (username);
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
CREATE TABLE IF NOT EXISTS lms_feed_marks (
  feed TEXT PRIMARY KEY,
  mark TEXT NOT NULL,
  saved_ms INTEGER NOT NULL
) WITHOUT ROWID;
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-sqlite-migrations-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const applied = (db: Database.Database): string[] => (db.prepare('SELECT name FROM schema_migrations ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);
const tables = (db: Database.Database): string[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_migrations' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);

function logs() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push((JSON.parse(line) as { msg: string }).msg) });
  return { lines, logger };
}

/** An administrator, a line of audit and the Koha mark, as the stores of before wrote them. */
function oldAccountAndMark(db: Database.Database): void {
  db.prepare("INSERT INTO central_users (username, role, source, password_hash, created_at) VALUES ('ada', 'administrator', 'local', 'scrypt$x', ?)").run(AT);
  db.prepare("INSERT INTO central_audit (at_ms, actor, action, site, detail) VALUES (?, 'ada', 'sign-in', NULL, '{}')").run(Date.parse(AT));
  db.prepare("INSERT INTO lms_feed_marks (feed, mark, saved_ms) VALUES ('koha', '2026-03-02T10:15:00+01:00', 1)").run();
}

/** The account, the audit and the mark read through today's stores. */
async function expectAccountAndMark(db: Database.Database): Promise<void> {
  const auth = new SqliteAuthStore(db);
  expect(await auth.user('ada')).toMatchObject({ username: 'ada', role: 'administrator', passwordHash: 'scrypt$x' });
  expect((await auth.auditRows({ limit: 10 })).map((r) => [r.actor, r.action])).toEqual([['ada', 'sign-in']]);
  expect(await new SqliteFeedMarks(db).get('koha')).toBe('2026-03-02T10:15:00+01:00');
}

describe("central's SQLite migrations", () => {
  it('gives a new file every migration once, in order, and a second start nothing to do', async () => {
    const path = join(dir, 'central.sqlite');
    const first = new CentralStore(path);
    expect(applied(first.db)).toEqual(sqliteMigrations().map((m) => m.name));
    expect(applied(first.db)).toEqual(['001-central', '002-alerts', '003-auth-feed-marks']);
    expect(tables(first.db)).toEqual(
      expect.arrayContaining(['sites', 'events', 'members_current', 'secrets', 'alert_incidents', 'alert_outbox', 'alert_raises', 'central_users', 'central_audit', 'lms_feed_marks']),
    );
    first.close();
    const db = new Database(path);
    try {
      expect(migrateSqlite(db)).toEqual([]);
      // Alerting's store on the same file finds its tables there.
      const alerts = new SqliteAlertsStore(db);
      expect(await alerts.openIncidents(10)).toEqual([]);
    } finally {
      db.close();
    }
  });

  it("opens a file made by a central of before and upgrades it in place, every row kept", async () => {
    const path = join(dir, 'central.sqlite');
    const old = new Database(path);
    old.exec(DDL_BEFORE_MIGRATIONS);
    old.exec(AUTH_AND_MARKS_BEFORE_003);
    oldAccountAndMark(old);
    const event = occupancyEvent(7, AT, 'town');
    old.prepare('INSERT INTO events (id, site, type, at_ms, received_ms, payload) VALUES (?, ?, ?, ?, ?, ?)').run(event.id, 'town', 'occupancy', Date.parse(AT), Date.parse(AT), JSON.stringify(event));
    old.prepare('INSERT INTO members_current (card_hash, fields) VALUES (?, ?)').run(Buffer.alloc(32, 7), 'N,2030-01-31');
    old.prepare("INSERT INTO alert_incidents (site, alarm, known, severity, status, raised_ms, opened_ms) VALUES ('town', 'fire', 1, 'critical', 'raised', 1, 1)").run();
    old.prepare("INSERT INTO secrets (name, value) VALUES ('pseudonym', ?)").run(Buffer.alloc(32, 9));
    const before = tables(old);
    old.close();

    const { lines, logger } = logs();
    const store = new CentralStore(path, { logger });
    try {
      expect(lines).toContain('SQLite: a central database from before numbered migrations; its schema recorded as the baseline, no row changed');
      expect(applied(store.db)).toEqual(['001-central', '002-alerts', '003-auth-feed-marks']);
      expect(tables(store.db)).toEqual(before);
      await expectAccountAndMark(store.db);
      expect(store.db.prepare('SELECT payload FROM events WHERE id = ?').get(event.id)).toEqual({ payload: JSON.stringify(event) });
      expect(store.db.prepare('SELECT count(*) AS n FROM members_current').get()).toEqual({ n: 1 });
      expect(store.db.prepare('SELECT value FROM secrets').get()).toEqual({ value: Buffer.alloc(32, 9) });
      expect((await new SqliteAlertsStore(store.db).openIncidents(10)).map((i) => [i.site, i.alarm])).toEqual([['town', 'fire']]);
    } finally {
      store.close();
    }
  });

  it("upgrades a file whose accounts and Koha mark were made at open (before 003) in place, every row kept", async () => {
    const path = join(dir, 'central.sqlite');
    const old = new Database(path);
    migrateSqlite(old, { migrations: sqliteMigrations().filter((m) => m.name !== '003-auth-feed-marks') });
    old.exec(AUTH_AND_MARKS_BEFORE_003);
    oldAccountAndMark(old);
    const before = tables(old);
    old.close();

    const { lines, logger } = logs();
    const store = new CentralStore(path, { logger });
    try {
      expect(lines).toContain('SQLite: migrations applied');
      expect(applied(store.db)).toEqual(['001-central', '002-alerts', '003-auth-feed-marks']);
      expect(tables(store.db)).toEqual(before);
      await expectAccountAndMark(store.db);
    } finally {
      store.close();
    }
  });

  it('gives the accounts store, opened alone on a bare file (as the CLI and tests may), its tables', async () => {
    const db = new Database(join(dir, 'bare.sqlite'));
    try {
      const auth = new SqliteAuthStore(db);
      await auth.insertUser({ username: 'ada', role: 'administrator', source: 'local', passwordHash: 'scrypt$x', at: new Date(AT) });
      expect(await auth.user('ada')).toMatchObject({ role: 'administrator' });
      expect(applied(db)).toEqual(sqliteMigrations().map((m) => m.name));
    } finally {
      db.close();
    }
  });

  it('refuses to open a file whose applied migration was edited since, naming it, and changes nothing', () => {
    const path = join(dir, 'central.sqlite');
    new CentralStore(path).close();
    const db = new Database(path);
    try {
      const edited = sqliteMigrations().map((m) => (m.name === '002-alerts' ? { ...m, sql: `${m.sql}\nCREATE TABLE extra (x);`, checksum: 'f'.repeat(64) } : m));
      const next = { number: '004', name: '004-next', sql: 'CREATE TABLE next_one (x INTEGER);', checksum: 'e'.repeat(64) };
      expect(() => migrateSqlite(db, { migrations: [...edited, next] })).toThrow(MigrationError);
      expect(() => migrateSqlite(db, { migrations: [...edited, next] })).toThrow(
        /^SQLite migration 002-alerts\.sql was changed after it was applied to this database \(on \d{4}-\d\d-\d\dT.*\): an applied migration is never edited; put the change in a new, higher-numbered migration/,
      );
      expect(applied(db)).toEqual(['001-central', '002-alerts', '003-auth-feed-marks']);
      expect(tables(db)).not.toContain('next_one');
    } finally {
      db.close();
    }
  });

  it('applies a later migration once, and none of a start whose migration fails', () => {
    const path = join(dir, 'central.sqlite');
    new CentralStore(path).close();
    const db = new Database(path);
    try {
      const good = { number: '004', name: '004-next', sql: 'CREATE TABLE next_one (x INTEGER);', checksum: 'e'.repeat(64) };
      const bad = { number: '005', name: '005-broken', sql: 'CREATE TABLE next_two (x INTEGER); CREATE TABLE sites (x);', checksum: 'd'.repeat(64) };
      expect(() => migrateSqlite(db, { migrations: [...sqliteMigrations(), good, bad] })).toThrow(/^SQLite migration 005-broken\.sql failed, and none of this start's migrations were applied: table sites already exists$/);
      expect(tables(db)).not.toContain('next_one');
      expect(migrateSqlite(db, { migrations: [...sqliteMigrations(), good] })).toEqual(['004-next']);
      expect(migrateSqlite(db, { migrations: [...sqliteMigrations(), good] })).toEqual([]);
      expect(applied(db)).toEqual(['001-central', '002-alerts', '003-auth-feed-marks', '004-next']);
    } finally {
      db.close();
    }
  });
});
