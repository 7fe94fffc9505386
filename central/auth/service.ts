// Sign-in at central, put together: accounts, sessions, API tokens, the sign-in limit, the audit, and the one way
// a session starts (startSession), which password sign-in and single sign-on both end in.
import type { Database } from 'better-sqlite3';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { HashSlots } from '../../kit/auth/hash-slots.js';
import type { ScryptParams } from '../../kit/auth/passwords.js';
import type { CentralConfig } from '../config.js';
import { AccountError, CentralAccounts } from './accounts.js';
import { CentralAudit } from './audit.js';
import type { AuthStore } from './auth-store-types.js';
import { SqliteAuthStore } from './auth-store.js';
import { identify, makeGuard, SECURE_SESSION_COOKIE, SESSION_COOKIE, sessionCookie } from './guard.js';
import type { Role, StartSession } from './identity.js';
import { LoginLimiter } from '../../kit/auth/login-limit.js';
import { PgAuthStore } from './pg-auth-store.js';
import { PgLoginLimiter, type SignInLimit } from './pg-login-limit.js';
import { UsernameSchema } from './schemas.js';
import { CentralSessions } from './sessions.js';
import { CentralTokens } from './tokens.js';

export interface CentralAuthDeps {
  /**
   * Where accounts, sessions, tokens and the audit live: shared by every instance of a cluster (PgAuthStore), or
   * central's own SQLite database (`db`, for one instance). One of the two.
   */
  store?: AuthStore | undefined;
  db?: Database | undefined;
  /** Central's clock: the audit's times, beside the events'. */
  clock: { now(): Date };
  /**
   * The clock sessions, tokens and sign-in limits are timed by. The same as `clock` but in the demo, whose clock
   * runs a day in minutes: a session there must still last hours of real time.
   */
  sessionClock?: { now(): Date } | undefined;
  config: CentralConfig['auth'];
  cookieSecure: 'auto' | 'always';
  logger: Logger;
  /** Tests may lower the hashing cost; the default is the production setting. */
  scrypt?: ScryptParams | undefined;
  hashSlots?: HashSlots | undefined;
}

/** Thrown by startSession for someone the provider vouched for but central will not let in: a 403 naming why. */
export class SignInRefusedError extends Error {
  readonly statusCode = 403;
  constructor(message: string) {
    super(message);
    this.name = 'SignInRefusedError';
  }
}

export class CentralAuth {
  readonly store: AuthStore;
  readonly accounts: CentralAccounts;
  readonly tokens: CentralTokens;
  readonly sessions: CentralSessions;
  readonly audit: CentralAudit;
  /** In this instance's memory on SQLite (it is the only one); in PostgreSQL when several instances share it. */
  readonly loginLimit: SignInLimit;
  /** The onRequest hook of a protected scope; `defaultRole` for its routes that name none. */
  readonly guard: (defaultRole: Role) => onRequestHookHandler;
  private readonly log: Logger;

  constructor(private readonly deps: CentralAuthDeps) {
    const wall = deps.sessionClock ?? deps.clock;
    if (deps.store === undefined && deps.db === undefined) throw new Error('CentralAuth: give it a store (or a SQLite database)');
    this.store = deps.store ?? new SqliteAuthStore(deps.db!);
    this.accounts = new CentralAccounts(this.store, wall, deps.hashSlots, deps.scrypt);
    this.tokens = new CentralTokens(this.store, wall);
    this.sessions = new CentralSessions(this.store, wall, {
      idleMs: deps.config.sessionIdleMinutes * 60_000,
      absoluteMs: deps.config.sessionMaxHours * 3_600_000,
    });
    this.audit = new CentralAudit(this.store, deps.clock, deps.logger.child({ module: 'audit' }));
    const limit = { perAccount: deps.config.loginFailuresPerAccount, perAddress: deps.config.loginFailuresPerAddress, windowMs: deps.config.loginWindowMinutes * 60_000 };
    this.loginLimit = this.store instanceof PgAuthStore ? new PgLoginLimiter(limit, this.store.pool, wall) : new LoginLimiter(limit, wall);
    this.guard = makeGuard({ sessions: this.sessions, tokens: this.tokens });
    this.log = deps.logger.child({ module: 'auth' });
  }

  isSecure(request: FastifyRequest): boolean {
    return this.deps.cookieSecure === 'always' || request.protocol === 'https';
  }

  /** See identity.ts: a verified person gets a session cookie and a row in the audit. */
  readonly startSession: StartSession = async (request, reply, who) => {
    let username = who.username;
    if (who.via === 'oidc') {
      const name = UsernameSchema.safeParse(who.username);
      if (!name.success) {
        await this.refuseSignIn(request, `the provider's username "${who.username.slice(0, 80)}" is not one central can use (2 to 58 letters, digits, . _ - @)`);
      } else {
        username = name.data;
        try {
          await this.accounts.fromProvider(username, who.role);
        } catch (error) {
          if (error instanceof AccountError) await this.refuseSignIn(request, error.message);
          throw error;
        }
      }
    }
    // A session this browser already held ends: one cookie, one session.
    const old = await this.sessions.find(sessionCookie(request));
    if (old !== undefined) await this.sessions.revoke(old.tokenHash);
    const { token, session } = await this.sessions.create(username);
    await this.accounts.recordLogin(username);
    await this.audit.record(`user:${username}`, 'sign-in', { detail: `${who.via === 'oidc' ? 'single sign-on' : 'password'}, as ${session.role}, from ${request.ip}` });
    this.log.info({ actor: `user:${username}`, via: who.via, ip: request.ip }, 'signed in');
    this.setCookie(request, reply, token);
    return { csrfToken: session.csrfToken };
  };

  setCookie(request: FastifyRequest, reply: FastifyReply, token: string): void {
    const secure = this.isSecure(request);
    this.clearCookies(reply);
    reply.setCookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure,
      maxAge: Math.floor(this.sessions.limits.absoluteMs / 1000),
    });
  }

  clearCookies(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    reply.clearCookie(SECURE_SESSION_COOKIE, { path: '/', secure: true });
  }

  /**
   * Whether what let this request in (its session or token) still would: for a request that lasts, the live stream,
   * which must end when its session does (signed out, account removed or demoted, token revoked or expired).
   */
  async stillSignedIn(request: FastifyRequest): Promise<boolean> {
    return (await identify({ sessions: this.sessions, tokens: this.tokens }, request)).ok;
  }

  /** Ends every session of an account at once (removed, demoted, password reset), on every instance. */
  endSessions(username: string): Promise<void> {
    return this.sessions.revokeUser(username);
  }

  private async refuseSignIn(request: FastifyRequest, message: string): Promise<never> {
    await this.audit.record('(single sign-on)', 'sign-in-failed', { detail: message });
    this.log.warn({ ip: request.ip, reason: message }, 'single sign-on refused');
    throw new SignInRefusedError(message);
  }
}
