// Commissioning on site (`oag commission`, docs/install.md "Commissioning"): start a session, watch the inputs as a
// stream, pulse the door relay or a switched output, play a phrase, record each step, end. Behind the local API's
// protected scope like every console route (a session with its CSRF token, or an API token), staff by default.
// Registered by the local API beside the console's routes, since it needs the hardware the console is not given.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Hardware } from '../../../firmware-bridge/types.js';
import { openEventStream } from '../../../kit/http/sse.js';
import { COMMISSIONING_RESULTS, DisplayNameSchema, DoorIdSchema, OutputIdSchema } from '../../../policies/contract/index.js';
import { Commissioning, COMMISSIONING_STEPS, MAX_PULSE_SECONDS } from '../../commission/commissioning.js';
import type { Outcome } from '../../commission/commissioning.js';
import type { Clock } from '../../core/clock.js';
import type { ConsoleContext } from '../context.js';
import { streamCredentialCheck } from '../context.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

const SessionIdSchema = z.string().regex(/^[0-9a-f]{16}$/, { error: 'must be the session id from POST /commission' });
const StepSchema = z.enum(COMMISSIONING_STEPS);

export const CommissionStartSchema = z.strictObject({
  /** The technician's name, for the commissioning record. */
  who: DisplayNameSchema,
  steps: z.array(StepSchema).min(1, { error: 'name at least one step' }).max(COMMISSIONING_STEPS.length),
});

export const CommissionStepSchema = z.strictObject({
  session: SessionIdSchema,
  step: StepSchema,
  result: z.enum(COMMISSIONING_RESULTS),
  door: DoorIdSchema.optional(),
  output: OutputIdSchema.optional(),
  detail: z.string().max(500).regex(/^[^\p{Cc}]*$/u, { error: 'must be one line without control characters' }).optional(),
});

export const CommissionPulseSchema = z
  .strictObject({
    session: SessionIdSchema,
    /** A door (its id; absent: the main door), or a switched output: not both. */
    door: DoorIdSchema.optional(),
    output: OutputIdSchema.optional(),
    seconds: z.int().min(1).max(MAX_PULSE_SECONDS).default(3),
  })
  .refine((body) => body.door === undefined || body.output === undefined, { error: 'give a door or an output, not both', path: ['output'] });

export const CommissionAnnounceSchema = z.strictObject({ session: SessionIdSchema, phrase: z.string().min(1).max(64) });
export const CommissionEndSchema = z.strictObject({ session: SessionIdSchema, reason: z.enum(['done', 'interrupted']).default('done') });
export const CommissionWatchQuerySchema = z.strictObject({ session: SessionIdSchema });

const HEARTBEAT_MS = 15_000;

export interface CommissionRouteDeps {
  hardware: Hardware;
  /** The gateway's clock: pulses end on it. */
  clock: Clock;
}

