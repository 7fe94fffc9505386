// Signing in and out, the current session, and changing one's own password. Signing in is the console's one public
// route: limited per account and per client address (kit/auth/login-limit.ts), and its password check waits for a hashing
// slot or is turned away as busy (users.ts) before anything is hashed.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ConsoleContext } from '../context.js';
import { isSecureRequest, SECURE_SESSION_COOKIE, SESSION_COOKIE, SESSION_ONLY, sessionToken } from '../context.js';
import { crossSite } from '../../../kit/auth/request-checks.js';
import { retryText } from '../../../kit/auth/login-limit.js';
import { LoginBodySchema, PasswordChangeBodySchema, SessionSchema, UsernameSchema } from '../schemas.js';
import type { Session } from '../sessions.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

function sessionBody(session: Session): z.infer<typeof SessionSchema> {
  return { username: session.username, role: session.role, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
}

function clearCookies(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
  reply.clearCookie(SECURE_SESSION_COOKIE, { path: '/', secure: true });
}

export function loginRoute(ctx: ConsoleContext): FastifyPluginAsync {
  const limit = ctx.loginLimiter.limit;
  return async (app) => {
    app.post(
      '/login',
      {
        schema: docs({
          summary: 'Sign in: sets the session cookie (http-only, SameSite=Strict; Secure over https or with http.cookieSecure: always)',
          description:
            `Limited: ${limit.perAccount} wrong passwords for one account, or ${limit.perAddress} from one client address, within ` +
            `${limit.windowMs / 60_000} minutes, then 429 with Retry-After. 503 with Retry-After when sign-ins are queued beyond their share of the processor.`,
          body: LoginBodySchema,
          response: { 200: SessionSchema, 401: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema },
          auth: false,
        }),
        preValidation: zodValidate({ body: LoginBodySchema }),
      },
      async (request, reply) => {
        if (crossSite(request)) {
          ctx.logger?.warn({ client: request.ip, reason: 'cross-site request' }, 'sign-in refused');
          return reply.code(403).send({ error: 'cross-site request refused' });
        }
        const body = request.body as z.infer<typeof LoginBodySchema>;
        const name = UsernameSchema.safeParse(body.username);
        const account = name.success ? name.data : body.username;
        const limited = ctx.loginLimiter.check(account, request.ip);
        if (!limited.ok) {
          const known = name.success && ctx.users.get(name.data) !== undefined;
          ctx.logger?.warn({ client: request.ip, account: known ? account : '(unknown account)', reason: `limited by ${limited.by}` }, 'sign-in refused');
          const who = limited.by === 'account' ? 'for this account' : 'from this address';
          return reply
            .code(429)
            .header('retry-after', String(Math.ceil(limited.retryAfterMs / 1000)))
            .send({ error: `too many failed sign-ins ${who}: try again in ${retryText(limited.retryAfterMs)}` });
        }
        const user = name.success ? await ctx.users.verify(name.data, body.password) : undefined;
        if (user === undefined) {
          // Only a name that is an account goes in the log: a password typed into the username box must not.
          const known = name.success && ctx.users.get(name.data) !== undefined;
          ctx.loginLimiter.failed(account, request.ip);
          ctx.audit('login-failed', known ? name.data : '(unknown account)');
          ctx.logger?.warn({ client: request.ip, account: known ? account : '(unknown account)', reason: 'wrong username or password' }, 'sign-in refused');
          return reply.code(401).send({ error: 'wrong username or password' });
        }
        ctx.loginLimiter.succeeded(user.username);
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
  };
}

/** The routes about the browser's own session: inside the protected scope, and only with the session cookie. */
export function sessionRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/logout',
      { schema: docs({ summary: 'Sign out: ends the session' }), config: SESSION_ONLY },
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
      { schema: docs({ summary: 'Who is signed in, and the CSRF token for changes', response: { 200: SessionSchema, 401: ErrorSchema } }), config: SESSION_ONLY },
      async (request) => sessionBody(ctx.session(request)),
    );

    app.post(
      '/password',
      {
        schema: docs({ summary: 'Change your own password (ends your other sessions)', body: PasswordChangeBodySchema, response: { 503: ErrorSchema } }),
        config: SESSION_ONLY,
        preValidation: zodValidate({ body: PasswordChangeBodySchema }),
      },
      async (request, reply) => {
        const session = ctx.session(request);
        const body = request.body as z.infer<typeof PasswordChangeBodySchema>;
        // A session left open on a shared screen must not be a way round the sign-in limit to guess the password.
        const limited = ctx.loginLimiter.check(session.username, request.ip);
        if (!limited.ok) {
          return reply
            .code(429)
            .header('retry-after', String(Math.ceil(limited.retryAfterMs / 1000)))
            .send({ error: `too many wrong passwords: try again in ${retryText(limited.retryAfterMs)}` });
        }
        if ((await ctx.users.verify(session.username, body.current)) === undefined) {
          ctx.loginLimiter.failed(session.username, request.ip);
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
