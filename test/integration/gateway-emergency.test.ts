// A fire on the real gateway (simulated drivers, fake time): the lights stay on for the whole emergency whatever
// else happens, the commands and the closing sequence leave the released door alone.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { AlarmEventSchema } from '../../policies/contract/events.js';
import type { AlarmEvent } from '../../policies/contract/events.js';
import { defaultConfig, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const MEMBERS = { '04A1B2C3D4': {}, '04EE0000AA': { staff: true } };

// Monday 23 November 2026, on GMT: open access until 20:00, warnings at 19:45 and 19:55, then closed.
const at = (hhmm: string): number => Date.parse(`2026-11-23T${hhmm}:00Z`);

const scene = harnessPerTest();

async function start(hhmm: string, lockType: 'fail-secure' | 'fail-safe' = 'fail-secure', config: Parameters<typeof startHarness>[0]['config'] = {}): Promise<Harness> {
  vi.setSystemTime(at(hhmm));
  scene.current = await startHarness({ policy: town, members: MEMBERS, config: { lock: { type: lockType }, ...config } });
  scene.dirs.push(scene.current.dir);
  return scene.current;
}

function advanceTo(hhmm: string): void {
  vi.advanceTimersByTime(at(hhmm) - Date.now());
}

/** The lights relay's writes from `sinceMs` on: during an emergency not one of them may be "off". */
function lightsWritesSince(h: Harness, sinceMs: number): boolean[] {
  return h.running.hardware.simulated!.outputs.lights!.history.filter((w) => w.atMs >= sinceMs).map((w) => w.active);
}

describe.each([
  // The relay level that releases the door: a strike is energised to open, a maglock de-energised.
  { lockType: 'fail-secure', releasedLevel: true },
  { lockType: 'fail-safe', releasedLevel: false },
] as const)('the lights through a whole fire ($lockType door)', ({ lockType, releasedLevel }) => {
  it('stay on past the close, through lights-off and through the count reaching 0, until staff reset the fire', async () => {
    const h = await start('19:20', lockType);
    const { gateway, hardware } = h.running;
    h.tap('04A1B2C3D4');
    h.input('doorContact', true);
    vi.advanceTimersByTime(2000);
    h.input('doorContact', false);
    expect(gateway.occupancy.inside).toBe(1);

    advanceTo('19:54');
    const fireAt = Date.now();
    h.input('fireAlarm', true);
    expect(gateway.mode).toBe('emergency');
    expect(hardware.outputs.door.active).toBe(releasedLevel);
    expect(hardware.outputs.lights.active).toBe(true);

    // The 19:55 warning would flash the lights and sound the sounder over the fire alarm: none.
    advanceTo('19:56');
    expect(h.events.filter((e) => e.type === 'warning').map((e) => e.minutesLeft)).toEqual([15]);

    // The close: the closing sequence would put the lights out in an empty closed building.
    advanceTo('20:01');
    expect(gateway.schedule.current.mode).toBe('closed');
    expect(gateway.mode).toBe('emergency');
    expect(gateway.lights.on).toBe(true);

    const refused = gateway.execute({ command: 'lights-off' }, 'manager');
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(/^the lights stay on during the fire alarm/) });
    expect(gateway.lights.on).toBe(true);

    // The last person leaves by the exit button and the door: the count reaches 0.
    h.input('exitButton', true);
    h.input('exitButton', false);
    h.input('doorContact', true);
    h.input('doorContact', false);
    expect(gateway.occupancy.inside).toBe(0);
    expect(gateway.lights.on).toBe(true);

    h.input('fireAlarm', false);
    vi.advanceTimersByTime(10 * 60_000);
    expect(gateway.mode).toBe('emergency');
    expect(hardware.outputs.door.active).toBe(releasedLevel);
    expect(lightsWritesSince(h, fireAt)).not.toContain(false);
    expect(hardware.outputs.lights.active).toBe(true);

    expect(gateway.execute({ command: 'reset-alarms' }, 'manager')).toEqual({ ok: true });
    expect(gateway.mode).toBe('closed');
    expect(hardware.outputs.door.active).toBe(!releasedLevel);
    // Nobody counted who left or came in while the door was released: the lights wait for staff to say.
    expect(gateway.lights.on).toBe(true);
    expect(gateway.execute({ command: 'lights-off' }, 'manager')).toEqual({ ok: true });
    expect(gateway.lights.on).toBe(false);
    expect(hardware.outputs.lights.active).toBe(false);
  });

  it('stay on across a restart while the fire is latched, in an empty closed building', async () => {
    let h = await start('21:00', lockType);
    expect(h.running.gateway.lights.on).toBe(false);
    h.input('fireAlarm', true);
    h.input('fireAlarm', false);
    expect(h.running.gateway.lights.on).toBe(true);

    vi.clearAllTimers();
    h = await h.restart({ clean: false });
    scene.current = h;
    const { gateway, hardware } = h.running;
    expect(gateway.mode).toBe('emergency');
    expect(hardware.outputs.door.active).toBe(releasedLevel);
    expect(gateway.lights.on).toBe(true);
    expect(hardware.outputs.lights.active).toBe(true);
  });
});

