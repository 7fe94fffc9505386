// Each attack of issue #12 on central, tried and refused: a clear 4xx that names why, logged, nothing changed. And
// what a signed-in person does is done as them: the command the branch receives and the audit name the identity.
import { describe, expect, it } from 'vitest';
import { signIn, tokenHeaders } from '../../helpers/central-auth.js';
import { stateFixture } from '../contract/fixtures.js';
import { centralAppPerTest, type CentralApp } from './helpers.js';

const centralApp = centralAppPerTest();

async function withBranch(...args: Parameters<typeof centralApp>): Promise<CentralApp> {
  const current = await centralApp(...args);
  await current.publish('town', 'availability', { state: 'online', at: '2025-06-02T08:00:00.000Z' }, true);
  await current.publish('town', 'state', stateFixture());
  return current;
}

const POLICY = { version: 1, site: 'town', schedule: { weekly: { mon: [{ from: '00:00', to: '24:00', mode: 'staffed' }] } } };
const HOUR = 3_600_000;

describe('the attacks of the issue, at central', () => {
  it('refuses the unlock command, a policy and a member change without a sign-in (401) and below the role (403)', async () => {
    const { app, link, auth, store } = await withBranch();
    const unlock = { method: 'POST' as const, url: '/api/sites/town/commands', payload: { command: 'unlock' } };
    const policy = { method: 'PUT' as const, url: '/api/sites/town/policy', payload: POLICY };
    const member = { method: 'PATCH' as const, url: '/api/members', payload: { cardNumber: '12345678', staff: true } };

    for (const request of [unlock, policy, member]) {
      const res = await app.inject(request);
      expect(res.statusCode, request.url).toBe(401);
      expect(res.json(), request.url).toEqual({ error: 'Unauthorized', message: 'sign in first (a session cookie from /login, or an API token)' });
    }
    const viewer = await tokenHeaders(auth, 'viewer');
    const operator = await tokenHeaders(auth, 'operator');
    const asViewer = await app.inject({ ...unlock, headers: viewer });
    expect(asViewer.statusCode).toBe(403);
    expect(asViewer.json().message).toMatch(/^needs the operator role; token:test-viewer-\d+ is a viewer$/);
    for (const request of [policy, member]) {
      const res = await app.inject({ ...request, headers: operator });
      expect(res.statusCode, request.url).toBe(403);
      expect(res.json().message, request.url).toMatch(/^needs the administrator role; token:test-operator-\d+ is an operator$/);
    }
    expect(link.commands).toEqual([]);
    expect(link.policies).toEqual([]);
    expect(store.policy('town')).toBeNull();

    // The operator may unlock: what the role is for.
    expect((await app.inject({ ...unlock, headers: operator })).statusCode).toBe(200);
    expect(link.commands).toHaveLength(1);
  });

  it('sends the command as the signed-in person, whatever the body says, and audits it', async () => {
    const { app, link, auth } = await withBranch();
    const alice = await signIn(app, auth, 'alice', 'operator');
    const claimed = await app.inject({ method: 'POST', url: '/api/sites/town/commands', headers: alice.headers, payload: { command: 'unlock', actor: 'the-director' } });
    expect(claimed.statusCode).toBe(400);
    expect(claimed.json().errors).toEqual(['actor: unknown key']);
    const res = await app.inject({ method: 'POST', url: '/api/sites/town/commands', headers: alice.headers, payload: { command: 'unlock' } });
    expect(res.statusCode).toBe(200);
    expect(link.commands).toEqual([{ site: 'town', command: 'unlock', actor: 'user:alice' }]);
    const audit = (await auth.audit.query({ limit: 10 })).rows;
    expect(audit[0]).toMatchObject({ actor: 'user:alice', action: 'command', site: 'town', detail: 'unlock: ok' });
    expect(audit.map((r) => r.action)).toEqual(['command', 'sign-in']);
  });

  it('publishes a policy as the administrator who signed in, in the audit', async () => {
    const { app, link, auth } = await withBranch();
    const root = await signIn(app, auth, 'root', 'administrator');
    expect((await app.inject({ method: 'PUT', url: '/api/sites/town/policy', headers: root.headers, payload: POLICY })).statusCode).toBe(202);
    expect(link.policies).toHaveLength(1);
    expect((await auth.audit.query({ limit: 1 })).rows[0]).toMatchObject({ actor: 'user:root', action: 'policy-publish', site: 'town', detail: 'version 1' });
  });

  it('refuses a foreign Host with 421 naming it and the setting, before any route, with credentials or not', async () => {
    const logs: string[] = [];
    const { app, auth } = await withBranch(undefined, {}, { logs });
    const admin = await tokenHeaders(auth);
    for (const url of ['/api/health', '/', '/static/common.js', '/api/sites', '/no/such/route']) {
      const res = await app.inject({ url, headers: { ...admin, host: 'attacker.example:8090' } });
      expect(res.statusCode, url).toBe(421);
      expect(res.json(), url).toEqual({ error: 'Misdirected Request', message: `Host "attacker.example:8090" is not one of central's names: add it to http.allowedHosts in central's config` });
    }
    expect(logs.filter((l) => l.includes('Host not allowed') && l.includes('attacker.example'))).toHaveLength(5);
    // central's own names are fine, with or without the port.
    for (const host of ['localhost', '127.0.0.1:8090', '[::1]:8090']) expect((await app.inject({ url: '/api/health', headers: { host } })).statusCode, host).toBe(200);
  });

  it('takes the names in http.allowedHosts, and only those', async () => {
    const { app } = await withBranch(undefined, { http: { allowedHosts: ['central.library.example'] } });
    expect((await app.inject({ url: '/api/health', headers: { host: 'central.library.example' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/health', headers: { host: 'CENTRAL.library.example:443' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/health', headers: { host: 'localhost' } })).statusCode).toBe(421);
  });

  it('sends the security headers on pages and API answers alike', async () => {
    const { app } = await withBranch();
    for (const url of ['/', '/login', '/api/health', '/api/sites']) {
      const res = await app.inject(url);
      const csp = String(res.headers['content-security-policy']);
      expect(csp, url).toContain("default-src 'none'");
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      expect(res.headers['strict-transport-security'], url).toMatch(/max-age=\d+/);
    }
  });

  it('refuses a forged, an expired and an idle session cookie with 401', async () => {
    const { app, auth, clock } = await withBranch();
    const alice = await signIn(app, auth, 'alice', 'viewer');
    expect((await app.inject({ url: '/api/sites', headers: { cookie: alice.cookie } })).statusCode).toBe(200);
    const forged = await app.inject({ url: '/api/sites', headers: { cookie: `oag_central_session=${'x'.repeat(43)}` } });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().message).toBe('the session has ended or is not valid: sign in again');

    // Idle for longer than auth.sessionIdleMinutes (8 h by default).
    clock.set(new Date(clock.now().getTime() + 8 * HOUR + 1000));
    expect((await app.inject({ url: '/api/sites', headers: { cookie: alice.cookie } })).statusCode).toBe(401);

    // Kept busy, a session still ends auth.sessionMaxHours (12 h) after signing in.
    const bob = await signIn(app, auth, 'bob', 'viewer');
    for (let h = 1; h <= 11; h++) {
      clock.set(new Date(clock.now().getTime() + HOUR));
      expect((await app.inject({ url: '/api/sites', headers: { cookie: bob.cookie } })).statusCode, `${h} h`).toBe(200);
    }
    clock.set(new Date(clock.now().getTime() + HOUR));
    expect((await app.inject({ url: '/api/sites', headers: { cookie: bob.cookie } })).statusCode).toBe(401);
  });

  it('refuses an expired, a revoked and a malformed API token with 401 naming which, and logs the reason', async () => {
    const logs: string[] = [];
    const { app, auth, clock, store } = await withBranch(undefined, {}, { logs });
    const admin = await tokenHeaders(auth);
    const made = (await app.inject({ method: 'POST', url: '/api/tokens', headers: admin, payload: { name: 'nightly-export', role: 'viewer', expiresDays: 2 } })).json();
    const bearer = { authorization: `Bearer ${made.token}` };
    expect((await app.inject({ url: '/api/sites', headers: bearer })).statusCode).toBe(200);

    const revocable = (await app.inject({ method: 'POST', url: '/api/tokens', headers: admin, payload: { name: 'monitor', role: 'viewer', expiresDays: 30 } })).json();
    expect((await app.inject({ method: 'DELETE', url: `/api/tokens/${revocable.info.id}`, headers: admin })).json()).toMatchObject({ status: 'revoked', revokedBy: expect.stringMatching(/^token:test-administrator-/) });
    const revoked = await app.inject({ url: '/api/sites', headers: { authorization: `Bearer ${revocable.token}` } });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().message).toBe('API token "monitor" was revoked');

    clock.set(new Date(clock.now().getTime() + 2 * 24 * HOUR));
    const expired = await app.inject({ url: '/api/sites', headers: bearer });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().message).toBe(`API token "nightly-export" expired at ${made.info.expiresAt}`);

    const malformed = await app.inject({ url: '/api/sites', headers: { authorization: 'Bearer letmein' } });
    expect(malformed.statusCode).toBe(401);
    expect(malformed.json().message).toBe('malformed API token: send Authorization: Bearer oag_…');
    const unknown = await app.inject({ url: '/api/sites', headers: { authorization: `Bearer ${made.token.slice(0, -4)}AAAA` } });
    expect(unknown.json().message).toBe('unknown API token');

    const reasons = logs.map((l) => JSON.parse(l) as { reason?: string }).flatMap((l) => (l.reason ? [l.reason] : []));
    expect(reasons).toEqual(expect.arrayContaining(['token-revoked', 'token-expired', 'token-malformed', 'token-unknown']));
    // The tokens themselves are in no log line and in no table.
    for (const token of [made.token, revocable.token]) {
      expect(logs.some((l) => l.includes(token))).toBe(false);
      expect(JSON.stringify(store.db.prepare('SELECT * FROM central_tokens').all())).not.toContain(token.slice(17));
    }
  });

  it('refuses a change carried by a valid cookie from another site, or without the CSRF token, with 403', async () => {
    const { app, auth, link } = await withBranch();
    const alice = await signIn(app, auth, 'alice', 'operator');
    const unlock = { method: 'POST' as const, url: '/api/sites/town/commands', payload: { command: 'unlock' } };
    const crossSite = await app.inject({ ...unlock, headers: { ...alice.headers, origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().message).toBe('cross-site request refused');
    const noCsrf = await app.inject({ ...unlock, headers: { cookie: alice.cookie } });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().message).toMatch(/^missing or wrong CSRF token/);
    const wrongCsrf = await app.inject({ ...unlock, headers: { cookie: alice.cookie, 'x-csrf-token': 'A'.repeat(43) } });
    expect(wrongCsrf.statusCode).toBe(403);
    expect(link.commands).toEqual([]);
    // A sign-in from another site is refused too (a login CSRF would sign the victim in as the attacker).
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { origin: 'https://attacker.example' }, payload: { username: 'alice', password: 'correct horse battery' } });
    expect(login.statusCode).toBe(403);
  });

  it('answers a wrong password with 401, no cookie and no session, audited by account name only', async () => {
    const logs: string[] = [];
    const { app, auth, store } = await withBranch(undefined, {}, { logs });
    await auth.accounts.add('alice', 'operator', 'correct horse battery');
    const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'alice', password: 'Tr0ub4dor&3-guess' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'Unauthorized', message: 'wrong username or password' });
    expect(wrong.cookies).toEqual([]);
    const typo = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'my secret passphrase', password: 'x' } });
    expect(typo.statusCode).toBe(401);
    expect(store.db.prepare('SELECT count(*) AS n FROM central_sessions').get()).toEqual({ n: 0 });
    expect((await auth.accounts.get('alice'))?.lastLoginAt).toBeNull();
    expect((await auth.audit.query({ limit: 10 })).rows.map((r) => [r.actor, r.action])).toEqual([
      ['(unknown account)', 'sign-in-failed'],
      ['user:alice', 'sign-in-failed'],
    ]);
    expect(logs.some((l) => l.includes('Tr0ub4dor') || l.includes('my secret passphrase'))).toBe(false);
  });

  it('limits wrong passwords per account without locking out another account from the same address', async () => {
    const { app, auth } = await withBranch(undefined, { auth: { loginFailuresPerAccount: 3, loginFailuresPerAddress: 20 } });
    await auth.accounts.add('alice', 'operator', 'correct horse battery');
    const login = (username: string, password: string) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
    for (let i = 0; i < 3; i++) expect((await login('alice', 'guess guess guess')).statusCode).toBe(401);
    const locked = await login('alice', 'correct horse battery');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().message).toMatch(/^too many wrong passwords for this account: try again in \d+ (seconds?|minutes?)$/);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // Bob, behind the same address, signs in.
    expect((await signIn(app, auth, 'bob', 'viewer')).csrfToken).toMatch(/^[\w-]{43}$/);
  });

  it('behind a trusted proxy, limits per client address (not the proxy\'s) and sets a Secure __Host- cookie', async () => {
    const { app, auth } = await withBranch(undefined, { http: { trustProxy: true }, auth: { loginFailuresPerAccount: 100, loginFailuresPerAddress: 4 } });
    await auth.accounts.add('alice', 'operator', 'correct horse battery');
    const login = (ip: string, username: string, password: string) =>
      app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' }, remoteAddress: '10.0.0.1', payload: { username, password } });
    for (const name of ['a1', 'a2', 'a3', 'a4']) expect((await login('203.0.113.9', name, 'wrong-wrong-wrong')).statusCode).toBe(401);
    const flooder = await login('203.0.113.9', 'alice', 'correct horse battery');
    expect(flooder.statusCode).toBe(429);
    expect(flooder.json().message).toMatch(/from this address/);
    const colleague = await login('198.51.100.7', 'alice', 'correct horse battery');
    expect(colleague.statusCode).toBe(200);
    expect(colleague.cookies.find((c) => c.value !== '')).toEqual(expect.objectContaining({ name: '__Host-oag_central_session', secure: true, httpOnly: true, sameSite: 'Strict', path: '/' }));
    expect((await auth.audit.query({ limit: 1 })).rows[0]!.detail).toBe('password, as operator, from 198.51.100.7');
  });

  it('signs out: the session ends, the cookie goes, the audit says so', async () => {
    const { app, auth } = await withBranch();
    const alice = await signIn(app, auth, 'alice', 'viewer');
    const session = (await app.inject({ url: '/api/auth/session', headers: { cookie: alice.cookie } })).json();
    expect(session).toEqual({ username: 'alice', role: 'viewer', via: 'password', csrfToken: alice.csrfToken, expiresAt: expect.any(String) });
    expect((await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: alice.cookie } })).statusCode).toBe(403);
    const out = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: alice.headers });
    expect(out.statusCode).toBe(200);
    expect(out.cookies.find((c) => c.name === 'oag_central_session')?.value).toBe('');
    expect((await app.inject({ url: '/api/sites', headers: { cookie: alice.cookie } })).statusCode).toBe(401);
    expect((await auth.audit.query({ limit: 1 })).rows[0]).toMatchObject({ actor: 'user:alice', action: 'sign-out' });
  });
});
