// The staff console's API through fastify's inject, on a real gateway with simulated hardware: sign-in and its
// limits, the guard on every route (401, 403 for staff on manager routes, 403 without CSRF), bad bodies (400
// naming the field), running the building, the log and its CSV, members and the card lookup.
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OPEN_ALL_DAY, PASSWORD, startConsole } from '../helpers/console.js';
import type { ConsoleHarness, SignedIn } from '../helpers/console.js';
import { ApiTokens } from '../../gateway/console/tokens.js';
import { buildLocalApi } from '../../gateway/http/server.js';

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

async function withStaffAndManager(options: Parameters<typeof startConsole>[0] = {}): Promise<{ c: ConsoleHarness; staff: SignedIn; manager: SignedIn }> {
  c = await startConsole(options);
  await c.addUser('mia', 'manager');
  await c.addUser('sam', 'staff');
  return { c, manager: await c.login('mia'), staff: await c.login('sam') };
}

const staffEvents = (h: ConsoleHarness): Array<{ action: string; actor: string }> =>
  h.harness.events.flatMap((e) => (e.type === 'staff' ? [{ action: e.action, actor: e.actor }] : []));

const ROUTES: Array<['GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string, unknown?]> = [
  ['GET', '/api/console/session'],
  ['GET', '/api/console/state'],
  ['GET', '/api/console/live'],
  ['GET', '/api/console/log'],
  ['GET', '/api/console/log.csv'],
  ['GET', '/api/console/policy'],
  ['GET', '/api/console/policy/timetable'],
  ['GET', '/api/console/members'],
  ['GET', '/api/console/users'],
  ['POST', '/api/console/logout', {}],
  ['POST', '/api/console/password', { current: PASSWORD, password: 'another long password' }],
  ['POST', '/api/console/commands', { command: 'unlock' }],
  ['POST', '/api/console/members/lookup', { card: '04A1B2C3D4' }],
  ['POST', '/api/console/policy/preview', { policy: { site: 'town-central', schedule: {} } }],
  ['PUT', '/api/console/policy', { baseRevision: '0123456789abcdef', policy: { site: 'town-central', schedule: {} } }],
  ['POST', '/api/console/users', { username: 'ann', role: 'staff', password: 'a long password' }],
  ['PATCH', '/api/console/users/sam', { role: 'manager' }],
  ['DELETE', '/api/console/users/sam'],
];

describe('signing in', () => {
  it('sets an http-only, SameSite=Strict session cookie and hands out the CSRF token; a wrong password is a 401 and is logged', async () => {
    c = await startConsole();
    await c.addUser('mia', 'manager');
    const wrong = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: 'not the password' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error).toBe('wrong username or password');
    expect(wrong.cookies).toEqual([]);
    const nobody = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'my secret pw', password: 'x' } });
    expect(nobody.statusCode).toBe(401);

    const ok = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'Mia', password: PASSWORD } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ username: 'mia', role: 'manager', csrfToken: expect.stringMatching(/^[\w-]{43}$/) });
    const cookie = ok.cookies.find((k) => k.name === 'oag_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie.secure).toBeUndefined();
    const session = await c.app.inject({ method: 'GET', url: '/api/console/session', headers: { cookie: `oag_session=${cookie.value}` } });
    expect(session.json()).toMatchObject({ username: 'mia', role: 'manager', csrfToken: ok.json().csrfToken });

    // Failed sign-ins are audited; a name that is not an account (a password typed in the wrong box) is not written down.
    expect(staffEvents(c)).toEqual([
      { action: 'login-failed', actor: 'mia' },
      { action: 'login-failed', actor: '(unknown account)' },
      { action: 'login', actor: 'mia' },
    ]);
    expect(JSON.stringify(c.harness.events)).not.toContain('my secret pw');
  });

  it('makes the cookie Secure (and __Host-) over https or when configured to', async () => {
    c = await startConsole({ console: { cookieSecure: 'always' } });
    await c.addUser('mia', 'manager');
    const ok = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: PASSWORD } });
    const cookie = ok.cookies.find((k) => k.name === '__Host-oag_session')!;
    expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
    const me = await c.call({ cookie: `__Host-oag_session=${cookie.value}`, csrf: '', username: 'mia' }, 'GET', '/api/console/session');
    expect(me.statusCode).toBe(200);
  });

  it('limits wrong passwords for one account, even the right one waits, and says when to try again', async () => {
    c = await startConsole({ console: { loginLimit: { perAccount: 3, perAddress: 30, windowMs: 60_000 } } });
    await c.addUser('mia', 'manager');
    const attempt = () => c!.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: 'guess guess' } });
    expect((await attempt()).statusCode).toBe(401);
    expect((await attempt()).statusCode).toBe(401);
    expect((await attempt()).statusCode).toBe(401);
    const limited = await attempt();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toBe('too many failed sign-ins for this account: try again in 1 minute');
    expect(limited.headers['retry-after']).toBe('60');
    // Even the right password waits for the window to pass.
    const right = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: PASSWORD } });
    expect(right.statusCode).toBe(429);
    vi.advanceTimersByTime(60_000);
    expect((await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'mia', password: PASSWORD } })).statusCode).toBe(200);
  });

  it('ends a session on sign-out, after the idle limit, and when its account is removed', async () => {
    const { c, manager, staff } = await withStaffAndManager({ console: { sessions: { idleMs: 3600_000, absoluteMs: 8 * 3600_000 } } });
    const out = await c.call(manager, 'POST', '/api/console/logout', {});
    expect(out.statusCode).toBe(200);
    expect((await c.call(manager, 'GET', '/api/console/state')).statusCode).toBe(401);

    const again = await c.login('mia');
    vi.advanceTimersByTime(59 * 60_000);
    expect((await c.call(again, 'GET', '/api/console/state')).statusCode).toBe(200);
    vi.advanceTimersByTime(59 * 60_000);
    expect((await c.call(again, 'GET', '/api/console/state')).statusCode).toBe(200);
    // Staff's session saw no request for two hours.
    expect((await c.call(staff, 'GET', '/api/console/state')).statusCode).toBe(401);

    const sam = await c.login('sam');
    expect((await c.call(again, 'DELETE', '/api/console/users/sam')).statusCode).toBe(200);
    expect((await c.call(sam, 'GET', '/api/console/state')).statusCode).toBe(401);
  });
});

