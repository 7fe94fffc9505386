// The edges of the door's rules on the real gateway (real SQLite file, simulated drivers, fake time): a clock that
// cannot be believed in staffed hours, staff cards that are blocked or expired, and `lock` while staffed.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import type { ClockProbeIo } from '../../gateway/core/clock-trust.js';
import { LOCK_WHILE_STAFFED } from '../../gateway/core/commands.js';
import { harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const policy = (rules: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...town,
  rules: { ...(town.rules as Record<string, unknown>), ...rules },
});

const MEMBER = '04A1B2C3D4';
const STAFF = '04EE0000AA';
const STAFF_BLOCKED = '04EE0000BB';
const STAFF_EXPIRED = '04EE0000CC';
const MEMBERS = {
  [MEMBER]: {},
  [STAFF]: { staff: true },
  [STAFF_BLOCKED]: { staff: true, blocked: true },
  [STAFF_EXPIRED]: { staff: true, expires: '2026-10-31' },
};

// Monday 23 November 2026 (GMT, local = UTC) in town.yaml: open access 08:00, staffed 10:00–13:00, changeover to
// 13:15, open access to 20:00, then closed.
const at = (hhmm: string): Date => new Date(`2026-11-23T${hhmm}:00Z`);
const MARKER = '/run/systemd/timesync/synchronized';

/** systemd-timesyncd as the gateway sees it: `synced` puts its marker in place; `checks` counts what was read. */
function fakeTimesyncd(): ClockProbeIo & { synced: boolean; checks: number } {
  const io = {
    synced: false,
    checks: 0,
    readFile: async () => undefined,
    exists: async (path: string) => {
      io.checks++;
      return io.synced && path === MARKER;
    },
    run: async () => undefined,
  };
  return io;
}

const scene = harnessPerTest();

async function start(now: string, options: { rules?: Record<string, unknown>; clock?: ClockProbeIo } = {}): Promise<Harness> {
  vi.setSystemTime(at(now));
  scene.current = await startHarness({
    policy: policy(options.rules),
    members: MEMBERS,
    ...(options.clock === undefined ? {} : { config: { clock: { trust: 'timesyncd', syncMarker: MARKER } }, start: { clockProbeIo: options.clock } }),
  });
  scene.dirs.push(scene.current.dir);
  return scene.current;
}

describe('a gateway that boots in staffed hours on a clock it cannot trust', () => {
  it('keeps the door locked: members are refused for the clock, staff cards open it, the exit and the fire release it', async () => {
    const h = await start('11:00', { clock: fakeTimesyncd() });
    const { gateway } = h.running;
    expect(gateway.mode).toBe('staffed');
    expect(gateway.state.clock.trusted).toBe(false);
    expect(gateway.alarms.list()).toContain('clock-untrusted');
    expect(gateway.door.state).toBe('locked');
    expect(h.doorRelayActive()).toBe(false);

    h.tap(MEMBER);
    expect(h.reasons()).toEqual(['clock-untrusted']);
    expect(h.doorRelayActive()).toBe(false);

    h.tap(STAFF);
    expect(h.reasons().at(-1)).toBe('staff');
    expect(h.doorRelayActive()).toBe(true);
    await vi.advanceTimersByTimeAsync(6000);
    expect(h.doorRelayActive()).toBe(false);

    h.input('exitButton', true);
    h.input('exitButton', false);
    expect(h.doorRelayActive()).toBe(true);
    await vi.advanceTimersByTimeAsync(6000);
    expect(h.doorRelayActive()).toBe(false);

    // The clock is checked again every 30 s; still untrusted, still locked.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(gateway.door.state).toBe('locked');

    h.input('fireAlarm', true);
    expect(gateway.door.state).toBe('released');
    expect(h.doorRelayActive()).toBe(true);
  });

  it('holds the door free once the clock is trusted, and secures it again if trust is lost', async () => {
    const clock = fakeTimesyncd();
    const h = await start('11:00', { clock });
    const { gateway } = h.running;
    expect(h.doorRelayActive()).toBe(false);

    clock.synced = true;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(gateway.state.clock.trusted).toBe(true);
    expect(gateway.alarms.list()).not.toContain('clock-untrusted');
    expect(gateway.door.state).toBe('unlocked');
    expect(h.doorRelayActive()).toBe(true);
    h.tap(MEMBER);
    expect(h.reasons()).toEqual(['staffed']);

    clock.synced = false;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(gateway.alarms.list()).toContain('clock-untrusted');
    expect(gateway.door.state).toBe('locked');
    expect(h.doorRelayActive()).toBe(false);
  });

  it('holds the door free as before when the policy allows an untrusted clock (clockUntrusted: allow)', async () => {
    const h = await start('11:00', { rules: { clockUntrusted: 'allow' }, clock: fakeTimesyncd() });
    expect(h.running.gateway.alarms.list()).toContain('clock-untrusted');
    expect(h.running.gateway.door.state).toBe('unlocked');
    expect(h.doorRelayActive()).toBe(true);
    h.tap(MEMBER);
    expect(h.reasons()).toEqual(['staffed']);
  });

  it('follows a new policy that changes the clock rule', async () => {
    const h = await start('11:00', { clock: fakeTimesyncd() });
    const { gateway } = h.running;
    const draft = (clockUntrusted: 'allow' | 'deny'): object => {
      const { version: _version, ...rest } = policy({ clockUntrusted });
      return rest;
    };
    expect(gateway.overridePolicy(draft('allow'), 'mia')).toMatchObject({ ok: true });
    expect(h.doorRelayActive()).toBe(true);
    expect(gateway.overridePolicy(draft('deny'), 'mia')).toMatchObject({ ok: true });
    expect(h.doorRelayActive()).toBe(false);
  });

  it('never asks the clock sources on a tap: only the 30 s timer does', async () => {
    const clock = fakeTimesyncd();
    const h = await start('19:00', { clock });
    const before = clock.checks;
    // Repeat taps of one card are folded within 3 s: 4 s apart, each is decided.
    for (let i = 0; i < 6; i++) {
      h.tap(i % 2 === 0 ? MEMBER : STAFF);
      await vi.advanceTimersByTimeAsync(4000);
    }
    expect(h.reasons()).toHaveLength(6);
    expect(clock.checks).toBe(before);
    await vi.advanceTimersByTimeAsync(6000);
    expect(clock.checks).toBe(before + 1);
  });
});

