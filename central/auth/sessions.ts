// Central's sessions, kept in the AuthStore so that every central instance behind a load balancer knows them: the
// rules of kit/auth/sessions.ts (the branch console's, synchronous on its own SQLite), asynchronously. The cookie
// carries 32 random bytes, the store only their SHA-256; a CSRF token is bound to the session; it ends after an idle
// limit or an absolute one. The account's role is read with the session, so a changed role counts at once.
import { randomBytes } from 'node:crypto';
import { hashSessionToken, type Session, type SessionLimits } from '../../kit/auth/sessions.js';
import type { AuthStore, SessionRow } from './auth-store-types.js';
import type { Role } from './identity.js';

export type { Session, SessionLimits } from '../../kit/auth/sessions.js';

/** Writing last-seen on every request would cost a write each; once a minute is enough for an idle limit. */
const TOUCH_EVERY_MS = 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export class CentralSessions {
  constructor(
    private readonly store: AuthStore,
    private readonly clock: { now(): Date },
    readonly limits: SessionLimits,
  ) {}

  /** A new session for an existing account; the token goes in the cookie and nowhere else. */
  async create(username: string): Promise<{ token: string; session: Session<Role> }> {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const tokenHash = hashSessionToken(token);
    await this.store.insertSession({ tokenHash, username, csrfToken, at: now, expires: new Date(now.getTime() + this.limits.absoluteMs) });
    await this.store.purgeSessions(now, new Date(now.getTime() - this.limits.idleMs));
    const row = await this.store.session(tokenHash);
    if (row === undefined) throw new Error(`the session just made for ${username} is not in the store (the account was removed meanwhile)`);
    return { token, session: toSession(row) };
  }

  /** The live session for a cookie's token, or undefined (unknown, expired, idle too long, account gone). */
  async find(token: string | undefined): Promise<Session<Role> | undefined> {
    if (token === undefined || !TOKEN.test(token)) return undefined;
    const tokenHash = hashSessionToken(token);
    const row = await this.store.session(tokenHash);
    if (row === undefined) return undefined;
    const now = this.clock.now().getTime();
    const lastSeen = Date.parse(row.lastSeenAt);
    if (now >= Date.parse(row.expiresAt) || now - lastSeen >= this.limits.idleMs) {
      await this.store.deleteSession(tokenHash);
      return undefined;
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) await this.store.touchSession(tokenHash, new Date(now));
    return toSession(row);
  }

  revoke(tokenHash: Buffer): Promise<void> {
    return this.store.deleteSession(tokenHash);
  }

  /** Ends every session of an account (password reset, role lowered), except `keep`. */
  revokeUser(username: string, keep?: Buffer): Promise<void> {
    return this.store.deleteSessionsOf(username, keep);
  }
}

function toSession(row: SessionRow): Session<Role> {
  return {
    tokenHash: row.tokenHash,
    username: row.username,
    role: row.role,
    csrfToken: row.csrfToken,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    user: { source: row.source },
  };
}
