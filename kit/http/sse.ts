// Server-sent events on a hijacked Fastify reply. Central's dashboard, the console's Now page and the door screen
// stream the same way, so a proxy and a browser see one behaviour: what each sends, and when, stays the caller's.
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

export interface EventStream {
  /** One named event with its data as JSON. */
  send(event: string, data: unknown): void;
  /** A comment line, which the browser ignores: it keeps an idle connection open through proxies. */
  ping(): void;
  readonly raw: ServerResponse;
}

export interface EventStreamOptions {
  /** How long the browser's EventSource waits before it reconnects by itself (a restart, a dropped network). */
  retryMs: number;
  /** Added to the stream's headers. */
  headers?: Record<string, string> | undefined;
}

/** Takes the reply over from Fastify and opens the stream; the caller ends it (`raw.end()`) and cleans up on close. */
export function openEventStream(reply: FastifyReply, options: EventStreamOptions): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx buffers a response by default: an event would wait there instead of reaching the page.
    'x-accel-buffering': 'no',
    ...options.headers,
  });
  res.write(`retry: ${options.retryMs}\n\n`);
  return {
    send: (event, data) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    ping: () => {
      res.write(': ping\n\n');
    },
    raw: res,
  };
}
