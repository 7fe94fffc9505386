// Signing in to the console behind the branch's TLS proxy: the client is the address the trusted proxy forwards
// (http.trustProxy), so ten wrong passwords for one account limit that account and not every member of staff
// behind the same proxy; many accounts tried from one address limit that address. The cookie is Secure over the
// proxy's plain http (http.cookieSecure). And a flood of sign-ins is turned away as busy before anything is hashed
// once the hashing slots and their queue are full.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import { addConsoleUser } from '../../gateway/console/index.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { PASSWORD, collectingLogger, startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';
import { defaultConfig, removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

let c: ConsoleHarness | undefined;
let h: Harness | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-03-04T12:00:00Z'));
});
afterEach(async () => {
  await c?.stop();
  c = undefined;
  await h?.stop();
  if (h) removeDir(h.dir);
  h = undefined;
  vi.useRealTimers();
});

const loginEvents = (x: ConsoleHarness): string[] => x.harness.events.flatMap((e) => (e.type === 'staff' && e.action.startsWith('login') ? [`${e.action}:${e.actor}`] : []));

function signIn(x: ConsoleHarness, username: string, password: string, from: string) {
  return x.app.inject({ method: 'POST', url: '/api/console/login', headers: { 'x-forwarded-for': from }, payload: { username, password } });
}

describe('the sign-in limit behind a proxy', () => {
  it('limits an account after ten wrong passwords without locking out other staff behind the same proxy', async () => {
    c = await startConsole({ trustProxy: ['127.0.0.1'] });
    await c.addUser('mia', 'manager');
    await c.addUser('sam', 'staff');
    // Everyone comes through the proxy (inject's own address is 127.0.0.1); the attacker's laptop is 10.0.0.66.
    for (let i = 0; i < 10; i += 1) expect((await signIn(c, 'mia', `guess number ${i}`, '10.0.0.66')).statusCode).toBe(401);
    const limited = await signIn(c, 'mia', 'guess number 10', '10.0.0.66');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toBe('too many failed sign-ins for this account: try again in 5 minutes');
    expect(limited.headers['retry-after']).toBe('300');
    // Mia from her own desk waits too: it is her account that is being guessed.
    expect((await signIn(c, 'mia', PASSWORD, '10.0.0.12')).statusCode).toBe(429);
    // Sam, through the same proxy and even from the attacker's address, signs in.
    expect((await signIn(c, 'sam', PASSWORD, '10.0.0.13')).statusCode).toBe(200);
    expect((await signIn(c, 'sam', PASSWORD, '10.0.0.66')).statusCode).toBe(200);
    // Failed attempts are audited; the refused ones hashed nothing and are not more rows in the log.
    expect(loginEvents(c)).toEqual([...Array.from({ length: 10 }, () => 'login-failed:mia'), 'login:sam', 'login:sam']);
    vi.advanceTimersByTime(5 * 60_000);
    expect((await signIn(c, 'mia', PASSWORD, '10.0.0.12')).statusCode).toBe(200);
  });

  it('limits one address trying many accounts, and only that address', async () => {
    const log = collectingLogger();
    // Six for the address rather than the default thirty: the same rule, fewer scrypt hashes in the test.
    c = await startConsole({ trustProxy: ['127.0.0.1'], logger: log.logger, console: { loginLimit: { perAccount: 10, perAddress: 6, windowMs: 5 * 60_000 } } });
    await c.addUser('sam', 'staff');
    for (let i = 0; i < 6; i += 1) expect((await signIn(c, `user${i}`, 'a guessed password', '10.0.0.66')).statusCode).toBe(401);
    const limited = await signIn(c, 'sam', PASSWORD, '10.0.0.66');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toBe('too many failed sign-ins from this address: try again in 5 minutes');
    expect((await signIn(c, 'sam', PASSWORD, '10.0.0.13')).statusCode).toBe(200);
    expect(log.lines.filter((l) => l.msg === 'sign-in refused').map((l) => l.reason)).toEqual([...Array.from({ length: 6 }, () => 'wrong username or password'), 'limited by address']);
    expect(log.lines.find((l) => l.reason === 'limited by address')).toMatchObject({ client: '10.0.0.66' });
  });

  it('without trustProxy takes the proxy for the client: a forwarded address is not believed', async () => {
    c = await startConsole({ console: { loginLimit: { perAccount: 10, perAddress: 6, windowMs: 5 * 60_000 } } });
    await c.addUser('sam', 'staff');
    for (let i = 0; i < 6; i += 1) expect((await signIn(c, `user${i}`, 'a guessed password', `10.0.1.${i}`)).statusCode).toBe(401);
    // Six "different" addresses were one client, the proxy's: that is why a proxy needs http.trustProxy.
    expect((await signIn(c, 'sam', PASSWORD, '10.0.0.13')).json().error).toBe('too many failed sign-ins from this address: try again in 5 minutes');
  });
});

