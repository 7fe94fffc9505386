// Sign-in at central, put together: accounts, sessions, API tokens, the sign-in limit, the audit, and the one way
// a session starts (startSession), which password sign-in and single sign-on both end in.
import type { Database } from 'better-sqlite3';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { HashSlots } from '../../kit/auth/hash-slots.js';
import type { ScryptParams } from '../../kit/auth/passwords.js';
import { SessionStore } from '../../kit/auth/sessions.js';
import type { CentralConfig } from '../config.js';
import { AccountError, CentralAccounts } from './accounts.js';
import { CentralAudit } from './audit.js';
import { AuthStore, SESSION_TABLES } from './auth-store.js';
import { identify, makeGuard, SECURE_SESSION_COOKIE, SESSION_COOKIE, sessionCookie } from './guard.js';
import type { Role, StartSession } from './identity.js';
import { LoginLimiter } from '../../kit/auth/login-limit.js';
import { UsernameSchema } from './schemas.js';
import { CentralTokens } from './tokens.js';

export interface CentralAuthDeps {
  db: Database;
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
  readonly sessions: SessionStore<Role>;
  readonly audit: CentralAudit;
  readonly loginLimit: LoginLimiter;
  /** The onRequest hook of a protected scope; `defaultRole` for its routes that name none. */
  readonly guard: (defaultRole: Role) => onRequestHookHandler;
  private readonly log: Logger;

  constructor(private readonly deps: CentralAuthDeps) {
    const wall = deps.sessionClock ?? deps.clock;
    this.store = new AuthStore(deps.db);
    this.accounts = new CentralAccounts(this.store, wall, deps.hashSlots, deps.scrypt);
    this.tokens = new CentralTokens(this.store, wall);
    this.sessions = new SessionStore<Role>(deps.db, wall, SESSION_TABLES, {
      idleMs: deps.config.sessionIdleMinutes * 60_000,
      absoluteMs: deps.config.sessionMaxHours * 3_600_000,
    });
    this.audit = new CentralAudit(this.store, deps.clock);
    this.loginLimit = new LoginLimiter(
      { perAccount: deps.config.loginFailuresPerAccount, perAddress: deps.config.loginFailuresPerAddress, windowMs: deps.config.loginWindowMinutes * 60_000 },
      wall,
    );
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
        this.refuseSignIn(request, `the provider's username "${who.username.slice(0, 80)}" is not one central can use (2 to 58 letters, digits, . _ - @)`);
      } else {
        username = name.data;
        try {
          this.accounts.fromProvider(username, who.role);
        } catch (error) {
          if (error instanceof AccountError) this.refuseSignIn(request, error.message);
          throw error;
        }
      }
    }
    // A session this browser already held ends: one cookie, one session.
    const old = this.sessions.find(sessionCookie(request));
    if (old !== undefined) this.sessions.revoke(old.tokenHash);
    const { token, session } = this.sessions.create(username);
    this.accounts.recordLogin(username);
    this.audit.record(`user:${username}`, 'sign-in', { detail: `${who.via === 'oidc' ? 'single sign-on' : 'password'}, as ${session.role}, from ${request.ip}` });
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
  stillSignedIn(request: FastifyRequest): boolean {
    return identify({ sessions: this.sessions, tokens: this.tokens }, request).ok;
  }

  /** Ends every session of an account at once (removed, demoted, password reset). */
  endSessions(username: string): void {
    this.sessions.revokeUser(username);
  }

  private refuseSignIn(request: FastifyRequest, message: string): never {
    this.audit.record('(single sign-on)', 'sign-in-failed', { detail: message });
    this.log.warn({ ip: request.ip, reason: message }, 'single sign-on refused');
    throw new SignInRefusedError(message);
  }
}
