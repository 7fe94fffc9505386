// Central's accounts, sessions, API tokens and audit in SQLite, in central's database beside the history (one
// instance; central/auth/pg-auth-store.ts is the same for a cluster on PostgreSQL). Each method is one statement or
// one transaction, so its promise is settled before another request's code runs.
import type { Database } from 'better-sqlite3';
import {
  TokenNameTakenError,
  UsernameTakenError,
  type AccountRefusal,
  type AuditFilter,
  type AuditRow,
  type AuthStore,
  type NewAuditRow,
  type NewSession,
  type NewToken,
  type NewUser,
  type SessionRow,
  type TokenRow,
  type UserRow,
  type UserSource,
} from './auth-store-types.js';
import type { Role } from './identity.js';
import { migrateSqlite } from '../sqlite-migrations/migrate.js';

export type { AuditFilter, AuditRow, AuthStore, TokenRow, UserRow, UserSource } from './auth-store-types.js';

const USER = `username, role, source, password_hash AS passwordHash, created_at AS createdAt,
  password_changed_at AS passwordChangedAt, last_login_at AS lastLoginAt`;
const TOKEN = `id, name, role, hash, created_at AS createdAt, created_by AS createdBy, expires_at AS expiresAt,
  revoked_at AS revokedAt, revoked_by AS revokedBy, last_used_at AS lastUsedAt`;

const SESSION = `s.token_hash AS tokenHash, s.username, u.role, u.source, s.csrf_token AS csrfToken, s.created_at AS createdAt,
  s.last_seen_at AS lastSeenAt, s.expires_at AS expiresAt`;

