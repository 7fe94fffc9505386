// What central's sign-in keeps, and where: accounts, sessions, API tokens and the audit, behind one asynchronous
// store. Several central instances behind a load balancer share it (SQLite for one instance, PostgreSQL for a
// cluster), so a session made on one instance is valid on all, and a sign-out or a revoked token ends everywhere.
// Nothing here holds a secret in clear: passwords are scrypt hashes, session cookies and API tokens SHA-256 hashes.
//
// Every change that reads before it writes (the last administrator, a single sign-on account) is one method, so
// each store makes it atomic its own way: a SQLite transaction, a PostgreSQL transaction under a lock.
import type { Role } from './identity.js';

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

export interface NewUser {
  username: string;
  role: Role;
  source: UserSource;
  passwordHash: string | null;
  at: Date;
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

export interface NewToken {
  id: string;
  name: string;
  role: Role;
  hash: Buffer;
  at: Date;
  by: string;
  expires: Date;
}

/** A session row with its account's role and source, read together: a changed role takes effect at once. */
export interface SessionRow {
  tokenHash: Buffer;
  username: string;
  role: Role;
  source: UserSource;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export interface NewSession {
  tokenHash: Buffer;
  username: string;
  csrfToken: string;
  at: Date;
  expires: Date;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  site: string | null;
  detail: string;
}

export interface NewAuditRow {
  at: Date;
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

/** Why a change to an account was not made. */
export type AccountRefusal = 'no-account' | 'last-administrator' | 'local-account';

/** Thrown by insertUser when the name is taken (by another instance, say, while the password was hashed). */
export class UsernameTakenError extends Error {
  constructor(readonly username: string) {
    super(`username: "${username}" already has an account`);
    this.name = 'UsernameTakenError';
  }
}

/** Thrown by insertToken when a live (unrevoked) token has the name. */
export class TokenNameTakenError extends Error {
  constructor(readonly tokenName: string) {
    super(`name: a token named "${tokenName}" exists; revoke it first or choose another name`);
    this.name = 'TokenNameTakenError';
  }
}

export interface AuthStore {
  user(username: string): Promise<UserRow | undefined>;
  users(): Promise<UserRow[]>;
  /** UsernameTakenError when the name has an account. */
  insertUser(user: NewUser): Promise<void>;
  setPassword(username: string, hash: string, at: Date): Promise<void>;
  recordLogin(username: string, at: Date): Promise<void>;
  /** The role before, or why not: no such account, or it is the last administrator and `role` is lower. */
  changeRole(username: string, role: Role): Promise<{ ok: true; before: Role } | { ok: false; refused: AccountRefusal }>;
  /** The account and all its sessions, unless it is not there or is the last administrator. */
  removeUser(username: string): Promise<{ ok: true } | { ok: false; refused: AccountRefusal }>;
  /** Makes a single sign-on account or brings its role up to date; never takes over a local account. */
  providerUser(username: string, role: Role, at: Date): Promise<{ ok: true } | { ok: false; refused: AccountRefusal }>;

  insertSession(session: NewSession): Promise<void>;
  session(tokenHash: Buffer): Promise<SessionRow | undefined>;
  touchSession(tokenHash: Buffer, at: Date): Promise<void>;
  deleteSession(tokenHash: Buffer): Promise<void>;
  /** Every session of the account but `keep`. */
  deleteSessionsOf(username: string, keep?: Buffer): Promise<void>;
  /** Sessions past their absolute limit (`expiresAt <= now`) or idle since `idleSince` or earlier. */
  purgeSessions(now: Date, idleSince: Date): Promise<void>;

  token(id: string): Promise<TokenRow | undefined>;
  tokens(): Promise<TokenRow[]>;
  /** TokenNameTakenError when a live token has the name. */
  insertToken(token: NewToken): Promise<void>;
  /** False when the token was already revoked (or is not there). */
  revokeToken(id: string, at: Date, by: string): Promise<boolean>;
  tokenUsed(id: string, at: Date): Promise<void>;

  audit(row: NewAuditRow): Promise<void>;
  /** Newest first. */
  auditRows(filter: AuditFilter): Promise<AuditRow[]>;
  purgeAuditBefore(at: Date): Promise<void>;
}