describe('commands during a fire', () => {
  it('refuse unlock, lock and lockdown with the reason, and leave the released door as it is', async () => {
    const h = await start('19:00');
    const { gateway } = h.running;
    h.input('fireAlarm', true);
    const before = h.doorRelayActive();
    for (const command of ['unlock', 'lock', 'lockdown-on'] as const) {
      expect(gateway.execute({ command }, 'manager')).toEqual({ ok: false, error: expect.stringMatching(/^the door is released for the fire alarm/) });
    }
    expect(gateway.mode).toBe('emergency');
    expect(gateway.door.state).toBe('released');
    expect(h.doorRelayActive()).toBe(before);
    expect(h.events.filter((e) => e.type === 'staff').map((e) => e.action)).toEqual([]);
    // What changes nothing now is still taken.
    expect(gateway.execute({ command: 'lights-on' }, 'manager')).toEqual({ ok: true });
    expect(gateway.execute({ command: 'announce', text: 'Leave by the nearest exit' }, 'manager')).toEqual({ ok: true });
  });

  it('take lockdown-off, so that a lockdown from before the fire does not come back after the reset', async () => {
    const h = await start('19:00');
    const { gateway } = h.running;
    gateway.execute({ command: 'lockdown-on' }, 'manager');
    h.input('fireAlarm', true);
    expect(gateway.execute({ command: 'lockdown-off' }, 'manager')).toEqual({ ok: true });
    expect(gateway.door.state).toBe('released');
    h.input('fireAlarm', false);
    gateway.execute({ command: 'reset-alarms' }, 'manager');
    expect(gateway.mode).toBe('open-access');
  });
});

describe('a door released in closed hours', () => {
  const alarmEvents = (h: Harness, alarm: string): AlarmEvent[] => h.events.filter((e): e is AlarmEvent => e.type === 'alarm' && e.alarm === alarm);

  it('raises door-released-closed, critical, beside the fire alarm, and keeps it until the fire is reset', async () => {
    const h = await start('21:00');
    const { gateway } = h.running;
    h.input('fireAlarm', true);
    expect(gateway.alarms.list()).toEqual(expect.arrayContaining(['fire', 'door-released-closed']));
    const [raised] = alarmEvents(h, 'door-released-closed');
    expect(raised).toMatchObject({ state: 'raised', severity: 'critical' });
    // What central receives: the contract's sender schema takes it as it is.
    expect(AlarmEventSchema.parse(raised)).toMatchObject({ alarm: 'door-released-closed', severity: 'critical' });
    expect(alarmEvents(h, 'fire')[0]).toMatchObject({ state: 'raised', severity: 'critical' });

    h.input('fireAlarm', false);
    vi.advanceTimersByTime(60 * 60_000);
    expect(gateway.alarms.list()).toContain('door-released-closed');
    gateway.execute({ command: 'reset-alarms' }, 'manager');
    expect(gateway.alarms.list()).not.toContain('door-released-closed');
    expect(alarmEvents(h, 'door-released-closed').map((e) => e.state)).toEqual(['raised', 'cleared']);
  });

  it('is raised when the branch closes on a fire latched during open access, and stays when staff hours begin', async () => {
    const h = await start('19:00');
    const { gateway } = h.running;
    h.input('fireAlarm', true);
    h.input('fireAlarm', false);
    expect(gateway.alarms.list()).not.toContain('door-released-closed');
    advanceTo('20:01');
    expect(gateway.alarms.list()).toContain('door-released-closed');
    vi.advanceTimersByTime(15 * 60 * 60_000); // 11:01 next day: staffed
    expect(gateway.schedule.current.mode).toBe('staffed');
    expect(gateway.alarms.list()).toContain('door-released-closed');
  });

  it('is not raised for a fire in staffed hours, and other alarms carry their own severity', async () => {
    const h = await start('11:00');
    const { gateway } = h.running;
    h.input('tamper', true);
    h.input('fireAlarm', true);
    expect(gateway.alarms.list()).not.toContain('door-released-closed');
    expect(alarmEvents(h, 'tamper')[0]).toMatchObject({ severity: 'major' });
  });

  it('is still raised after a restart', async () => {
    let h = await start('21:00');
    h.input('fireAlarm', true);
    vi.clearAllTimers();
    h = await h.restart({ clean: false });
    scene.current = h;
    expect(h.running.gateway.alarms.list()).toEqual(expect.arrayContaining(['fire', 'door-released-closed']));
  });
});

describe("the lights' safe level", () => {
  it.each([
    { lockType: 'fail-secure', lockedLevel: false },
    { lockType: 'fail-safe', lockedLevel: true },
  ] as const)('is on: a stop in an empty closed building leaves the lights on and the door locked ($lockType)', async ({ lockType, lockedLevel }) => {
    const h = await start('21:00', lockType);
    const { gateway, hardware } = h.running;
    expect(gateway.lights.on).toBe(false);
    await h.stop();
    scene.current = undefined;
    expect(hardware.outputs.lights.active).toBe(true);
    expect(hardware.outputs.door.active).toBe(lockedLevel);
  });

  it('is what the site configures', async () => {
    const hardware = defaultConfig('.').hardware!;
    const h = await start('19:00', 'fail-secure', { hardware: { ...hardware, outputs: { ...hardware.outputs, lights: { safe: 'inactive' } } } });
    expect(h.running.gateway.lights.on).toBe(true);
    await h.stop();
    scene.current = undefined;
    expect(h.running.hardware.outputs.lights.active).toBe(false);
  });

  it('is not taken for a decision at start: open access with the lights on at the first entry starts with them off', async () => {
    const h = await start('19:00', 'fail-secure', { lights: { onAt: 'first-entry' } });
    const { gateway, hardware } = h.running;
    expect(gateway.lights.on).toBe(false);
    expect(hardware.outputs.lights.active).toBe(false);
    h.tap('04A1B2C3D4');
    h.input('doorContact', true);
    h.input('doorContact', false);
    expect(gateway.lights.on).toBe(true);
  });
});
