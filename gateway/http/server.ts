// The gateway's local HTTP API (loopback by default): health and state for scripts and monitoring, the simulated
// reader's tap for `oag tap`, and the staff console (gateway/console) when the composition root hands it the store
// and the card hasher. The JSON API is described by an OpenAPI document at /api/openapi.json.
// Protected by default (kit/http/protect.ts): every route is registered inside the protected scope, whose hook asks
// for a console session or an API token, except the few listed by name in LOCAL_API_PUBLIC_ROUTES; a route that is
// neither stops the start, so a route added later cannot be public by accident.
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Hardware } from '../../firmware-bridge/types.js';
import { inventoryRoutes, protectScope } from '../../kit/http/protect.js';
import type { PublicRoute, RouteInventory } from '../../kit/http/protect.js';
import { formatIssues } from '../../policies/errors.js';
import { MAX_HTTP_BODY_BYTES, strictJsonBody } from '../../policies/input-text.js';
import { isLoopbackHost } from '../../kit/loopback.js';
import type { GatewayConfig, TrustProxySetting } from '../config.js';
import { CONSOLE_API_PREFIX, openConsole } from '../console/index.js';
import type { ConsoleDeps } from '../console/index.js';
import { errorHandler } from '../console/errors.js';
import { CSRF_HEADER, makeAuthenticate, SESSION_COOKIE } from '../console/context.js';
import { commissionRoutes } from '../console/routes/commission.js';
import { docs, ErrorSchema } from '../console/zod-route.js';
import type { Gateway } from '../core/controller.js';
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import { DOOR_SCREEN_ROUTES, doorScreenRoutes } from './door-screen.js';
import { readDisplayToken } from './display-token.js';

/** The only routes anyone may call without credentials, each with the reason. */
export const LOCAL_API_PUBLIC_ROUTES: readonly PublicRoute[] = [
  { method: 'GET', url: '/api/health', why: 'liveness for systemd, monitoring and the tests: says only { ok: true }' },
  {
    method: 'POST',
    url: '/api/simulate/tap',
    why: 'exists only with a simulated reader and only while the API listens on loopback (simulatedTapServed): a bench or a demo, never a real door',
  },
  { method: 'POST', url: '/api/console/login', why: 'signing in (limited per account and per address; hashing bounded)' },
  { method: 'GET', url: '/', why: 'a redirect to the console page' },
  { method: 'GET', url: '/console/*', why: 'the console page, its scripts and styles: static files that hold no data' },
  { method: 'GET', url: '/console/vendor/preact/*', why: 'preact, served from node_modules for the page' },
  { method: 'GET', url: '/console/vendor/preact-hooks/*', why: 'preact’s hooks, served from node_modules for the page' },
  { method: 'GET', url: '/console/vendor/htm/*', why: 'htm, served from node_modules for the page' },
  ...DOOR_SCREEN_ROUTES,
];

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

/** What `GET /api/health/detail` reports besides liveness: each part around the core, and the store. */
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
  /** `http.trustProxy`: which proxies' X-Forwarded-For and -Proto to believe. */
  trustProxy?: TrustProxySetting | undefined;
  /** The door screen's clock (the gateway's) and PIN timeout; its display token is read from the config at start. */
  doorScreen?: { clock?: Clock | undefined; pinTimeoutMs?: number | undefined; displayToken?: string | undefined } | undefined;
}

/** The simulated-tap route: a simulated reader to play, and nobody beyond this machine to play it. */
export function simulatedTapServed(deps: Pick<LocalApiDeps, 'hardware' | 'host'>): boolean {
  return deps.hardware.simulated?.reader !== undefined && (deps.host === undefined || isLoopbackHost(deps.host));
}

/**
 * fastify takes false, true or a list as they are. A hop count it now refuses to honour (it cannot tell the proxy
 * from a direct client that sends the header itself): here it means what it says, for a port that only the proxies
 * can reach (the same promise as `true`, docs/console.md), counting hops from this server outwards.
 */
function fastifyTrustProxy(setting: TrustProxySetting | undefined): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (setting === undefined) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting;
}

const inventories = new WeakMap<FastifyInstance, RouteInventory>();

/** Every route the local API registered, and whether it is protected (for the route-walk test). */
export function routeInventory(app: FastifyInstance): RouteInventory {
  const inventory = inventories.get(app);
  if (inventory === undefined) throw new Error('not a local API built by buildLocalApi');
  return inventory;
}

