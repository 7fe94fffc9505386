// The door screen's routes on a real gateway (simulated hardware, the gateway's clock a TestClock), through fastify's
// inject, and its event stream over a real loopback socket: who may see it, what it says after a tap, the PIN prompt.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { checkReferencedFiles, parseGatewayConfig } from '../../../gateway/config.js';
import { DECISION_SHOWN_MS, MAX_DOOR_SCREENS, type DoorScreenState } from '../../../gateway/http/door-screen.js';
import { readDisplayToken } from '../../../gateway/http/display-token.js';
import { buildLocalApi } from '../../../gateway/http/server.js';
import { hashPin } from '../../../policies/index.js';
import { OPEN_ALL_DAY } from '../../helpers/console.js';
import { defaultConfig, removeDir, startHarness, type Harness } from '../../helpers/gateway-harness.js';
import { TestClock } from '../../helpers/test-clock.js';
import { until } from '../../helpers/until.js';

const MEMBER = '04A1B2C3D4';
const EXPIRED = '04A1B2C3D5';
const WITH_PIN = '04A1B2C3D6';
const PIN_TIMEOUT_MS = 15_000;
const TOKEN = randomBytes(32).toString('hex');
/** Tuesday 16 June 2026, 14:00 UTC: 15:00 in London, open access all day in this policy. */
const START = Date.parse('2026-06-16T14:00:00Z');

let harness: Harness | undefined;
let app: FastifyInstance | undefined;
let clock: TestClock;

afterEach(async () => {
  await app?.close();
  app = undefined;
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
});

async function start(options: { displayToken?: string; keypad?: boolean; secondDoor?: boolean; deskFirst?: boolean } = {}): Promise<{ h: Harness; api: FastifyInstance }> {
  clock = new TestClock(START);
  harness = await startHarness({
    policy: { ...OPEN_ALL_DAY, timezone: 'Europe/London', rules: { pin: options.keypad ? 'always' : 'never' } },
    members: { [MEMBER]: {}, [EXPIRED]: { expires: '2026-01-31' }, [WITH_PIN]: { pinHash: hashPin('2468') } },
    config: {
      taps: { repeatWindowMs: 0, pinTimeoutMs: PIN_TIMEOUT_MS },
      ...(options.keypad
        ? { hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }], keypad: { driver: 'simulated' } } }
        : {}),
      ...(options.secondDoor
        ? {
            hardware: {
              gpio: { driver: 'simulated' },
              doors: [{ id: 'meeting-room' }],
              readers: [
                { id: 'entry', driver: 'simulated', role: 'entry' },
                { id: 'room', driver: 'simulated', role: 'entry', door: 'meeting-room' },
              ],
            },
          }
        : {}),
      ...(options.deskFirst
        ? {
            hardware: {
              gpio: { driver: 'simulated' },
              readers: [
                { id: 'desk', driver: 'simulated', role: 'desk' },
                { id: 'entry', driver: 'simulated', role: 'entry' },
              ],
            },
          }
        : {}),
    },
    start: { clock },
  });
  app = buildLocalApi({
    gateway: harness.running.gateway,
    hardware: harness.running.hardware,
    doorScreen: { clock, pinTimeoutMs: PIN_TIMEOUT_MS, displayToken: options.displayToken },
  });
  await app.ready();
  return { h: harness, api: app };
}

const REMOTE = '192.0.2.40';

/** Every key at any depth of a JSON value. */
function keysOf(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
}

async function state(api: FastifyInstance, query = ''): Promise<DoorScreenState> {
  const response = await api.inject({ method: 'GET', url: `/door-screen/state${query}` });
  expect(response.statusCode).toBe(200);
  return response.json<DoorScreenState>();
}

