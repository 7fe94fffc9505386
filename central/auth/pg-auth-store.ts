// Central's accounts, sessions, API tokens and audit on PostgreSQL (tables: central/pg/migrations/010-auth.sql),
// shared by every instance of a cluster. The same answers as the SQLite store (central/auth/auth-store.ts); the
// changes that read before they write (the last administrator, a single sign-on account) run in one transaction
// under an advisory lock, so that two instances demoting the last two administrators at once leave one.
import type { Logger } from 'pino';
import { openMigrated } from '../pg/migrate.js';
import { inTransaction, type PgClient, type PgPool } from '../pg/pool.js';
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

/** pg_advisory_xact_lock's two-int form: the namespace of central's locks (central/pg/migrate.ts), and accounts. */
const ACCOUNTS_LOCK: readonly [number, number] = [0x0a6_0001, 3];

const UNIQUE_VIOLATION = '23505';

type Queryable = Pick<PgClient, 'query'>;

interface UserDbRow {
  username: string;
  role: Role;
  source: UserSource;
  password_hash: string | null;
  created_at: Date;
  password_changed_at: Date | null;
  last_login_at: Date | null;
}

interface TokenDbRow {
  id: string;
  name: string;
  role: Role;
  hash: Buffer;
  created_at: Date;
  created_by: string;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
}

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function toUser(r: UserDbRow): UserRow {
  return {
    username: r.username,
    role: r.role,
    source: r.source,
    passwordHash: r.password_hash,
    createdAt: iso(r.created_at),
    passwordChangedAt: isoOrNull(r.password_changed_at),
    lastLoginAt: isoOrNull(r.last_login_at),
  };
}

function toToken(r: TokenDbRow): TokenRow {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    hash: r.hash,
    createdAt: iso(r.created_at),
    createdBy: r.created_by,
    expiresAt: iso(r.expires_at),
    revokedAt: isoOrNull(r.revoked_at),
    revokedBy: r.revoked_by,
    lastUsedAt: isoOrNull(r.last_used_at),
  };
}