export function commissionRoutes(ctx: ConsoleContext, deps: CommissionRouteDeps): FastifyPluginAsync {
  return async (app) => {
    const commissioning = new Commissioning({ gateway: ctx.gateway, hardware: deps.hardware, clock: deps.clock });
    const streams = new Set<() => void>();
    // A stop of the API ends the session first (outputs safe, the record and each stream told why), then the streams,
    // which would hold the server open: ended first, they would end the session as a tool that went away.
    app.addHook('preClose', async () => {
      commissioning.close();
      for (const end of streams) end();
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-store');
      reply.header('x-content-type-options', 'nosniff');
      return payload;
    });
    const answer = <T extends object>(reply: FastifyReply, outcome: Outcome<T>): unknown => {
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      const { ok: _ok, ...rest } = outcome;
      return { ok: true, ...rest };
    };

    app.post(
      '/commission',
      {
        schema: docs({
          summary: 'Start a commissioning session (who, which steps): what is fitted comes back, and the session id for the other calls',
          body: CommissionStartSchema,
          response: { 409: ErrorSchema },
        }),
        preValidation: zodValidate({ body: CommissionStartSchema }),
      },
      async (request, reply) => {
        const { who, steps } = request.body as z.infer<typeof CommissionStartSchema>;
        const started = commissioning.start(who, steps, ctx.identity(request).actor);
        if (!started.ok) return reply.code(started.status).send({ error: started.error });
        return reply.code(201).send({ session: started.session, steps, fitted: commissioning.fitted(), mode: ctx.gateway.mode });
      },
    );

    app.get(
      '/commission/watch',
      {
        schema: docs({
          summary: 'The session’s inputs as they change (text/event-stream): `ready` with their levels, then `input`, `tap`, `announcement`, `mode`, `ended`',
          query: CommissionWatchQuerySchema,
          produces: ['text/event-stream'],
        }),
        preValidation: zodValidate({ query: CommissionWatchQuerySchema }),
      },
      async (request, reply) => {
        const { session } = request.query as z.infer<typeof CommissionWatchQuerySchema>;
        // As the console's live stream: it ends when the session or token that opened it does.
        const stillValid = streamCredentialCheck(ctx, request, 'commissioning watch');
        // What happens between the watch and the stream's opening waits for it.
        const out: { send?: (event: string, data: unknown) => void } = {};
        const queued: Array<[string, unknown]> = [];
        const tell = (event: string, data: unknown): void => {
          if (out.send === undefined) queued.push([event, data]);
          else out.send(event, data);
        };
        let end = (): void => {};
        const watched = commissioning.watch(session, {
          input: (change) => tell('input', change),
          tap: (tap) => tell('tap', tap),
          announcement: (said) => tell('announcement', said),
          mode: (mode) => tell('mode', { mode }),
          ended: (reason) => {
            tell('ended', { reason });
            setImmediate(() => end());
          },
        });
        if (!watched.ok) return reply.code(watched.status).send({ error: watched.error });
        const stream = openEventStream(reply, { retryMs: 3000 });
        stream.send('ready', { levels: watched.levels, mode: watched.mode });
        for (const [event, data] of queued.splice(0)) stream.send(event, data);
        out.send = stream.send;
        const heartbeat = setInterval(() => {
          if (!stillValid()) end();
          else stream.ping();
        }, HEARTBEAT_MS);
        heartbeat.unref?.();
        let closed = false;
        const close = (): void => {
          if (closed) return;
          closed = true;
          streams.delete(end);
          clearInterval(heartbeat);
          watched.stop();
        };
        end = (): void => {
          close();
          stream.raw.end();
        };
        streams.add(end);
        request.raw.on('close', close);
      },
    );

    /** A call within the session: its body checked, the session's answer as HTTP (an error in words, or ok). */
    const sessionCall = <S extends z.ZodType>(path: string, summary: string, body: S, response: Record<number, z.ZodType>, run: (body: z.infer<S>) => Outcome<object>): void => {
      app.post(path, { schema: docs({ summary, body, response }), preValidation: zodValidate({ body }) }, async (request, reply) => answer(reply, run(request.body as z.infer<S>)));
    };

    sessionCall('/commission/step', 'Record a step’s result (passed, failed, skipped) as a commissioning event', CommissionStepSchema, { 409: ErrorSchema }, ({ session, step, result, detail, door, output }) =>
      commissioning.step(session, step, result, detail, { door, output }),
    );

    sessionCall(
      '/commission/pulse',
      'Pulse the door relay (the door’s own unlock) or switch a switched output to its other level, for N seconds: refused without a session, during a fire, and in open access with people inside',
      CommissionPulseSchema,
      { 404: ErrorSchema, 409: ErrorSchema },
      ({ session, door, output, seconds }) => commissioning.pulse(session, { door, output }, seconds),
    );

    sessionCall('/commission/announce', 'Play one announcement phrase (as staff’s announce)', CommissionAnnounceSchema, { 409: ErrorSchema }, ({ session, phrase }) => commissioning.announce(session, phrase));

    sessionCall(
      '/commission/end',
      'End the session: any pulse ends now (door locked, outputs back), and the record gets its tally',
      CommissionEndSchema,
      { 409: ErrorSchema },
      ({ session, reason }) => commissioning.end(session, reason === 'done' ? 'done' : 'interrupted by the technician'),
    );
  };
}
