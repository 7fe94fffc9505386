// API tokens at central, for scripts, monitoring and a library's own systems: a name, a role, an expiry (required,
// at most a year) and a revocation. Only the SHA-256 is kept; the token is shown once, when it is made.
import { timingSafeEqual } from 'node:crypto';
import { newApiToken } from '../../kit/auth/api-tokens.js';
import { TokenNameTakenError, type AuthStore, type TokenRow } from './auth-store-types.js';
import type { Identity, Role } from './identity.js';
import { MAX_TOKEN_DAYS } from './schemas.js';

const DAY_MS = 86_400_000;
/** Writing last-used on every request would cost a write each; once a minute tells an administrator enough. */
const TOUCH_EVERY_MS = 60_000;

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  status: 'active' | 'expired' | 'revoked';
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
}

export class TokenError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export type TokenCheck = { ok: true; identity: Identity } | { ok: false; reason: 'unknown' | 'expired' | 'revoked'; message: string };

export class CentralTokens {
  constructor(
    private readonly store: AuthStore,
    private readonly clock: { now(): Date },
  ) {}

  async list(): Promise<TokenInfo[]> {
    return (await this.store.tokens()).map((row) => this.info(row));
  }

  /** A new token; `token` is the only copy there will ever be. */
  async create(request: { name: string; role: Role; expiresDays: number }, by: string): Promise<{ token: string; info: TokenInfo }> {
    if (!Number.isInteger(request.expiresDays) || request.expiresDays < 1 || request.expiresDays > MAX_TOKEN_DAYS) {
      throw new RangeError(`expiresDays: must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}`);
    }
    const made = newApiToken();
    const now = this.clock.now();
    try {
      await this.store.insertToken({ id: made.id, name: request.name, role: request.role, hash: made.hash, at: now, by, expires: new Date(now.getTime() + request.expiresDays * DAY_MS) });
    } catch (error) {
      if (error instanceof TokenNameTakenError) throw new TokenError(error.message, 409);
      throw error;
    }
    return { token: made.token, info: this.info((await this.store.token(made.id))!) };
  }

  async revoke(id: string, by: string): Promise<TokenInfo> {
    const row = await this.store.token(id);
    if (row === undefined) throw new TokenError(`no token "${id}"`, 404);
    if (!(await this.store.revokeToken(id, this.clock.now(), by))) throw new TokenError(`token "${id}" (${row.name}) was already revoked`, 409);
    return this.info((await this.store.token(id))!);
  }

  /** Who a well-formed bearer token is, or why it is refused. */
  async check(parsed: { id: string; hash: Buffer }): Promise<TokenCheck> {
    const row = await this.store.token(parsed.id);
    if (row === undefined || !timingSafeEqual(row.hash, parsed.hash)) return { ok: false, reason: 'unknown', message: 'unknown API token' };
    if (row.revokedAt !== null) return { ok: false, reason: 'revoked', message: `API token "${row.name}" was revoked` };
    const now = this.clock.now();
    if (now.getTime() >= Date.parse(row.expiresAt)) return { ok: false, reason: 'expired', message: `API token "${row.name}" expired at ${row.expiresAt}` };
    if (row.lastUsedAt === null || now.getTime() - Date.parse(row.lastUsedAt) >= TOUCH_EVERY_MS) await this.store.tokenUsed(row.id, now);
    return { ok: true, identity: { kind: 'token', name: row.name, role: row.role, via: 'token' } };
  }

  private info(row: TokenRow): TokenInfo {
    const status = row.revokedAt !== null ? 'revoked' : this.clock.now().getTime() >= Date.parse(row.expiresAt) ? 'expired' : 'active';
    return {
      id: row.id,
      name: row.name,
      role: row.role,
      status,
      createdAt: row.createdAt,
      createdBy: row.createdBy,
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      revokedBy: row.revokedBy,
      lastUsedAt: row.lastUsedAt,
    };
  }
}