describe('the guard', () => {
  it('answers 401 on every console route without a session, and changes nothing', async () => {
    c = await startConsole();
    for (const [method, url, body] of ROUTES) {
      const response = await c.call(undefined, method, url, body);
      expect(response.statusCode, `${method} ${url}`).toBe(401);
    }
    expect(c.harness.running.gateway.mode).toBe('open-access');
    expect(staffEvents(c)).toEqual([]);
  });

  it('answers 403 to every change without the CSRF token, with a wrong one, or from another site', async () => {
    const { c, manager } = await withStaffAndManager();
    for (const [method, url, body] of ROUTES.filter(([m]) => m !== 'GET')) {
      const missing = await c.call(manager, method, url, body, { csrf: false });
      expect(missing.statusCode, `${method} ${url}`).toBe(403);
      expect(missing.json().error).toMatch(/CSRF/);
    }
    const wrong = await c.call({ ...manager, csrf: 'x'.repeat(43) }, 'POST', '/api/console/commands', { command: 'lockdown-on' });
    expect(wrong.statusCode).toBe(403);
    const crossSite = await c.call(manager, 'POST', '/api/console/commands', { command: 'lockdown-on' }, { headers: { origin: 'http://evil.example', host: 'gateway.local' } });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().error).toMatch(/cross-site/);
    const fetchSite = await c.call(manager, 'POST', '/api/console/commands', { command: 'lockdown-on' }, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(fetchSite.statusCode).toBe(403);
    expect(c.harness.running.gateway.mode).toBe('open-access');
  });

  it('answers 403 to staff on manager routes (schedule changes and accounts)', async () => {
    const { c, staff } = await withStaffAndManager();
    const managerOnly = ROUTES.filter(([, url]) => url.includes('/users') || url.includes('/policy/preview') || (url.endsWith('/policy') && true));
    for (const [method, url, body] of managerOnly.filter(([m, url]) => !(m === 'GET' && url.endsWith('/policy')))) {
      const response = await c.call(staff, method, url, body);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json().error).toBe('only a manager can do this');
    }
    expect(c.harness.running.gateway.policies.source).toBe('file');
    // Staff may read the schedule.
    expect((await c.call(staff, 'GET', '/api/console/policy')).statusCode).toBe(200);
  });

  it('refuses bad bodies with a 400 naming the field, and bodies that are not JSON', async () => {
    const { c, manager } = await withStaffAndManager();
    const bad = async (method: 'POST' | 'PUT', url: string, body: unknown): Promise<string[]> => {
      const response = await c.call(manager, method, url, body);
      expect(response.statusCode, `${url} ${JSON.stringify(body)}`).toBe(400);
      return response.json().errors as string[];
    };
    expect(await bad('POST', '/api/console/commands', { command: 'open-sesame' })).toEqual([expect.stringMatching(/^command: must be one of "unlock"/)]);
    expect(await bad('POST', '/api/console/commands', {})).toEqual([expect.stringMatching(/^command: must be one of .* \(got undefined\)$/)]);
    expect(await bad('POST', '/api/console/commands', { command: 'lights-on', door: 'main' })).toEqual(['door: only allowed with unlock and lock']);
    // A door this branch does not have: refused by the gateway, naming the doors it has, and nothing opens.
    const noSuchDoor = await c.call(manager, 'POST', '/api/console/commands', { command: 'unlock', door: 'meeting-room' });
    expect(noSuchDoor.statusCode).toBe(409);
    expect(noSuchDoor.json().error).toBe('door: no door "meeting-room" at this branch (doors: main)');
    expect(c.harness.doorRelayActive()).toBe(false);
    expect(await bad('POST', '/api/console/members/lookup', { card: 42 })).toEqual([expect.stringMatching(/^card: must be a string/)]);
    expect(await bad('POST', '/api/console/users', { username: 'x', role: 'boss', password: 'short' })).toEqual([
      'username: must be 2 to 32 letters, digits, dots, dashes or underscores',
      'role: must be one of "staff", "manager" (got "boss")',
      'password: must be at least 10 characters',
    ]);
    const login = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { user: 'mia' } });
    expect(login.statusCode).toBe(400);
    expect(login.json().errors).toEqual(['username: required', 'password: required', 'user: unknown key']);
    const log = await c.call(manager, 'GET', '/api/console/log?types=access,doors&from=yesterday');
    expect(log.statusCode).toBe(400);
    expect(log.json().errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^query\.from: must be a time/), expect.stringMatching(/^query\.types: unknown type\(s\) doors/)]),
    );
    // The right shape, but no such day or hour (found by the soak as a 500): named, not a server error.
    const impossible = await c.call(manager, 'GET', '/api/console/log?from=2026-02-30T25:61&to=3778-91-96T22:75');
    expect(impossible.statusCode).toBe(400);
    expect(impossible.json().errors).toEqual([
      expect.stringMatching(/^query\.from: is not a real date and time/),
      expect.stringMatching(/^query\.to: is not a real date and time/),
    ]);
    const csv = await c.call(manager, 'GET', '/api/console/log.csv?from=2026-13-01T00:00');
    expect(csv.statusCode).toBe(400);

    const notJson = await c.app.inject({ method: 'POST', url: '/api/console/commands', headers: { cookie: manager.cookie, 'x-csrf-token': manager.csrf, 'content-type': 'application/json' }, payload: '{"command":' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().errors).toEqual(['(body): not valid JSON']);
    // What a cross-site HTML form can send without asking is not read at all.
    const form = await c.app.inject({ method: 'POST', url: '/api/console/login', headers: { 'content-type': 'text/plain' }, payload: '{"username":"mia","password":"x"}' });
    expect(form.statusCode).toBe(415);
    expect(c.harness.running.gateway.mode).toBe('open-access');
  });
});

