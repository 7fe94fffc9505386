// Nobody reaches the branch's local API without being somebody: every route registered (fastify's onRoute, through
// kit/http/protect.ts) is walked without credentials and answers 401, the few public ones are exactly those listed
// by name, a staff token gets 403 on manager routes, and the state needs a session or an API token. Each attack a
// neighbour on the branch network could try — no credentials, a forged cookie, a malformed, unknown, expired or
// revoked token, a cross-site request — is a 4xx that names the problem, is logged with its reason, and changes nothing.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RouteInventory } from '../../kit/http/protect.js';
import { buildLocalApi, LOCAL_API_PUBLIC_ROUTES, routeInventory } from '../../gateway/http/server.js';
import { collectingLogger, startConsole, tokenSecret } from '../helpers/console.js';
import type { ConsoleHarness, SignedIn } from '../helpers/console.js';
import { walkProtectedRoutes } from '../helpers/route-walk.js';

let c: ConsoleHarness | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-03-04T12:00:00Z'));
});
afterEach(async () => {
  await c?.stop();
  c = undefined;
  vi.useRealTimers();
});

const staffEvents = (h: ConsoleHarness): Array<{ action: string; actor: string }> =>
  h.harness.events.flatMap((e) => (e.type === 'staff' ? [{ action: e.action, actor: e.actor }] : []));

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** The same routes, with a few more skipped (a live stream would hold the walk open). */
function skipping(inventory: RouteInventory, urls: string[]): RouteInventory {
  const skipped = inventory.list().filter((r) => urls.includes(r.url));
  const copy = new RouteInventory([...inventory.publicRoutes, ...skipped.map((r) => ({ method: r.method, url: r.url, why: 'skipped by the test' }))]);
  for (const r of inventory.list()) {
    copy.record(r.method, r.url);
    if (r.protected) copy.markProtected(r.method, r.url);
  }
  return copy;
}

