// Sessions for a service's own pages (the branch console, central's dashboard). The cookie carries 32 random bytes;
// the table keeps only their SHA-256 (a copy of the database lets nobody in), the account, a CSRF token bound to the
// session, and two limits: idle (no request for that long) and absolute (since sign-in). The account and its role are
// read from the accounts table on every request, so a changed role or a removed account takes effect at once.
//
// Each service names its own two tables; both have the same columns:
//   sessions: token_hash BLOB PK, username, csrf_token, created_at, last_seen_at, expires_at (ISO 8601 text)
//   users:    username PK, role, and whatever else the service keeps (`userColumns` reads some of it along).
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from 'better-sqlite3';

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 8 * 3600_000, absoluteMs: 12 * 3600_000 };

export interface SessionTables {
  sessions: string;
  users: string;
  /** More columns of the users table read with every session (central's `source`: a password or single sign-on). */
  userColumns?: readonly string[];
}

export interface Session<R extends string = string> {
  tokenHash: Buffer;
  username: string;
  role: R;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
  /** The `userColumns`, by name. */
  user: Record<string, unknown>;
}

interface SessionRow {
  tokenHash: Buffer;
  username: string;
  role: string;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  [column: string]: unknown;
}

/** Writing last-seen on every request would cost an fsync each; once a minute is enough for an idle limit. */
const TOUCH_EVERY_MS = 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function hashSessionToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function identifier(name: string): string {
  // Table and column names come from the service's code, never from a request; checked anyway, as they go into SQL.
  if (!IDENTIFIER.test(name)) throw new Error(`not an SQL identifier: ${name}`);
  return name;
}

export class SessionStore<R extends string = string> {
  private readonly insertStmt;
  private readonly findStmt;
  private readonly touchStmt;
  private readonly deleteStmt;
  private readonly deleteUserStmt;
  private readonly purgeStmt;
  private readonly userColumns: readonly string[];

  constructor(
    db: Database,
    private readonly clock: { now(): Date },
    tables: SessionTables,
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
  ) {
    const s = identifier(tables.sessions);
    const u = identifier(tables.users);
    this.userColumns = (tables.userColumns ?? []).map(identifier);
    const extra = this.userColumns.map((c) => `, u.${c} AS ${c}`).join('');
    this.insertStmt = db.prepare<[Buffer, string, string, string, string, string]>(
      `INSERT INTO ${s} (token_hash, username, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.findStmt = db.prepare<[Buffer], SessionRow>(
      `SELECT s.token_hash AS tokenHash, s.username, u.role, s.csrf_token AS csrfToken, s.created_at AS createdAt,
              s.last_seen_at AS lastSeenAt, s.expires_at AS expiresAt${extra}
       FROM ${s} s JOIN ${u} u ON u.username = s.username WHERE s.token_hash = ?`,
    );
    this.touchStmt = db.prepare<[string, Buffer]>(`UPDATE ${s} SET last_seen_at = ? WHERE token_hash = ?`);
    this.deleteStmt = db.prepare<[Buffer]>(`DELETE FROM ${s} WHERE token_hash = ?`);
    this.deleteUserStmt = db.prepare<[{ username: string; keep: Buffer | null }]>(
      `DELETE FROM ${s} WHERE username = :username AND (:keep IS NULL OR token_hash <> :keep)`,
    );
    this.purgeStmt = db.prepare<[string, string]>(`DELETE FROM ${s} WHERE expires_at <= ? OR last_seen_at <= ?`);
  }

  /** A new session for an existing account; the token goes in the cookie and nowhere else. */
  create(username: string): { token: string; session: Session<R> } {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const tokenHash = hashSessionToken(token);
    const expiresAt = new Date(now.getTime() + this.limits.absoluteMs).toISOString();
    this.insertStmt.run(tokenHash, username, csrfToken, now.toISOString(), now.toISOString(), expiresAt);
    this.purge();
    const row = this.findStmt.get(tokenHash)!;
    return { token, session: this.toSession(row) };
  }

  /** The live session for a cookie's token, or undefined (unknown, expired, idle too long, account gone). */
  find(token: string | undefined): Session<R> | undefined {
    if (token === undefined || !TOKEN.test(token)) return undefined;
    const tokenHash = hashSessionToken(token);
    const row = this.findStmt.get(tokenHash);
    if (row === undefined) return undefined;
    const now = this.clock.now().getTime();
    const lastSeen = Date.parse(row.lastSeenAt);
    if (now >= Date.parse(row.expiresAt) || now - lastSeen >= this.limits.idleMs) {
      this.deleteStmt.run(tokenHash);
      return undefined;
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) this.touchStmt.run(new Date(now).toISOString(), tokenHash);
    return this.toSession(row);
  }

  revoke(tokenHash: Buffer): void {
    this.deleteStmt.run(tokenHash);
  }

  /** Ends every session of an account (password changed or reset, role lowered), except `keep`. */
  revokeUser(username: string, keep?: Buffer): void {
    this.deleteUserStmt.run({ username, keep: keep ?? null });
  }

  private toSession(row: SessionRow): Session<R> {
    return {
      tokenHash: row.tokenHash,
      username: row.username,
      role: row.role as R,
      csrfToken: row.csrfToken,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      user: Object.fromEntries(this.userColumns.map((c) => [c, row[c]])),
    };
  }

  private purge(): void {
    const now = this.clock.now().getTime();
    this.purgeStmt.run(new Date(now).toISOString(), new Date(now - this.limits.idleMs).toISOString());
  }
}
