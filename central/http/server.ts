// Central's HTTP side: the dashboard pages (static HTML + small ES modules), the JSON API under /api with its
// OpenAPI document, and live updates over server-sent events. One plugin per concern, as fastify likes it.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { formatBytes, MAX_HTTP_BODY_BYTES, strictJsonBody } from '../../policies/input-text.js';
import type { CentralBus } from '../bus.js';
import type { Ingest } from '../ingest.js';
import type { CentralLink } from '../link.js';
import type { CentralMembers } from '../members/service.js';
import type { CentralStore } from '../store.js';
import { apiRoutes } from './api.js';
import { liveRoutes } from './live.js';

export interface HttpDeps {
  store: CentralStore;
  ingest: Ingest;
  link: Pick<CentralLink, 'connected' | 'publishPolicy' | 'sendCommand'>;
  bus: CentralBus;
  clock: { now(): Date };
  logger: Logger;
  timezone: string;
  /** The member list; null or absent without a deployment key. */
  members?: CentralMembers | null | undefined;
}

const here = dirname(fileURLToPath(import.meta.url));
const publicDir = join(here, '..', 'public');
const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    // The largest body any route takes is a policy; fastify's default would be 1 MiB.
    bodyLimit: MAX_HTTP_BODY_BYTES,
    // A dashboard left open holds a live-update stream for ever: a stop must not wait for the browser.
    forceCloseConnections: true,
  });
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
    const error = status >= 500 ? 'Internal Server Error' : status === 413 ? 'Payload Too Large' : 'Bad Request';
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
        { name: 'figures', description: 'Visits and refusals for reports (JSON or CSV)' },
        { name: 'members', description: 'The member list: versions, which branches are behind, changes to one member' },
        { name: 'service', description: 'Health and ingest counters' },
      ],
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'oag_central_session' },
          token: { type: 'http', scheme: 'bearer', description: 'An API token (`oag_…`), scoped to a role' },
        },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });

  await app.register(fastifyStatic, { root: publicDir, prefix: '/static/', index: false, maxAge: 0 });
  await app.register(fastifyStatic, { root: uplotDir, prefix: '/vendor/uplot/', decorateReply: false, index: false });

  const page = (file: string) => async (_req: unknown, reply: { sendFile(f: string): unknown }) => reply.sendFile(file);
  app.get('/', { schema: { hide: true } }, page('index.html'));
  app.get('/sites/:site', { schema: { hide: true } }, page('site.html'));
  app.get('/figures', { schema: { hide: true } }, page('figures.html'));

  await app.register(apiRoutes(deps), { prefix: '/api' });
  await app.register(liveRoutes(deps), { prefix: '/api' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app as unknown as FastifyInstance;
}
