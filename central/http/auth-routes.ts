// Signing in and out at central. Sign-in and sign-out are public by name (nobody is signed in yet, or the session
// may already be gone); the current session is behind the guard like everything else.
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { crossSite } from '../../kit/auth/request-checks.js';
import { retryText } from '../../kit/auth/login-limit.js';
import { HashingBusyError } from '../../kit/auth/hash-slots.js';
import { changeRefused, identityOf, identityOfSession, refuse, sessionCookie } from '../auth/guard.js';
import { actorOf } from '../auth/identity.js';
import { LoginBodySchema, SessionSchema, SignInOptionsSchema, UsernameSchema } from '../auth/schemas.js';
import type { CentralAuth } from '../auth/service.js';
import { docs, ErrorSchema, zodValidate } from './zod-route.js';

export interface SignInDeps {
  auth: CentralAuth;
  /** The single sign-on button's label, when central has single sign-on. */
  oidcLabel?: string | undefined;
}

export const OIDC_START_URL = '/auth/oidc/start';

export function signInRoutes(deps: SignInDeps): FastifyPluginAsync {
  const { auth } = deps;
  return async (app) => {
    app.get(
      '/auth/options',
      { schema: docs({ summary: 'How one can sign in here (for the sign-in page)', tags: ['auth'], response: { 200: SignInOptionsSchema }, auth: false }) },
      async () => ({ oidc: deps.oidcLabel === undefined ? null : { label: deps.oidcLabel, url: OIDC_START_URL } }),
    );

    app.post(
      '/auth/login',
      {
        schema: docs({
          summary: 'Sign in with a local account: sets the session cookie (http-only, SameSite=Strict; Secure over https)',
          description: 'Limited per account and per client address; a refused attempt is a 429 with Retry-After.',
          tags: ['auth'],
          body: LoginBodySchema,
          response: { 200: SessionSchema, 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema },
          auth: false,
        }),
        preValidation: zodValidate({ body: LoginBodySchema }),
      },
      async (request, reply) => {
        if (crossSite(request)) return refuse(request, reply, 403, 'cross-site request refused', 'cross-site');
        const body = request.body as z.infer<typeof LoginBodySchema>;
        const name = UsernameSchema.safeParse(body.username);
        const username = name.success ? name.data : undefined;
        // Whatever was typed counts against that name: a flood of invented names still meets the address limit.
        const accountKey = username ?? body.username.slice(0, 64);
        const limited = await auth.loginLimit.check(accountKey, request.ip);
        if (!limited.ok) {
          request.log.warn({ ip: request.ip, by: limited.by }, 'sign-in refused: too many wrong passwords');
          return reply
            .code(429)
            .header('retry-after', String(Math.ceil(limited.retryAfterMs / 1000)))
            .send({ error: 'Too Many Requests', message: `too many wrong passwords ${limited.by === 'account' ? 'for this account' : 'from this address'}: try again in ${retryText(limited.retryAfterMs)}` });
        }
        let user;
        try {
          user = await auth.accounts.verify(username, body.password);
        } catch (error) {
          if (!(error instanceof HashingBusyError)) throw error;
          request.log.warn({ ip: request.ip }, 'sign-in refused: password hashing busy');
          return reply.code(503).header('retry-after', '1').send({ error: 'Service Unavailable', message: error.message });
        }
        if (user === undefined) {
          await auth.loginLimit.failed(accountKey, request.ip);
          // Only a name that is an account goes in the audit: a password typed into the username box must not.
          const known = username !== undefined && (await auth.accounts.get(username)) !== undefined;
          await auth.audit.record(known ? `user:${username}` : '(unknown account)', 'sign-in-failed', { detail: `wrong password, from ${request.ip}` });
          request.log.warn({ ip: request.ip, account: known ? username : null }, 'sign-in refused: wrong username or password');
          return reply.code(401).send({ error: 'Unauthorized', message: 'wrong username or password' });
        }
        await auth.loginLimit.succeeded(accountKey);
        const { csrfToken } = await auth.startSession(request, reply, { username: user.username, role: user.role, via: 'password' });
        return { username: user.username, role: user.role, via: 'password', csrfToken };
      },
    );

    app.post(
      '/auth/logout',
      { schema: docs({ summary: 'Sign out: ends the session (and clears the cookie, whether or not it was still valid)', tags: ['auth'], auth: false }) },
      async (request, reply) => {
        const session = await auth.sessions.find(sessionCookie(request));
        if (session !== undefined) {
          const refused = changeRefused(request, session);
          if (refused !== undefined) return refuse(request, reply, 403, refused.message, refused.reason);
          await auth.sessions.revoke(session.tokenHash);
          const actor = actorOf(identityOfSession(session));
          await auth.audit.record(actor, 'sign-out');
          request.log.info({ actor }, 'signed out');
        }
        auth.clearCookies(reply);
        return { ok: true };
      },
    );
  };
}

/** Inside the protected scope: who is signed in, and the CSRF token for changes. */
export function sessionRoutes(deps: { auth: CentralAuth }): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/auth/session',
      {
        schema: docs({ summary: 'Who is asking (a session or an API token), and the CSRF token a session sends with changes', tags: ['auth'], response: { 200: SessionSchema, 401: ErrorSchema } }),
        config: { role: 'viewer' },
      },
      async (request) => {
        const identity = identityOf(request);
        if (identity.kind === 'token') return { username: identity.name, role: identity.role, via: 'token' };
        const session = (await deps.auth.sessions.find(sessionCookie(request)))!;
        return { username: identity.name, role: identity.role, via: identity.via, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
      },
    );
  };
}
