// Running the building: the same commands central sends, through the same path (gateway.execute), with the
// signed-in account as the actor that the log shows.
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import type { ConsoleContext } from '../context.js';
import { CommandBodySchema } from '../schemas.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';
import { consoleStatus } from './status.js';

export function buildingRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/commands',
      {
        schema: docs({
          summary: 'Run the building: unlock once, lock, lockdown on/off, lights on/off, reset the count, acknowledge alarms, announce a phrase or words',
          body: CommandBodySchema,
          response: { 409: ErrorSchema },
        }),
        preValidation: zodValidate({ body: CommandBodySchema }),
      },
      async (request, reply) => {
        const { command, door, text } = request.body as z.infer<typeof CommandBodySchema>;
        const actor = ctx.identity(request).actor;
        const result = ctx.gateway.execute({ command, door, text }, actor);
        if (!result.ok) return reply.code(409).send({ error: result.error });
        // The occupancy event names the actor too; the staff event puts the reset with the other staff actions.
        if (command === 'reset-occupancy') ctx.audit('reset-occupancy', actor);
        return { ok: true, status: consoleStatus(ctx) };
      },
    );
  };
}
