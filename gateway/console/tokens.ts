// API tokens at the branch: for monitoring and scripts that read the state or run the building without a browser.
// The token's shape and hashing are kit/auth/api-tokens.ts; here they live in the console's database (table
// `console_tokens`), each with a role, an expiry that cannot be left out (at most a year: a forgotten token must run
// out by itself), a revocation and the time it was last used. Made and revoked on the Pi (`oag users token …`).
import { timingSafeEqual } from 'node:crypto';
import { newApiToken } from '../../kit/auth/api-tokens.js';
import type { ConsoleDb } from './db.js';
import type { Role } from './users.js';

export const TOKEN_MAX_DAYS = 365;
const DAY_MS = 86_400_000;
/** Writing last-used on every request would cost an fsync each; to the minute is enough to see a token in use. */
const TOUCH_EVERY_MS = 60_000;

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface TokenRow extends ApiTokenInfo {
  tokenHash: Buffer;
}

export type TokenRefusal = 'malformed' | 'unknown' | 'expired' | 'revoked';

export type TokenCheck = { ok: true; token: ApiTokenInfo } | { ok: false; reason: TokenRefusal; error: string };

export class TokenError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

const SELECT =
  'id, name, role, token_hash AS tokenHash, created_at AS createdAt, expires_at AS expiresAt, revoked_at AS revokedAt, last_used_at AS lastUsedAt';

function info(row: TokenRow): ApiTokenInfo {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.createdAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt, lastUsedAt: row.lastUsedAt };
}

export function tokenRefusalText(reason: TokenRefusal, token?: ApiTokenInfo): string {
  switch (reason) {
    case 'malformed':
      return 'Authorization: not an API token of this gateway (send "Bearer oag_…")';
    case 'unknown':
      return 'unknown API token';
    case 'expired':
      return `API token "${token?.name}" (${token?.id}) expired at ${token?.expiresAt}: make a new one with oag users token add`;
    case 'revoked':
      return `API token "${token?.name}" (${token?.id}) was revoked at ${token?.revokedAt}`;
  }
}

export class ApiTokens {
  private readonly getStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly revokeStmt;
  private readonly touchStmt;

  constructor(
    db: ConsoleDb,
    private readonly clock: { now(): Date },
  ) {
    this.getStmt = db.prepare<[string], TokenRow>(`SELECT ${SELECT} FROM console_tokens WHERE id = ?`);
    this.listStmt = db.prepare<[], TokenRow>(`SELECT ${SELECT} FROM console_tokens ORDER BY created_at, id`);
    this.insertStmt = db.prepare<[string, string, string, Buffer, string, string]>(
      'INSERT INTO console_tokens (id, name, role, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.revokeStmt = db.prepare<[string, string]>('UPDATE console_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.touchStmt = db.prepare<[string, string]>('UPDATE console_tokens SET last_used_at = ? WHERE id = ?');
  }

  /** A new token: the clear token is in the answer and nowhere else (shown once). */
  add(name: string, role: Role, expiresInDays: number): { token: string; info: ApiTokenInfo } {
    if (!Number.isInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > TOKEN_MAX_DAYS) {
      throw new TokenError(`expires-days: must be a whole number of days from 1 to ${TOKEN_MAX_DAYS} (got ${expiresInDays})`, 400);
    }
    const now = this.clock.now();
    const made = newApiToken();
    const expiresAt = new Date(now.getTime() + expiresInDays * DAY_MS).toISOString();
    this.insertStmt.run(made.id, name, role, made.hash, now.toISOString(), expiresAt);
    return { token: made.token, info: info(this.getStmt.get(made.id)!) };
  }

  list(): ApiTokenInfo[] {
    return this.listStmt.all().map(info);
  }

  revoke(id: string): ApiTokenInfo {
    const row = this.getStmt.get(id);
    if (row === undefined) throw new TokenError(`no API token "${id}" (oag users token list shows them)`, 404);
    if (row.revokedAt !== null) throw new TokenError(`API token "${id}" was already revoked at ${row.revokedAt}`, 409);
    this.revokeStmt.run(this.clock.now().toISOString(), id);
    return info(this.getStmt.get(id)!);
  }

  /**
   * The token a request presents, checked. Whether it expired or was revoked is said only to whoever holds the
   * whole token (its hash matches): a guessed id learns nothing more than "unknown".
   */
  check(presented: { id: string; hash: Buffer } | 'malformed'): TokenCheck {
    if (presented === 'malformed') return { ok: false, reason: 'malformed', error: tokenRefusalText('malformed') };
    const row = this.getStmt.get(presented.id);
    if (row === undefined || row.tokenHash.length !== presented.hash.length || !timingSafeEqual(row.tokenHash, presented.hash)) {
      return { ok: false, reason: 'unknown', error: tokenRefusalText('unknown') };
    }
    const token = info(row);
    if (row.revokedAt !== null) return { ok: false, reason: 'revoked', error: tokenRefusalText('revoked', token) };
    const now = this.clock.now();
    if (now.getTime() >= Date.parse(row.expiresAt)) return { ok: false, reason: 'expired', error: tokenRefusalText('expired', token) };
    if (row.lastUsedAt === null || now.getTime() - Date.parse(row.lastUsedAt) >= TOUCH_EVERY_MS) {
      try {
        this.touchStmt.run(now.toISOString(), row.id);
        token.lastUsedAt = now.toISOString();
      } catch {
        // The last-used time is a convenience: a store busy or full for a moment must not refuse a valid token.
      }
    }
    return { ok: true, token };
  }
}