describe('running the building', () => {
  it('runs each command as the signed-in account, logs who did it, and the door follows', async () => {
    const { c, staff } = await withStaffAndManager({ members: { '04A1B2C3D4': {} } });
    const gateway = c.harness.running.gateway;
    const run = (command: string) => c.call(staff, 'POST', '/api/console/commands', { command });

    const on = await run('lockdown-on');
    expect(on.statusCode).toBe(200);
    expect(on.json().status.state.mode).toBe('lockdown');
    c.harness.tap('04A1B2C3D4');
    expect(c.harness.reasons()).toEqual(['lockdown']);
    const unlock = await run('unlock');
    expect(unlock.statusCode).toBe(409);
    expect(unlock.json().error).toMatch(/lockdown is on/);
    expect((await run('lockdown-off')).statusCode).toBe(200);
    expect((await run('unlock')).statusCode).toBe(200);
    expect(c.harness.doorRelayActive()).toBe(true);
    expect((await run('lights-on')).json().status.state.lights).toBe(true);
    expect((await run('lights-off')).json().status.state.lights).toBe(false);
    expect((await run('reset-occupancy')).json().status.state.occupancy.inside).toBe(0);
    expect((await run('reset-alarms')).statusCode).toBe(200);
    expect(gateway.mode).toBe('open-access');

    expect(staffEvents(c).filter((e) => e.action !== 'login')).toEqual(
      ['lockdown-on', 'lockdown-off', 'unlock', 'lights-on', 'lights-off', 'reset-occupancy', 'reset-alarms'].map((action) => ({ action, actor: 'sam' })),
    );
  });

  it('answers "lock" while the branch is staffed with what it did (nothing) and how to lock it', async () => {
    const staffedAllDay = { ...OPEN_ALL_DAY, schedule: { weekly: { wed: [{ from: '00:00', to: '24:00', mode: 'staffed' }] } } };
    const { c, staff } = await withStaffAndManager({ policy: staffedAllDay });
    const lock = await c.call(staff, 'POST', '/api/console/commands', { command: 'lock' });
    expect(lock.statusCode).toBe(409);
    expect(lock.json().error).toBe('the branch is staffed: the schedule holds the door free, so nothing was locked; use lockdown to lock it');
    expect(c.harness.doorRelayActive()).toBe(true);
    expect(staffEvents(c).filter((e) => e.action !== 'login')).toEqual([]);
    const state = await c.call(staff, 'GET', '/api/console/state');
    expect(state.json()).toMatchObject({ state: { mode: 'staffed', door: 'unlocked' }, branch: { clockUntrusted: 'deny' } });
  });

  it('shows the branch now: mode and until when, door, lights, inside vs capacity, alarms, readers, uplink, clock', async () => {
    const { c, staff } = await withStaffAndManager({
      policy: { ...OPEN_ALL_DAY, schedule: { weekly: { wed: [{ from: '08:00', to: '20:00', mode: 'open-access' }] } }, rules: { capacity: 40 } },
    });
    const state = await c.call(staff, 'GET', '/api/console/state');
    expect(state.statusCode).toBe(200);
    expect(state.json()).toMatchObject({
      branch: { site: 'town-central', name: 'Town Central Library', timezone: 'Europe/London' },
      state: {
        mode: 'open-access',
        modeUntil: '2026-03-04T20:00:00.000Z',
        door: 'locked',
        lights: expect.any(Boolean),
        occupancy: { inside: 0, capacity: 40 },
        alarms: [],
        clock: { trusted: true },
        readers: expect.any(Array),
        policy: { version: 1, source: 'file' },
      },
      next: [
        { at: '2026-03-04T20:00:00.000Z', to: 'closed' },
        { at: '2026-03-11T08:00:00.000Z', to: 'open-access' },
        { at: '2026-03-11T20:00:00.000Z', to: 'closed' },
      ],
    });
  });
});

