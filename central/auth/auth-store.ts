// The SQL of central's accounts, sessions, API tokens and audit, in central's database beside the history. Nothing
// here holds a secret in clear: passwords are scrypt hashes, session cookies and API tokens are SHA-256 hashes.
import type { Database } from 'better-sqlite3';
import type { Role } from './identity.js';

const SCHEMA = `
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
`;

export const SESSION_TABLES = { sessions: 'central_sessions', users: 'central_users', userColumns: ['source'] } as const;

export type UserSource = 'local' | 'oidc';

export interface UserRow {
  username: string;
  role: Role;
  source: UserSource;
  passwordHash: string | null;
  createdAt: string;
  passwordChangedAt: string | null;
  lastLoginAt: string | null;
}

export interface TokenRow {
  id: string;
  name: string;
  role: Role;
  hash: Buffer;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  site: string | null;
  detail: string;
}

export interface AuditFilter {
  from?: Date | undefined;
  to?: Date | undefined;
  site?: string | undefined;
  actor?: string | undefined;
  /** Rows with a smaller id than this (the page after the one that ended there). */
  before?: number | undefined;
  limit: number;
}

const USER = `username, role, source, password_hash AS passwordHash, created_at AS createdAt,
  password_changed_at AS passwordChangedAt, last_login_at AS lastLoginAt`;
const TOKEN = `id, name, role, hash, created_at AS createdAt, created_by AS createdBy, expires_at AS expiresAt,
  revoked_at AS revokedAt, revoked_by AS revokedBy, last_used_at AS lastUsedAt`;

export class AuthStore {
  private readonly s;

  constructor(readonly db: Database) {
    db.exec(SCHEMA);
    this.s = {
      user: db.prepare<[string], UserRow>(`SELECT ${USER} FROM central_users WHERE username = ?`),
      users: db.prepare<[], UserRow>(`SELECT ${USER} FROM central_users ORDER BY username`),
      insertUser: db.prepare<[{ username: string; role: Role; source: UserSource; hash: string | null; at: string }]>(
        `INSERT INTO central_users (username, role, source, password_hash, created_at, password_changed_at)
         VALUES (:username, :role, :source, :hash, :at, CASE WHEN :hash IS NULL THEN NULL ELSE :at END)`,
      ),
      setRole: db.prepare<[Role, string]>('UPDATE central_users SET role = ? WHERE username = ?'),
      setPassword: db.prepare<[string, string, string]>('UPDATE central_users SET password_hash = ?, password_changed_at = ? WHERE username = ?'),
      setLogin: db.prepare<[string, string]>('UPDATE central_users SET last_login_at = ? WHERE username = ?'),
      deleteUser: db.prepare<[string]>('DELETE FROM central_users WHERE username = ?'),
      deleteSessions: db.prepare<[string]>('DELETE FROM central_sessions WHERE username = ?'),
      administrators: db.prepare<[], number>("SELECT count(*) FROM central_users WHERE role = 'administrator'").pluck(),
      token: db.prepare<[string], TokenRow>(`SELECT ${TOKEN} FROM central_tokens WHERE id = ?`),
      liveTokenNamed: db.prepare<[string], TokenRow>(`SELECT ${TOKEN} FROM central_tokens WHERE name = ? AND revoked_at IS NULL`),
      tokens: db.prepare<[], TokenRow>(`SELECT ${TOKEN} FROM central_tokens ORDER BY created_at DESC, id`),
      insertToken: db.prepare<[{ id: string; name: string; role: Role; hash: Buffer; at: string; by: string; expires: string }]>(
        `INSERT INTO central_tokens (id, name, role, hash, created_at, created_by, expires_at)
         VALUES (:id, :name, :role, :hash, :at, :by, :expires)`,
      ),
      revokeToken: db.prepare<[string, string, string]>('UPDATE central_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL'),
      useToken: db.prepare<[string, string]>('UPDATE central_tokens SET last_used_at = ? WHERE id = ?'),
      audit: db.prepare<[number, string, string, string | null, string]>('INSERT INTO central_audit (at_ms, actor, action, site, detail) VALUES (?, ?, ?, ?, ?)'),
      purgeAudit: db.prepare<[number]>('DELETE FROM central_audit WHERE at_ms < ?'),
    };
  }

  user(username: string): UserRow | undefined {
    return this.s.user.get(username);
  }

  users(): UserRow[] {
    return this.s.users.all();
  }

  insertUser(user: { username: string; role: Role; source: UserSource; passwordHash: string | null; at: Date }): void {
    this.s.insertUser.run({ username: user.username, role: user.role, source: user.source, hash: user.passwordHash, at: user.at.toISOString() });
  }

  setRole(username: string, role: Role): void {
    this.s.setRole.run(role, username);
  }

  setPassword(username: string, hash: string, at: Date): void {
    this.s.setPassword.run(hash, at.toISOString(), username);
  }

  recordLogin(username: string, at: Date): void {
    this.s.setLogin.run(at.toISOString(), username);
  }

  /** The account and all its sessions, in one go. */
  deleteUser(username: string): void {
    this.db.transaction(() => {
      this.s.deleteSessions.run(username);
      this.s.deleteUser.run(username);
    })();
  }

  administrators(): number {
    return this.s.administrators.get()!;
  }

  token(id: string): TokenRow | undefined {
    return this.s.token.get(id);
  }

  liveTokenNamed(name: string): TokenRow | undefined {
    return this.s.liveTokenNamed.get(name);
  }

  tokens(): TokenRow[] {
    return this.s.tokens.all();
  }

  insertToken(t: { id: string; name: string; role: Role; hash: Buffer; at: Date; by: string; expires: Date }): void {
    this.s.insertToken.run({ id: t.id, name: t.name, role: t.role, hash: t.hash, at: t.at.toISOString(), by: t.by, expires: t.expires.toISOString() });
  }

  /** False when the token was already revoked (or is not there). */
  revokeToken(id: string, at: Date, by: string): boolean {
    return this.s.revokeToken.run(at.toISOString(), by, id).changes === 1;
  }

  tokenUsed(id: string, at: Date): void {
    this.s.useToken.run(at.toISOString(), id);
  }

  audit(row: { at: Date; actor: string; action: string; site: string | null; detail: string }): void {
    this.s.audit.run(row.at.getTime(), row.actor, row.action, row.site, row.detail);
  }

  /** Newest first. */
  auditRows(filter: AuditFilter): AuditRow[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const add = (condition: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(condition);
      args.push(value);
    };
    add('at_ms >= ?', filter.from?.getTime());
    add('at_ms < ?', filter.to?.getTime());
    add('site = ?', filter.site);
    add('actor = ?', filter.actor);
    add('id < ?', filter.before);
    const sql = `SELECT id, at_ms, actor, action, site, detail FROM central_audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare<Array<string | number>, { id: number; at_ms: number; actor: string; action: string; site: string | null; detail: string }>(sql).all(...args, filter.limit);
    return rows.map((r) => ({ id: r.id, at: new Date(r.at_ms).toISOString(), actor: r.actor, action: r.action, site: r.site, detail: r.detail }));
  }

  purgeAuditBefore(at: Date): void {
    this.s.purgeAudit.run(at.getTime());
  }
}