describe('who may see the door screen', () => {
  it('serves the page and its state to this machine, and refuses another with a 401 in JSON, never the page', async () => {
    const { api } = await start();
    const page = await api.inject({ method: 'GET', url: '/door-screen' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('aria-live="assertive"');
    expect((await api.inject({ method: 'GET', url: '/door-screen/state' })).statusCode).toBe(200);

    for (const url of ['/door-screen', '/door-screen/state', '/door-screen/events']) {
      const refused = await api.inject({ method: 'GET', url, remoteAddress: REMOTE });
      expect(refused.statusCode, url).toBe(401);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(refused.json<{ error: string }>().error).toMatch(/this machine only.*http\.displayTokenFile/);
    }
  });

  it('takes a request through a proxy on this machine for the one behind it', async () => {
    const { api } = await start();
    const proxied = await api.inject({ method: 'GET', url: '/door-screen/state', headers: { 'x-forwarded-for': REMOTE } });
    expect(proxied.statusCode).toBe(401);
  });

  it('lets a screen on another machine in with the display token, as a header or in the kiosk’s URL, and refuses a wrong one', async () => {
    const { api } = await start({ displayToken: TOKEN });
    const withHeader = await api.inject({ method: 'GET', url: '/door-screen/state', remoteAddress: REMOTE, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(withHeader.statusCode).toBe(200);
    const inUrl = await api.inject({ method: 'GET', url: `/door-screen?reader=entry&token=${TOKEN}`, remoteAddress: REMOTE });
    expect(inUrl.statusCode).toBe(200);
    expect(inUrl.headers['referrer-policy']).toBe('no-referrer');

    const wrong = await api.inject({ method: 'GET', url: '/door-screen', remoteAddress: REMOTE, headers: { authorization: `Bearer ${TOKEN.replace(/.$/, '0')}x` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'that is not the display token' });
    expect(wrong.body).not.toContain('<html');
    const none = await api.inject({ method: 'GET', url: '/door-screen/state', remoteAddress: REMOTE });
    expect(none.statusCode).toBe(401);
    expect(none.json<{ error: string }>().error).toMatch(/needs the display token/);
  });

  it('reads the display token from its file, and refuses a placeholder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-display-token-'));
    try {
      writeFileSync(join(dir, 'good'), `${TOKEN}\n`);
      writeFileSync(join(dir, 'short'), 'changeme\n');
      expect(readDisplayToken(join(dir, 'good'))).toBe(TOKEN);
      expect(() => readDisplayToken(join(dir, 'short'))).toThrow(/http\.displayTokenFile .*at least 16 characters/);
      // oag check-config names a token file it cannot read, as it does the TLS files.
      const config = parseGatewayConfig(defaultConfig(dir, { http: { displayTokenFile: join(dir, 'missing') } }));
      expect(checkReferencedFiles(config).join('\n')).toContain('http.displayTokenFile');
      // ... and a placeholder before it is deployed, not when the screen goes blank.
      const placeholder = parseGatewayConfig(defaultConfig(dir, { http: { displayTokenFile: join(dir, 'short') } }));
      expect(checkReferencedFiles(placeholder)).toEqual([expect.stringMatching(/^http\.displayTokenFile .*at least 16 characters/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what the door screen says', () => {
  it('shows the mode and its next change, and a refusal’s words for 8 seconds, with nothing about the person', async () => {
    const { h, api } = await start();
    const idle = await state(api, '?reader=entry');
    expect(idle).toMatchObject({ reader: 'entry', door: 'main', timezone: 'Europe/London', mode: { mode: 'open-access', words: 'Open access' }, message: null });
    expect(idle.at).toBe(new Date(START).toISOString());

    h.tap(EXPIRED, 'entry');
    const refused = await state(api, '?reader=entry');
    expect(refused.message).toEqual({ tone: 'refused', title: 'Your membership has expired.', detail: 'Renew online or at the counter.' });
    // Nothing that names or counts anyone: no person, no pseudonym, no count inside.
    const person = h.events.find((e) => e.type === 'access')!.person as string;
    expect(person).toMatch(/^[0-9a-f]{8}$/);
    const body = JSON.stringify(refused);
    expect(body).not.toContain(person);
    expect(keysOf(refused)).not.toEqual(expect.arrayContaining([expect.stringMatching(/person|pseudonym|card|inside|occupancy|capacity|count/i)]));
    expect(keysOf(refused).sort()).toEqual(['at', 'detail', 'door', 'lang', 'message', 'mode', 'mode', 'pinPending', 'reader', 'timezone', 'title', 'tone', 'words']);

    clock.advance(DECISION_SHOWN_MS - 1);
    expect((await state(api, '?reader=entry')).message?.title).toBe('Your membership has expired.');
    clock.advance(1);
    expect((await state(api, '?reader=entry')).message).toBeNull();
  });

  it('shows a grant at its own door and side: the exit reader’s goodbye is not the entry screen’s', async () => {
    const { h, api } = await start();
    h.tap(MEMBER, 'exit');
    expect((await state(api, '?reader=entry')).message).toBeNull();
    expect((await state(api, '?reader=exit')).message).toEqual({ tone: 'welcome', title: 'Goodbye' });
    h.tap(MEMBER, 'entry');
    expect((await state(api)).message).toEqual({ tone: 'welcome', title: 'Welcome' });
  });

  it('shows a decision at the door it was made at: the meeting room’s refusal is not the entrance’s', async () => {
    const { h, api } = await start({ secondDoor: true });
    h.tap(EXPIRED, 'room');
    expect((await state(api, '?reader=room')).message).toMatchObject({ tone: 'refused', title: 'Your membership has expired.' });
    expect((await state(api, '?reader=entry')).message).toBeNull();
    h.tap(MEMBER, 'entry');
    expect((await state(api, '?reader=entry')).message).toEqual({ tone: 'welcome', title: 'Welcome' });
    expect((await state(api, '?reader=room')).message).toMatchObject({ tone: 'refused' });
  });

  it('answers a reader the branch does not have with a 400 naming the ones it has', async () => {
    const { api } = await start();
    const response = await api.inject({ method: 'GET', url: '/door-screen/state?reader=side-door' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'invalid query', errors: ['reader: no reader "side-door" here (have entry, exit)'] });
  });

  it('never stands at the desk reader: without ?reader= it is the first entry reader, and the desk is not one it has', async () => {
    const { api } = await start({ deskFirst: true });
    expect((await state(api)).reader).toBe('entry');
    const response = await api.inject({ method: 'GET', url: '/door-screen/state?reader=desk' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'invalid query', errors: ['reader: no reader "desk" here (have entry)'] });
  });

  it('asks for the PIN until the PIN is typed, and again until the prompt times out', async () => {
    const { h, api } = await start({ keypad: true });
    const keypad = h.running.hardware.simulated!.keypad!;
    h.tap(WITH_PIN, 'entry');
    expect(await state(api)).toMatchObject({ pinPending: true, message: { tone: 'prompt', title: 'Enter your PIN.' } });
    // Still asking just before the keypad gives up.
    clock.advance(PIN_TIMEOUT_MS - 1);
    expect((await state(api)).pinPending).toBe(true);

    keypad.enter('1111', 'entry');
    await h.running.gateway.access.pinChecksDone();
    expect(await state(api)).toMatchObject({ pinPending: false, message: { tone: 'refused', title: 'Wrong PIN.', detail: 'Try again.' } });

    clock.advance(DECISION_SHOWN_MS);
    h.tap(WITH_PIN, 'entry');
    expect((await state(api)).pinPending).toBe(true);
    clock.advance(PIN_TIMEOUT_MS);
    expect(await state(api)).toMatchObject({ pinPending: false, message: null });
  });
});

/** The stream's `state` messages as they come, over a real socket. */
function openStream(url: string): Promise<{ response: IncomingMessage; next(): Promise<DoorScreenState>; close(): void }> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      let buffer = '';
      const queue: DoorScreenState[] = [];
      const waiting: Array<(s: DoorScreenState) => void> = [];
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^event: state\ndata: (.*)$/m.exec(message);
          if (data === null) continue;
          const parsed = JSON.parse(data[1]!) as DoorScreenState;
          const waiter = waiting.shift();
          if (waiter) waiter(parsed);
          else queue.push(parsed);
        }
      });
      resolve({
        response,
        next: () => new Promise((r) => (queue.length > 0 ? r(queue.shift()!) : waiting.push(r))),
        close: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}

describe('the door screen’s event stream', () => {
  it('pushes the words of each decision, and takes at most 8 screens', async () => {
    const { h, api } = await start();
    const base = await api.listen({ host: '127.0.0.1', port: 0 });
    const first = await openStream(`${base}/door-screen/events?reader=entry`);
    expect(first.response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect((await first.next()).message).toBeNull();
    h.tap(EXPIRED, 'entry');
    expect((await first.next()).message?.title).toBe('Your membership has expired.');
    clock.advance(DECISION_SHOWN_MS);
    expect((await first.next()).message).toBeNull();

    const more = await Promise.all(Array.from({ length: MAX_DOOR_SCREENS - 1 }, () => openStream(`${base}/door-screen/events`)));
    const refused = await new Promise<{ status: number | undefined; body: string }>((resolve) => {
      get(`${base}/door-screen/events`, (response) => {
        let body = '';
        response.on('data', (c: Buffer) => (body += c.toString()));
        response.on('end', () => resolve({ status: response.statusCode, body }));
      });
    });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toEqual({ error: 'too many door screens connected (at most 8)' });
    // A screen that goes away frees its place for the next.
    first.close();
    await until(async () => {
      const again = await openStream(`${base}/door-screen/events`);
      again.close();
      return again.response.statusCode === 200;
    }, 'a place for a ninth screen once one left');
    for (const stream of more) stream.close();
  });
});
