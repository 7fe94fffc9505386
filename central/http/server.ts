// Central's HTTP side: the dashboard pages (static HTML + small ES modules), the JSON API under /api with its
// OpenAPI document, and live updates over server-sent events. One plugin per concern, as fastify likes it.
//
// Nothing is public by accident (kit/http/protect.ts): every route is recorded, the API, the live stream and the
// API docs are registered inside protected scopes whose hook demands a session or a token with the route's role,
// and the few routes anyone may call are listed by name below. A route that is neither stops the start.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyCookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { formatBytes, MAX_HTTP_BODY_BYTES, strictJsonBody } from '../../policies/input-text.js';
import type { CentralBus } from '../bus.js';
import type { Ingest } from '../ingest.js';
import type { CentralLink } from '../link.js';
import type { CentralMembers } from '../members/service.js';
import type { HistoryStore } from '../history/history-store.js';
import { inventoryRoutes, protectScope, type PublicRoute, type RouteInventory } from '../../kit/http/protect.js';
import type { CentralAuth } from '../auth/service.js';
import type { CentralAlerts } from '../alerts/central-alerts.js';
import { ackRoutes } from './ack-routes.js';
import { incidentRoutes } from './incident-routes.js';
import { adminRoutes } from './admin-routes.js';
import { apiRoutes } from './api.js';
import { phoneTokenRoutes } from './phone-token-routes.js';
import type { CentralSigningKey } from '../signing-key.js';
import { auditRoutes } from './audit-routes.js';
import { sessionRoutes, signInRoutes } from './auth-routes.js';
import { defaultAllowedHosts, hostCheck } from './host-check.js';
import { liveRoutes } from './live.js';
import type { SiteDirectory } from './summary.js';
import { timeRoutes } from './time-route.js';
import { docs } from './zod-route.js';
import { securityHeaders } from './security-headers.js';

export interface HttpDeps {
  /** Central's history (SQLite or PostgreSQL). */
  store: HistoryStore;
  ingest: Ingest;
  link: Pick<CentralLink, 'connected' | 'publishPolicy' | 'sendCommand'>;
  bus: CentralBus;
  clock: { now(): Date };
  logger: Logger;
  timezone: string;
  /** The member list; null or absent without a deployment key. */
  members?: CentralMembers | null | undefined;
  auth: CentralAuth;
  /** Incidents, rules, links and the outbox (central/alerts/central-alerts.ts). */
  alerts: CentralAlerts;
  /** Host names browsers may use (http.allowedHosts); default: the loopback names and this machine's. */
  allowedHosts?: readonly string[] | undefined;
  /** Fastify's trustProxy (http.trustProxy). */
  trustProxy?: boolean | number | string | string[] | undefined;
  /**
   * Single sign-on, when configured: its routes (GET /auth/oidc/start and /auth/oidc/callback, public by name) and
   * the label of its button on the sign-in page.
   */
  oidc?: { label: string; routes: FastifyPluginAsync } | undefined;
  /** Central's signing key: phone tokens (phone-token-routes.ts). */
  signingKey?: CentralSigningKey | undefined;
  /** Each branch's name and region (central's `sites` and `regions`); absent: every branch unnamed, in "Other". */
  sites?: SiteDirectory | undefined;
}

export interface CentralHttp {
  app: FastifyInstance;
  /** Every route registered, and which are protected (the route-walk test calls them all). */
  inventory: RouteInventory;
}

/** The routes anyone may call, by name: none of them reads or changes anything of a branch. */
export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  { method: 'GET', url: '/api/health', why: 'liveness for monitoring: says only that central answers' },
  { method: 'GET', url: '/api/health/store', why: "monitoring from outside: whether central's history takes writes (no branch's data)" },
  { method: 'GET', url: '/api/auth/options', why: 'the sign-in page asks which ways of signing in there are' },
  { method: 'POST', url: '/api/auth/login', why: 'signing in' },
  { method: 'POST', url: '/api/auth/logout', why: 'signing out, also of a session that has already ended' },
  { method: 'GET', url: '/auth/oidc/start', why: 'single sign-on: off to the provider' },
  { method: 'GET', url: '/auth/oidc/callback', why: 'single sign-on: back from the provider' },
  { method: 'GET', url: '/login', why: 'the sign-in page' },
  { method: 'GET', url: '/', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/sites/:site', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/figures', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/report', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/audit', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/incidents/:id', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/alerts/rules', why: 'page shell without data; its script signs in first' },
  { method: 'GET', url: '/ack/:token', why: 'the page behind an alarm message’s one-time link: the token is the credential; shows the incident, changes nothing' },
  { method: 'POST', url: '/ack/:token', why: 'the button on that page: acknowledges as the link’s recipient, once, before it expires' },
  { method: 'GET', url: '/static/*', why: "the pages' scripts and styles" },
  { method: 'GET', url: '/vendor/uplot/*', why: 'the chart library' },
];

const STATUS_NAMES: Record<number, string> = { 410: 'Gone', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests' };

function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

const here = dirname(fileURLToPath(import.meta.url));
const publicDir = join(here, '..', 'public');
const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));