describe('the log', () => {
  it('lists decisions with reasons and pseudonyms, filters by type and local time, pages, and exports CSV without card numbers', async () => {
    const { c, staff } = await withStaffAndManager({ members: { '04A1B2C3D4': {}, '0411111111': { blocked: true } } });
    c.harness.tap('04A1B2C3D4');
    vi.advanceTimersByTime(60 * 60_000);
    c.harness.tap('0411111111');
    await c.call(staff, 'POST', '/api/console/commands', { command: 'lockdown-on' });

    const access = await c.call(staff, 'GET', '/api/console/log?types=access');
    expect(access.statusCode).toBe(200);
    const rows = access.json().events as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.decision, r.reason, r.summary])).toEqual([
      ['refused', 'blocked', 'Entry refused: card blocked'],
      ['granted', 'member', 'Entry granted: member, open access'],
    ]);
    expect(rows[0]!.person).toMatch(/^[0-9a-f]{8}$/);

    const staffRows = (await c.call(staff, 'GET', '/api/console/log?types=staff')).json().events as Array<Record<string, unknown>>;
    expect(staffRows[0]).toMatchObject({ type: 'staff', actor: 'sam', summary: 'sam turned lockdown on' });

    // 12:00Z is 12:00 in London in March: from 12:30 local leaves only the later tap.
    const later = (await c.call(staff, 'GET', '/api/console/log?types=access&from=2026-03-04T12:30')).json().events as unknown[];
    expect(later).toHaveLength(1);
    const page = (await c.call(staff, 'GET', '/api/console/log?limit=2')).json();
    expect(page.events).toHaveLength(2);
    const rest = (await c.call(staff, 'GET', `/api/console/log?limit=500&before=${page.next}`)).json();
    expect(rest.events.map((e: { id: string }) => e.id)).not.toContain(page.events[1].id);

    const csv = await c.call(staff, 'GET', '/api/console/log.csv?types=access,staff');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="oag-log-town-central-2026-03-04T1300\.csv"$/);
    const lines = csv.body.replace(/^\ufeff/, '').trim().split('\r\n');
    expect(lines[0]).toBe('time,local time,type,summary,decision,reason,person,actor,id');
    expect(lines.some((l) => l.includes('Entry refused: card blocked,refused,blocked,'))).toBe(true);
    expect(lines.some((l) => l.includes(',staff,sam turned lockdown on,'))).toBe(true);
    expect(csv.body).not.toMatch(/04A1B2C3D4|0411111111/i);
  });
});

