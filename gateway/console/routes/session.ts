// Signing in and out, the current session, and changing one's own password.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ConsoleContext } from '../context.js';
import { isSecureRequest, SECURE_SESSION_COOKIE, SESSION_COOKIE, sessionToken } from '../context.js';
import { crossSite } from '../../../kit/auth/request-checks.js';
import { LoginBodySchema, PasswordChangeBodySchema, SessionSchema, UsernameSchema } from '../schemas.js';
import type { Session } from '../sessions.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

export interface LoginLimit {
  max: number;
  timeWindowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { max: 10, timeWindowMs: 5 * 60_000 };

function sessionBody(session: Session): z.infer<typeof SessionSchema> {
  return { username: session.username, role: session.role, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
}

function clearCookies(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
  reply.clearCookie(SECURE_SESSION_COOKIE, { path: '/', secure: true });
}

export function sessionRoutes(ctx: ConsoleContext, loginLimit: LoginLimit): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/login',
      {
        schema: docs({
          summary: 'Sign in: sets the session cookie (http-only, SameSite=Strict; Secure over https)',
          description: `Rate-limited: ${loginLimit.max} attempts per ${loginLimit.timeWindowMs / 60_000} minutes from one address.`,
          body: LoginBodySchema,
          response: { 200: SessionSchema, 401: ErrorSchema, 429: ErrorSchema },
          auth: false,
        }),
        config: { rateLimit: { max: loginLimit.max, timeWindow: loginLimit.timeWindowMs } },
        preValidation: zodValidate({ body: LoginBodySchema }),
      },
      async (request, reply) => {
        if (crossSite(request)) return reply.code(403).send({ error: 'cross-site request refused' });
        const body = request.body as z.infer<typeof LoginBodySchema>;
        const name = UsernameSchema.safeParse(body.username);
        const user = name.success ? await ctx.users.verify(name.data, body.password) : undefined;
        if (user === undefined) {
          // Only a name that is an account goes in the log: a password typed into the username box must not.
          const known = name.success && ctx.users.get(name.data) !== undefined;
          ctx.audit('login-failed', known ? name.data : '(unknown account)');
          return reply.code(401).send({ error: 'wrong username or password' });
        }
        // A session already held by this browser ends: one cookie, one session.
        const old = ctx.sessions.find(sessionToken(request));
        if (old !== undefined) ctx.sessions.revoke(old.tokenHash);
        const { token, session } = ctx.sessions.create(user.username);
        ctx.users.recordLogin(user.username);
        ctx.audit('login', user.username);
        const secure = isSecureRequest(request, ctx.cookieSecure);
        clearCookies(reply);
        reply.setCookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, token, {
          path: '/',
          httpOnly: true,
          sameSite: 'strict',
          secure,
          maxAge: Math.floor(ctx.sessions.limits.absoluteMs / 1000),
        });
        return sessionBody(session);
      },
    );

    app.post(
      '/logout',
      { schema: docs({ summary: 'Sign out: ends the session' }), onRequest: ctx.guard('staff') },
      async (request: FastifyRequest, reply) => {
        const session = ctx.session(request);
        ctx.sessions.revoke(session.tokenHash);
        ctx.audit('logout', session.username);
        clearCookies(reply);
        return { ok: true };
      },
    );

    app.get(
      '/session',
      { schema: docs({ summary: 'Who is signed in, and the CSRF token for changes', response: { 200: SessionSchema, 401: ErrorSchema } }), onRequest: ctx.guard('staff') },
      async (request) => sessionBody(ctx.session(request)),
    );

    app.post(
      '/password',
      {
        schema: docs({ summary: 'Change your own password (ends your other sessions)', body: PasswordChangeBodySchema }),
        onRequest: ctx.guard('staff'),
        preValidation: zodValidate({ body: PasswordChangeBodySchema }),
      },
      async (request, reply) => {
        const session = ctx.session(request);
        const body = request.body as z.infer<typeof PasswordChangeBodySchema>;
        if ((await ctx.users.verify(session.username, body.current)) === undefined) {
          return reply.code(400).send({ error: 'invalid request', errors: ['current: is not your current password'] });
        }
        await ctx.users.setPassword(session.username, body.password);
        ctx.sessions.revokeUser(session.username, session.tokenHash);
        ctx.audit('password-change', session.username);
        return { ok: true };
      },
    );
  };
}
