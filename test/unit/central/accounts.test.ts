// Central's accounts, API tokens and audit, as an administrator manages them: removing or demoting someone ends
// their sessions at once, a password or token central makes is shown once and stored only as a hash, and the audit
// reads back as JSON pages or CSV.
import { describe, expect, it } from 'vitest';
import { signIn, tokenHeaders } from '../../helpers/central-auth.js';
import { stateFixture } from '../contract/fixtures.js';
import { centralAppPerTest, type CentralApp } from './helpers.js';

const centralApp = centralAppPerTest();

async function setUp(): Promise<CentralApp & { root: Awaited<ReturnType<typeof signIn>> }> {
  const current = await centralApp();
  const root = await signIn(current.app, current.auth, 'root', 'administrator');
  return { ...current, root };
}

describe('central accounts', () => {
  it('adds an account with a password central makes, shown once and stored as a scrypt hash', async () => {
    const { app, auth, root, store } = await setUp();
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: root.headers, payload: { username: 'Alice', role: 'operator' } });
    expect(res.statusCode).toBe(201);
    const { user, password } = res.json();
    expect(user).toMatchObject({ username: 'alice', role: 'operator', source: 'local', lastLoginAt: null });
    expect(password).toMatch(/^[a-z2-9]{20}$/);
    const stored = JSON.stringify(store.db.prepare("SELECT * FROM central_users WHERE username = 'alice'").get());
    expect(stored).not.toContain(password);
    expect(stored).toMatch(/scrypt\$ln=/);
    expect((await signIn(app, auth, 'alice', 'operator', password)).csrfToken).toBeTruthy();
    expect((await app.inject({ url: '/api/users', headers: root.headers })).json().users.map((u: { username: string }) => u.username)).toEqual(['alice', 'root']);

    const again = await app.inject({ method: 'POST', url: '/api/users', headers: root.headers, payload: { username: 'alice', role: 'viewer', password: 'long enough password' } });
    expect(again.statusCode).toBe(409);
    const bad = await app.inject({ method: 'POST', url: '/api/users', headers: root.headers, payload: { username: 'a b', role: 'boss', password: 'short' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([
      expect.stringMatching(/^username: must be 2 to 58 letters/),
      expect.stringMatching(/^role: must be one of "viewer", "operator", "administrator"/),
      'password: must be at least 12 characters',
    ]);
  });

  it('ends the sessions of an account at once when it is demoted, its password reset, or it is removed', async () => {
    const { app, auth, root } = await setUp();
    const alice = await signIn(app, auth, 'alice', 'operator');
    const bob = await signIn(app, auth, 'bob', 'viewer');
    const carol = await signIn(app, auth, 'carol', 'viewer');
    const asks = async (who: { cookie: string }) => (await app.inject({ url: '/api/sites', headers: { cookie: who.cookie } })).statusCode;
    expect([await asks(alice), await asks(bob), await asks(carol)]).toEqual([200, 200, 200]);

    expect((await app.inject({ method: 'PATCH', url: '/api/users/alice', headers: root.headers, payload: { role: 'viewer' } })).json()).toMatchObject({ role: 'viewer' });
    expect(await asks(alice)).toBe(401);
    // Raised, the session stays, with the new role read at once.
    expect((await app.inject({ method: 'PATCH', url: '/api/users/bob', headers: root.headers, payload: { role: 'operator' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/auth/session', headers: { cookie: bob.cookie } })).json().role).toBe('operator');

    const reset = await app.inject({ method: 'POST', url: '/api/users/bob/password', headers: root.headers, payload: {} });
    expect(reset.json()).toMatchObject({ user: { username: 'bob' }, password: expect.stringMatching(/^[a-z2-9]{20}$/) });
    expect(await asks(bob)).toBe(401);

    expect((await app.inject({ method: 'DELETE', url: '/api/users/carol', headers: root.headers })).json()).toEqual({ removed: 'carol' });
    expect(await asks(carol)).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/api/users/carol', headers: root.headers })).statusCode).toBe(404);

    expect((await auth.audit.query({ limit: 20, actor: 'user:root' })).rows.map((r) => [r.action, r.detail])).toEqual([
      ['user-remove', 'user:carol'],
      ['user-password-reset', 'user:bob'],
      ['user-role', 'user:bob viewer → operator'],
      ['user-role', 'user:alice operator → viewer'],
      ['sign-in', expect.stringMatching(/^password, as administrator/)],
    ]);
  });

  it('keeps one administrator: the last cannot be demoted or removed', async () => {
    const { app, root } = await setUp();
    const demote = await app.inject({ method: 'PATCH', url: '/api/users/root', headers: root.headers, payload: { role: 'operator' } });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().message).toBe('role: root is the only administrator; make someone else an administrator first');
    expect((await app.inject({ method: 'DELETE', url: '/api/users/root', headers: root.headers })).statusCode).toBe(409);
    expect((await app.inject({ url: '/api/auth/session', headers: { cookie: root.cookie } })).json().role).toBe('administrator');
  });
});

describe('central API tokens', () => {
  it('makes a token with a role and a required expiry of at most a year, lists it without the secret, and revokes it', async () => {
    const { app, root, auth } = await setUp();
    const tooLong = await app.inject({ method: 'POST', url: '/api/tokens', headers: root.headers, payload: { name: 'forever', role: 'viewer', expiresDays: 3650 } });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().errors).toEqual(['expiresDays: must be at most 365 (a year)']);
    const noExpiry = await app.inject({ method: 'POST', url: '/api/tokens', headers: root.headers, payload: { name: 'forever', role: 'viewer' } });
    expect(noExpiry.json().errors).toEqual([expect.stringMatching(/^expiresDays: /)]);

    const made = await app.inject({ method: 'POST', url: '/api/tokens', headers: root.headers, payload: { name: 'door-monitor', role: 'operator', expiresDays: 90 } });
    expect(made.statusCode).toBe(201);
    const { token, info } = made.json();
    expect(token).toMatch(/^oag_[a-z0-9]{12}_[\w-]{43}$/);
    expect(info).toMatchObject({ name: 'door-monitor', role: 'operator', status: 'active', createdBy: 'user:root', expiresAt: '2025-08-31T09:30:00.000Z', lastUsedAt: null });
    const listed = (await app.inject({ url: '/api/tokens', headers: root.headers })).body;
    expect(listed).toContain('door-monitor');
    expect(listed).not.toContain(token.slice(17));
    // The same name twice while the first lives is a mistake.
    expect((await app.inject({ method: 'POST', url: '/api/tokens', headers: root.headers, payload: { name: 'door-monitor', role: 'viewer', expiresDays: 1 } })).statusCode).toBe(409);

    // A token needs no CSRF token: there is no cookie for another site to ride on.
    const bearer = { authorization: `Bearer ${token}` };
    expect((await app.inject({ url: '/api/auth/session', headers: bearer })).json()).toEqual({ username: 'door-monitor', role: 'operator', via: 'token' });
    expect((await auth.tokens.list()).find((t) => t.id === info.id)?.lastUsedAt).toBe('2025-06-02T09:30:00.000Z');
    expect((await app.inject({ method: 'DELETE', url: `/api/tokens/${info.id}`, headers: root.headers })).json()).toMatchObject({ status: 'revoked', revokedBy: 'user:root' });
    expect((await app.inject({ url: '/api/sites', headers: bearer })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: `/api/tokens/${info.id}`, headers: root.headers })).statusCode).toBe(409);
    expect((await auth.audit.query({ limit: 2 })).rows.map((r) => [r.actor, r.action])).toEqual([
      ['user:root', 'token-revoke'],
      ['user:root', 'token-add'],
    ]);
  });
});

describe('central audit', () => {
  it('reads back filtered by site, actor and day, in pages, and as CSV', async () => {
    const { app, auth, root, publish, clock } = await setUp();
    await publish('town', 'state', stateFixture());
    await publish('village', 'state', { ...stateFixture(), site: 'village' });
    const operator = await tokenHeaders(auth, 'operator');
    for (const [site, text] of [['town', '=HYPERLINK("http://x")'], ['village', 'closing soon'], ['town', 'hello']] as const) {
      clock.set(new Date(clock.now().getTime() + 60_000));
      await app.inject({ method: 'POST', url: `/api/sites/${site}/commands`, headers: operator, payload: { command: 'announce', text } });
    }
    const town = (await app.inject({ url: '/api/audit?site=town', headers: root.headers })).json();
    expect(town.rows.map((r: { detail: string }) => r.detail)).toEqual(['announce "hello": ok', 'announce "=HYPERLINK("http://x")": ok']);
    expect(town.next).toBeNull();

    const page1 = (await app.inject({ url: '/api/audit?limit=2', headers: root.headers })).json();
    expect(page1.rows).toHaveLength(2);
    const page2 = (await app.inject({ url: `/api/audit?limit=2&before=${page1.next}`, headers: root.headers })).json();
    expect(page2.rows.map((r: { action: string }) => r.action)).toEqual(['command', 'sign-in']);
    expect(page2.next).toBeNull();

    const byActor = (await app.inject({ url: `/api/audit?actor=user:root`, headers: root.headers })).json();
    expect(byActor.rows.map((r: { action: string }) => r.action)).toEqual(['sign-in']);
    const today = (await app.inject({ url: '/api/audit?from=2025-06-02&to=2025-06-02', headers: root.headers })).json();
    expect(today.rows).toHaveLength(4);
    expect((await app.inject({ url: '/api/audit?from=2025-06-03', headers: root.headers })).json().rows).toEqual([]);

    const csv = await app.inject({ url: '/api/audit?format=csv&site=town', headers: operator });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="audit.csv"');
    const lines = csv.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('at,actor,action,site,detail');
    expect(lines[2]).toMatch(/^2025-06-02T09:31:00\.000Z,token:test-operator-\d+,command,town,"announce ""=HYPERLINK\(""http:\/\/x""\)"": ok"$/);

    const bad = await app.inject({ url: '/api/audit?from=2025-06-05&to=2025-06-01&limit=0', headers: root.headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^query\.limit: /), 'query.to: must not be before from']);
  });
});
