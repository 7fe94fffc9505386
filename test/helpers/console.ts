// The staff console on a real gateway (simulated hardware, a real SQLite file), driven through fastify's inject:
// accounts made the way `oag users add` makes them, API tokens the way `oag users token add` makes them, sign-in by
// the API itself, and requests with the session's cookie and CSRF token, or a token.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createCardHasher } from '../../gateway/core/cards.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import type { ConsoleOptions } from '../../gateway/console/index.js';
import { ConsoleUsers } from '../../gateway/console/users.js';
import type { Role } from '../../gateway/console/users.js';
import { ApiTokens } from '../../gateway/console/tokens.js';
import type { TrustProxySetting } from '../../gateway/config.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import type { Member } from '../../policies/types.js';
import { TEST_KEY_HEX, removeDir, startHarness } from './gateway-harness.js';
import type { Harness } from './gateway-harness.js';

export const PASSWORD = 'correct horse battery';

export const OPEN_ALL_DAY = {
  version: 1,
  site: 'town-central',
  name: 'Town Central Library',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
};

export interface SignedIn {
  cookie: string;
  csrf: string;
  username: string;
}

export interface ConsoleHarness {
  harness: Harness;
  app: FastifyInstance;
  addUser(username: string, role: Role, password?: string): Promise<void>;
  /** A new API token (clear, as shown once) and its id. */
  addToken(role: Role, options?: { name?: string; expiresInDays?: number }): { token: string; id: string };
  tokens: ApiTokens;
  login(username: string, password?: string): Promise<SignedIn>;
  call(who: SignedIn | undefined, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, options?: { csrf?: boolean; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  stop(): Promise<void>;
}

export async function startConsole(
  options: {
    policy?: Record<string, unknown>;
    members?: Record<string, Partial<Member>>;
    console?: ConsoleOptions;
    trustProxy?: TrustProxySetting;
    /** Where the API logs its refusals (silent without). */
    logger?: Logger;
  } = {},
): Promise<ConsoleHarness> {
  const harness = await startHarness({ policy: options.policy ?? OPEN_ALL_DAY, members: options.members ?? {} });
  const store = harness.running.store;
  const app = buildLocalApi({
    gateway: harness.running.gateway,
    hardware: harness.running.hardware,
    console: { store, hashCard: createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex')), clock: { now: () => new Date() }, options: options.console },
    trustProxy: options.trustProxy,
    logger: options.logger,
  });
  await app.ready();
  const db = openConsoleDb(store);
  const users = new ConsoleUsers(db, { now: () => new Date() });
  const tokens = new ApiTokens(db, { now: () => new Date() });

  const call: ConsoleHarness['call'] = (who, method, url, body, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (who !== undefined) headers.cookie = who.cookie;
    if (who !== undefined && opts.csrf !== false && method !== 'GET') headers['x-csrf-token'] = who.csrf;
    return app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
  };

  return {
    harness,
    app,
    async addUser(username, role, password = PASSWORD) {
      await users.add(username, role, password);
    },
    addToken(role, opts = {}) {
      const made = tokens.add(opts.name ?? `${role}-script`, role, opts.expiresInDays ?? 30);
      return { token: made.token, id: made.info.id };
    },
    tokens,
    async login(username, password = PASSWORD) {
      const response = await app.inject({ method: 'POST', url: '/api/console/login', payload: { username, password } });
      if (response.statusCode !== 200) throw new Error(`login ${username}: ${response.statusCode} ${response.body}`);
      const cookie = response.cookies.find((c) => c.name.endsWith('oag_session'))!;
      return { cookie: `${cookie.name}=${cookie.value}`, csrf: response.json<{ csrfToken: string }>().csrfToken, username };
    },
    call,
    async stop() {
      await app.close();
      db.close();
      await harness.stop();
      removeDir(harness.dir);
    },
  };
}

/** A logger whose lines (parsed) the test can read: what the API says about a refusal. */
export function collectingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** The secret part of an API token `oag_<id>_<secret>` (the secret is base64url, so it may itself hold `_`). */
export function tokenSecret(token: string): string {
  const match = /^oag_[a-z0-9]{12}_(.+)$/.exec(token);
  if (match === null) throw new Error('not an API token');
  return match[1]!;
}