function code(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

function constraint(error: unknown): string | undefined {
  return (error as { constraint?: string }).constraint;
}

export class PgAuthStore implements AuthStore {
  constructor(
    /** Central's pool, shared with the history (central/pg/pool.ts); its migrations applied. */
    readonly pool: PgPool,
    private readonly ownsPool = false,
  ) {}

  /** A pool of its own on `url`, the migrations applied: for the CLI and tests; central shares the history's pool. */
  static async open(url: string, options: { logger: Logger; max?: number | undefined }): Promise<PgAuthStore> {
    return new PgAuthStore(await openMigrated(url, options), true);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  async user(username: string): Promise<UserRow | undefined> {
    return userOn(this.pool, username);
  }

  async users(): Promise<UserRow[]> {
    const { rows } = await this.pool.query<UserDbRow>('SELECT * FROM central_users ORDER BY username');
    return rows.map(toUser);
  }

  async insertUser(user: NewUser): Promise<void> {
    try {
      await insertUserOn(this.pool, user);
    } catch (error) {
      if (code(error) === UNIQUE_VIOLATION && constraint(error) === 'central_users_pkey') throw new UsernameTakenError(user.username);
      throw error;
    }
  }

  async setPassword(username: string, hash: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE central_users SET password_hash = $1, password_changed_at = $2 WHERE username = $3', [hash, at, username]);
  }

  async recordLogin(username: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE central_users SET last_login_at = $1 WHERE username = $2', [at, username]);
  }

  async changeRole(username: string, role: Role): Promise<{ ok: true; before: Role } | { ok: false; refused: AccountRefusal }> {
    return this.accounts(async (c) => {
      const user = await userOn(c, username);
      if (user === undefined) return { ok: false, refused: 'no-account' };
      if (user.role === 'administrator' && role !== 'administrator' && (await administrators(c)) <= 1) return { ok: false, refused: 'last-administrator' };
      await c.query('UPDATE central_users SET role = $1 WHERE username = $2', [role, username]);
      return { ok: true, before: user.role };
    });
  }

  async removeUser(username: string): Promise<{ ok: true } | { ok: false; refused: AccountRefusal }> {
    return this.accounts(async (c) => {
      const user = await userOn(c, username);
      if (user === undefined) return { ok: false, refused: 'no-account' };
      if (user.role === 'administrator' && (await administrators(c)) <= 1) return { ok: false, refused: 'last-administrator' };
      // its sessions go with it (ON DELETE CASCADE)
      await c.query('DELETE FROM central_users WHERE username = $1', [username]);
      return { ok: true };
    });
  }

  async providerUser(username: string, role: Role, at: Date): Promise<{ ok: true } | { ok: false; refused: AccountRefusal }> {
    return this.accounts(async (c) => {
      const row = await userOn(c, username);
      if (row === undefined) await insertUserOn(c, { username, role, source: 'oidc', passwordHash: null, at });
      else if (row.source !== 'oidc') return { ok: false, refused: 'local-account' };
      else if (row.role !== role) await c.query('UPDATE central_users SET role = $1 WHERE username = $2', [role, username]);
      return { ok: true };
    });
  }

  async insertSession(s: NewSession): Promise<void> {
    await this.pool.query(
      'INSERT INTO central_sessions (token_hash, username, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)',
      [s.tokenHash, s.username, s.csrfToken, s.at, s.expires],
    );
  }

  async session(tokenHash: Buffer): Promise<SessionRow | undefined> {
    const { rows } = await this.pool.query<{
      token_hash: Buffer;
      username: string;
      role: Role;
      source: UserSource;
      csrf_token: string;
      created_at: Date;
      last_seen_at: Date;
      expires_at: Date;
    }>(
      `SELECT s.token_hash, s.username, u.role, u.source, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at
       FROM central_sessions s JOIN central_users u ON u.username = s.username WHERE s.token_hash = $1`,
      [tokenHash],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      tokenHash: r.token_hash,
      username: r.username,
      role: r.role,
      source: r.source,
      csrfToken: r.csrf_token,
      createdAt: iso(r.created_at),
      lastSeenAt: iso(r.last_seen_at),
      expiresAt: iso(r.expires_at),
    };
  }

  async touchSession(tokenHash: Buffer, at: Date): Promise<void> {
    await this.pool.query('UPDATE central_sessions SET last_seen_at = $1 WHERE token_hash = $2', [at, tokenHash]);
  }

  async deleteSession(tokenHash: Buffer): Promise<void> {
    await this.pool.query('DELETE FROM central_sessions WHERE token_hash = $1', [tokenHash]);
  }

  async deleteSessionsOf(username: string, keep?: Buffer): Promise<void> {
    await this.pool.query('DELETE FROM central_sessions WHERE username = $1 AND ($2::bytea IS NULL OR token_hash <> $2::bytea)', [username, keep ?? null]);
  }

  async purgeSessions(now: Date, idleSince: Date): Promise<void> {
    await this.pool.query('DELETE FROM central_sessions WHERE expires_at <= $1 OR last_seen_at <= $2', [now, idleSince]);
  }

  async token(id: string): Promise<TokenRow | undefined> {
    const { rows } = await this.pool.query<TokenDbRow>('SELECT * FROM central_tokens WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toToken(rows[0]);
  }

  async tokens(): Promise<TokenRow[]> {
    const { rows } = await this.pool.query<TokenDbRow>('SELECT * FROM central_tokens ORDER BY created_at DESC, id');
    return rows.map(toToken);
  }

  async insertToken(t: NewToken): Promise<void> {
    try {
      await this.pool.query(
        'INSERT INTO central_tokens (id, name, role, hash, created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [t.id, t.name, t.role, t.hash, t.at, t.by, t.expires],
      );
    } catch (error) {
      if (code(error) === UNIQUE_VIOLATION && constraint(error) === 'central_tokens_live_name') throw new TokenNameTakenError(t.name);
      throw error;
    }
  }

  async revokeToken(id: string, at: Date, by: string): Promise<boolean> {
    const result = await this.pool.query('UPDATE central_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL', [at, by, id]);
    return result.rowCount === 1;
  }

  async tokenUsed(id: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE central_tokens SET last_used_at = $1 WHERE id = $2', [at, id]);
  }

  async audit(row: NewAuditRow): Promise<void> {
    await this.pool.query('INSERT INTO central_audit (at_ms, actor, action, site, detail) VALUES ($1, $2, $3, $4, $5)', [
      row.at.getTime(),
      row.actor,
      row.action,
      row.site,
      row.detail,
    ]);
  }

  async auditRows(filter: AuditFilter): Promise<AuditRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const add = (condition: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      args.push(value);
      where.push(condition.replace('?', `$${args.length}`));
    };
    add('at_ms >= ?', filter.from?.getTime());
    add('at_ms < ?', filter.to?.getTime());
    add('site = ?', filter.site);
    add('actor = ?', filter.actor);
    add('id < ?', filter.before);
    args.push(filter.limit);
    const { rows } = await this.pool.query<{ id: number | string; at_ms: number | string; actor: string; action: string; site: string | null; detail: string }>(
      `SELECT id, at_ms, actor, action, site, detail FROM central_audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${args.length}`,
      args,
    );
    // bigint: a number through central's pool (central/pg/pool.ts), a string through another
    return rows.map((r) => ({ id: Number(r.id), at: new Date(Number(r.at_ms)).toISOString(), actor: r.actor, action: r.action, site: r.site, detail: r.detail }));
  }

  async purgeAuditBefore(at: Date): Promise<void> {
    await this.pool.query('DELETE FROM central_audit WHERE at_ms < $1', [at.getTime()]);
  }

  /** One change to the accounts at a time, across every instance. */
  private accounts<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...ACCOUNTS_LOCK]);
      return fn(c);
    });
  }
}

async function userOn(c: Queryable, username: string): Promise<UserRow | undefined> {
  const { rows } = await c.query<UserDbRow>('SELECT * FROM central_users WHERE username = $1', [username]);
  return rows[0] === undefined ? undefined : toUser(rows[0]);
}

async function insertUserOn(c: Queryable, user: NewUser): Promise<void> {
  await c.query(
    `INSERT INTO central_users (username, role, source, password_hash, created_at, password_changed_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $4::text IS NULL THEN NULL ELSE $5::timestamptz END)`,
    [user.username, user.role, user.source, user.passwordHash, user.at],
  );
}

async function administrators(c: Queryable): Promise<number> {
  const { rows } = await c.query<{ n: number | string }>("SELECT count(*) AS n FROM central_users WHERE role = 'administrator'");
  return Number(rows[0]!.n);
}
