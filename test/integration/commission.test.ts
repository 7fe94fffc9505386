// `oag commission` against a real gateway on simulated hardware and its real HTTP API on loopback: the CLI runs with
// scripted input, the test plays the technician (presses, opens, triggers, taps, answers) when the CLI asks, and the
// gateway's log must hold the commissioning record. Step timeouts are the CLI's option, kept short where a step
// must fail; nothing here asserts how long anything took.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createCardHasher } from '../../gateway/core/cards.js';
import { addApiToken } from '../../gateway/console/index.js';
import { ApiTokens } from '../../gateway/console/tokens.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { COMMISSIONING_STEPS } from '../../gateway/commission/commissioning.js';
import type { CommissioningStep } from '../../gateway/commission/commissioning.js';
import { runCommission } from '../../scripts/commands/commission.js';
import { OPEN_ALL_DAY } from '../helpers/console.js';
import { defaultConfig, removeDir, startHarness, TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';
import { until } from '../helpers/until.js';

const CARD = '04A2B3C4';

interface Site {
  h: Harness;
  app: FastifyInstance;
  url: string;
  token: string;
}

let site: Site | undefined;

afterEach(async () => {
  if (site === undefined) return;
  await site.app.close();
  await site.h.stop();
  removeDir(site.h.dir);
  site = undefined;
});

/** A branch with a contact, an exit button, the fire input, an entry and an exit reader and the PCs' contactor. */
async function startSite(): Promise<Site> {
  const hardware = { ...defaultConfig('/not-used').hardware!, switched: [{ id: 'pcs', label: 'Public PCs' }] } as GatewayConfigInput['hardware'];
  const h = await startHarness({ policy: OPEN_ALL_DAY, members: { [CARD]: {} }, config: { hardware } });
  const store = h.running.store;
  const app = buildLocalApi({
    gateway: h.running.gateway,
    hardware: h.running.hardware,
    console: { store, hashCard: createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex')), clock: { now: () => new Date() } },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const { token } = addApiToken(store, 'commissioning', 'staff', 1);
  site = { h, app, url: `http://127.0.0.1:${port}`, token };
  return site;
}

/** The CLI with a keyboard the test types on and a screen it reads. */
function cli(s: Site, options: { steps?: CommissioningStep[]; timeoutMs?: number; pulseSeconds?: number } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = '';
  output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const interrupt = new AbortController();
  const exit = runCommission(
    {
      url: s.url,
      token: s.token,
      who: 'Alex Fitter',
      steps: options.steps ?? [...COMMISSIONING_STEPS],
      timeoutMs: options.timeoutMs ?? 10_000,
      pulseSeconds: options.pulseSeconds ?? 1,
    },
    { input, output, signal: interrupt.signal },
  );
  const count = (text: string): number => screen.split(text).length - 1;
  return {
    exit,
    screen: () => screen,
    type: (line: string) => input.write(`${line}\n`),
    interrupt: () => interrupt.abort(),
    /** Until the screen shows `text` for the `nth` time. */
    sees: (text: string, nth = 1) => until(() => count(text) >= nth, () => `"${text}" (×${nth}) on the screen:\n${screen}`),
  };
}

const record = (h: Harness) =>
  h.events.flatMap((e) => (e.type === 'commissioning' ? [{ action: e.action, step: e.step, result: e.result, detail: e.detail, output: e.output }] : []));

async function post(s: Site, path: string, body: unknown, token: string | null = s.token): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('oag commission', () => {
  it('walks every step: inputs the gateway sees pass them, the technician answers the rest, and the log holds the record', async () => {
    const s = await startSite();
    const run = cli(s);
    const pcs = s.h.running.hardware.switched.get('pcs')!;

    await run.sees('Press the exit button now');
    s.h.input('exitButton', true);
    s.h.input('exitButton', false);
    await run.sees('Open the door');
    s.h.input('exitButton', true);
    s.h.input('exitButton', false);
    s.h.input('doorContact', true);
    await run.sees('opened…');
    s.h.input('doorContact', false);
    await run.sees('Trigger the fire input');
    s.h.input('fireAlarm', true);
    await run.sees('triggered…');
    expect(s.h.running.gateway.mode).toBe('emergency');
    s.h.input('fireAlarm', false);
    await run.sees('Tap a test card on the entry reader');
    // The emergency the test latched was reset by the tool, so the door holds as the schedule says again.
    expect(s.h.running.gateway.mode).toBe('open-access');
    s.h.tap(CARD, 'entry');
    await run.sees('Tap a test card on the exit reader');
    s.h.tap(CARD, 'exit');
    for (let n = 1; n <= 6; n += 1) {
      await run.sees('Did you hear it?', n);
      run.type('y');
    }
    await run.sees('Watch the door relay');
    expect(s.h.doorRelayActive()).toBe(true);
    run.type('yes');
    await run.sees('Watch Public PCs: it switches on');
    expect(pcs.active).toBe(true);
    run.type('y');

    expect(await run.exit).toBe(0);
    expect(run.screen()).toContain('All 8 passed.');
    // A card is shown by its pseudonym, never its number.
    const person = s.h.events.find((e) => e.type === 'access')!;
    expect(run.screen()).toContain(`card ${String((person as { person: string }).person)}, granted`);
    expect(run.screen()).not.toContain(CARD);

    const steps = record(s.h).filter((e) => e.action === 'step');
    expect(steps.map((e) => [e.step, e.result])).toEqual([
      ['exit-button', 'passed'],
      ['door-contact', 'passed'],
      ['fire-input', 'passed'],
      ['card-reader', 'passed'],
      ['card-reader', 'passed'],
      ['announcements', 'passed'],
      ['door-relay', 'passed'],
      ['switched-outputs', 'passed'],
    ]);
    expect(record(s.h)[0]).toMatchObject({ action: 'started' });
    expect(record(s.h).at(-1)).toMatchObject({ action: 'ended', result: 'passed' });
    expect(record(s.h).filter((e) => e.action === 'pulse').map((e) => e.output ?? 'door')).toEqual(['door', 'pcs']);
    // The pulses end by themselves: the door locks, the PCs go back off.
    await until(() => !s.h.doorRelayActive() && !pcs.active, 'the door relay and the PCs back');
  });

  it('fails a step at its timeout, skips one on s, and tells a key that is not an answer', async () => {
    const s = await startSite();
    const run = cli(s, { steps: ['exit-button', 'door-relay'], timeoutMs: 200 });

    await run.sees('FAILED: nothing seen within 1 s');
    await run.sees('Watch the door relay');
    run.type('x');
    await run.sees('"x" is not an answer: type y (yes), n (no) or s (skip)');
    run.type('s');

    expect(await run.exit).toBe(1);
    expect(record(s.h).filter((e) => e.action === 'step').map((e) => [e.step, e.result])).toEqual([
      ['exit-button', 'failed'],
      ['door-relay', 'skipped'],
    ]);
    expect(record(s.h).at(-1)).toMatchObject({ action: 'ended', result: 'failed', detail: '0 passed, 1 failed, 1 skipped: done' });
    expect(run.screen()).toMatch(/exit-button\s+failed\s+nothing seen within 1 s/);
  });

  it('passes a step typed over while waiting, and skips a waiting step on s', async () => {
    const s = await startSite();
    const run = cli(s, { steps: ['exit-button', 'door-contact'] });
    await run.sees('Press the exit button now');
    run.type('hello');
    await run.sees('Still waiting (press the exit button now): type s and Enter to skip this step.');
    s.h.input('exitButton', true);
    await run.sees('Open the door');
    run.type('s');
    expect(await run.exit).toBe(1);
    expect(record(s.h).filter((e) => e.action === 'step').map((e) => [e.step, e.result])).toEqual([
      ['exit-button', 'passed'],
      ['door-contact', 'skipped'],
    ]);
  });

  it('Ctrl-C ends the session at once: the pulse stops and the door is locked again', async () => {
    const s = await startSite();
    const run = cli(s, { steps: ['door-relay'], pulseSeconds: 30 });
    await run.sees('Watch the door relay');
    expect(s.h.doorRelayActive()).toBe(true);
    run.interrupt();
    expect(await run.exit).toBe(130);
    expect(s.h.doorRelayActive()).toBe(false);
    expect(s.h.running.gateway.door.state).toBe('locked');
    expect(run.screen()).toContain('the door is locked');
    expect(record(s.h).at(-1)).toMatchObject({ action: 'ended', detail: '0 passed, 0 failed, 0 skipped: interrupted by the technician' });
  });

  it('a tool that goes away without a word ends its session: the pulse stops and the door locks', async () => {
    const s = await startSite();
    const started = await post(s, '/api/console/commission', { who: 'Alex Fitter', steps: ['door-relay'] });
    const session = String(started.body.session);
    const gone = new AbortController();
    const watch = await fetch(`${s.url}/api/console/commission/watch?session=${session}`, { headers: { authorization: `Bearer ${s.token}` }, signal: gone.signal });
    expect(watch.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await post(s, '/api/console/commission/pulse', { session, seconds: 30 })).status).toBe(200);
    expect(s.h.doorRelayActive()).toBe(true);
    // One session at a time: a second technician is told who is at work.
    const second = await post(s, '/api/console/commission', { who: 'Sam Second', steps: ['door-relay'] });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatch(/^Alex Fitter \(token:commissioning\) is commissioning since /);

    gone.abort();
    await until(() => !s.h.doorRelayActive(), 'the door relay released');
    expect(record(s.h).at(-1)).toMatchObject({ action: 'ended', detail: '0 passed, 0 failed, 0 skipped: the commissioning tool went away' });
    expect((await post(s, '/api/console/commission/pulse', { session })).status).toBe(409);
  });

  it('a stop of the local API ends the session as the gateway stopping: the tool is told, and the record says so', async () => {
    const s = await startSite();
    const started = await post(s, '/api/console/commission', { who: 'Alex Fitter', steps: ['door-relay'] });
    const session = String(started.body.session);
    const watch = await fetch(`${s.url}/api/console/commission/watch?session=${session}`, { headers: { authorization: `Bearer ${s.token}` } });
    expect((await post(s, '/api/console/commission/pulse', { session, seconds: 30 })).status).toBe(200);
    expect(s.h.doorRelayActive()).toBe(true);

    await s.app.close();
    expect(s.h.doorRelayActive()).toBe(false);
    expect(record(s.h).at(-1)).toMatchObject({ action: 'ended', detail: '0 passed, 0 failed, 0 skipped: the gateway stopped' });
    expect(await watch.text()).toContain('event: ended\ndata: {"reason":"the gateway stopped"}');
  });

  it('a credential store that cannot be read at the heartbeat ends the stream and the session (door locked) instead of throwing from the timer', async () => {
    const s = await startSite();
    const started = await post(s, '/api/console/commission', { who: 'Alex Fitter', steps: ['door-relay'] });
    const session = String(started.body.session);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const watch = await fetch(`${s.url}/api/console/commission/watch?session=${session}`, { headers: { authorization: `Bearer ${s.token}` } });
      expect((await post(s, '/api/console/commission/pulse', { session, seconds: 30 })).status).toBe(200);
      vi.spyOn(ApiTokens.prototype, 'check').mockImplementation(() => {
        throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      });
      vi.advanceTimersByTime(15_000);
      expect(s.h.doorRelayActive()).toBe(false);
      expect(record(s.h).at(-1)).toMatchObject({ action: 'ended', detail: '0 passed, 0 failed, 0 skipped: the commissioning tool went away' });
      // The stream ends (its text is whole), as for a revoked token.
      expect(await watch.text()).toContain('event: ready');
    } finally {
      vi.restoreAllMocks();
      vi.useRealTimers();
    }
  });

  it('refuses a pulse without a session, during a fire, and in open access with people inside; no token is a 401', async () => {
    const s = await startSite();
    const none = await post(s, '/api/console/commission/pulse', { session: '0123456789abcdef' });
    expect(none.status).toBe(409);
    expect(none.body.error).toMatch(/no commissioning session/);

    const started = await post(s, '/api/console/commission', { who: 'Alex Fitter', steps: ['door-relay'] });
    expect(started.status).toBe(201);
    const session = String(started.body.session);

    s.h.input('fireAlarm', true);
    const fire = await post(s, '/api/console/commission/pulse', { session });
    expect(fire.status).toBe(409);
    expect(fire.body.error).toMatch(/fire alarm/);
    s.h.input('fireAlarm', false);
    expect(s.h.running.gateway.execute({ command: 'reset-alarms' }, 'test').ok).toBe(true);

    // Someone comes in on a card: the building is in use.
    s.h.tap(CARD, 'entry');
    s.h.input('doorContact', true);
    s.h.input('doorContact', false);
    expect(s.h.running.gateway.occupancy.inside).toBe(1);
    const inUse = await post(s, '/api/console/commission/pulse', { session });
    expect(inUse.status).toBe(409);
    expect(inUse.body.error).toMatch(/open access with 1 inside/);
    expect(record(s.h).filter((e) => e.action === 'pulse')).toEqual([]);

    const bad = await post(s, '/api/console/commission/pulse', { session, door: 'main', output: 'pcs', seconds: 99 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual(['seconds: must be at most 30', 'output: give a door or an output, not both']);

    expect((await post(s, '/api/console/commission', { who: 'x', steps: ['door-relay'] }, null)).status).toBe(401);
    expect((await post(s, '/api/console/commission/pulse', { session }, 'oag_aaaaaaaaaaaa_nope')).status).toBe(401);
    const watch = await fetch(`${s.url}/api/console/commission/watch?session=${session}`);
    expect(watch.status).toBe(401);
  });
});
