import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SysfsInput } from '../../../firmware-bridge/gpio/sysfs-input.js';
import { fakeGpio, recordingLogger } from './fakes.js';

describe('inputs on sysfs GPIO', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('watches both edges and reports debounced logical changes (contact to ground, pull-up)', () => {
    const world = fakeGpio();
    const input = new SysfsInput('exitButton', { activeLevel: 'low', debounceMs: 30 }, 536, world.Gpio, recordingLogger().logger);
    expect(world.ops[0]).toEqual({ op: 'export', gpio: 536, direction: 'in', edge: 'both', activeLow: false });
    const pin = world.pins.get(536)!;
    const changes: boolean[] = [];
    input.on('change', (active) => changes.push(active));
    // at rest the pull-up holds the pin high: not pressed
    expect(input.active).toBe(false);

    pin.drive(0); // pressed
    vi.advanceTimersByTime(10);
    pin.drive(1); // a 10 ms glitch: ignored
    vi.advanceTimersByTime(100);
    expect(changes).toEqual([]);

    pin.drive(0);
    vi.advanceTimersByTime(30);
    expect(changes).toEqual([true]);
    expect(input.active).toBe(true);
    pin.drive(1);
    vi.advanceTimersByTime(30);
    expect(changes).toEqual([true, false]);
    input.close();
    expect(world.ops.at(-1)).toEqual({ op: 'unexport', gpio: 536 });
  });

  it('reads the level at start, so a door found open is open', () => {
    const world = fakeGpio();
    world.inputLevels.set(535, 1); // reed open: the pull-up wins
    world.inputLevels.set(536, 0);
    const contact = new SysfsInput('doorContact', { activeLevel: 'high', debounceMs: 30 }, 535, world.Gpio, recordingLogger().logger);
    const button = new SysfsInput('exitButton', { activeLevel: 'low', debounceMs: 30 }, 536, world.Gpio, recordingLogger().logger);
    expect(contact.active).toBe(true);
    expect(button.active).toBe(true);
    contact.close();
    button.close();
  });
});
