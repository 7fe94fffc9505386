// The log: access decisions (with reasons and pseudonyms), door alarms, staff actions and the rest, newest first,
// filtered by time and type, a page at a time; or all of it within the filter as CSV.
//
// The CSV is streamed: up to 100,000 events read and formatted in one go would hold the door's event loop for
// seconds (the store is synchronous). It is written a page at a time, with a turn of the loop between pages, and
// at the pace the client reads it.
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { localToInstant, toLocalIso } from '../../../policies/index.js';
import type { Policy } from '../../../policies/index.js';
import type { StoredEvent } from '../../store/index.js';
import type { ConsoleContext } from '../context.js';
import { CSV_HEADER, csvLine, localTimes, storedRow } from '../log-format.js';
import { outputLabels } from '../output-labels.js';
import { LogCsvQuerySchema, LogQuerySchema } from '../schemas.js';
import { docs, zodValidate } from '../zod-route.js';

/** A CSV export stops here (a month of a busy branch is well under it). */
const CSV_MAX_ROWS = 100_000;
/** Events per step of the CSV: reading and formatting them takes about a millisecond. */
export const CSV_PAGE = 200;

/**
 * The CSV's text, a page of events at a time (`query` is the store's keyset paging, newest first), with
 * `yieldToLoop` between pages.
 */
export async function* csvPages(
  query: (page: { limit: number; before: string | undefined }) => StoredEvent[],
  localTime: (at: string) => string,
  options: { maxRows?: number; page?: number; yieldToLoop?: () => Promise<void>; labels?: ReadonlyMap<string, string> } = {},
): AsyncGenerator<string> {
  const maxRows = options.maxRows ?? CSV_MAX_ROWS;
  const size = options.page ?? CSV_PAGE;
  const yieldToLoop = options.yieldToLoop ?? (() => nextTurn());
  // The byte-order mark makes Excel read the file as UTF-8 (names of groups, arrows in summaries).
  yield `\ufeff${CSV_HEADER}`;
  let before: string | undefined;
  let rows = 0;
  while (rows < maxRows) {
    await yieldToLoop();
    const page = query({ limit: Math.min(size, maxRows - rows), before });
    let text = '';
    for (const event of page) text += csvLine(storedRow(event, options.labels), localTime(event.at));
    rows += page.length;
    if (text !== '') yield text;
    if (page.length < size) break;
    before = page[page.length - 1]!.id;
  }
}

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
        preValidation: zodValidate({ query: LogQuerySchema }),
      },
      async (request) => {
        const q = request.query as z.infer<typeof LogQuerySchema>;
        const policy = ctx.gateway.policies.current;
        const events = ctx.store.events.query({ from: instant(policy, q.from), to: instant(policy, q.to), types: q.types, limit: q.limit, before: q.before });
        const labels = outputLabels(ctx.gateway.state);
        const rows = events.map((event) => storedRow(event, labels));
        return { events: rows, next: rows.length === q.limit ? rows[rows.length - 1]!.id : null, timezone: policy.timezone };
      },
    );

    app.get(
      '/log.csv',
      {
        schema: docs({ summary: 'The log within the filter as CSV (times in UTC and the branch’s local time)', query: LogCsvQuerySchema, produces: ['text/csv'] }),
        preValidation: zodValidate({ query: LogCsvQuerySchema }),
      },
      async (request, reply) => {
        const q = request.query as z.infer<typeof LogCsvQuerySchema>;
        const policy = ctx.gateway.policies.current;
        const from = instant(policy, q.from);
        const to = instant(policy, q.to);
        const query = (page: { limit: number; before: string | undefined }) => ctx.store.events.query({ from, to, types: q.types, ...page });
        const csv = Readable.from(csvPages(query, localTimes((at) => toLocalIso(policy, at)), { labels: outputLabels(ctx.gateway.state) }), { objectMode: false });
        const stamp = toLocalIso(policy, ctx.clock.now()).slice(0, 16).replace(':', '');
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="oag-log-${ctx.gateway.state.site}-${stamp}.csv"`)
          .send(csv);
      },
    );
  };
}
