// The hook of every protected scope at central (kit/http/protect.ts): who is asking (an API token, else a session
// cookie), whether a change carries the session's CSRF token and comes from central's own pages, and whether the
// identity's role is enough for the route. A route names its role in its config (`config: { role: 'viewer' }`);
// one that names none needs the scope's default, which is the highest for the API: forgetting fails closed.
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { bearerToken } from '../../kit/auth/api-tokens.js';
import { crossSite, sameToken } from '../../kit/auth/request-checks.js';
import type { Session } from '../../kit/auth/sessions.js';
import { actorOf, hasRole, type Identity, type Role } from './identity.js';
import type { CentralSessions } from './sessions.js';
import type { CentralTokens } from './tokens.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role that may call this route (central). */
    role?: Role;
  }
}

export const SESSION_COOKIE = 'oag_central_session';
/** The name when the cookie is Secure: browsers then take it only from this host over https, for the whole site. */
export const SECURE_SESSION_COOKIE = '__Host-oag_central_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const identities = new WeakMap<FastifyRequest, Identity>();

/** The identity a protected route was let in with. */
export function identityOf(request: FastifyRequest): Identity {
  const identity = identities.get(request);
  if (identity === undefined) throw new Error(`${request.method} ${request.routeOptions.url ?? request.url}: a route outside a protected scope asked who is calling`);
  return identity;
}

export function sessionCookie(request: FastifyRequest): string | undefined {
  const cookies = request.cookies as Record<string, string | undefined>;
  return cookies[SECURE_SESSION_COOKIE] ?? cookies[SESSION_COOKIE];
}

export function identityOfSession(session: Session<Role>): Identity {
  return { kind: 'user', name: session.username, role: session.role, via: session.user.source === 'oidc' ? 'oidc' : 'password' };
}

/** A 401 or 403 that says why, logged with the reason (never with the token or cookie). */
export function refuse(request: FastifyRequest, reply: FastifyReply, status: 401 | 403, message: string, reason: string): FastifyReply {
  request.log.warn({ status, reason, method: request.method, route: request.routeOptions.url, ip: request.ip }, `refused: ${message}`);
  return reply.code(status).send({ error: status === 401 ? 'Unauthorized' : 'Forbidden', message });
}

/**
 * A change made with a session cookie must carry the session's CSRF token and come from central's own pages
 * (SameSite=Strict keeps the cookie off most cross-site requests already; this is the second lock).
 */
export function changeRefused(request: FastifyRequest, session: Session<Role>): { message: string; reason: string } | undefined {
  const header = request.headers[CSRF_HEADER];
  if (typeof header !== 'string' || !sameToken(header, session.csrfToken)) {
    return { message: `missing or wrong CSRF token: send the session's csrfToken in the ${CSRF_HEADER} header`, reason: 'csrf' };
  }
  if (crossSite(request)) return { message: 'cross-site request refused', reason: 'cross-site' };
  return undefined;
}

/** `a viewer`, `an operator`, `an administrator`. */
export function withArticle(role: Role): string {
  return `${role === 'viewer' ? 'a' : 'an'} ${role}`;
}

type Identified = { ok: true; identity: Identity; session?: Session<Role> } | { ok: false; message: string; reason: string };

/** Who the request's token or session cookie is, now; or why neither is any good. */
export async function identify(deps: { sessions: CentralSessions; tokens: CentralTokens }, request: FastifyRequest): Promise<Identified> {
  const bearer = bearerToken(request);
  if (bearer === 'malformed') return { ok: false, message: 'malformed API token: send Authorization: Bearer oag_…', reason: 'token-malformed' };
  if (bearer !== undefined) {
    const check = await deps.tokens.check(bearer);
    return check.ok ? { ok: true, identity: check.identity } : { ok: false, message: check.message, reason: `token-${check.reason}` };
  }
  const cookie = sessionCookie(request);
  const session = await deps.sessions.find(cookie);
  if (session === undefined) {
    return cookie === undefined
      ? { ok: false, message: 'sign in first (a session cookie from /login, or an API token)', reason: 'no-credentials' }
      : { ok: false, message: 'the session has ended or is not valid: sign in again', reason: 'session-invalid' };
  }
  return { ok: true, identity: identityOfSession(session), session };
}

export function makeGuard(deps: { sessions: CentralSessions; tokens: CentralTokens }): (defaultRole: Role) => onRequestHookHandler {
  return (defaultRole) => async (request, reply) => {
    const needed = request.routeOptions.config.role ?? defaultRole;
    const who = await identify(deps, request);
    if (!who.ok) return refuse(request, reply, 401, who.message, who.reason);
    if (who.session !== undefined && !SAFE_METHODS.has(request.method)) {
      const refused = changeRefused(request, who.session);
      if (refused !== undefined) return refuse(request, reply, 403, refused.message, refused.reason);
    }
    const { identity } = who;
    if (!hasRole(identity.role, needed)) {
      return refuse(request, reply, 403, `needs the ${needed} role; ${actorOf(identity)} is ${withArticle(identity.role)}`, 'role');
    }
    identities.set(request, identity);
  };
}
