// Central's sign-in limit with several instances on one PostgreSQL: a load balancer spreads a guesser's attempts over
// the instances, and the limit still counts them all (central/auth/pg-login-limit.ts). Two central sign-in endpoints,
// each with its own pool on the same database, as two instances behind a proxy.
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PgAuthStore } from '../../central/auth/pg-auth-store.js';
import { CentralAuth } from '../../central/auth/service.js';
import { parseCentralConfig } from '../../central/config.js';
import { signInRoutes } from '../../central/http/auth-routes.js';
import { TEST_SCRYPT } from '../helpers/central-auth.js';
import { postgresPerFile } from '../helpers/postgres-per-file.js';

const logger = pino({ level: 'silent' });
const server = postgresPerFile();

async function instance(url: string, auth: { loginFailuresPerAccount: number; loginFailuresPerAddress: number }): Promise<{ app: FastifyInstance; auth: CentralAuth; store: PgAuthStore }> {
  const store = await PgAuthStore.open(url, { logger, max: 2 });
  const config = parseCentralConfig({ auth });
  const centralAuth = new CentralAuth({ store, clock: { now: () => new Date() }, config: config.auth, cookieSecure: 'auto', logger, scrypt: TEST_SCRYPT });
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(signInRoutes({ auth: centralAuth }));
  app.addHook('onClose', async () => store.close());
  return { app, auth: centralAuth, store };
}

const login = (app: FastifyInstance, username: string, password: string, ip = '203.0.113.7') =>
  app.inject({ method: 'POST', url: '/auth/login', remoteAddress: ip, payload: { username, password } });

describe('the sign-in limit on PostgreSQL', () => {
  it('counts wrong passwords made through every instance: the fourth of three allowed is refused, wherever it lands', async () => {
    const url = await server.newDatabase();
    const a = await instance(url, { loginFailuresPerAccount: 3, loginFailuresPerAddress: 30 });
    const b = await instance(url, { loginFailuresPerAccount: 3, loginFailuresPerAddress: 30 });
    try {
      await a.auth.accounts.add('alice', 'operator', 'the right password');
      expect((await login(a.app, 'alice', 'wrong 1')).statusCode).toBe(401);
      expect((await login(b.app, 'alice', 'wrong 2')).statusCode).toBe(401);
      expect((await login(a.app, 'alice', 'wrong 3')).statusCode).toBe(401);
      // Each instance alone has seen at most two: kept in memory, b would try the password.
      const refused = await login(b.app, 'alice', 'the right password');
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ message: expect.stringMatching(/^too many wrong passwords for this account: try again in \d+ minutes?$/) });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // No account name is kept in clear.
      const keys = await a.store.pool.query<{ key: string }>('SELECT DISTINCT key FROM central_login_failures');
      expect(keys.rows.map((r) => r.key).join(' ')).not.toContain('alice');
    } finally {
      await Promise.all([a.app.close(), b.app.close()]);
    }
  });

  it("forgets an account's failures on every instance once it signs in, and keeps the address's", async () => {
    const url = await server.newDatabase();
    const a = await instance(url, { loginFailuresPerAccount: 3, loginFailuresPerAddress: 4 });
    const b = await instance(url, { loginFailuresPerAccount: 3, loginFailuresPerAddress: 4 });
    try {
      await a.auth.accounts.add('alice', 'operator', 'the right password');
      expect((await login(a.app, 'alice', 'wrong 1')).statusCode).toBe(401);
      expect((await login(a.app, 'alice', 'wrong 2')).statusCode).toBe(401);
      expect((await login(b.app, 'alice', 'the right password')).statusCode).toBe(200);
      // Two more wrong for the account are allowed again (its count started over)…
      expect((await login(a.app, 'alice', 'wrong 3')).statusCode).toBe(401);
      expect((await login(b.app, 'alice', 'wrong 4')).statusCode).toBe(401);
      // …but the address has now failed four times, through both instances: refused for every account from it.
      const refused = await login(a.app, 'bob', 'anything');
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ message: expect.stringMatching(/^too many wrong passwords from this address/) });
      expect((await login(b.app, 'bob', 'anything', '198.51.100.2')).statusCode).toBe(401);
    } finally {
      await Promise.all([a.app.close(), b.app.close()]);
    }
  });
});
