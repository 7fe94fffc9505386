// Accounts (managers only): list, add, change role or password, remove. The last manager cannot be removed or
// demoted; a new password ends that account's sessions.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { ConsoleContext } from '../context.js';
import { MANAGER_ONLY } from '../context.js';
import { UserCreateBodySchema, UsernameParamsSchema, UserPatchBodySchema } from '../schemas.js';
import { UserError } from '../users.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof UserError) return reply.code(error.status).send({ error: error.message });
  throw error;
}

export function userRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/users', { schema: docs({ summary: 'Console accounts', tags: ['accounts'] }), config: MANAGER_ONLY }, async () => ({ users: ctx.users.list() }));

    app.post(
      '/users',
      {
        schema: docs({ summary: 'Add an account', tags: ['accounts'], body: UserCreateBodySchema, response: { 409: ErrorSchema } }),
        config: MANAGER_ONLY,
        preValidation: zodValidate({ body: UserCreateBodySchema }),
      },
      async (request, reply) => {
        const body = request.body as z.infer<typeof UserCreateBodySchema>;
        try {
          const user = await ctx.users.add(body.username, body.role, body.password);
          ctx.audit(`user-add:${user.username}:${user.role}`, ctx.identity(request).actor);
          return await reply.code(201).send(user);
        } catch (error) {
          return refused(reply, error);
        }
      },
    );

    app.patch(
      '/users/:username',
      {
        schema: docs({ summary: "Change an account's role or set a new password", tags: ['accounts'], params: UsernameParamsSchema, body: UserPatchBodySchema, response: { 404: ErrorSchema, 409: ErrorSchema } }),
        config: MANAGER_ONLY,
        preValidation: zodValidate({ params: UsernameParamsSchema, body: UserPatchBodySchema }),
      },
      async (request, reply) => {
        const { username } = request.params as z.infer<typeof UsernameParamsSchema>;
        const body = request.body as z.infer<typeof UserPatchBodySchema>;
        const identity = ctx.identity(request);
        // Setting one's own password keeps the session that set it; every other session of that account ends.
        const keep = identity.kind === 'session' && identity.session.username === username ? identity.session.tokenHash : undefined;
        try {
          if (body.role !== undefined && ctx.users.get(username)?.role !== body.role) {
            ctx.users.setRole(username, body.role);
            ctx.audit(`user-role:${username}:${body.role}`, identity.actor);
          }
          if (body.password !== undefined) {
            await ctx.users.setPassword(username, body.password);
            ctx.sessions.revokeUser(username, keep);
            ctx.audit(`user-password:${username}`, identity.actor);
          }
        } catch (error) {
          return refused(reply, error);
        }
        const user = ctx.users.get(username);
        return user ?? reply.code(404).send({ error: `no account "${username}"` });
      },
    );

    app.delete(
      '/users/:username',
      {
        schema: docs({ summary: 'Remove an account (its sessions end at once)', tags: ['accounts'], params: UsernameParamsSchema, response: { 404: ErrorSchema, 409: ErrorSchema } }),
        config: MANAGER_ONLY,
        preValidation: zodValidate({ params: UsernameParamsSchema }),
      },
      async (request, reply) => {
        const { username } = request.params as z.infer<typeof UsernameParamsSchema>;
        try {
          ctx.users.remove(username);
        } catch (error) {
          return refused(reply, error);
        }
        ctx.audit(`user-remove:${username}`, ctx.identity(request).actor);
        return { ok: true };
      },
    );
  };
}