describe('the session cookie behind a TLS proxy, from the gateway config', () => {
  async function gatewayWith(http: Record<string, unknown>): Promise<string> {
    h = await startHarness({ policy: { version: 1, site: 'town-central', schedule: { weekly: {} } }, config: { http: { enabled: true, host: '127.0.0.1', port: 0, ...http } } });
    await addConsoleUser(h.running.store, 'mia', 'manager', PASSWORD);
    return h.running.api!.url;
  }
  /** The cookie that carries the session (the others clear a cookie of the other name). */
  const sessionCookie = (answer: Response): string | undefined => answer.headers.getSetCookie().find((c) => /oag_session=[\w-]{43};/.test(c));
  const signInOverHttp = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/api/console/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username: 'mia', password: PASSWORD }) });

  it('is Secure (__Host-) over plain http with http.behindProxy (cookieSecure: always)', async () => {
    vi.useRealTimers();
    const url = await gatewayWith({ behindProxy: true });
    expect(url).toMatch(/^http:/);
    const answer = await signInOverHttp(url);
    expect(answer.status).toBe(200);
    expect(sessionCookie(answer)).toMatch(/^__Host-oag_session=[\w-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
  });

  it('with cookieSecure: auto follows the trusted proxy’s X-Forwarded-Proto', async () => {
    vi.useRealTimers();
    const url = await gatewayWith({ behindProxy: true, cookieSecure: 'auto', trustProxy: ['loopback'] });
    expect(sessionCookie(await signInOverHttp(url, { 'x-forwarded-proto': 'https' }))).toMatch(/^__Host-oag_session=.*; Secure; SameSite=Strict$/);
    const plain = sessionCookie(await signInOverHttp(url));
    expect(plain).toMatch(/^oag_session=/);
    expect(plain).not.toContain('Secure');
  });

  it('is refused by the config: auto behind a proxy that is not trusted, and trustProxy values fastify would not understand', () => {
    const parse = (http: Record<string, unknown>) => () => parseGatewayConfig(defaultConfig('/tmp', { http: http as never }));
    expect(parse({ behindProxy: true, cookieSecure: 'auto' })).toThrow(/http\.cookieSecure: auto behind a proxy \(behindProxy: true\) needs trustProxy/);
    expect(parse({ trustProxy: ['10.0.0.1', 'the proxy'] })).toThrow(/http\.trustProxy: must be false, true, a number of proxy hops/);
    expect(parse({ trustProxy: 0 })).toThrow(/http\.trustProxy: must be at least 1 proxy hop/);
    expect(parse({ cookieSecure: 'sometimes' })).toThrow(/http\.cookieSecure/);
    expect(parseGatewayConfig(defaultConfig('/tmp', { http: { trustProxy: ['10.0.0.0/8', '::1', 'loopback'], cookieSecure: 'always' } })).http).toMatchObject({
      trustProxy: ['10.0.0.0/8', '::1', 'loopback'],
      cookieSecure: 'always',
    });
  });
});

describe('the hashing slots', () => {
  it('answers 503 with Retry-After, before any hashing, when every slot and the queue are taken; then signs in', async () => {
    const slots = new HashSlots({ concurrent: 1, queued: 0 });
    c = await startConsole({ console: { hashSlots: slots } });
    await c.addUser('mia', 'manager');
    const mia = await c.login('mia');
    // Somebody else's sign-in holds the one slot.
    let release: () => void = () => undefined;
    const held = slots.run(() => new Promise<void>((resolve) => (release = resolve)));

    const busy = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: PASSWORD } });
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('2');
    expect(busy.json()).toEqual({ error: 'sign-in is busy; try again in a moment' });
    expect(busy.cookies).toEqual([]);
    const unknown = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'nobody', password: 'a guess' } });
    expect(unknown.statusCode).toBe(503);
    const change = await c.call(mia, 'POST', '/api/console/password', { current: PASSWORD, password: 'another long password' });
    expect(change.statusCode).toBe(503);
    // Nothing happened: no sign-in, no failure counted or audited, the password as it was.
    expect(loginEvents(c)).toEqual(['login:mia']);
    expect(slots.busy).toEqual({ running: 1, waiting: 0 });

    release();
    await held;
    expect((await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: PASSWORD } })).statusCode).toBe(200);
    expect(loginEvents(c)).toEqual(['login:mia', 'login:mia']);
  });
});
