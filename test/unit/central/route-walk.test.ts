// Every route central registers, called as an attacker on the same network would: without credentials, with a
// forged session cookie, and with a viewer's token on everything that changes something. Only the routes listed
// public by name answer; nothing is published, commanded or stored.
import { describe, expect, it } from 'vitest';
import { PUBLIC_ROUTES } from '../../../central/http/server.js';
import { tokenHeaders } from '../../helpers/central-auth.js';
import { walkProtectedRoutes } from '../../helpers/route-walk.js';
import { stateFixture } from '../contract/fixtures.js';
import { centralAppPerTest, type CentralApp } from './helpers.js';

const centralApp = centralAppPerTest();

async function withBranch(): Promise<CentralApp> {
  const current = await centralApp();
  await current.publish('town', 'availability', { state: 'online', at: '2025-06-02T08:00:00.000Z' }, true);
  await current.publish('town', 'state', stateFixture());
  return current;
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

describe('central route walk', () => {
  it('has every route either protected or public by name, and the public ones are only the listed few', async () => {
    const { app, inventory } = await withBranch();
    await app.ready();
    expect(inventory.unaccounted()).toEqual([]);
    const open = inventory.list().filter((r) => !r.protected).map((r) => `${r.method} ${r.url}`);
    // Nothing but the list (and the HEAD twins of its GETs) is open; single sign-on's routes are not registered here.
    const listed = PUBLIC_ROUTES.flatMap((p) => (p.method === 'GET' ? [`GET ${p.url}`, `HEAD ${p.url}`] : [`${p.method} ${p.url}`]));
    expect(open.filter((r) => !listed.includes(r))).toEqual([]);
    expect(open).toEqual(expect.arrayContaining(['GET /api/health', 'POST /api/auth/login', 'GET /static/*', 'GET /login', 'GET /ack/:token', 'POST /ack/:token']));
    // The API is all in: what the issue found open is protected now.
    const guarded = inventory.list().filter((r) => r.protected).map((r) => `${r.method} ${r.url}`);
    expect(guarded).toEqual(
      expect.arrayContaining([
        'POST /api/sites/:site/commands',
        'PUT /api/sites/:site/policy',
        'PATCH /api/members',
        'GET /api/sites',
        'GET /api/live',
        'GET /api/stats',
        'GET /api/openapi.json',
        'GET /api/docs',
        'GET /api/audit',
        'POST /api/users',
        'POST /api/tokens',
        'GET /api/incidents',
        'GET /api/incidents/:id',
        'POST /api/incidents/:id/acknowledge',
        'POST /api/incidents/:id/resolve',
        'GET /api/alerts/rules',
        'PUT /api/alerts/rules',
        'GET /api/alerts/status',
        'GET /api/figures/incidents',
        'GET /api/figures/report',
      ]),
    );
  });

  it('answers 401 on every protected route without credentials or with a forged cookie, and changes nothing', async () => {
    const { app, inventory, link, store } = await withBranch();
    await app.ready();
    const attempts: Array<Record<string, string>> = [{}, { cookie: `oag_central_session=${'A'.repeat(43)}` }, { cookie: 'oag_central_session=not-even-the-shape' }];
    for (const headers of attempts) {
      const results = await walkProtectedRoutes(app, inventory, { params: { site: 'town', username: 'alice', id: 'abcdefabcdef' }, headers });
      expect(results.length).toBeGreaterThan(20);
      expect(results.filter((r) => r.status !== 401)).toEqual([]);
    }
    expect(link.commands).toEqual([]);
    expect(link.policies).toEqual([]);
    expect(store.policy('town')).toBeNull();
  });

  it('with single sign-on configured, its two routes are public by name and the sign-in page offers its button', async () => {
    let current = await centralApp(undefined, {
      oidc: { issuer: 'https://login.example.org', clientId: 'central', clientSecret: 'not-used-here', publicUrl: 'https://central.example.org', label: 'Sign in with the council account' },
    });
    const { app, inventory } = current;
    await app.ready();
    expect(inventory.unaccounted()).toEqual([]);
    const open = inventory.list().filter((r) => !r.protected).map((r) => `${r.method} ${r.url}`);
    expect(open).toEqual(expect.arrayContaining(['GET /auth/oidc/start', 'GET /auth/oidc/callback']));
    expect((await app.inject('/api/auth/options')).json()).toEqual({ oidc: { label: 'Sign in with the council account', url: '/auth/oidc/start' } });
    // Without it there is no button.
    await app.close();
    current.store.close();
    current = await centralApp();
    expect((await current.app.inject('/api/auth/options')).json()).toEqual({ oidc: null });
  });

  it("answers 403 to a viewer's token on every route that changes something, and changes nothing", async () => {
    const { app, inventory, link, auth, store } = await withBranch();
    await app.ready();
    const viewer = await tokenHeaders(auth, 'viewer');
    // The changing routes only: a viewer may read, and the live stream it may read never ends.
    const changingOnly = { list: () => inventory.list().filter((r) => CHANGES.has(r.method)), isPublic: (m: string, u: string) => inventory.isPublic(m, u) } as typeof inventory;
    const changing = await walkProtectedRoutes(app, changingOnly, { params: { site: 'town', username: 'alice', id: 'abcdefabcdef' }, headers: viewer });
    expect(changing.length).toBeGreaterThanOrEqual(8);
    expect(changing.filter((r) => r.status !== 403)).toEqual([]);
    // Reading is what a viewer is for; the audit, accounts and tokens are not.
    const reads: Record<string, number> = {};
    for (const url of ['/api/sites', '/api/stats', '/api/docs', '/api/audit', '/api/users', '/api/tokens']) reads[url] = (await app.inject({ url, headers: viewer })).statusCode;
    expect(reads).toEqual({ '/api/sites': 200, '/api/stats': 200, '/api/docs': 200, '/api/audit': 403, '/api/users': 403, '/api/tokens': 403 });
    expect(link.commands).toEqual([]);
    expect(link.policies).toEqual([]);
    expect(store.policy('town')).toBeNull();
    expect(await auth.accounts.list()).toEqual([]);
    expect((await auth.tokens.list()).map((t) => t.role).sort()).toEqual(['administrator', 'viewer']);
  });
});