describe('the route walk', () => {
  it('answers 401 on every route not listed as public, with no credentials, and changes nothing', async () => {
    c = await startConsole({ members: { '04A1B2C3D4': {} } });
    await c.addUser('mia', 'manager');
    const inventory = routeInventory(c.app);
    const results = await walkProtectedRoutes(c.app, inventory, { params: { username: 'mia' } });
    // Every console route, the state, the health detail, the API document: all of them walked.
    expect(results.length).toBeGreaterThan(40);
    for (const r of ['GET /api/state', 'GET /api/health/detail', 'GET /api/openapi.json', 'GET /api/docs', 'PUT /api/console/policy', 'DELETE /api/console/users/:username']) {
      expect(results.map((x) => `${x.method} ${x.url}`)).toContain(r);
    }
    expect(results.filter((r) => r.status !== 401)).toEqual([]);
    expect(c.harness.running.gateway.mode).toBe('open-access');
    expect(c.tokens.list()).toEqual([]);
    expect(staffEvents(c)).toEqual([]);
  });

  it('has exactly the public routes it lists, each answering without credentials', async () => {
    c = await startConsole({ members: { '04A1B2C3D4': {} } });
    const inventory = routeInventory(c.app);
    const open = inventory
      .list()
      .filter((r) => !r.protected && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual(LOCAL_API_PUBLIC_ROUTES.map((r) => `${r.method} ${r.url}`).sort());
    expect((await c.app.inject({ method: 'GET', url: '/api/health' })).json()).toEqual({ ok: true });
    expect((await c.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(302);
    expect((await c.app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(200);
    expect((await c.app.inject({ method: 'GET', url: '/console/vendor/htm/htm.mjs' })).statusCode).toBe(200);
    expect((await c.app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { uid: '04A1B2C3D4' } })).json()).toMatchObject({ result: 'granted' });
  });

  it('refuses to start with a route added outside the protected scope and not listed as public', async () => {
    c = await startConsole();
    const app = buildLocalApi({ gateway: c.harness.running.gateway, hardware: c.harness.running.hardware });
    app.get('/api/added-later', async () => ({ secret: true }));
    await expect(app.ready()).rejects.toThrow('routes without authentication and not listed as public: GET /api/added-later, HEAD /api/added-later');
  });

  it('answers 403 to a staff token on every manager route, and on the routes that are about a browser session', async () => {
    c = await startConsole();
    await c.addUser('mia', 'manager');
    await c.addUser('sam', 'staff');
    const { token } = c.addToken('staff');
    const inventory = skipping(routeInventory(c.app), ['/api/console/live']);
    const results = await walkProtectedRoutes(c.app, inventory, { params: { username: 'sam' }, headers: bearer(token) });
    const refused = results.filter((r) => r.status === 403).map((r) => `${r.method} ${r.url}`);
    expect(refused.sort()).toEqual(
      [
        'POST /api/console/policy/preview',
        'PUT /api/console/policy',
        'GET /api/console/users',
        'HEAD /api/console/users',
        'POST /api/console/users',
        'PATCH /api/console/users/:username',
        'DELETE /api/console/users/:username',
        'POST /api/console/logout',
        'GET /api/console/session',
        'HEAD /api/console/session',
        'POST /api/console/password',
      ].sort(),
    );
    // Let in, a staff token reads what staff read; the walk's empty bodies changed nothing.
    expect(results.find((r) => r.url === '/api/state' && r.method === 'GET')?.status).toBe(200);
    expect(results.filter((r) => r.status === 401)).toEqual([]);
    expect(c.harness.running.gateway.policies.source).toBe('file');
    expect((await c.call(undefined, 'GET', '/api/console/users', undefined, { headers: bearer(c.addToken('manager').token) })).json().users).toHaveLength(2);
  });
});

describe('the state', () => {
  it('needs a session or a token: 401 without, 200 with either', async () => {
    c = await startConsole();
    await c.addUser('sam', 'staff');
    const none = await c.app.inject({ method: 'GET', url: '/api/state' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: 'not signed in (or the session has ended): sign in again' });
    expect(none.body).not.toContain('town-central');
    const sam = await c.login('sam');
    expect((await c.call(sam, 'GET', '/api/state')).json()).toMatchObject({ site: 'town-central', occupancy: { inside: 0 } });
    const { token } = c.addToken('staff', { name: 'monitoring' });
    expect((await c.app.inject({ method: 'GET', url: '/api/state', headers: bearer(token) })).json()).toMatchObject({ site: 'town-central' });
    const detail = await c.app.inject({ method: 'GET', url: '/api/health/detail', headers: bearer(token) });
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({ ok: true });
    // The token was used: the list says when (to the minute).
    expect(c.tokens.list()[0]).toMatchObject({ name: 'monitoring', lastUsedAt: '2026-03-04T12:00:00.000Z' });
  });
});

describe('API tokens', () => {
  it('refuses a malformed, unknown, tampered, expired or revoked token with a 401 that says which, and logs why', async () => {
    const log = collectingLogger();
    c = await startConsole({ logger: log.logger });
    const state = (headers: Record<string, string>) => c!.app.inject({ method: 'GET', url: '/api/state', headers });

    const malformed = await state({ authorization: 'Bearer letmein' });
    expect(malformed.statusCode).toBe(401);
    expect(malformed.json().error).toBe('Authorization: not an API token of this gateway (send "Bearer oag_…")');
    expect((await state({ authorization: 'Basic bWlhOnB3' })).statusCode).toBe(401);

    const unknown = await state(bearer(`oag_abcdefabcdef_${'A'.repeat(43)}`));
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error).toBe('unknown API token');

    const short = c.addToken('staff', { name: 'short-lived', expiresInDays: 1 });
    const tampered = `${short.token.slice(0, -1)}${short.token.endsWith('A') ? 'B' : 'A'}`;
    expect((await state(bearer(tampered))).json().error).toBe('unknown API token');
    expect((await state(bearer(short.token))).statusCode).toBe(200);
    vi.advanceTimersByTime(86_400_000);
    const expired = await state(bearer(short.token));
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error).toBe(`API token "short-lived" (${short.id}) expired at 2026-03-05T12:00:00.000Z: make a new one with oag users token add`);

    const revokedToken = c.addToken('manager', { name: 'old-script' });
    c.tokens.revoke(revokedToken.id);
    const revoked = await state(bearer(revokedToken.token));
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error).toBe(`API token "old-script" (${revokedToken.id}) was revoked at 2026-03-05T12:00:00.000Z`);

    const reasons = log.lines.filter((l) => l.msg === 'local API request refused').map((l) => l.reason);
    expect(reasons).toEqual(['token malformed', 'token malformed', 'token unknown', 'token unknown', 'token expired', 'token revoked']);
    const logged = JSON.stringify(log.lines);
    expect(logged).not.toContain(tokenSecret(short.token));
    expect(logged).not.toContain(tokenSecret(revokedToken.token));
  });

  it('runs the building without a CSRF header (no cookie to forge), with the token as the actor, within its role', async () => {
    c = await startConsole();
    const { token } = c.addToken('staff', { name: 'door-display' });
    const on = await c.app.inject({ method: 'POST', url: '/api/console/commands', headers: bearer(token), payload: { command: 'lockdown-on' } });
    expect(on.statusCode).toBe(200);
    expect(c.harness.running.gateway.mode).toBe('lockdown');
    expect(staffEvents(c)).toEqual([{ action: 'lockdown-on', actor: 'token:door-display' }]);
    const save = await c.app.inject({ method: 'PUT', url: '/api/console/policy', headers: bearer(token), payload: { baseRevision: '0123456789abcdef', policy: { site: 'town-central', schedule: {} } } });
    expect(save.statusCode).toBe(403);
    expect(save.json().error).toBe('only a manager can do this');
    const session = await c.app.inject({ method: 'GET', url: '/api/console/session', headers: bearer(token) });
    expect(session.statusCode).toBe(403);
    expect(session.json().error).toMatch(/an API token cannot do it/);
  });

  it('keeps only a hash of the token in the store', async () => {
    c = await startConsole();
    const { token } = c.addToken('manager');
    const secret = tokenSecret(token);
    const files = ['', '-wal'].map((suffix) => `${c!.harness.running.store.path}${suffix}`);
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        continue;
      }
      expect(bytes.toString('latin1')).not.toContain(secret);
    }
  });
});

