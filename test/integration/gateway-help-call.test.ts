// The help-call button on the real gateway (simulated drivers, SQLite file, fake time): a press is a critical alarm
// and a signal at the door that nothing else makes, in every mode, and never moves the door; acknowledged, the door
// says someone is coming; the call ends at staff's reset or a while after the acknowledgement.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import type { OutputName } from '../../firmware-bridge/types.js';
import { SIGNAL_CHIRP_MS } from '../../gateway/core/feedback.js';
import { harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness, HarnessOptions } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const MEMBER = '04A1B2C3D4';

// Monday 23 November 2026, on GMT: open access 13:00–20:00, then closed.
const at = (hhmm: string): number => Date.parse(`2026-11-23T${hhmm}:00Z`);

const scene = harnessPerTest();

function hardware(helpDebounceMs = 0): NonNullable<HarnessOptions['config']>['hardware'] {
  return {
    gpio: { driver: 'simulated' },
    inputs: {
      doorContact: { debounceMs: 0 },
      exitButton: { debounceMs: 0 },
      fireAlarm: { debounceMs: 0 },
      helpButton: { debounceMs: helpDebounceMs },
    },
    readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
  };
}

async function start(hhmm: string, options: { helpDebounceMs?: number; clearAfterAcknowledgedMinutes?: number } = {}): Promise<Harness> {
  vi.setSystemTime(at(hhmm));
  scene.current = await startHarness({
    policy: town,
    members: { [MEMBER]: {} },
    config: {
      hardware: hardware(options.helpDebounceMs),
      ...(options.clearAfterAcknowledgedMinutes === undefined ? {} : { help: { clearAfterAcknowledgedMinutes: options.clearAfterAcknowledgedMinutes } }),
    },
  });
  scene.dirs.push(scene.current.dir);
  return scene.current;
}

function button(h: Harness) {
  return h.running.hardware.simulated!.inputs.helpButton!;
}

function press(h: Harness): void {
  button(h).set(true);
  button(h).set(false);
}

/** Each help-requested alarm event: state and detail, in order. */
function helpAlarms(h: Harness): Array<[string, string | undefined, string | undefined]> {
  return h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === 'help-requested' ? [[e.state, e.severity, e.detail] as [string, string | undefined, string | undefined]] : []));
}

/** An output's level sampled every `stepMs` for `forMs` from now (fake time advances). */
function sample(h: Harness, name: OutputName, forMs: number, stepMs: number): boolean[] {
  const output = h.running.hardware.outputs[name];
  const out: boolean[] = [];
  for (let t = 0; t < forMs; t += stepMs) {
    out.push(output.active);
    vi.advanceTimersByTime(stepMs);
  }
  return out;
}

/** How many times an output was switched on from `sinceMs` on. */
function onsSince(h: Harness, name: OutputName, sinceMs: number): number {
  return h.running.hardware.simulated!.outputs[name]!.history.filter((w) => w.atMs >= sinceMs && w.active).length;
}

function doorWrites(h: Harness): number {
  return h.running.hardware.simulated!.outputs.door!.history.length;
}