export async function buildHttp(deps: HttpDeps): Promise<CentralHttp> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    // The largest body any route takes is a policy; fastify's default would be 1 MiB.
    bodyLimit: MAX_HTTP_BODY_BYTES,
    // A dashboard left open holds a live-update stream for ever: a stop must not wait for the browser.
    forceCloseConnections: true,
    // A number of hops is fastify's too; its types only know it as a function.
    trustProxy: typeof deps.trustProxy === 'number' ? trustHops(deps.trustProxy) : (deps.trustProxy ?? false),
  });
  // The pino logger makes fastify's instance type its own; the plugins take the plain one.
  const root = app as unknown as FastifyInstance;
  const inventory = inventoryRoutes(root, PUBLIC_ROUTES);
  await securityHeaders(root);
  // After helmet's own hook, so that a refused Host still gets the security headers; before everything else.
  app.addHook('onRequest', hostCheck(deps.allowedHosts ?? defaultAllowedHosts('127.0.0.1')));
  await app.register(fastifyCookie);
  // Validation is zod's (zod-route.ts); responses are plain JSON.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // fastify decodes bodies leniently (a byte that is not UTF-8 becomes U+FFFD, which would then be stored in a policy
  // name, say): decode strictly here, then parse as fastify would.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonBody(MAX_HTTP_BODY_BYTES, parseJson, 'body'));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) deps.logger.error({ err }, 'request failed');
    const error = status >= 500 ? 'Internal Server Error' : (STATUS_NAMES[status] ?? 'Bad Request');
    const message =
      status >= 500 ? 'internal error' : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the body is larger than the ${formatBytes(MAX_HTTP_BODY_BYTES)} allowed` : err.message;
    void reply.code(status).send({ error, message });
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Open Access central',
        description: 'Every branch live, history and figures; policies and commands to branches.',
        version: '1',
      },
      tags: [
        { name: 'sites', description: 'Branches: state, events, occupancy, policy, commands' },
        { name: 'figures', description: 'Visits, tailgates, refusals, grants and the monthly report (JSON or CSV)' },
        { name: 'members', description: 'The member list: versions, which branches are behind, changes to one member' },
        { name: 'service', description: 'Health and ingest counters' },
        { name: 'auth', description: 'Signing in and out, and who is asking' },
        { name: 'accounts', description: 'Central accounts and API tokens (administrators)' },
        { name: 'audit', description: 'Who did what, to which branch, when' },
        { name: 'incidents', description: 'Alarms as incidents: list, acknowledge, resolve; alert rules and channel status' },
      ],
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'oag_central_session' },
          token: { type: 'http', scheme: 'bearer', description: 'An API token (`oag_…`), scoped to a role' },
        },
      },
    },
  });
  await app.register(fastifyStatic, { root: publicDir, prefix: '/static/', index: false, maxAge: 0 });
  await app.register(fastifyStatic, { root: uplotDir, prefix: '/vendor/uplot/', decorateReply: false, index: false });

  const page = (file: string) => async (_req: unknown, reply: { sendFile(f: string): unknown }) => reply.sendFile(file);
  app.get('/', { schema: { hide: true } }, page('index.html'));
  app.get('/sites/:site', { schema: { hide: true } }, page('site.html'));
  app.get('/figures', { schema: { hide: true } }, page('figures.html'));
  app.get('/report', { schema: { hide: true } }, page('report.html'));
  app.get('/audit', { schema: { hide: true } }, page('audit.html'));
  app.get('/login', { schema: { hide: true } }, page('login.html'));
  app.get('/incidents/:id', { schema: { hide: true } }, page('incident.html'));
  app.get('/alerts/rules', { schema: { hide: true } }, page('rules.html'));
  await app.register(ackRoutes({ alerts: deps.alerts, audit: deps.auth.audit, clock: deps.clock, timezone: deps.timezone }));

  app.get('/api/health', { schema: docs({ summary: 'Liveness: central answers (nothing more; the MQTT link is in /api/stats)', tags: ['service'], auth: false }) }, async () => ({
    ok: true,
  }));
  // For a monitor outside central: when the store refuses writes, central's own incident may not be recordable
  // either (the incidents live in the same database), so the outage must be seen from outside.
  app.get(
    '/api/health/store',
    { schema: docs({ summary: "Whether central's history takes writes: 503 naming the fault while it does not (for an outside monitor)", tags: ['service'], auth: false }) },
    async (_request, reply) => {
      const problem = deps.ingest.storeProblem();
      if (problem === null) return { ok: true };
      // Why (an address, a path) is for central's log, not for anyone who asks.
      return reply.code(503).send({ ok: false, problem: `central's ${deps.store.engine} history refuses writes since ${problem.since}: see central's log` });
    },
  );
  await app.register(signInRoutes({ auth: deps.auth, oidcLabel: deps.oidc?.label }), { prefix: '/api' });
  // Single sign-on's own routes (central/auth/oidc.ts), public by name like the sign-in above.
  if (deps.oidc !== undefined) await app.register(deps.oidc.routes);

  // The API: administrators only, unless a route names a lower role.
  await app.register(async (api) => {
    protectScope(api, inventory, deps.auth.guard('administrator'));
    await api.register(sessionRoutes({ auth: deps.auth }), { prefix: '/api' });
    await api.register(apiRoutes(deps), { prefix: '/api' });
    await api.register(phoneTokenRoutes(deps), { prefix: '/api' });
    await api.register(liveRoutes(deps), { prefix: '/api' });
    await api.register(timeRoutes(deps), { prefix: '/api' });
    await api.register(auditRoutes(deps), { prefix: '/api' });
    await api.register(adminRoutes(deps), { prefix: '/api' });
    await api.register(incidentRoutes({ alerts: deps.alerts, audit: deps.auth.audit, clock: deps.clock, timezone: deps.timezone }), { prefix: '/api' });
    api.get('/api/openapi.json', { schema: { hide: true }, config: { role: 'viewer' } }, async () => app.swagger());
  });
  // The API's documentation: anyone signed in.
  await app.register(async (apiDocs) => {
    protectScope(apiDocs, inventory, deps.auth.guard('viewer'));
    await apiDocs.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
  });
  return { app: root, inventory };
}