describe('sessions', () => {
  it('answers 401 to a forged or garbled session cookie, logging why, and changes nothing', async () => {
    const log = collectingLogger();
    c = await startConsole({ logger: log.logger });
    await c.addUser('mia', 'manager');
    const forged: SignedIn = { cookie: `oag_session=${'x'.repeat(43)}`, csrf: 'y'.repeat(43), username: 'mia' };
    for (const who of [forged, { ...forged, cookie: '__Host-oag_session=;;not a token' }, { ...forged, cookie: `oag_session=${'z'.repeat(4000)}` }]) {
      const read = await c.call(who, 'GET', '/api/state');
      expect(read.statusCode).toBe(401);
      const change = await c.call(who, 'POST', '/api/console/commands', { command: 'lockdown-on' });
      expect(change.statusCode).toBe(401);
      expect(change.json().error).toBe('not signed in (or the session has ended): sign in again');
    }
    expect(c.harness.running.gateway.mode).toBe('open-access');
    expect(staffEvents(c)).toEqual([]);
    expect(log.lines.filter((l) => l.reason === 'session cookie unknown or ended').length).toBeGreaterThanOrEqual(4);
  });

  it('refuses a cross-site sign-in and a cross-site change, with the reason in the log', async () => {
    const log = collectingLogger();
    c = await startConsole({ logger: log.logger });
    await c.addUser('mia', 'manager');
    const login = await c.app.inject({
      method: 'POST',
      url: '/api/console/login',
      headers: { origin: 'http://evil.example', host: 'gateway.local' },
      payload: { username: 'mia', password: 'correct horse battery' },
    });
    expect(login.statusCode).toBe(403);
    expect(login.json().error).toBe('cross-site request refused');
    expect(login.cookies).toEqual([]);
    const mia = await c.login('mia');
    const change = await c.call(mia, 'POST', '/api/console/commands', { command: 'lockdown-on' }, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(change.statusCode).toBe(403);
    expect(c.harness.running.gateway.mode).toBe('open-access');
    expect(staffEvents(c)).toEqual([{ action: 'login', actor: 'mia' }]);
    expect(log.lines.filter((l) => l.reason === 'cross-site request')).toHaveLength(2);
  });
});
