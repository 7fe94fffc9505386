// The simulated intruder-alarm panel on the end of the simulated wiring: what the gateway's tests and the demo see
// when they pulse `set` or `unset` (its exit time, a panel that will not set, a contact too short to count).
import { describe, expect, it } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { SimulatedIntruderPanel } from '../../../firmware-bridge/simulated/intruder-panel.js';
import type { Hardware } from '../../../firmware-bridge/types.js';
import { TestClock } from '../../helpers/test-clock.js';

async function branchWithPanel(options: { exitDelayMs?: number; refuseSet?: boolean } = {}) {
  const clock = new TestClock(Date.parse('2026-12-01T20:00:00Z'));
  const hw = await createHardware(
    HardwareConfigSchema.parse({
      gpio: { driver: 'simulated' },
      readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
      // no debounce on the status: the debounce runs on real timers, and is tested on its own
      intruderAlarm: { status: { debounceMs: 0 } },
    }),
    { clock },
  );
  const alarm = hw.intruderAlarm!;
  const panel = new SimulatedIntruderPanel({ wiring: hw.simulated!.intruderAlarm!, clock, ...options });
  const statusChanges: boolean[] = [];
  alarm.status.on('change', (active) => statusChanges.push(active));
  /** What an extension does: the contact closed for the configured pulse, then opened. */
  const pulse = (output: 'set' | 'unset', ms = alarm.pulseMs): void => {
    alarm[output].set(true);
    clock.advance(ms);
    alarm[output].set(false);
  };
  return { clock, hw, alarm, panel, statusChanges, pulse };
}

const closeAll = async (hw: Hardware, panel: SimulatedIntruderPanel): Promise<void> => {
  panel.detach();
  await hw.close();
};

describe('the simulated intruder-alarm panel', () => {
  it('sets at the end of its exit time after a set pulse, and says so on the status input', async () => {
    const { clock, hw, alarm, panel, statusChanges, pulse } = await branchWithPanel();
    pulse('set');
    expect(panel.state).toBe('exit');
    // the exit time runs from when the panel took the contact, 200 ms after it closed
    clock.advance(29_000);
    expect(alarm.status.active).toBe(false);
    clock.advance(200);
    expect(alarm.status.active).toBe(true);
    expect(panel.state).toBe('set');
    expect(statusChanges).toEqual([true]);
    await closeAll(hw, panel);
  });

  it('is set and unset at its own keypad too, which the gateway sees only on the status input', async () => {
    const { clock, hw, alarm, panel, statusChanges } = await branchWithPanel({ exitDelayMs: 10_000 });
    panel.keypad('set');
    clock.advance(10_000);
    expect(alarm.status.active).toBe(true);
    panel.keypad('unset');
    clock.advance(1_000);
    expect(alarm.status.active).toBe(false);
    expect(statusChanges).toEqual([true, false]);
    // Nothing of it on the gateway's contacts.
    expect(hw.simulated!.intruderAlarm!.set.history.filter((w) => w.active)).toEqual([]);
    await closeAll(hw, panel);
  });

  it('will not set with a zone open: nothing happens, as on a real panel', async () => {
    const { clock, hw, alarm, panel, statusChanges, pulse } = await branchWithPanel({ refuseSet: true, exitDelayMs: 10_000 });
    pulse('set');
    clock.advance(60_000);
    expect(alarm.status.active).toBe(false);
    expect(panel.state).toBe('unset');
    // the zone closed: the next set pulse sets it
    panel.refuseSet = false;
    pulse('set');
    clock.advance(10_000);
    expect(alarm.status.active).toBe(true);
    expect(statusChanges).toEqual([true]);
    await closeAll(hw, panel);
  });

  it('unsets a second after an unset pulse, and an unset in the exit time abandons the setting', async () => {
    const { clock, hw, alarm, panel, statusChanges, pulse } = await branchWithPanel({ exitDelayMs: 10_000 });
    pulse('set');
    clock.advance(10_000);
    expect(alarm.status.active).toBe(true);
    pulse('unset', 500);
    clock.advance(500);
    expect(alarm.status.active).toBe(true); // 1 s after the contact closed, 800 ms after the panel took it
    clock.advance(200);
    expect(alarm.status.active).toBe(false);
    pulse('set');
    pulse('unset');
    clock.advance(30_000);
    expect(alarm.status.active).toBe(false);
    expect(statusChanges).toEqual([true, false]);
    await closeAll(hw, panel);
  });

  it('ignores a contact shorter than 200 ms, as a keyswitch zone ignores a glitch', async () => {
    const { clock, hw, alarm, panel, pulse } = await branchWithPanel({ exitDelayMs: 1000 });
    pulse('set', 150);
    clock.advance(60_000);
    expect(alarm.status.active).toBe(false);
    pulse('set', 200);
    clock.advance(1000);
    expect(alarm.status.active).toBe(true);
    await closeAll(hw, panel);
  });

  it('a gateway that stops mid-pulse does not set the panel: the contact goes safe (open) before it counts', async () => {
    const { clock, hw, alarm, panel } = await branchWithPanel({ exitDelayMs: 1000 });
    alarm.set.set(true);
    clock.advance(100);
    hw.holdSafe();
    clock.advance(60_000);
    expect(alarm.status.active).toBe(false);
    expect(panel.state).toBe('unset');
    await closeAll(hw, panel);
  });
});
