// What every console route gets: the gateway, the account, session and token stores, and the identity its request
// was let in with. Who may call a route is not up to the route: the local API's protected scope runs `authenticate`
// before anything else of every request to it (kit/http/protect.ts), so a route added later is protected without
// anyone remembering. A route only says when it needs more than the default (staff): `branchAccess` in its config.
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { bearerToken } from '../../kit/auth/api-tokens.js';
import { crossSite, sameToken } from '../../kit/auth/request-checks.js';
import type { Gateway } from '../core/controller.js';
import type { Store } from '../store/index.js';
import type { LoginLimiter } from '../../kit/auth/login-limit.js';
import type { ConsoleSessions, Session } from './sessions.js';
import type { ApiTokenInfo, ApiTokens } from './tokens.js';
import type { ConsoleUsers, Role } from './users.js';

/** Who may call a route, beyond a signed-in member of staff or a staff token (the default). */
export interface BranchAccess {
  /** `manager`: schedule changes and accounts. */
  role?: Role;
  /** Only with the console's session cookie (signing out, the CSRF token, one's own password): not with a token. */
  sessionOnly?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    branchAccess?: BranchAccess;
  }
}

/** Route config for the routes only a manager may call. */
export const MANAGER_ONLY = { branchAccess: { role: 'manager' } } as const;
/** Route config for the routes about the browser's own session. */
export const SESSION_ONLY = { branchAccess: { sessionOnly: true } } as const;

export interface ConsoleClock {
  now(): Date;
}

/** The identity a request was let in with: a console session (cookie) or an API token (Authorization: Bearer). */
export type Identity =
  | { kind: 'session'; role: Role; actor: string; session: Session }
  | { kind: 'token'; role: Role; actor: string; token: ApiTokenInfo };

export interface ConsoleContext {
  gateway: Gateway;
  store: Store;
  hashCard: (normalisedId: string) => Buffer;
  clock: ConsoleClock;
  logger: Logger | undefined;
  users: ConsoleUsers;
  sessions: ConsoleSessions;
  tokens: ApiTokens;
  loginLimiter: LoginLimiter;
  cookieSecure: 'auto' | 'always';
  /** Who the request was let in as (the actor in the audit). */
  identity(request: FastifyRequest): Identity;
  /** The session of a `sessionOnly` route's request. */
  session(request: FastifyRequest): Session;
  /** Every change staff make is a `staff` event: in the log, in the outbox, at central. */
  audit(action: string, actor: string): void;
}

export const SESSION_COOKIE = 'oag_session';
/** The name when the cookie is Secure: browsers then refuse it from anything but this host over https. */
export const SECURE_SESSION_COOKIE = '__Host-oag_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionToken(request: FastifyRequest): string | undefined {
  const cookies = (request.cookies ?? {}) as Record<string, string | undefined>;
  return cookies[SECURE_SESSION_COOKIE] ?? cookies[SESSION_COOKIE];
}

/**
 * Whether the credential that opened a long-lived stream (the live status, a commissioning watch) still holds, asked
 * at each heartbeat: sign-out, expiry, account removed, token revoked end it. A store that cannot answer
 * (SQLITE_BUSY while another process holds its lock) counts as no, so the stream ends instead of the error escaping
 * the heartbeat's timer and taking the gateway, and its door, down with it.
 */
export function streamCredentialCheck(ctx: Pick<ConsoleContext, 'identity' | 'sessions' | 'tokens' | 'logger'>, request: FastifyRequest, stream: string): () => boolean {
  const identity = ctx.identity(request);
  const cookie = sessionToken(request);
  const bearer = bearerToken(request);
  return () => {
    try {
      return identity.kind === 'session' ? ctx.sessions.find(cookie) !== undefined : bearer !== undefined && ctx.tokens.check(bearer).ok;
    } catch (err) {
      ctx.logger?.warn({ err: err instanceof Error ? err.message : String(err), stream }, 'the credential of a stream could not be checked; stream ended');
      return false;
    }
  };
}

export function isSecureRequest(request: FastifyRequest, cookieSecure: 'auto' | 'always'): boolean {
  return cookieSecure === 'always' || request.protocol === 'https';
}

export function routeAccess(request: FastifyRequest): BranchAccess {
  return request.routeOptions.config?.branchAccess ?? {};
}

/** The name a token acts under in the audit: never a console username (those have no colon). */
export function tokenActor(token: ApiTokenInfo): string {
  return `token:${token.name}`;
}

export interface AuthenticateDeps {
  /** Undefined without the console's store (a bare API in a test): nobody can sign in, every request is a 401. */
  sessions?: ConsoleSessions | undefined;
  tokens?: ApiTokens | undefined;
  logger?: Logger | undefined;
}

/**
 * The protected scope's hook: a live session (and, for a change, its CSRF token from this site) or a valid API
 * token, with the route's role. Every refusal is logged with its reason; none says more to the caller than it needs.
 */
export function makeAuthenticate(deps: AuthenticateDeps, attach: (request: FastifyRequest, identity: Identity) => void): onRequestHookHandler {
  const refuse = (request: FastifyRequest, reply: FastifyReply, status: 401 | 403, error: string, reason: string): FastifyReply => {
    // Arriving without credentials is what a browser does before signing in: not worth a warning.
    const level = reason === 'no credentials' ? 'info' : 'warn';
    deps.logger?.[level]({ method: request.method, route: request.routeOptions.url, client: request.ip, status, reason }, 'local API request refused');
    return reply.code(status).send({ error });
  };
  return async (request, reply) => {
    const access = routeAccess(request);
    let identity: Identity;
    const bearer = bearerToken(request);
    if (bearer !== undefined) {
      // A token needs no CSRF check: it is never sent by a browser on its own, as a cookie is.
      if (deps.tokens === undefined) return refuse(request, reply, 401, 'API tokens need the console’s store, which this API has not got', 'no token store');
      const check = deps.tokens.check(bearer);
      if (!check.ok) return refuse(request, reply, 401, check.error, `token ${check.reason}`);
      identity = { kind: 'token', role: check.token.role, actor: tokenActor(check.token), token: check.token };
      if (access.sessionOnly === true) {
        return refuse(request, reply, 403, 'this is about a console session (sign in at /console/): an API token cannot do it', 'token on a session-only route');
      }
    } else {
      const presented = sessionToken(request);
      const session = deps.sessions?.find(presented);
      if (session === undefined) {
        return refuse(request, reply, 401, 'not signed in (or the session has ended): sign in again', presented === undefined ? 'no credentials' : 'session cookie unknown or ended');
      }
      if (!SAFE_METHODS.has(request.method)) {
        const header = request.headers[CSRF_HEADER];
        if (typeof header !== 'string' || !sameToken(header, session.csrfToken)) {
          return refuse(request, reply, 403, `missing or wrong CSRF token: send the session's csrfToken in the ${CSRF_HEADER} header`, 'csrf token missing or wrong');
        }
        if (crossSite(request)) return refuse(request, reply, 403, 'cross-site request refused', 'cross-site request');
      }
      identity = { kind: 'session', role: session.role, actor: session.username, session };
    }
    if (access.role === 'manager' && identity.role !== 'manager') {
      return refuse(request, reply, 403, 'only a manager can do this', `${identity.kind} of a ${identity.role} on a manager route`);
    }
    attach(request, identity);
  };
}