export function buildLocalApi(deps: LocalApiDeps): FastifyInstance {
  // Request logging off: a tap's body holds a card number, and so does a console member lookup.
  // forceCloseConnections: a console left open holds a live status stream; a stop must not wait for the browser.
  // trustProxy: behind the branch's TLS proxy the client is the address it forwards, not the proxy's (sign-in limits).
  const options = { logger: false, bodyLimit: MAX_HTTP_BODY_BYTES, forceCloseConnections: true, trustProxy: fastifyTrustProxy(deps.trustProxy) } as const;
  // One instance type for both: the routes never look at the server underneath.
  const app = (deps.https === undefined ? Fastify(options) : Fastify({ ...options, https: deps.https })) as unknown as FastifyInstance;
  // Before any route: every route is recorded, and one neither protected nor public by name stops the start.
  const inventory = inventoryRoutes(app, LOCAL_API_PUBLIC_ROUTES);
  inventories.set(app, inventory);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonBody(MAX_HTTP_BODY_BYTES, parseJson));
  // Only JSON bodies: a cross-site HTML form can send text/plain without asking first; this API never reads it.
  app.removeContentTypeParser('text/plain');
  // Validation is zod's (per route); the schemas on routes are for the OpenAPI document. Responses are plain JSON.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler(deps.logger));
  void app.register(fastifyCookie);

  void app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Open Access gateway: local API and staff console',
        description:
          'The branch gateway’s own API. Everything but `GET /api/health`, `POST /api/console/login` and the console page needs credentials: ' +
          'the session cookie from `POST /api/console/login` (every change also needs the session’s csrfToken in the ' +
          `\`${CSRF_HEADER}\` header), or an API token (\`Authorization: Bearer oag_…\`, made with \`oag users token add\`). ` +
          'Errors are `{ error, errors? }`, with one `field: reason` line per problem.',
        version: '1',
      },
      tags: [
        { name: 'gateway', description: 'Health and state for scripts and monitoring; the simulated reader' },
        { name: 'console', description: 'The staff console: status, building, schedule, log, members' },
        { name: 'accounts', description: 'Console accounts (managers)' },
      ],
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          token: { type: 'http', scheme: 'bearer', description: 'an API token: oag users token add --name N --role staff|manager --expires-days D' },
        },
      },
    },
  });

  // Routes go in a plugin registered after swagger, so that the OpenAPI document sees every one of them.
  void app.register(async (api) => {
    const branchConsole = deps.console === undefined ? undefined : openConsole({ ...deps.console, gateway: deps.gateway, logger: deps.logger });
    if (branchConsole !== undefined) api.addHook('onClose', async () => branchConsole.close());
    // Without the console's store nobody can sign in: every protected route answers 401.
    const authenticate = branchConsole?.authenticate ?? makeAuthenticate({ logger: deps.logger }, () => undefined);

    api.get('/api/health', { schema: docs({ summary: 'Up or down: { ok: true } while the gateway answers (the parts are in /api/health/detail)', tags: ['gateway'], auth: false }) }, async () => ({
      ok: true,
    }));
    if (simulatedTapServed(deps)) registerSimulatedTap(api, deps);
    await api.register(doorScreenRoutes({ ...deps.doorScreen, gateway: deps.gateway, clock: deps.doorScreen?.clock ?? systemClock }));
    if (branchConsole !== undefined) await api.register(branchConsole.publicRoutes);

    await api.register(async (secured) => {
      protectScope(secured, inventory, authenticate);
      secured.get(
        '/api/health/detail',
        { schema: docs({ summary: 'Each part around the core (failed parts retry by themselves) and the store', tags: ['gateway'] }) },
        async () => ({ ok: true, ...deps.health?.() }),
      );
      secured.get('/api/state', { schema: docs({ summary: 'The branch state (as on the MQTT state topic)', tags: ['gateway'] }) }, async () => deps.gateway.state);
      secured.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await secured.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
      if (branchConsole !== undefined) await secured.register(branchConsole.protectedRoutes);
      // Commissioning drives the hardware, which the console is not given: registered here, beside its routes.
      if (branchConsole !== undefined) await secured.register(commissionRoutes(branchConsole.ctx, { hardware: deps.hardware, clock: deps.doorScreen?.clock ?? systemClock }), { prefix: CONSOLE_API_PREFIX });
    });
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
  const displayToken = deps.config.displayTokenFile === undefined ? undefined : readDisplayToken(deps.config.displayTokenFile);
  const app = buildLocalApi({ ...deps, host: deps.config.host, trustProxy: deps.config.trustProxy, doorScreen: { ...deps.doorScreen, displayToken } });
  const address = await app.listen({ host: deps.config.host, port: deps.config.port });
  deps.logger.info({ url: address }, 'local API listening');
  if (deps.console !== undefined) deps.logger.info({ url: `${address}/console/` }, `staff console at ${address}/console/`);
  return { url: address, app, close: () => app.close() };
}
