// Single sign-on at central against a real OpenID provider (oidc-provider on loopback), step by step with fetch
// through the provider's own login and consent forms. The session side is a recording StartSession that sets a
// cookie, as central's does: what is checked here is who reaches it, with which role, and that nothing else does.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Role, StartSession } from '../../central/auth/identity.js';
import { OIDC_BROWSER_COOKIE, oidcRoutes, safeNext } from '../../central/auth/oidc.js';
import { OidcConfigSchema } from '../../central/auth/oidc-config.js';
import { freePort } from '../helpers/free-port.js';
import { HandBrowser, locationOf, signInAtProvider, startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

interface Started {
  username: string;
  role: Role;
  via: string;
}

const T0 = new Date('2026-03-04T21:00:00Z');

class Harness {
  app!: FastifyInstance;
  origin = '';
  readonly sessions: Started[] = [];
  readonly logLines: Array<Record<string, unknown>> = [];
  now = T0;
  /** What the session side throws for someone, if anything (central's refuses names it cannot use). */
  sessionFailure: ((username: string) => Error | undefined) | undefined;

  async start(port: number, issuer: string, clientSecret: string, extra: Record<string, unknown> = {}): Promise<void> {
    this.origin = `http://127.0.0.1:${port}`;
    const config = OidcConfigSchema.parse({
      issuer,
      clientId: 'oag-central',
      clientSecret,
      publicUrl: this.origin,
      scopes: ['openid', 'profile', 'groups'],
      roles: { viewer: ['library-viewers'], operator: ['library-staff'], administrator: ['library-admins'] },
      ...extra,
    });
    const lines = this.logLines;
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const startSession: StartSession = async (_request, reply, who) => {
      const failure = this.sessionFailure?.(who.username);
      if (failure !== undefined) throw failure;
      this.sessions.push({ ...who });
      reply.setCookie('test_session', `${who.username}.${who.role}`, { path: '/', httpOnly: true, sameSite: 'strict' });
      return { csrfToken: 'x' };
    };
    this.app = Fastify();
    await this.app.register(fastifyCookie);
    await this.app.register(oidcRoutes({ config, startSession, logger: pino({ level: 'info' }, stream), clock: { now: () => this.now } }));
    await this.app.listen({ host: '127.0.0.1', port });
  }

  /** Central's start, then the provider's forms; returns the callback URL the provider sent the browser to. */
  async toCallback(browser: HandBrowser, login: string | { cancel: true }, next?: string): Promise<string> {
    const start = await browser.get(`${this.origin}/auth/oidc/start${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`);
    expect(start.status).toBe(302);
    return signInAtProvider(browser, locationOf(start, this.origin), login);
  }

  reset(): void {
    this.sessionFailure = undefined;
    this.sessions.length = 0;
    this.logLines.length = 0;
    this.now = T0;
  }

  logText(): string {
    return JSON.stringify(this.logLines);
  }

  refusals(): string[] {
    return this.logLines.filter((l) => l.msg === 'single sign-on refused').map((l) => String(l.reason));
  }
}

async function expectRefused(response: Response, status: number, text: RegExp, h: Harness, browser: HandBrowser): Promise<string> {
  const html = await response.text();
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  expect(html).toMatch(text);
  expect(html).not.toMatch(/\n\s+at |Error:/);
  expect(h.sessions).toEqual([]);
  expect(browser.cookie(h.origin, 'test_session')).toBeUndefined();
  return html;
}

describe('single sign-on at central (OpenID Connect, real provider)', () => {
  let provider: TestOidcProvider;
  let h: Harness;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    provider = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`] });
    h = new Harness();
    await h.start(port, provider.issuer, provider.clientSecret);
  });
  afterAll(async () => {
    await h?.app.close();
    await provider?.close();
  });
  beforeEach(() => {
    provider.misbehave = {};
    h.reset();
  });

  it('signs alice in as administrator (the highest of her groups), with PKCE, state and nonce, and carries her on to next', async () => {
    const browser = new HandBrowser();
    const start = await browser.get(`${h.origin}/auth/oidc/start?next=${encodeURIComponent('/sites/town?tab=log')}`);
    expect(start.status).toBe(302);
    const authorization = new URL(locationOf(start, h.origin));
    expect(authorization.origin).toBe(provider.issuer);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorization.searchParams.get('state')).toMatch(/.{20,}/);
    expect(authorization.searchParams.get('nonce')).toMatch(/.{20,}/);
    expect(authorization.searchParams.get('redirect_uri')).toBe(`${h.origin}/auth/oidc/callback`);
    const setCookie = start.headers.getSetCookie().find((c) => c.startsWith(`${OIDC_BROWSER_COOKIE}=`));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\/auth\/oidc\//);
    expect(setCookie).toMatch(/Max-Age=600/);

    const callback = await signInAtProvider(browser, authorization.href, 'alice');
    expect(callback.startsWith(`${h.origin}/auth/oidc/callback?`)).toBe(true);
    const done = await browser.get(callback);
    const html = await done.text();
    expect(done.status).toBe(200);
    expect(html).toContain('Signed in as alice');
    expect(html).toContain('<meta http-equiv="refresh" content="0; url=/sites/town?tab=log">');
    expect(h.sessions).toEqual([{ username: 'alice', role: 'administrator', via: 'oidc' }]);
    expect(browser.cookie(h.origin, 'test_session')).toBe('alice.administrator');
    // Nothing secret in the log: not the client secret, not the code.
    const code = new URL(callback).searchParams.get('code')!;
    expect(h.logText()).not.toContain(code);
    expect(h.logText()).not.toContain(provider.clientSecret);
  });

  it('signs bob in as operator (library-staff)', async () => {
    const browser = new HandBrowser();
    const done = await browser.get(await h.toCallback(browser, 'bob'));
    expect(done.status).toBe(200);
    expect(h.sessions).toEqual([{ username: 'bob', role: 'operator', via: 'oidc' }]);
  });

  it('refuses carol, whom the provider knows but no role list names: 403, no session, logged', async () => {
    const browser = new HandBrowser();
    const done = await browser.get(await h.toCallback(browser, 'carol'));
    await expectRefused(done, 403, new RegExp(`signed in at ${provider.issuer} as carol, but that account has no role at central`, 'i'), h, browser);
    expect(h.logLines.find((l) => l.msg === 'single sign-on: no role at central')).toMatchObject({ username: 'carol', issuer: provider.issuer });
  });

  it('refuses a callback without a state, and one with a state central never gave', async () => {
    const browser = new HandBrowser();
    await expectRefused(await browser.get(`${h.origin}/auth/oidc/callback?code=abc`), 400, /has no state/, h, browser);
    await expectRefused(await browser.get(`${h.origin}/auth/oidc/callback?code=abc&state=forged`), 400, /unknown to central/, h, browser);
    await expectRefused(await browser.get(`${h.origin}/auth/oidc/callback?state=a&state=b`), 400, /malformed: query\.state|malformed: state/, h, browser);
    expect(h.refusals()).toHaveLength(3);
  });

  it('refuses a code replayed: the second use of the same callback is refused and the first session stands alone', async () => {
    const browser = new HandBrowser();
    const callback = await h.toCallback(browser, 'alice');
    expect((await browser.get(callback)).status).toBe(200);
    const again = await browser.get(callback);
    expect(again.status).toBe(400);
    expect(await again.text()).toMatch(/already used/);
    expect(h.sessions).toHaveLength(1);
  });

  it('refuses a callback taken to another browser (login CSRF): the sign-in is bound to the browser that started it', async () => {
    const victim = new HandBrowser();
    const attacker = new HandBrowser();
    const callback = await h.toCallback(attacker, 'carol');
    await expectRefused(await victim.get(callback), 400, /started in another browser/, h, victim);
    // The attempt used it up: the attacker cannot use it either.
    expect((await attacker.get(callback)).status).toBe(400);
    expect(h.sessions).toEqual([]);
  });

  it("refuses a code from another sign-in: the provider's invalid_grant is named", async () => {
    const browser = new HandBrowser();
    const first = new URL(await h.toCallback(browser, 'alice'));
    const second = new URL(await h.toCallback(browser, 'alice'));
    second.searchParams.set('code', first.searchParams.get('code')!);
    await expectRefused(await browser.get(second.href), 400, /the provider refused the sign-in code: invalid_grant/, h, browser);
  });

  it('refuses when the person cancels at the provider (error=access_denied)', async () => {
    const browser = new HandBrowser();
    const callback = await h.toCallback(browser, { cancel: true });
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
    await expectRefused(await browser.get(callback), 401, /the provider did not sign you in: access_denied/, h, browser);
  });

  it('refuses an ID token the provider signed for another client', async () => {
    const browser = new HandBrowser();
    const callback = await h.toCallback(browser, 'alice');
    provider.misbehave = { audience: 'another-client' };
    await expectRefused(await browser.get(callback), 400, /ID token was refused: it was issued for another client \(aud\)/, h, browser);
  });

  it('refuses an ID token with a nonce that is not this sign-in’s', async () => {
    const browser = new HandBrowser();
    const callback = await h.toCallback(browser, 'alice');
    provider.misbehave = { nonce: 'nonce-of-another-sign-in' };
    await expectRefused(await browser.get(callback), 400, /ID token was refused: its nonce is not the one this sign-in sent/, h, browser);
  });

  it('refuses a sign-in that took more than 10 minutes', async () => {
    const browser = new HandBrowser();
    const callback = await h.toCallback(browser, 'alice');
    h.now = new Date(T0.getTime() + 10 * 60_000 + 1);
    await expectRefused(await browser.get(callback), 400, /took more than 10 minutes and has expired/, h, browser);
  });

  it('shows the session side’s refusal as a page naming it, and its failure as a 500 without a stack', async () => {
    h.sessionFailure = (username) =>
      username === 'bob' ? Object.assign(new Error('a local account is already called bob'), { statusCode: 403 }) : new Error('database is locked');
    const browser = new HandBrowser();
    await expectRefused(await browser.get(await h.toCallback(browser, 'bob')), 403, new RegExp(`signed in at ${provider.issuer} as bob, but a local account is already called bob`), h, browser);
    const other = new HandBrowser();
    const failed = await expectRefused(await other.get(await h.toCallback(other, 'alice')), 500, /central could not start your session/, h, other);
    expect(failed).not.toContain('database is locked');
  });

  it('goes on to / when next is not a path on central', async () => {
    for (const next of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/ok"><script>']) {
      expect(safeNext(next)).toBe('/');
    }
    expect(safeNext('/figures?from=2026-03-01')).toBe('/figures?from=2026-03-01');
    const browser = new HandBrowser();
    const done = await browser.get(await h.toCallback(browser, 'bob', '//evil.example/steal'));
    expect(await done.text()).toContain('content="0; url=/"');
  });
});

describe('single sign-on: the provider away, the secret in a file, claims from the email address or userinfo', () => {
  it('answers 503 naming why and pointing to local accounts; the next sign-in finds the provider once it is back', async () => {
    const port = await freePort();
    const providerPort = await freePort();
    const secret = randomBytes(16).toString('hex');
    const h = new Harness();
    await h.start(port, `http://localhost:${providerPort}`, secret);
    let provider: TestOidcProvider | undefined;
    try {
      const browser = new HandBrowser();
      const down = await browser.get(`${h.origin}/auth/oidc/start`);
      expect(down.status).toBe(503);
      const html = await down.text();
      expect(html).toMatch(new RegExp(`single sign-on is unavailable: http://localhost:${providerPort} cannot be reached \\(ECONNREFUSED\\); sign in with a local account`, 'i'));
      expect(html).toContain('href="/login"');
      expect(browser.cookie(h.origin, OIDC_BROWSER_COOKIE)).toBeUndefined();
      expect(h.logLines.some((l) => l.msg === 'single sign-on unavailable' && String(l.reason).includes('ECONNREFUSED'))).toBe(true);

      provider = await startOidcProvider({ port: providerPort, clientSecret: secret, redirectUris: [`${h.origin}/auth/oidc/callback`] });
      const retried = await browser.get(`${h.origin}/auth/oidc/start`);
      expect(retried.status).toBe(302);
      const done = await browser.get(await signInAtProvider(browser, locationOf(retried, h.origin), 'alice'));
      expect(done.status).toBe(200);
      expect(h.sessions).toEqual([{ username: 'alice', role: 'administrator', via: 'oidc' }]);
    } finally {
      await provider?.close();
      await h.app.close();
    }
  });

  it('reads the client secret from clientSecretFile; one that cannot be read stops the start with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-oidc-'));
    const port = await freePort();
    const provider = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`] });
    const h = new Harness();
    try {
      const missing = join(dir, 'missing');
      await expect(new Harness().start(port, provider.issuer, 'x', { clientSecret: undefined, clientSecretFile: missing })).rejects.toThrow(
        `oidc.clientSecretFile (${missing}): cannot read: ENOENT`,
      );
      writeFileSync(join(dir, 'secret'), `${provider.clientSecret}\n`);
      await h.start(port, provider.issuer, 'x', { clientSecret: undefined, clientSecretFile: join(dir, 'secret') });
      const browser = new HandBrowser();
      const done = await browser.get(await h.toCallback(browser, 'bob'));
      expect(done.status).toBe(200);
      expect(h.sessions).toEqual([{ username: 'bob', role: 'operator', via: 'oidc' }]);
    } finally {
      await h.app?.close();
      await provider.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with username and role from the email address (as with Google): a verified address is taken, an unverified one is refused', async () => {
    const port = await freePort();
    const provider = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`] });
    const h = new Harness();
    try {
      await h.start(port, provider.issuer, provider.clientSecret, {
        scopes: ['openid', 'email'],
        usernameClaim: 'email',
        roleClaim: 'email',
        roles: { administrator: ['alice@library.example'] },
      });
      const browser = new HandBrowser();
      expect((await browser.get(await h.toCallback(browser, 'alice'))).status).toBe(200);
      expect(h.sessions).toEqual([{ username: 'alice@library.example', role: 'administrator', via: 'oidc' }]);
      h.reset();
      const other = new HandBrowser();
      await expectRefused(await other.get(await h.toCallback(other, 'mallory')), 403, /but the provider says this email address is not verified/, h, other);
    } finally {
      await h.app?.close();
      await provider.close();
    }
  });

  it('takes the username and groups from the userinfo endpoint when the ID token carries only sub', async () => {
    const port = await freePort();
    const provider = await startOidcProvider({ claimsInIdToken: false, redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`] });
    const h = new Harness();
    try {
      await h.start(port, provider.issuer, provider.clientSecret);
      const browser = new HandBrowser();
      expect((await browser.get(await h.toCallback(browser, 'alice'))).status).toBe(200);
      expect(provider.requests).toContain('GET /me');
      expect(h.sessions).toEqual([{ username: 'alice', role: 'administrator', via: 'oidc' }]);
    } finally {
      await h.app?.close();
      await provider.close();
    }
  });
});
