// The gateway's local HTTP API (loopback by default): state for scripts and monitoring, the simulated reader's
// tap for `oag tap`, and the staff console (gateway/console) as its own plugin when the composition root hands
// it the store and the card hasher. The JSON API is described by an OpenAPI document at /api/openapi.json.
// The tap route exists only with a simulated reader and only on loopback: it takes no login, and a card played
// through it opens the door like a real one.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Hardware } from '../../firmware-bridge/types.js';
import { formatIssues } from '../../policies/errors.js';
import { MAX_HTTP_BODY_BYTES, strictJsonBody } from '../../policies/input-text.js';
import { isLoopbackHost } from '../config.js';
import type { GatewayConfig } from '../config.js';
import { consolePlugin } from '../console/index.js';
import type { ConsoleDeps } from '../console/index.js';
import { errorHandler } from '../console/errors.js';
import { SESSION_COOKIE, CSRF_HEADER } from '../console/context.js';
import { docs, ErrorSchema } from '../console/zod-route.js';
import type { Gateway } from '../core/controller.js';

export interface LocalApi {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export const SimulatedTapSchema = z.strictObject({
  uid: z.string().min(1).max(64),
  reader: z.string().min(1).max(64).optional(),
});

const TapResultSchema = z.object({
  result: z.enum(['granted', 'refused', 'ignored']),
  reason: z.string().optional(),
  mode: z.string().optional(),
  person: z.string().nullable().optional(),
  why: z.string().optional(),
});

/** What the console needs besides the gateway: everything else it builds itself. */
export type ConsoleApiDeps = Omit<ConsoleDeps, 'gateway' | 'logger'>;

/** What `GET /api/health` reports besides liveness: each part around the core, and the store. */
export interface HealthReport {
  /** False when a part has failed or the store is not writable: the door runs, somebody should look. */
  healthy: boolean;
  parts: Array<{ name: string; state: string; error?: string | undefined; retryAt?: string | undefined }>;
  storage: { mode: string; backlog: number };
}

export interface LocalApiDeps {
  gateway: Gateway;
  /** The composition root's view of the extensions and the store; without it health is liveness only. */
  health?: (() => HealthReport) | undefined;
  hardware: Hardware;
  /** Without it the API has no console (scripts and tests that only need state and taps). */
  console?: ConsoleApiDeps | undefined;
  logger?: Logger | undefined;
  /** Where it will listen (`http.host`); undefined is fastify's `inject` in a test, which no network reaches. */
  host?: string | undefined;
  /** Served over https with this certificate and key (`http.tls`, read by the caller). */
  https?: { cert: Buffer; key: Buffer } | undefined;
}

/** The simulated-tap route: a simulated reader to play, and nobody beyond this machine to play it. */
export function simulatedTapServed(deps: Pick<LocalApiDeps, 'hardware' | 'host'>): boolean {
  return deps.hardware.simulated?.reader !== undefined && (deps.host === undefined || isLoopbackHost(deps.host));
}

export function buildLocalApi(deps: LocalApiDeps): FastifyInstance {
  // Request logging off: a tap's body holds a card number, and so does a console member lookup.
  // forceCloseConnections: a console left open holds a live status stream; a stop must not wait for the browser.
  const options = { logger: false, bodyLimit: MAX_HTTP_BODY_BYTES, forceCloseConnections: true } as const;
  // One instance type for both: the routes never look at the server underneath.
  const app = (deps.https === undefined ? Fastify(options) : Fastify({ ...options, https: deps.https })) as unknown as FastifyInstance;
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonBody(MAX_HTTP_BODY_BYTES, parseJson));
  // Validation is zod's (per route); the schemas on routes are for the OpenAPI document. Responses are plain JSON.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler(deps.logger));

  void app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Open Access gateway: local API and staff console',
        description:
          'The branch gateway’s own API. `/api/console/*` needs the session cookie from `POST /api/console/login`; every change also needs ' +
          `the session's csrfToken in the \`${CSRF_HEADER}\` header. Errors are \`{ error, errors? }\`, with one \`field: reason\` line per problem.`,
        version: '1',
      },
      tags: [
        { name: 'gateway', description: 'State and health for scripts and monitoring; the simulated reader' },
        { name: 'console', description: 'The staff console: status, building, schedule, log, members' },
        { name: 'accounts', description: 'Console accounts (managers)' },
      ],
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
    },
  });
  void app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });

  // Routes go in a plugin registered after swagger, so that the OpenAPI document sees every one of them.
  void app.register(async (api) => {
    api.get(
      '/api/health',
      { schema: docs({ summary: 'Liveness, and each part around the core (failed parts retry by themselves)', tags: ['gateway'], auth: false }) },
      async () => ({ ok: true, ...deps.health?.() }),
    );
    api.get('/api/state', { schema: docs({ summary: 'The branch state (as on the MQTT state topic)', tags: ['gateway'], auth: false }) }, async () => deps.gateway.state);
    if (simulatedTapServed(deps)) registerSimulatedTap(api, deps);
    if (deps.console !== undefined) await api.register(consolePlugin({ ...deps.console, gateway: deps.gateway, logger: deps.logger }));
    api.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });
  return app;
}

function registerSimulatedTap(api: FastifyInstance, deps: LocalApiDeps): void {
  api.post(
    '/api/simulate/tap',
    {
      schema: docs({
        summary: 'Play a card on the simulated reader (simulated hardware only)',
        tags: ['gateway'],
        body: SimulatedTapSchema,
        response: { 200: TapResultSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
        auth: false,
      }),
    },
    async (request, reply) => {
      const reader = deps.hardware.simulated?.reader;
      if (reader === undefined) return reply.code(404).send({ error: 'no simulated reader on this gateway' });
      const body = SimulatedTapSchema.safeParse(request.body);
      if (!body.success) return reply.code(400).send({ error: 'invalid body', errors: formatIssues(body.error) });
      if (body.data.reader !== undefined && !reader.readerIds.includes(body.data.reader)) {
        return reply.code(400).send({ error: 'invalid body', errors: [`reader: no simulated reader "${body.data.reader}" (have ${reader.readerIds.join(', ')})`] });
      }
      let outcome: unknown;
      const listener = (result: unknown): void => {
        outcome = result;
      };
      deps.gateway.bus.once('access', listener);
      let tap: ReturnType<typeof reader.tap>;
      try {
        tap = reader.tap(body.data.uid, body.data.reader);
      } catch (error) {
        // The reader's own normalisation refused it; its message names the problem, never the number.
        return reply.code(400).send({ error: 'invalid body', errors: [`uid: ${(error as Error).message}`] });
      } finally {
        deps.gateway.bus.off('access', listener);
      }
      if (tap === undefined) return reply.code(409).send({ error: 'that reader is offline' });
      if (outcome === undefined) return { result: 'ignored', why: 'a repeat of the same card within the repeat window, or an unreadable card' };
      const { decision, person } = outcome as { decision: { allow: boolean; reason: string; mode: string }; person: string | null };
      return { result: decision.allow ? 'granted' : 'refused', reason: decision.reason, mode: decision.mode, person };
    },
  );
}

export async function startLocalApi(deps: LocalApiDeps & { config: GatewayConfig['http']; logger: Logger }): Promise<LocalApi> {
  const app = buildLocalApi({ ...deps, host: deps.config.host });
  const address = await app.listen({ host: deps.config.host, port: deps.config.port });
  deps.logger.info({ url: address }, 'local API listening');
  if (deps.console !== undefined) deps.logger.info({ url: `${address}/console/` }, `staff console at ${address}/console/`);
  return { url: address, app, close: () => app.close() };
}