describe('staff cards that are blocked or expired', () => {
  it.each([
    ['staffed', '11:00'],
    ['open-access', '19:00'],
    ['closed', '21:00'],
  ])('are refused as blocked or expired in %s hours and open nothing', async (mode, now) => {
    const h = await start(now);
    expect(h.running.gateway.mode).toBe(mode);
    const relayBefore = h.doorRelayActive();
    h.tap(STAFF_BLOCKED);
    h.tap(STAFF_EXPIRED);
    expect(h.reasons()).toEqual(['blocked', 'expired']);
    expect(h.doorRelayActive()).toBe(relayBefore);
    await vi.advanceTimersByTimeAsync(5000);
    h.tap(STAFF);
    expect(h.reasons().at(-1)).toBe('staff');
  });
});

describe('lock', () => {
  const staffLocks = (h: Harness): number => h.events.filter((e) => e.type === 'staff' && e.action === 'lock').length;

  it('while staffed, says the schedule holds the door free and changes nothing', async () => {
    const h = await start('11:00');
    const { gateway } = h.running;
    expect(gateway.execute({ command: 'lock' }, 'manager')).toEqual({ ok: false, error: LOCK_WHILE_STAFFED });
    expect(gateway.door.state).toBe('unlocked');
    expect(h.doorRelayActive()).toBe(true);
    expect(staffLocks(h)).toBe(0);
    // What it points to does lock the door.
    expect(gateway.execute({ command: 'lockdown-on' }, 'manager')).toEqual({ ok: true });
    expect(h.doorRelayActive()).toBe(false);
  });

  it('ends an unlock at once in open access, and a staff pulse in staffed hours on an untrusted clock', async () => {
    let h = await start('19:00');
    expect(h.running.gateway.execute({ command: 'unlock' }, 'manager')).toEqual({ ok: true });
    expect(h.doorRelayActive()).toBe(true);
    expect(h.running.gateway.execute({ command: 'lock' }, 'manager')).toEqual({ ok: true });
    expect(h.doorRelayActive()).toBe(false);
    expect(staffLocks(h)).toBe(1);
    await h.stop();

    h = await start('11:00', { clock: fakeTimesyncd() });
    h.tap(STAFF);
    expect(h.doorRelayActive()).toBe(true);
    expect(h.running.gateway.execute({ command: 'lock' }, 'manager')).toEqual({ ok: true });
    expect(h.doorRelayActive()).toBe(false);
  });
});
