// Accounts and API tokens at central: administrators only (the scope's default role). Removing an account, lowering
// its role or resetting its password ends its sessions at once; a password or token central makes is in the answer
// and nowhere else.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { HashingBusyError } from '../../kit/auth/hash-slots.js';
import { AccountError, generatePassword } from '../auth/accounts.js';
import { identityOf } from '../auth/guard.js';
import { actorOf, hasRole } from '../auth/identity.js';
import {
  NewTokenBodySchema,
  NewTokenSchema,
  NewUserBodySchema,
  PasswordResetBodySchema,
  TokenParamsSchema,
  TokenSchema,
  TokensSchema,
  UserParamsSchema,
  UserRoleBodySchema,
  UsersSchema,
  UserSchema,
  UserWithPasswordSchema,
} from '../auth/schemas.js';
import { TokenError } from '../auth/tokens.js';
import type { HttpDeps } from './server.js';
import { docs, ErrorSchema, zodValidate } from './zod-route.js';

const administrator = { role: 'administrator' } as const;

export function adminRoutes(deps: Pick<HttpDeps, 'auth'>): FastifyPluginAsync {
  const { auth } = deps;
  const failed = (reply: FastifyReply, error: unknown): FastifyReply => {
    if (error instanceof AccountError || error instanceof TokenError) {
      return reply.code(error.status).send({ error: error.status === 404 ? 'Not Found' : 'Conflict', message: error.message });
    }
    if (error instanceof HashingBusyError) return reply.code(503).header('retry-after', '1').send({ error: 'Service Unavailable', message: error.message });
    throw error;
  };

  return async (app) => {
    app.get('/users', { schema: docs({ summary: 'Central accounts', tags: ['accounts'], response: { 200: UsersSchema } }), config: administrator }, async () => ({
      users: await auth.accounts.list(),
    }));

    app.post(
      '/users',
      {
        schema: docs({
          summary: 'Add a local account; without a password, central makes one and answers it (once)',
          tags: ['accounts'],
          body: NewUserBodySchema,
          response: { 201: UserWithPasswordSchema, 400: ErrorSchema, 409: ErrorSchema },
        }),
        preValidation: zodValidate({ body: NewUserBodySchema }),
        config: administrator,
      },
      async (request, reply) => {
        const body = request.body as z.output<typeof NewUserBodySchema>;
        const password = body.password ?? generatePassword();
        try {
          const user = await auth.accounts.add(body.username, body.role, password);
          await auth.audit.record(actorOf(identityOf(request)), 'user-add', { detail: `user:${user.username} as ${user.role}` });
          return reply.code(201).send(body.password === undefined ? { user, password } : { user });
        } catch (error) {
          return failed(reply, error);
        }
      },
    );

    app.patch(
      '/users/:username',
      {
        schema: docs({
          summary: "Change an account's role; a lower role ends its sessions at once",
          tags: ['accounts'],
          params: UserParamsSchema,
          body: UserRoleBodySchema,
          response: { 200: UserSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
        }),
        preValidation: zodValidate({ params: UserParamsSchema, body: UserRoleBodySchema }),
        config: administrator,
      },
      async (request, reply) => {
        const { username } = request.params as z.output<typeof UserParamsSchema>;
        const { role } = request.body as z.output<typeof UserRoleBodySchema>;
        try {
          const { before, user } = await auth.accounts.setRole(username, role);
          if (!hasRole(role, before)) await auth.endSessions(username);
          if (before !== role) await auth.audit.record(actorOf(identityOf(request)), 'user-role', { detail: `user:${username} ${before} → ${role}` });
          return user;
        } catch (error) {
          return failed(reply, error);
        }
      },
    );

    app.post(
      '/users/:username/password',
      {
        schema: docs({
          summary: "Reset an account's password (ends its sessions); without one, central makes one and answers it (once)",
          tags: ['accounts'],
          params: UserParamsSchema,
          body: PasswordResetBodySchema,
          response: { 200: UserWithPasswordSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
        }),
        preValidation: zodValidate({ params: UserParamsSchema, body: PasswordResetBodySchema }),
        config: administrator,
      },
      async (request, reply) => {
        const { username } = request.params as z.output<typeof UserParamsSchema>;
        const body = request.body as z.output<typeof PasswordResetBodySchema>;
        const password = body.password ?? generatePassword();
        try {
          await auth.accounts.setPassword(username, password);
          await auth.endSessions(username);
          await auth.audit.record(actorOf(identityOf(request)), 'user-password-reset', { detail: `user:${username}` });
          const user = (await auth.accounts.get(username))!;
          return body.password === undefined ? { user, password } : { user };
        } catch (error) {
          return failed(reply, error);
        }
      },
    );

    app.delete(
      '/users/:username',
      {
        schema: docs({ summary: 'Remove an account; its sessions end at once', tags: ['accounts'], params: UserParamsSchema, response: { 404: ErrorSchema, 409: ErrorSchema } }),
        preValidation: zodValidate({ params: UserParamsSchema }),
        config: administrator,
      },
      async (request, reply) => {
        const { username } = request.params as z.output<typeof UserParamsSchema>;
        try {
          await auth.accounts.remove(username);
          await auth.audit.record(actorOf(identityOf(request)), 'user-remove', { detail: `user:${username}` });
          return { removed: username };
        } catch (error) {
          return failed(reply, error);
        }
      },
    );

    app.get('/tokens', { schema: docs({ summary: 'API tokens (never the tokens themselves)', tags: ['accounts'], response: { 200: TokensSchema } }), config: administrator }, async () => ({
      tokens: await auth.tokens.list(),
    }));

    app.post(
      '/tokens',
      {
        schema: docs({
          summary: 'Make an API token with a role and an expiry (at most a year); the token is in this answer only',
          tags: ['accounts'],
          body: NewTokenBodySchema,
          response: { 201: NewTokenSchema, 400: ErrorSchema, 409: ErrorSchema },
        }),
        preValidation: zodValidate({ body: NewTokenBodySchema }),
        config: administrator,
      },
      async (request, reply) => {
        const body = request.body as z.output<typeof NewTokenBodySchema>;
        const actor = actorOf(identityOf(request));
        try {
          const made = await auth.tokens.create(body, actor);
          await auth.audit.record(actor, 'token-add', { detail: `token:${made.info.name} (${made.info.id}) as ${made.info.role}, expires ${made.info.expiresAt}` });
          return reply.code(201).send(made);
        } catch (error) {
          return failed(reply, error);
        }
      },
    );

    app.delete(
      '/tokens/:id',
      {
        schema: docs({ summary: 'Revoke an API token: refused from the next request on', tags: ['accounts'], params: TokenParamsSchema, response: { 200: TokenSchema, 404: ErrorSchema, 409: ErrorSchema } }),
        preValidation: zodValidate({ params: TokenParamsSchema }),
        config: administrator,
      },
      async (request, reply) => {
        const { id } = request.params as z.output<typeof TokenParamsSchema>;
        const actor = actorOf(identityOf(request));
        try {
          const info = await auth.tokens.revoke(id, actor);
          await auth.audit.record(actor, 'token-revoke', { detail: `token:${info.name} (${info.id})` });
          return info;
        } catch (error) {
          return failed(reply, error);
        }
      },
    );
  };
}
