// The staff console: a fastify plugin with the JSON API under /api/console and the page under /console/.
// Registered by the local API (gateway/http/server.ts) when the composition root hands it the store and hasher.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Gateway } from '../core/controller.js';
import type { Store } from '../store/index.js';
import type { ConsoleClock, ConsoleContext } from './context.js';
import { makeGuard } from './context.js';
import { openConsoleDb } from './db.js';
import { errorHandler } from './errors.js';
import type { ScryptParams } from '../../kit/auth/passwords.js';
import { buildingRoutes } from './routes/building.js';
import { logRoutes } from './routes/log.js';
import { memberRoutes } from './routes/members.js';
import { scheduleRoutes } from './routes/schedule.js';
import { DEFAULT_LOGIN_LIMIT, sessionRoutes } from './routes/session.js';
import type { LoginLimit } from './routes/session.js';
import { statusRoutes } from './routes/status.js';
import { userRoutes } from './routes/users.js';
import { ConsoleSessions, DEFAULT_SESSION_LIMITS } from './sessions.js';
import type { Session, SessionLimits } from './sessions.js';
import { ConsoleUsers } from './users.js';
import type { Role } from './users.js';

export interface ConsoleOptions {
  /** `auto`: the cookie is Secure when the request came over https; `always`: behind a TLS proxy, say. */
  cookieSecure?: 'auto' | 'always';
  sessions?: Partial<SessionLimits>;
  loginLimit?: LoginLimit;
  /** Tests may lower the hashing cost; the default is the production setting. */
  scrypt?: ScryptParams;
}

export interface ConsoleDeps {
  gateway: Gateway;
  store: Store;
  hashCard: (normalisedId: string) => Buffer;
  clock: ConsoleClock;
  logger?: Logger | undefined;
  options?: ConsoleOptions | undefined;
}

export const CONSOLE_API_PREFIX = '/api/console';
export const CONSOLE_PAGE_PREFIX = '/console/';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The page's files: beside this module in the sources; from dist/, the sources' copy (the Pi keeps both). */
function findPublicDir(): string {
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'gateway', 'console', 'public')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

/** The page's one inline script is its import map; the CSP allows exactly that script by its hash. */
function contentSecurityPolicy(publicDir: string): string {
  const html = readFileSync(join(publicDir, 'index.html'), 'utf8');
  const hashes = [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
  );
  return [
    "default-src 'none'",
    `script-src 'self' ${hashes.join(' ')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function consolePlugin(deps: ConsoleDeps): FastifyPluginAsync {
  return async (app) => {
    // No busy timeout: this connection lives in the gateway's process, and SQLite waits for a lock by sleeping the
    // door's thread. A held lock is a 503 to the browser (console/errors.ts), not a stalled door.
    const db = openConsoleDb(deps.store, { busyTimeoutMs: 0 });
    app.addHook('onClose', async () => db.close());
    const users = new ConsoleUsers(db, deps.clock, deps.options?.scrypt);
    const sessions = new ConsoleSessions(db, deps.clock, { ...DEFAULT_SESSION_LIMITS, ...deps.options?.sessions });
    const attached = new WeakMap<FastifyRequest, Session>();
    const ctx: ConsoleContext = {
      gateway: deps.gateway,
      store: deps.store,
      hashCard: deps.hashCard,
      clock: deps.clock,
      logger: deps.logger,
      users,
      sessions,
      cookieSecure: deps.options?.cookieSecure ?? 'auto',
      session(request) {
        const session = attached.get(request);
        if (session === undefined) throw new Error('console route without a guard');
        return session;
      },
      guard: makeGuard(sessions, (request, session) => attached.set(request, session)),
      audit(action, actor) {
        deps.gateway.events.record('staff', { action, actor });
      },
    };

    const publicDir = findPublicDir();
    const csp = contentSecurityPolicy(publicDir);
    app.setErrorHandler(errorHandler(deps.logger));
    app.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      reply.header('content-security-policy', csp);
      if (request.url.startsWith(CONSOLE_API_PREFIX)) reply.header('cache-control', 'no-store');
      return payload;
    });

    await app.register(fastifyCookie);
    await app.register(fastifyRateLimit, {
      global: false,
      errorResponseBuilder: (_request, context) => ({ statusCode: 429, error: `too many sign-in attempts: try again in ${context.after}` }),
    });

    await app.register(
      async (api) => {
        // Only JSON bodies: a cross-site HTML form can send text/plain without asking first; this API never reads it.
        api.removeContentTypeParser('text/plain');
        const loginLimit = deps.options?.loginLimit ?? DEFAULT_LOGIN_LIMIT;
        await api.register(sessionRoutes(ctx, loginLimit));
        await api.register(statusRoutes(ctx));
        await api.register(buildingRoutes(ctx));
        await api.register(scheduleRoutes(ctx));
        await api.register(logRoutes(ctx));
        await api.register(memberRoutes(ctx));
        await api.register(userRoutes(ctx));
      },
      { prefix: CONSOLE_API_PREFIX },
    );

    await app.register(fastifyStatic, { root: publicDir, prefix: CONSOLE_PAGE_PREFIX, decorateReply: false, maxAge: 0, redirect: true });
    // preact, its hooks and htm straight from node_modules: no build step, no CDN (the branch may have no internet).
    for (const [prefix, entry] of [['/console/vendor/preact/', 'preact'], ['/console/vendor/preact-hooks/', 'preact/hooks'], ['/console/vendor/htm/', 'htm']] as const) {
      await app.register(fastifyStatic, { root: dirname(require.resolve(entry)), prefix, decorateReply: false, index: false, maxAge: 0 });
    }
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect(CONSOLE_PAGE_PREFIX));
  };
}

/** Adds a console account straight to a store (the demo's manager, `oag users add`, tests). */
export async function addConsoleUser(store: Pick<Store, 'path'>, username: string, role: Role, password: string, clock: ConsoleClock = { now: () => new Date() }): Promise<void> {
  const db = openConsoleDb(store);
  try {
    await new ConsoleUsers(db, clock).add(username, role, password);
  } finally {
    db.close();
  }
}
