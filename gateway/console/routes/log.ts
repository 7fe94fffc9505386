// The log: access decisions (with reasons and pseudonyms), door alarms, staff actions and the rest, newest first,
// filtered by time and type, a page at a time; or all of it within the filter as CSV.
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { localToInstant, toLocalIso } from '../../../policies/index.js';
import type { Policy } from '../../../policies/index.js';
import type { ConsoleContext } from '../context.js';
import { CSV_HEADER, csvLine, storedRow } from '../log-format.js';
import { LogCsvQuerySchema, LogQuerySchema } from '../schemas.js';
import { docs, zodValidate } from '../zod-route.js';

/** A CSV export stops here (a month of a busy branch is well under it). */
const CSV_MAX_ROWS = 100_000;
const PAGE = 1000;

/** `2026-03-02T09:00` is the branch's local time; a string with Z or an offset is an instant. */
function instant(policy: Policy, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  if (/(Z|[+-]\d{2}:\d{2})$/.test(text)) return new Date(text);
  return localToInstant(policy, text.slice(0, 10), text.slice(11, 16));
}

export function logRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/log',
      {
        schema: docs({ summary: 'Events, newest first; page on with `before` = the `next` of the previous answer', query: LogQuerySchema }),
        onRequest: ctx.guard('staff'),
        preValidation: zodValidate({ query: LogQuerySchema }),
      },
      async (request) => {
        const q = request.query as z.infer<typeof LogQuerySchema>;
        const policy = ctx.gateway.policies.current;
        const events = ctx.store.events.query({ from: instant(policy, q.from), to: instant(policy, q.to), types: q.types, limit: q.limit, before: q.before });
        const rows = events.map(storedRow);
        return { events: rows, next: rows.length === q.limit ? rows[rows.length - 1]!.id : null, timezone: policy.timezone };
      },
    );

    app.get(
      '/log.csv',
      {
        schema: docs({ summary: 'The log within the filter as CSV (times in UTC and the branch’s local time)', query: LogCsvQuerySchema, produces: ['text/csv'] }),
        onRequest: ctx.guard('staff'),
        preValidation: zodValidate({ query: LogCsvQuerySchema }),
      },
      async (request, reply) => {
        const q = request.query as z.infer<typeof LogCsvQuerySchema>;
        const policy = ctx.gateway.policies.current;
        const from = instant(policy, q.from);
        const to = instant(policy, q.to);
        // The byte-order mark makes Excel read the file as UTF-8 (names of groups, arrows in summaries).
        const parts = ['\ufeff', CSV_HEADER];
        let before: string | undefined;
        let rows = 0;
        while (rows < CSV_MAX_ROWS) {
          const page = ctx.store.events.query({ from, to, types: q.types, limit: Math.min(PAGE, CSV_MAX_ROWS - rows), before });
          for (const event of page) parts.push(csvLine(storedRow(event), toLocalIso(policy, new Date(event.at))));
          rows += page.length;
          if (page.length < PAGE) break;
          before = page[page.length - 1]!.id;
        }
        const stamp = toLocalIso(policy, ctx.clock.now()).slice(0, 16).replace(':', '');
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="oag-log-${ctx.gateway.state.site}-${stamp}.csv"`)
          .send(parts.join(''));
      },
    );
  };
}
