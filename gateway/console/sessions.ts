// Console sessions. The cookie carries 32 random bytes; the table keeps their SHA-256, the account, a CSRF token
// bound to the session, and two limits: idle (no request for that long) and absolute (since login). The account
// and its role are read on every request, so a role change or a removed account takes effect at once.
import { createHash, randomBytes } from 'node:crypto';
import type { ConsoleDb } from './db.js';
import type { Role } from './users.js';

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 8 * 3600_000, absoluteMs: 12 * 3600_000 };

export interface Session {
  tokenHash: Buffer;
  username: string;
  role: Role;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
}

interface SessionRow {
  tokenHash: Buffer;
  username: string;
  role: Role;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

/** Writing last-seen on every request would cost an fsync each; once a minute is enough for an idle limit. */
const TOUCH_EVERY_MS = 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class ConsoleSessions {
  private readonly insertStmt;
  private readonly findStmt;
  private readonly touchStmt;
  private readonly deleteStmt;
  private readonly deleteUserStmt;
  private readonly purgeStmt;

  constructor(
    db: ConsoleDb,
    private readonly clock: { now(): Date },
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
  ) {
    this.insertStmt = db.prepare<[Buffer, string, string, string, string, string]>(
      'INSERT INTO console_sessions (token_hash, username, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.findStmt = db.prepare<[Buffer], SessionRow>(
      `SELECT s.token_hash AS tokenHash, s.username, u.role, s.csrf_token AS csrfToken, s.created_at AS createdAt,
              s.last_seen_at AS lastSeenAt, s.expires_at AS expiresAt
       FROM console_sessions s JOIN console_users u ON u.username = s.username WHERE s.token_hash = ?`,
    );
    this.touchStmt = db.prepare<[string, Buffer]>('UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?');
    this.deleteStmt = db.prepare<[Buffer]>('DELETE FROM console_sessions WHERE token_hash = ?');
    this.deleteUserStmt = db.prepare<[{ username: string; keep: Buffer | null }]>(
      'DELETE FROM console_sessions WHERE username = :username AND (:keep IS NULL OR token_hash <> :keep)',
    );
    this.purgeStmt = db.prepare<[string, string]>('DELETE FROM console_sessions WHERE expires_at <= ? OR last_seen_at <= ?');
  }

  /** A new session; the token goes in the cookie and nowhere else. */
  create(username: string): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const tokenHash = hashToken(token);
    const expiresAt = new Date(now.getTime() + this.limits.absoluteMs).toISOString();
    this.insertStmt.run(tokenHash, username, csrfToken, now.toISOString(), now.toISOString(), expiresAt);
    this.purge();
    const role = this.findStmt.get(tokenHash)!.role;
    return { token, session: { tokenHash, username, role, csrfToken, createdAt: now.toISOString(), expiresAt } };
  }

  /** The live session for a cookie's token, or undefined (unknown, expired, idle too long, account gone). */
  find(token: string | undefined): Session | undefined {
    if (token === undefined || !TOKEN.test(token)) return undefined;
    const tokenHash = hashToken(token);
    const row = this.findStmt.get(tokenHash);
    if (row === undefined) return undefined;
    const now = this.clock.now().getTime();
    const lastSeen = Date.parse(row.lastSeenAt);
    if (now >= Date.parse(row.expiresAt) || now - lastSeen >= this.limits.idleMs) {
      this.deleteStmt.run(tokenHash);
      return undefined;
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) this.touchStmt.run(new Date(now).toISOString(), tokenHash);
    return { tokenHash, username: row.username, role: row.role, csrfToken: row.csrfToken, createdAt: row.createdAt, expiresAt: row.expiresAt };
  }

  revoke(tokenHash: Buffer): void {
    this.deleteStmt.run(tokenHash);
  }

  /** Ends every session of an account (password changed or reset), except `keep` (the one that changed it). */
  revokeUser(username: string, keep?: Buffer): void {
    this.deleteUserStmt.run({ username, keep: keep ?? null });
  }

  private purge(): void {
    const now = this.clock.now().getTime();
    this.purgeStmt.run(new Date(now).toISOString(), new Date(now - this.limits.idleMs).toISOString());
  }
}
