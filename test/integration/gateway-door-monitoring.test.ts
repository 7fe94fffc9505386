// Held-open is timed whenever the door starts to matter: at boot, and when the branch mode stops holding it free.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { createHardware } from '../../firmware-bridge/create-hardware.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { withDoorSafeLevel } from '../../gateway/main.js';
import { defaultConfig, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const HELD_OPEN_SECONDS = 30;

const scene = harnessPerTest();

async function start(at: string, options: { doorOpenAtBoot?: boolean } = {}): Promise<Harness> {
  vi.setSystemTime(new Date(at));
  const dir = mkdtempSync(join(tmpdir(), 'oag-gw-'));
  scene.dirs.push(dir);
  const config = parseGatewayConfig(defaultConfig(dir));
  const hardware = await createHardware(withDoorSafeLevel(config));
  // The contact reads open before the gateway exists: the door was propped open across the restart.
  if (options.doorOpenAtBoot === true) hardware.simulated!.inputs.doorContact!.set(true);
  scene.current = await startHarness({ policy: town, dir, start: { hardware } });
  return scene.current;
}

function heldOpenRaised(h: Harness): number {
  return h.events.filter((e) => e.type === 'alarm' && e.alarm === 'held-open' && e.state === 'raised').length;
}

describe('held-open', () => {
  it('is timed from boot for a door found open at start, without calling it forced', async () => {
    const h = await start('2026-11-23T19:00:00Z', { doorOpenAtBoot: true }); // open access
    const { gateway } = h.running;
    expect(gateway.door.state).toBe('open');
    vi.advanceTimersByTime((HELD_OPEN_SECONDS - 1) * 1000);
    expect(gateway.alarms.list()).not.toContain('held-open');
    vi.advanceTimersByTime(2000);
    expect(gateway.alarms.list()).toContain('held-open');
    expect(gateway.alarms.list()).not.toContain('forced-open');
    expect(gateway.door.state).toBe('held-open');
    h.input('doorContact', false);
    expect(gateway.alarms.list()).not.toContain('held-open');
  });

  it('is not raised for a door found open at boot in staffed hours, while the door is held free', async () => {
    const h = await start('2026-11-23T11:00:00Z', { doorOpenAtBoot: true });
    vi.advanceTimersByTime(10 * 60_000);
    expect(h.running.gateway.alarms.list()).not.toContain('held-open');
    expect(heldOpenRaised(h)).toBe(0);
  });

  it.each([
    ['changeover, then open access', '2026-11-23T12:59:00Z', 'changeover'],
    ['closed (Christmas Eve afternoon)', '2026-12-24T12:59:00Z', 'closed'],
  ])('is timed from the change of mode for a door propped open in staffed hours: %s', async (_name, at, next) => {
    const h = await start(at);
    const { gateway } = h.running;
    expect(gateway.mode).toBe('staffed');
    h.input('doorContact', true);
    vi.advanceTimersByTime(60_000); // 13:00: staff gone, the door still propped open
    expect(gateway.mode).toBe(next);
    expect(gateway.alarms.list()).not.toContain('forced-open');
    expect(gateway.alarms.list()).not.toContain('held-open');
    vi.advanceTimersByTime(HELD_OPEN_SECONDS * 1000 + 1000);
    expect(gateway.alarms.list()).toContain('held-open');
    expect(gateway.door.state).toBe('held-open');
    expect(heldOpenRaised(h)).toBe(1);
  });

  it('is timed from a lockdown commanded while the door stands open in staffed hours', async () => {
    const h = await start('2026-11-23T11:00:00Z');
    const { gateway } = h.running;
    h.input('doorContact', true);
    vi.advanceTimersByTime(10 * 60_000);
    expect(gateway.execute({ command: 'lockdown-on' }, 'manager')).toEqual({ ok: true });
    vi.advanceTimersByTime(HELD_OPEN_SECONDS * 1000 + 1000);
    expect(gateway.alarms.list()).toContain('held-open');
  });

  it('is timed from the fire reset for a door left open after the evacuation', async () => {
    const h = await start('2026-11-23T19:00:00Z');
    const { gateway } = h.running;
    h.input('fireAlarm', true);
    h.input('doorContact', true);
    vi.advanceTimersByTime(10 * 60_000);
    expect(gateway.alarms.list()).not.toContain('held-open');
    h.input('fireAlarm', false);
    expect(gateway.execute({ command: 'reset-alarms' }, 'manager')).toEqual({ ok: true });
    expect(gateway.mode).toBe('open-access');
    vi.advanceTimersByTime(HELD_OPEN_SECONDS * 1000 + 1000);
    expect(gateway.alarms.list()).toContain('held-open');
  });

  it('keeps a timer already running when the mode changes between two locked modes', async () => {
    const h = await start('2026-11-23T19:00:00Z');
    const { gateway } = h.running;
    h.input('doorContact', true); // forced, and timed as held open from now

    vi.advanceTimersByTime(20_000);
    gateway.execute({ command: 'lockdown-on' }, 'manager');
    vi.advanceTimersByTime(11_000);
    expect(gateway.alarms.list()).toContain('held-open');
  });
});

describe('door alarms across a crash', () => {
  /** Forced open at 19:00, then the process dies; it starts again on hardware whose contact reads `doorOpen`. */
  async function crashAndBoot(doorOpen: boolean): Promise<Harness> {
    const h = await start('2026-11-23T19:00:00Z'); // open access: the door is kept shut
    h.input('doorContact', true);
    expect(h.running.gateway.alarms.list()).toContain('forced-open');
    h.running.store.close(); // a crash: nothing stopped, the store left as it was
    const config = parseGatewayConfig(defaultConfig(h.dir));
    const hardware = await createHardware(withDoorSafeLevel(config));
    hardware.simulated!.inputs.doorContact!.set(doorOpen);
    scene.current = await startHarness({ policy: town, dir: h.dir, start: { hardware } });
    return scene.current;
  }

  it('ends forced-open restored from before a crash when the door is found shut at start', async () => {
    const h = await crashAndBoot(false);
    const { gateway } = h.running;
    expect(gateway.alarms.list()).not.toContain('forced-open');
    expect(gateway.door.state).toBe('locked');
    const alarms = h.running.store.events.query({ types: ['alarm'], limit: 10 }).map((e) => e.data);
    expect(alarms[0]).toMatchObject({ alarm: 'forced-open', state: 'cleared', detail: 'the door was found shut at start' });
  });

  it('keeps forced-open restored from before a crash while the door still stands open', async () => {
    const h = await crashAndBoot(true);
    const { gateway } = h.running;
    expect(gateway.alarms.list()).toContain('forced-open');
    expect(gateway.door.state).toBe('forced-open');
    vi.advanceTimersByTime(HELD_OPEN_SECONDS * 1000 + 1000);
    expect(gateway.alarms.list()).toContain('held-open');
  });
});