describe('a press', () => {
  it('raises help-requested, critical, puts the call in the state, flashes red and chirps, and leaves the door alone', async () => {
    const h = await start('19:00');
    const { gateway } = h.running;
    const doorBefore = doorWrites(h);
    const soundsBefore = h.running.hardware.simulated!.outputs.sounder!.history.length;
    const pressedAt = Date.now();
    button(h).set(true);

    expect(helpAlarms(h)).toEqual([['raised', 'critical', 'the help-call button was pressed']]);
    expect(gateway.state.alarms).toContain('help-requested');
    expect(gateway.state.help).toEqual({ requested: true, since: new Date(pressedAt).toISOString(), presses: 1, acknowledgedBy: null, acknowledgedAt: null });

    // Red at 1 Hz (sampled every 250 ms: two on, two off), green dark, a short chirp now and every 10 s.
    expect(sample(h, 'ledRed', 2000, 250)).toEqual([true, true, false, false, true, true, false, false]);
    expect(h.running.hardware.outputs.ledGreen.active).toBe(false);
    vi.advanceTimersByTime(25_000 - 2000);
    expect(onsSince(h, 'sounder', pressedAt)).toBe(3);
    expect(onsSince(h, 'ledGreen', pressedAt)).toBe(0);
    // Each chirp is short: off again within SIGNAL_CHIRP_MS.
    const sounder = h.running.hardware.simulated!.outputs.sounder!.history.slice(soundsBefore);
    expect(sounder.map((w) => [w.active, w.atMs - pressedAt])).toEqual([
      [true, 0],
      [false, SIGNAL_CHIRP_MS],
      [true, 10_000],
      [false, 10_000 + SIGNAL_CHIRP_MS],
      [true, 20_000],
      [false, 20_000 + SIGNAL_CHIRP_MS],
    ]);

    // Releasing the button changes nothing; the door was never written and stays as it was.
    button(h).set(false);
    expect(gateway.state.help.requested).toBe(true);
    expect(doorWrites(h)).toBe(doorBefore);
    expect(gateway.door.state).toBe('locked');
  });

  it('gives way to the door: a grant shows steady green with red dark, then the red flashing comes back', async () => {
    const h = await start('19:00');
    press(h);
    vi.advanceTimersByTime(100);
    h.tap(MEMBER);
    expect(h.reasons()).toEqual(['member']);
    expect(sample(h, 'ledGreen', 2000, 250).every(Boolean)).toBe(true);
    // Red was held dark through the whole grant.
    const red = h.running.hardware.simulated!.outputs.ledRed!.history;
    const grantAt = Date.now() - 2000;
    expect(red.filter((w) => w.atMs > grantAt && w.atMs < grantAt + 2000 && w.active)).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(h.running.hardware.outputs.ledGreen.active).toBe(false);
    expect(onsSince(h, 'ledRed', grantAt + 2000)).toBeGreaterThan(0);
  });

  it('bounces and a stuck button are one call; another press while open is recorded, at most every 10 s', async () => {
    const h = await start('19:00', { helpDebounceMs: 50 });
    const input = button(h);
    // Contact bounce: shorter than the debounce each time, then held down for an hour (stuck).
    for (let i = 0; i < 5; i += 1) {
      input.set(true);
      vi.advanceTimersByTime(10);
      input.set(false);
      vi.advanceTimersByTime(10);
    }
    input.set(true);
    vi.advanceTimersByTime(60 * 60_000);
    expect(helpAlarms(h)).toEqual([['raised', 'critical', 'the help-call button was pressed']]);
    expect(h.running.gateway.state.help.presses).toBe(1);

    input.set(false);
    vi.advanceTimersByTime(100);
    input.set(true);
    vi.advanceTimersByTime(100);
    input.set(false);
    vi.advanceTimersByTime(100);
    expect(h.running.gateway.state.help.presses).toBe(2);
    expect(helpAlarms(h)).toEqual([
      ['raised', 'critical', 'the help-call button was pressed'],
      ['raised', 'critical', expect.stringMatching(/^pressed again \(2 presses since /)],
    ]);
    // Again within 10 s: counted, not another event.
    input.set(true);
    vi.advanceTimersByTime(100);
    input.set(false);
    vi.advanceTimersByTime(100);
    expect(h.running.gateway.state.help.presses).toBe(3);
    expect(helpAlarms(h)).toHaveLength(2);
    expect(h.running.gateway.state.alarms.filter((a) => a === 'help-requested')).toHaveLength(1);
  });

  it('raises in lockdown and when closed, and the door stays as the mode holds it', async () => {
    const h = await start('21:00');
    const { gateway } = h.running;
    expect(gateway.execute({ command: 'lockdown-on' }, 'manager')).toEqual({ ok: true });
    const doorBefore = doorWrites(h);
    const stateBefore = gateway.door.state;
    press(h);
    expect(helpAlarms(h)).toHaveLength(1);
    expect(gateway.mode).toBe('lockdown');
    expect(gateway.door.state).toBe(stateBefore);
    expect(doorWrites(h)).toBe(doorBefore);
  });
});

describe('during a fire', () => {
  it('raises, flashes red, but never chirps over the fire alarm; the door stays released and the lights on', async () => {
    const h = await start('19:00');
    const { gateway, hardware } = h.running;
    h.input('fireAlarm', true);
    expect(gateway.mode).toBe('emergency');
    const released = hardware.outputs.door.active;
    const pressedAt = Date.now();
    press(h);
    expect(helpAlarms(h)).toEqual([['raised', 'critical', 'the help-call button was pressed']]);
    expect(sample(h, 'ledRed', 1000, 250)).toEqual([true, true, false, false]);
    vi.advanceTimersByTime(60_000);
    expect(onsSince(h, 'sounder', pressedAt)).toBe(0);
    expect(hardware.outputs.door.active).toBe(released);
    expect(gateway.mode).toBe('emergency');
    expect(hardware.simulated!.outputs.lights!.history.filter((w) => w.atMs >= pressedAt && !w.active)).toEqual([]);

    // Once the fire is over (and reset) the call is ended with it, by the same staff.
    h.input('fireAlarm', false);
    expect(gateway.execute({ command: 'reset-alarms' }, 'manager')).toEqual({ ok: true });
    expect(gateway.state.help.requested).toBe(false);
  });

  it('stays silent after the fire input clears, for as long as the emergency is latched', async () => {
    const h = await start('19:00');
    h.input('fireAlarm', true);
    press(h);
    // The fire input clears, but the emergency is latched until staff reset: still silent.
    h.input('fireAlarm', false);
    const clearedAt = Date.now();
    vi.advanceTimersByTime(30_000);
    expect(onsSince(h, 'sounder', clearedAt)).toBe(0);
    expect(h.running.gateway.state.help.requested).toBe(true);
    expect(h.running.gateway.mode).toBe('emergency');
  });
});

describe('acknowledged', () => {
  it('at the console: the state shows who and when, the green LED flashes, the chirp stops, and it clears 30 min later', async () => {
    const h = await start('19:00');
    const { gateway } = h.running;
    press(h);
    vi.advanceTimersByTime(60_500);
    const ackAt = Date.now();
    expect(gateway.execute({ command: 'help-acknowledged' }, 'manager')).toEqual({ ok: true });
    expect(gateway.state.help).toMatchObject({ requested: true, acknowledgedBy: 'manager', acknowledgedAt: new Date(ackAt).toISOString() });
    expect(h.events.filter((e) => e.type === 'staff' && e.action === 'help-acknowledged')).toEqual([
      expect.objectContaining({ action: 'help-acknowledged', actor: 'manager', text: 'manager' }),
    ]);
    expect(sample(h, 'ledGreen', 2000, 250)).toEqual([true, true, false, false, true, true, false, false]);
    expect(h.running.hardware.outputs.ledRed.active).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect(onsSince(h, 'sounder', ackAt)).toBe(0);
    expect(onsSince(h, 'ledRed', ackAt)).toBe(0);

    vi.advanceTimersByTime(ackAt + 30 * 60_000 - Date.now() - 1000);
    expect(gateway.state.help.requested).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(gateway.state.help).toEqual({ requested: false, since: null, presses: 0, acknowledgedBy: null, acknowledgedAt: null });
    expect(gateway.state.alarms).not.toContain('help-requested');
    expect(helpAlarms(h).at(-1)).toEqual(['cleared', 'critical', 'cleared 30 min after manager acknowledged']);
    const clearedAt = Date.now();
    vi.advanceTimersByTime(5000);
    expect(onsSince(h, 'ledGreen', clearedAt)).toBe(0);
    expect(h.running.hardware.outputs.ledGreen.active).toBe(false);
  });

  it('after a configured time, and a full while again from a press after the acknowledgement', async () => {
    const h = await start('19:00', { clearAfterAcknowledgedMinutes: 5 });
    const { gateway } = h.running;
    press(h);
    gateway.execute({ command: 'help-acknowledged', text: 'Sam Okafor' }, 'central:sam');
    vi.advanceTimersByTime(4 * 60_000);
    press(h);
    vi.advanceTimersByTime(4 * 60_000);
    expect(gateway.state.help).toMatchObject({ requested: true, presses: 2, acknowledgedBy: 'Sam Okafor' });
    vi.advanceTimersByTime(60_000);
    expect(gateway.state.help.requested).toBe(false);
    expect(helpAlarms(h).at(-1)).toEqual(['cleared', 'critical', 'cleared 5 min after Sam Okafor acknowledged']);
  });

  it('keeps the first who acknowledged; refuses with no call open, and a name that is not one line', async () => {
    const h = await start('19:00');
    const { gateway } = h.running;
    expect(gateway.execute({ command: 'help-acknowledged', text: 'Sam' }, 'central:sam')).toEqual({ ok: false, error: 'no help call is open at the branch' });
    press(h);
    expect(gateway.execute({ command: 'help-acknowledged', text: 'Sam\u0007' }, 'central:sam')).toEqual({
      ok: false,
      error: 'who acknowledged: must be one line without control characters',
    });
    expect(gateway.state.help.acknowledgedBy).toBeNull();
    expect(gateway.execute({ command: 'help-acknowledged', text: 'Sam' }, 'central:sam')).toEqual({ ok: true });
    expect(gateway.execute({ command: 'help-acknowledged', text: 'Jo' }, 'central:jo')).toEqual({ ok: true });
    expect(gateway.state.help.acknowledgedBy).toBe('Sam');
    expect(h.events.filter((e) => e.type === 'staff' && e.action === 'help-acknowledged')).toHaveLength(1);
  });
});

describe('the end of a call', () => {
  it('staff reset it at the branch: cleared at once, the door dark and quiet, and a new press is a new call', async () => {
    const h = await start('19:00');
    const { gateway, hardware } = h.running;
    press(h);
    vi.advanceTimersByTime(700);
    expect(gateway.execute({ command: 'reset-alarms' }, 'manager')).toEqual({ ok: true });
    expect(helpAlarms(h).at(-1)).toEqual(['cleared', 'critical', 'reset by manager']);
    expect(gateway.state.help.requested).toBe(false);
    const resetAt = Date.now();
    vi.advanceTimersByTime(30_000);
    expect(onsSince(h, 'ledRed', resetAt)).toBe(0);
    expect(onsSince(h, 'sounder', resetAt)).toBe(0);
    expect(hardware.outputs.ledRed.active).toBe(false);
    press(h);
    expect(helpAlarms(h).map(([state]) => state)).toEqual(['raised', 'cleared', 'raised']);
  });

  it('an open, acknowledged call survives a restart, and still clears on time', async () => {
    const h = await start('19:00');
    press(h);
    h.running.gateway.execute({ command: 'help-acknowledged', text: 'Sam Okafor' }, 'central:sam');
    const ackAt = Date.now();
    vi.advanceTimersByTime(10 * 60_000);
    const again = await h.restart({ clean: false });
    scene.current = again;
    expect(again.running.gateway.state.help).toMatchObject({ requested: true, presses: 1, acknowledgedBy: 'Sam Okafor', acknowledgedAt: new Date(ackAt).toISOString() });
    expect(sample(again, 'ledGreen', 1000, 250)).toEqual([true, true, false, false]);
    vi.advanceTimersByTime(ackAt + 30 * 60_000 - Date.now());
    expect(again.running.gateway.state.help.requested).toBe(false);
    expect(again.events.filter((e) => e.type === 'alarm' && e.alarm === 'help-requested').map((e) => e.type === 'alarm' && e.state)).toEqual(['cleared']);
  });
});
