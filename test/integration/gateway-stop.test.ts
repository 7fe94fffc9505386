// Stopping the real gateway on sysfs GPIO (the onoff-shaped fake, recording every pin operation in order): the
// readers are let go before the outputs go safe, nothing moves a relay after that, and no output pin is released.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HardwareConfigSchema } from '../../firmware-bridge/config.js';
import type { HardwareConfigInput } from '../../firmware-bridge/config.js';
import { createHardware } from '../../firmware-bridge/create-hardware.js';
import type { BinaryValue } from '../../firmware-bridge/gpio/onoff.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { withDoorSafeLevel } from '../../gateway/main.js';
import { defaultConfig, removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';
import { fakeGpio, PI4_KERNEL_66, sysfsLayout, type GpioOp } from '../unit/firmware-bridge/fakes.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const MEMBERS = { '04A1B2C3D4': {}, '04A1B2C3D5': {}, '04EE0000AA': { staff: true } };

// BCM 17 on a Pi 4 with kernel 6.6 (gpiochip512).
const DOOR = 529;
const OUTPUT_PINS = [529, 539, 534, 517, 518];

let harness: Harness | undefined;
const cleanups: (() => void)[] = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  // Monday 23 November 2026, 19:00 in Europe/London: open access.
  vi.setSystemTime(new Date('2026-11-23T19:00:00Z'));
});

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function startOnSysfs(lockType: 'fail-secure' | 'fail-safe') {
  const sysfs = sysfsLayout(PI4_KERNEL_66);
  cleanups.push(sysfs.cleanup);
  const hardwareInput: HardwareConfigInput = {
    gpio: { driver: 'sysfs', sysfsRoot: sysfs.root },
    outputs: {
      // an active-low relay board: energised = pin low
      door: { pin: 17, activeLevel: 'low' },
      lights: { pin: 27, activeLevel: 'low' },
      sounder: { pin: 22, activeLevel: 'low' },
      ledGreen: { pin: 5 },
      ledRed: { pin: 6 },
    },
    readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
    keypad: { driver: 'simulated' },
  };
  const world = fakeGpio();
  const overrides = { lock: { type: lockType }, hardware: hardwareInput };
  const config = parseGatewayConfig(defaultConfig('/nowhere', overrides));
  const hardware = await createHardware(HardwareConfigSchema.parse(withDoorSafeLevel(config)), { drivers: { loadGpio: async () => world.Gpio } });
  harness = await startHarness({ policy: town, members: MEMBERS, config: overrides, start: { hardware } });
  cleanups.push(() => removeDir(harness?.dir ?? '/nonexistent'));
  // fail-secure: locked = relay off = pin high; fail-safe (maglock): locked = relay on = pin low.
  const lockedLevel: BinaryValue = lockType === 'fail-secure' ? 1 : 0;
  return { world, hardware, lockedLevel, unlockedLevel: (1 - lockedLevel) as BinaryValue };
}

describe.each(['fail-secure', 'fail-safe'] as const)('stopping a %s door', (lockType) => {
  it('lets the readers go before the outputs go safe: a tap and an unlock in that instant move nothing', async () => {
    const { world, hardware, lockedLevel, unlockedLevel } = await startOnSysfs(lockType);
    const h = harness!;
    h.tap('04A1B2C3D4');
    expect(world.pins.get(DOOR)?.level).toBe(unlockedLevel);
    vi.advanceTimersByTime(6000); // the pulse ends
    expect(world.pins.get(DOOR)?.level).toBe(lockedLevel);

    // The instant the stop first writes the door's safe level, a card is held to the reader and central's unlock
    // arrives: neither may be handled, neither may energise the relay.
    let stopBegan = -1;
    let answered: unknown;
    const accessBefore = h.events.filter((e) => e.type === 'access').length;
    world.afterWrite = (gpio) => {
      if (gpio !== DOOR || stopBegan >= 0) return;
      stopBegan = world.ops.length;
      hardware.simulated?.reader?.tap('04A1B2C3D5');
      answered = h.running.gateway.execute({ command: 'unlock' }, 'central');
    };
    await h.running.stop();
    harness = undefined;

    expect(stopBegan).toBeGreaterThan(0);
    expect(answered).toBeDefined();
    const afterStop = world.ops.slice(stopBegan);
    expect(afterStop.filter((o): o is Extract<GpioOp, { op: 'write' }> => o.op === 'write' && o.gpio === DOOR).map((o) => o.value)).not.toContain(unlockedLevel);
    expect(h.events.filter((e) => e.type === 'access')).toHaveLength(accessBefore);
    expect(world.pins.get(DOOR)?.level).toBe(lockedLevel);

    // After the stop too: a tap is nobody's, and the pins are still driven at their safe levels.
    expect(hardware.readers[0]?.listenerCount('tap')).toBe(0);
    hardware.simulated?.reader?.tap('04EE0000AA');
    expect(world.pins.get(DOOR)?.level).toBe(lockedLevel);
    expect(h.events.filter((e) => e.type === 'access')).toHaveLength(accessBefore);
  });

  it('leaves every output pin exported and at its safe level: a released output could become an input', async () => {
    const { world, lockedLevel } = await startOnSysfs(lockType);
    const h = harness!;
    h.tap('04A1B2C3D4');
    await h.running.stop();
    harness = undefined;
    const unexported = world.ops.filter((o) => o.op === 'unexport').map((o) => o.gpio);
    expect(unexported.filter((gpio) => OUTPUT_PINS.includes(gpio))).toEqual([]);
    expect(world.pins.get(DOOR)?.level).toBe(lockedLevel);
  });
});