describe('members', () => {
  it('shows the list, and looks a card up by number: its entitlement and the reason the door gives now, keeping only a pseudonym', async () => {
    const { c, staff } = await withStaffAndManager({
      policy: { ...OPEN_ALL_DAY, rules: { minimumAge: 16 } },
      members: { '04A1B2C3D4': { groups: ['scouts'] }, '0422222222': { expires: '2026-01-31' }, '0433333333': { birthDate: '2015-01-01' } },
    });
    const stats = await c.call(staff, 'GET', '/api/console/members');
    expect(stats.json()).toMatchObject({ count: 3, version: 1, source: 'test', updatedAt: expect.any(String) });

    const ok = await c.call(staff, 'POST', '/api/console/members/lookup', { card: '04:a1:b2:c3:d4' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      person: expect.stringMatching(/^[0-9a-f]{8}$/),
      found: true,
      entitlement: { openAccess: true, expired: false, blocked: false, meetsMinimumAge: true, groups: ['scouts'], pinSet: false, staff: false },
      now: { allow: true, reason: 'member', mode: 'open-access' },
    });
    const expired = (await c.call(staff, 'POST', '/api/console/members/lookup', { card: '0422222222' })).json();
    expect(expired).toMatchObject({ found: true, entitlement: { expired: true, expires: '2026-01-31' }, now: { allow: false, reason: 'expired', reasonText: 'membership expired' } });
    const young = (await c.call(staff, 'POST', '/api/console/members/lookup', { card: '0433333333' })).json();
    expect(young).toMatchObject({ entitlement: { meetsMinimumAge: false, minimumAge: 16 }, now: { reason: 'under-age' } });
    const unknown = (await c.call(staff, 'POST', '/api/console/members/lookup', { card: '0499999999' })).json();
    expect(unknown).toMatchObject({ found: false, now: { allow: false, reason: 'unknown-card' } });
    expect(unknown.entitlement).toBeUndefined();
    const short = await c.call(staff, 'POST', '/api/console/members/lookup', { card: '12' });
    expect(short.statusCode).toBe(400);
    expect(short.json().errors).toEqual(['card: card number is shorter than 4 characters']);

    // The lookup is audited by pseudonym; the typed numbers are nowhere: not in the events, not in the database files.
    const lookups = staffEvents(c).filter((e) => String(e.action).startsWith('member-lookup:'));
    expect(lookups).toEqual([ok, expired, young, unknown].map((r) => ({ action: `member-lookup:${'json' in r ? r.json().person : r.person}`, actor: 'sam' })));
    await c.harness.running.gateway.stop();
    const files = readdirSync(c.harness.dir).filter((f) => f.startsWith('gateway.sqlite'));
    for (const file of files) {
      const bytes = readFileSync(join(c.harness.dir, file)).toString('latin1');
      for (const number of ['04A1B2C3D4', '04:a1:b2:c3:d4', '0422222222', '0433333333', '0499999999']) expect(bytes.toUpperCase()).not.toContain(number.toUpperCase());
    }
  });
});

