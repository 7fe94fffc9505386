// What every console route gets: the gateway, the account and session stores, and the guard that turns a request
// into a signed-in member of staff (or a 401/403) before anything else about the request is looked at.
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { crossSite, sameToken } from '../../kit/auth/request-checks.js';
import type { Gateway } from '../core/controller.js';
import type { Store } from '../store/index.js';
import type { ConsoleSessions, Session } from './sessions.js';
import type { ConsoleUsers, Role } from './users.js';

export interface ConsoleClock {
  now(): Date;
}

export interface ConsoleContext {
  gateway: Gateway;
  store: Store;
  hashCard: (normalisedId: string) => Buffer;
  clock: ConsoleClock;
  logger: Logger | undefined;
  users: ConsoleUsers;
  sessions: ConsoleSessions;
  cookieSecure: 'auto' | 'always';
  /** The session a guarded request was let in with. */
  session(request: FastifyRequest): Session;
  /** Route guard: a live session with at least this role; for changes also the CSRF header and a same-origin request. */
  guard(role: Role): onRequestHookHandler;
  /** Every change staff make is a `staff` event: in the log, in the outbox, at central. */
  audit(action: string, actor: string): void;
}

export const SESSION_COOKIE = 'oag_session';
/** The name when the cookie is Secure: browsers then refuse it from anything but this host over https. */
export const SECURE_SESSION_COOKIE = '__Host-oag_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionToken(request: FastifyRequest): string | undefined {
  const cookies = request.cookies as Record<string, string | undefined>;
  return cookies[SECURE_SESSION_COOKIE] ?? cookies[SESSION_COOKIE];
}

export function isSecureRequest(request: FastifyRequest, cookieSecure: 'auto' | 'always'): boolean {
  return cookieSecure === 'always' || request.protocol === 'https';
}

export function makeGuard(sessions: ConsoleSessions, attach: (request: FastifyRequest, session: Session) => void) {
  return (role: Role): onRequestHookHandler =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const session = sessions.find(sessionToken(request));
      if (session === undefined) return reply.code(401).send({ error: 'not signed in (or the session has ended): sign in again' });
      if (!SAFE_METHODS.has(request.method)) {
        const header = request.headers[CSRF_HEADER];
        if (typeof header !== 'string' || !sameToken(header, session.csrfToken)) {
          return reply.code(403).send({ error: `missing or wrong CSRF token: send the session's csrfToken in the ${CSRF_HEADER} header` });
        }
        if (crossSite(request)) return reply.code(403).send({ error: 'cross-site request refused' });
      }
      if (role === 'manager' && session.role !== 'manager') {
        return reply.code(403).send({ error: 'only a manager can do this' });
      }
      attach(request, session);
    };
}
