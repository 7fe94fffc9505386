// The staff console: its JSON API under /api/console and its page under /console/, as two parts the local API
// (gateway/http/server.ts) registers: the public one (signing in, the page and its files) outside its protected
// scope, and the rest inside it, behind `authenticate`. Opened when the composition root hands it the store and hasher.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import type { ScryptParams } from '../../kit/auth/passwords.js';
import type { Gateway } from '../core/controller.js';
import type { Store } from '../store/index.js';
import type { ConsoleClock, ConsoleContext, Identity } from './context.js';
import { makeAuthenticate } from './context.js';
import { openConsoleDb } from './db.js';
import { DEFAULT_LOGIN_LIMIT, LoginLimiter } from '../../kit/auth/login-limit.js';
import type { LoginLimit } from '../../kit/auth/login-limit.js';
export type { LoginLimit };
import { buildingRoutes } from './routes/building.js';
import { logRoutes } from './routes/log.js';
import { memberRoutes } from './routes/members.js';
import { scheduleRoutes } from './routes/schedule.js';
import { loginRoute, sessionRoutes } from './routes/session.js';
import { statusRoutes } from './routes/status.js';
import { userRoutes } from './routes/users.js';
import { ConsoleSessions, DEFAULT_SESSION_LIMITS } from './sessions.js';
import type { SessionLimits } from './sessions.js';
import { ApiTokens } from './tokens.js';
import type { ApiTokenInfo } from './tokens.js';
import { ConsoleUsers } from './users.js';
import type { Role } from './users.js';

/**
 * One password hash at a time, a few waiting: scrypt takes a core for tens of milliseconds, and a Pi has four, one
 * of which the door's event loop needs. Beyond that a sign-in is a 503 "busy" before anything is hashed.
 */
export const DEFAULT_HASH_SLOTS = { concurrent: 1, queued: 8 };

export interface ConsoleOptions {
  /** `auto`: the cookie is Secure when the request came over https; `always`: behind a TLS proxy, say. */
  cookieSecure?: 'auto' | 'always';
  sessions?: Partial<SessionLimits>;
  loginLimit?: LoginLimit;
  /** Tests may lower the hashing cost; the default is the production setting. */
  scrypt?: ScryptParams;
  /** The password-hashing slots (DEFAULT_HASH_SLOTS); a test fills its own to see the busy answer. */
  hashSlots?: HashSlots;
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

const VENDOR = [
  ['/console/vendor/preact/', 'preact'],
  ['/console/vendor/preact-hooks/', 'preact/hooks'],
  ['/console/vendor/htm/', 'htm'],
] as const;

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * The console's public files (and the door screen's, which live beside them): beside this module in the sources;
 * from dist/, the sources' copy (the Pi keeps both). `file` is one that must be there.
 */
export function findPublicDir(file = 'index.html'): string {
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'gateway', 'console', 'public')];
  return candidates.find((dir) => existsSync(join(dir, file))) ?? candidates[0]!;
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

/** The console, opened on the store: its context, its part of the local API's authentication, and its routes. */
export interface BranchConsole {
  ctx: ConsoleContext;
  /** The local API's protected scope's hook: a console session or an API token of this console. */
  authenticate: onRequestHookHandler;
  /** Signing in, the page and its files, and `/`: registered outside the protected scope, each listed as public. */
  publicRoutes: FastifyPluginAsync;
  /** Everything else under /api/console: registered inside the protected scope, staff by default. */
  protectedRoutes: FastifyPluginAsync;
  close(): void;
}

export function openConsole(deps: ConsoleDeps): BranchConsole {
  // No busy timeout: this connection lives in the gateway's process, and SQLite waits for a lock by sleeping the
  // door's thread. A held lock is a 503 to the browser (console/errors.ts), not a stalled door.
  const db = openConsoleDb(deps.store, { busyTimeoutMs: 0 });
  const users = new ConsoleUsers(db, deps.clock, deps.options?.scrypt, deps.options?.hashSlots ?? new HashSlots(DEFAULT_HASH_SLOTS));
  const sessions = new ConsoleSessions(db, deps.clock, { ...DEFAULT_SESSION_LIMITS, ...deps.options?.sessions });
  const tokens = new ApiTokens(db, deps.clock);
  const attached = new WeakMap<FastifyRequest, Identity>();
  const identity = (request: FastifyRequest): Identity => {
    const found = attached.get(request);
    if (found === undefined) throw new Error('a console route outside the protected scope');
    return found;
  };
  const ctx: ConsoleContext = {
    gateway: deps.gateway,
    store: deps.store,
    hashCard: deps.hashCard,
    clock: deps.clock,
    logger: deps.logger,
    users,
    sessions,
    tokens,
    loginLimiter: new LoginLimiter(deps.options?.loginLimit ?? DEFAULT_LOGIN_LIMIT, deps.clock),
    cookieSecure: deps.options?.cookieSecure ?? 'auto',
    identity,
    session(request) {
      const found = identity(request);
      if (found.kind !== 'session') throw new Error('a session route without sessionOnly');
      return found.session;
    },
    audit(action, actor) {
      deps.gateway.events.record('staff', { action, actor });
    },
  };
  const authenticate = makeAuthenticate({ sessions, tokens, logger: deps.logger }, (request, who) => attached.set(request, who));

  const publicDir = findPublicDir();
  const headers = securityHeaders(contentSecurityPolicy(publicDir));

  const publicRoutes: FastifyPluginAsync = async (app) => {
    app.addHook('onSend', headers);
    await app.register(loginRoute(ctx), { prefix: CONSOLE_API_PREFIX });
    await app.register(fastifyStatic, { root: publicDir, prefix: CONSOLE_PAGE_PREFIX, decorateReply: false, maxAge: 0, redirect: true });
    // preact, its hooks and htm straight from node_modules: no build step, no CDN (the branch may have no internet).
    for (const [prefix, entry] of VENDOR) {
      await app.register(fastifyStatic, { root: dirname(require.resolve(entry)), prefix, decorateReply: false, index: false, maxAge: 0 });
    }
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect(CONSOLE_PAGE_PREFIX));
  };

  const protectedRoutes: FastifyPluginAsync = async (app) => {
    app.addHook('onSend', headers);
    await app.register(
      async (api) => {
        await api.register(sessionRoutes(ctx));
        await api.register(statusRoutes(ctx));
        await api.register(buildingRoutes(ctx));
        await api.register(scheduleRoutes(ctx));
        await api.register(logRoutes(ctx));
        await api.register(memberRoutes(ctx));
        await api.register(userRoutes(ctx));
      },
      { prefix: CONSOLE_API_PREFIX },
    );
  };

  return { ctx, authenticate, publicRoutes, protectedRoutes, close: () => db.close() };
}

/** The page's and the API's headers: no framing, no sniffing, no referrer, the page's CSP; API answers not cached. */
function securityHeaders(csp: string) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', csp);
    if (request.url.startsWith(CONSOLE_API_PREFIX)) reply.header('cache-control', 'no-store');
    return payload;
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

/** Makes an API token straight in a store (`oag users token add`, scripts and tests); the clear token, shown once. */
export function addApiToken(
  store: Pick<Store, 'path'>,
  name: string,
  role: Role,
  expiresInDays: number,
  clock: ConsoleClock = { now: () => new Date() },
): { token: string; info: ApiTokenInfo } {
  const db = openConsoleDb(store);
  try {
    return new ApiTokens(db, clock).add(name, role, expiresInDays);
  } finally {
    db.close();
  }
}