describe('the page, live updates and the API document', () => {
  it('serves the page with a strict content security policy, its modules from node_modules, and / goes to it', async () => {
    c = await startConsole();
    const root = await c.app.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('/console/');
    const page = await c.app.inject({ method: 'GET', url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<script type="importmap">');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    for (const url of ['/console/app.js', '/console/style.css', '/console/vendor/preact/preact.mjs', '/console/vendor/preact-hooks/hooks.mjs', '/console/vendor/htm/htm.mjs']) {
      expect((await c.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });

  it('keeps health and the simulated tap public; health says only that it is up', async () => {
    c = await startConsole({ members: { '04A1B2C3D4': {} } });
    expect((await c.app.inject({ method: 'GET', url: '/api/health' })).json()).toEqual({ ok: true });
    const tap = await c.app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { uid: '04A1B2C3D4' } });
    expect(tap.json()).toMatchObject({ result: 'granted' });
  });

  it('describes the JSON API in OpenAPI with the zod schemas', async () => {
    const { c, staff } = await withStaffAndManager();
    expect((await c.call(undefined, 'GET', '/api/openapi.json')).statusCode).toBe(401);
    const doc = (await c.call(staff, 'GET', '/api/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/health', '/api/state', '/api/simulate/tap', '/api/console/login', '/api/console/commands', '/api/console/policy', '/api/console/policy/preview', '/api/console/log', '/api/console/members/lookup', '/api/console/users/{username}']));
    const command = doc.paths['/api/console/commands'].post.requestBody.content['application/json'].schema;
    expect(command.properties.command.enum).toContain('lockdown-on');
    const save = doc.paths['/api/console/policy'].put.requestBody.content['application/json'].schema;
    expect(Object.keys(save.properties.policy.properties)).toEqual(expect.arrayContaining(['site', 'schedule', 'bookings', 'rules']));
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie' });
    expect(doc.components.securitySchemes.token).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/api/state'].get.security).toEqual([{ session: [] }, { token: [] }]);
    expect(doc.paths['/api/health'].get.security).toEqual([]);
  });

  it('streams the status and new log rows as server-sent events', async () => {
    vi.useRealTimers();
    const { c, staff } = await withStaffAndManager();
    const url = await c.app.listen({ host: '127.0.0.1', port: 0 });
    const received: string[] = [];
    let commanded = false;
    const done = new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${url}/api/console/live`, { headers: { cookie: staff.cookie } }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          received.push(chunk);
          const text = received.join('');
          if (text.includes('event: status') && !commanded) {
            commanded = true;
            void c.call(staff, 'POST', '/api/console/commands', { command: 'lockdown-on' });
          }
          if (text.includes('sam turned lockdown on')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (error) => (error.message.includes('aborted') ? undefined : reject(error)));
      req.end();
      setTimeout(() => reject(new Error(`no log event; got ${received.join('')}`)), 5000).unref();
    });
    await done;
    const text = received.join('');
    expect(text).toMatch(/event: status\ndata: \{"state":\{/);
    expect(text).toMatch(/event: log\ndata: \{[^\n]*"summary":"sam turned lockdown on"/);
    const unauth = await c.app.inject({ method: 'GET', url: '/api/console/live' });
    expect(unauth.statusCode).toBe(401);
  });

  it('ends the live stream when the store cannot vouch for its token at the heartbeat, and the door decides on', async () => {
    vi.useRealTimers();
    c = await startConsole({ members: { '04A1B2C3D4': {} } });
    const { token } = c.addToken('staff');
    const url = await c.app.listen({ host: '127.0.0.1', port: 0 });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const response = await fetch(`${url}/api/console/live`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    // Another process holds the store's lock just as the heartbeat asks whether the token still holds.
    vi.spyOn(ApiTokens.prototype, 'check').mockImplementation(() => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    });
    vi.advanceTimersByTime(15_000);
    vi.restoreAllMocks();
    // The stream ends, as for a revoked token, instead of the error leaving the timer and stopping the gateway.
    expect(await response.text()).toMatch(/event: session-ended/);
    c.harness.tap('04A1B2C3D4');
    expect(c.harness.doorRelayActive()).toBe(true);
  });

  it('has no console without the store and hasher, and then nobody can read the state', async () => {
    c = await startConsole();
    const bare = buildLocalApi({ gateway: c.harness.running.gateway, hardware: c.harness.running.hardware });
    expect((await bare.inject({ method: 'GET', url: '/api/console/session' })).statusCode).toBe(404);
    expect((await bare.inject({ method: 'GET', url: '/api/state' })).statusCode).toBe(401);
    // A token of the console's store means nothing to an API that has not got the store.
    const { token } = c.addToken('staff');
    expect((await bare.inject({ method: 'GET', url: '/api/state', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    await bare.close();
  });
});