function code(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

export class SqliteAuthStore implements AuthStore {
  private readonly s;

  constructor(readonly db: Database) {
    // The tables: central/sqlite-migrations/003-auth-feed-marks.sql (a bare database is migrated here, as the CLI's and
    // tests' stores on one file are).
    migrateSqlite(db);
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
      administrators: db.prepare<[], number>("SELECT count(*) FROM central_users WHERE role = 'administrator'").pluck(),
      insertSession: db.prepare<[Buffer, string, string, string, string, string]>(
        'INSERT INTO central_sessions (token_hash, username, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      session: db.prepare<[Buffer], SessionRow>(`SELECT ${SESSION} FROM central_sessions s JOIN central_users u ON u.username = s.username WHERE s.token_hash = ?`),
      touchSession: db.prepare<[string, Buffer]>('UPDATE central_sessions SET last_seen_at = ? WHERE token_hash = ?'),
      deleteSession: db.prepare<[Buffer]>('DELETE FROM central_sessions WHERE token_hash = ?'),
      deleteSessionsOf: db.prepare<[{ username: string; keep: Buffer | null }]>(
        'DELETE FROM central_sessions WHERE username = :username AND (:keep IS NULL OR token_hash <> :keep)',
      ),
      purgeSessions: db.prepare<[string, string]>('DELETE FROM central_sessions WHERE expires_at <= ? OR last_seen_at <= ?'),
      token: db.prepare<[string], TokenRow>(`SELECT ${TOKEN} FROM central_tokens WHERE id = ?`),
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

  async user(username: string): Promise<UserRow | undefined> {
    return this.s.user.get(username);
  }

  async users(): Promise<UserRow[]> {
    return this.s.users.all();
  }

  async insertUser(user: NewUser): Promise<void> {
    try {
      this.s.insertUser.run({ username: user.username, role: user.role, source: user.source, hash: user.passwordHash, at: user.at.toISOString() });
    } catch (error) {
      if (code(error) === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UsernameTakenError(user.username);
      throw error;
    }
  }

  async setPassword(username: string, hash: string, at: Date): Promise<void> {
    this.s.setPassword.run(hash, at.toISOString(), username);
  }

  async recordLogin(username: string, at: Date): Promise<void> {
    this.s.setLogin.run(at.toISOString(), username);
  }

  async changeRole(username: string, role: Role): Promise<{ ok: true; before: Role } | { ok: false; refused: AccountRefusal }> {
    return this.db.transaction(() => {
      const user = this.s.user.get(username);
      if (user === undefined) return { ok: false as const, refused: 'no-account' as const };
      if (user.role === 'administrator' && role !== 'administrator' && this.s.administrators.get()! <= 1) return { ok: false as const, refused: 'last-administrator' as const };
      this.s.setRole.run(role, username);
      return { ok: true as const, before: user.role };
    })();
  }

  async removeUser(username: string): Promise<{ ok: true } | { ok: false; refused: AccountRefusal }> {
    return this.db.transaction(() => {
      const user = this.s.user.get(username);
      if (user === undefined) return { ok: false as const, refused: 'no-account' as const };
      if (user.role === 'administrator' && this.s.administrators.get()! <= 1) return { ok: false as const, refused: 'last-administrator' as const };
      this.s.deleteSessionsOf.run({ username, keep: null });
      this.s.deleteUser.run(username);
      return { ok: true as const };
    })();
  }

  async providerUser(username: string, role: Role, at: Date): Promise<{ ok: true } | { ok: false; refused: AccountRefusal }> {
    return this.db.transaction(() => {
      const row = this.s.user.get(username);
      if (row === undefined) this.s.insertUser.run({ username, role, source: 'oidc', hash: null, at: at.toISOString() });
      else if (row.source !== 'oidc') return { ok: false as const, refused: 'local-account' as const };
      else if (row.role !== role) this.s.setRole.run(role, username);
      return { ok: true as const };
    })();
  }

  async insertSession(session: NewSession): Promise<void> {
    const at = session.at.toISOString();
    this.s.insertSession.run(session.tokenHash, session.username, session.csrfToken, at, at, session.expires.toISOString());
  }

  async session(tokenHash: Buffer): Promise<SessionRow | undefined> {
    return this.s.session.get(tokenHash);
  }

  async touchSession(tokenHash: Buffer, at: Date): Promise<void> {
    this.s.touchSession.run(at.toISOString(), tokenHash);
  }

  async deleteSession(tokenHash: Buffer): Promise<void> {
    this.s.deleteSession.run(tokenHash);
  }

  async deleteSessionsOf(username: string, keep?: Buffer): Promise<void> {
    this.s.deleteSessionsOf.run({ username, keep: keep ?? null });
  }

  async purgeSessions(now: Date, idleSince: Date): Promise<void> {
    this.s.purgeSessions.run(now.toISOString(), idleSince.toISOString());
  }

  async token(id: string): Promise<TokenRow | undefined> {
    return this.s.token.get(id);
  }

  async tokens(): Promise<TokenRow[]> {
    return this.s.tokens.all();
  }

  async insertToken(t: NewToken): Promise<void> {
    try {
      this.s.insertToken.run({ id: t.id, name: t.name, role: t.role, hash: t.hash, at: t.at.toISOString(), by: t.by, expires: t.expires.toISOString() });
    } catch (error) {
      if (code(error) === 'SQLITE_CONSTRAINT_UNIQUE') throw new TokenNameTakenError(t.name);
      throw error;
    }
  }

  async revokeToken(id: string, at: Date, by: string): Promise<boolean> {
    return this.s.revokeToken.run(at.toISOString(), by, id).changes === 1;
  }

  async tokenUsed(id: string, at: Date): Promise<void> {
    this.s.useToken.run(at.toISOString(), id);
  }

  async audit(row: NewAuditRow): Promise<void> {
    this.s.audit.run(row.at.getTime(), row.actor, row.action, row.site, row.detail);
  }

  async auditRows(filter: AuditFilter): Promise<AuditRow[]> {
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

  async purgeAuditBefore(at: Date): Promise<void> {
    this.s.purgeAudit.run(at.getTime());
  }
}
