// "Now": the branch's state as staff see it, once (GET /state) and live (server-sent events: a `status` message on
// every change, coalesced per turn of the event loop, and a `log` message for every new event).
import type { FastifyPluginAsync } from 'fastify';
import { upcoming } from '../../../policies/index.js';
import type { LoggedEvent } from '../../core/model.js';
import type { GatewayState } from '../../core/state.js';
import type { ConsoleContext } from '../context.js';
import { openEventStream } from '../../../kit/http/sse.js';
import { streamCredentialCheck } from '../context.js';
import { logRow } from '../log-format.js';
import { outputLabels } from '../output-labels.js';
import { docs } from '../zod-route.js';

export interface ConsoleStatus {
  state: GatewayState;
  /** `clockUntrusted`: the policy's rule, which decides what an untrusted clock does to the door. */
  branch: { site: string; name: string | null; timezone: string; clockUntrusted: 'deny' | 'allow' };
  /** The schedule's next changes (lockdown and emergency aside). */
  next: Array<{ at: string; to: string }>;
}

const HEARTBEAT_MS = 15_000;

export function consoleStatus(ctx: ConsoleContext): ConsoleStatus {
  const policy = ctx.gateway.policies.current;
  const state = ctx.gateway.state;
  return {
    state,
    branch: { site: state.site, name: policy.name ?? null, timezone: policy.timezone, clockUntrusted: policy.rules.clockUntrusted },
    next: upcoming(policy, ctx.clock.now(), 8)
      .slice(0, 3)
      .map((t) => ({ at: t.at.toISOString(), to: t.to })),
  };
}

export function statusRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  return async (app) => {
    // Open streams would keep the server from closing (a stop or restart of the gateway): end them first.
    const streams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of streams) end();
    });

    app.get('/state', { schema: docs({ summary: 'The branch now: mode and until when, door, lights, inside vs capacity, alarms, readers, uplink, clock' }) }, async () =>
      consoleStatus(ctx),
    );

    app.get(
      '/live',
      {
        schema: docs({ summary: 'Live updates (text/event-stream): `status` on every change, `log` for each new event', produces: ['text/event-stream'] }),
      },
      async (request, reply) => {
        // The stream outlives the request that opened it: it ends when its session or token does (sign-out, expiry,
        // account removed, token revoked).
        const stillValid = streamCredentialCheck(ctx, request, 'live status');
        const { send, ping, raw: res } = openEventStream(reply, { retryMs: 3000 });
        send('status', consoleStatus(ctx));

        let pending: NodeJS.Immediate | null = null;
        const onState = (): void => {
          pending ??= setImmediate(() => {
            pending = null;
            try {
              send('status', consoleStatus(ctx));
            } catch (err) {
              // Outside the bus's isolation: a status that cannot be read now (the store busy) waits for the next change.
              ctx.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'live status could not be read; sent with the next change');
            }
          });
        };
        const onEvent = (event: LoggedEvent): void => {
          const { id, at, type } = event;
          send('log', logRow({ id, at, type, data: event }, outputLabels(ctx.gateway.state)));
        };
        const close = (): void => {
          streams.delete(end);
          clearInterval(heartbeat);
          if (pending !== null) clearImmediate(pending);
          ctx.gateway.bus.off('state-changed', onState);
          ctx.gateway.bus.off('event-logged', onEvent);
        };
        const heartbeat = setInterval(() => {
          if (!stillValid()) {
            send('session-ended', {});
            end();
            return;
          }
          ping();
        }, HEARTBEAT_MS);
        heartbeat.unref?.();
        const end = (): void => {
          close();
          res.end();
        };
        streams.add(end);
        ctx.gateway.bus.on('state-changed', onState);
        ctx.gateway.bus.on('event-logged', onEvent);
        request.raw.on('close', close);
      },
    );
  };
}
