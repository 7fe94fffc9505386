// The audit at central: who did what, to which branch, when; as JSON pages or one CSV download.
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { AuditQuerySchema, AuditSchema } from '../auth/schemas.js';
import { dayRange, toCsv } from '../figures.js';
import type { HttpDeps } from './server.js';
import { docs, ErrorSchema, zodValidate } from './zod-route.js';

const PAGE = 100;
const CSV_ROWS = 10_000;

export function auditRoutes(deps: Pick<HttpDeps, 'auth' | 'timezone'>): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/audit',
      {
        schema: docs({
          summary: 'The audit, newest first: sign-ins, commands, policies, member changes, accounts and tokens; format=csv for a download',
          description: `Filters: from and to (local dates, both included), site, actor. Pages of ${PAGE} by default (limit); the answer's next goes in before for the next page.`,
          tags: ['audit'],
          query: AuditQuerySchema,
          response: { 200: AuditSchema, 400: ErrorSchema },
        }),
        preValidation: zodValidate({ query: AuditQuerySchema }),
        config: { role: 'operator' },
      },
      async (request, reply) => {
        const q = request.query as z.output<typeof AuditQuerySchema>;
        const from = q.from === undefined ? undefined : dayRange(q.from, q.from, deps.timezone).from;
        const to = q.to === undefined ? undefined : dayRange(q.to, q.to, deps.timezone).to;
        const limit = q.limit ?? (q.format === 'csv' ? CSV_ROWS : PAGE);
        const page = await deps.auth.audit.query({ from, to, site: q.site, actor: q.actor, before: q.before, limit });
        if (q.format === 'csv') {
          const name = `audit${q.from === undefined ? '' : `-${q.from}`}${q.to === undefined ? '' : `-${q.to}`}.csv`;
          return reply
            .header('content-type', 'text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}"`)
            .send(toCsv(page.rows, ['at', 'actor', 'action', 'site', 'detail']));
        }
        return page;
      },
    );
  };
}
