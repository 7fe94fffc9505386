// The rules that keep a door shut when the software is not in control.
import { describe, expect, it } from 'vitest';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { SysfsOutput } from '../../../firmware-bridge/gpio/sysfs-output.js';
import type { NfcPcscModule } from '../../../firmware-bridge/readers/pcsc.js';
import { fakeGpio, PI4_KERNEL_66, recordingLogger, sysfsPerTest, type GpioOp } from './fakes.js';

const fixedClock = { now: () => new Date('2025-01-06T17:00:00Z') };
const bench = { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] } as const;

describe('outputs on the simulated driver', () => {
  it('start in their safe state: a maglock held locked, a strike unpowered', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse({ ...bench, outputs: { door: { safe: 'active' } } }), { clock: fixedClock });
    expect(hw.outputs.door.active).toBe(true);
    expect(hw.outputs.lights.active).toBe(true); // the lights are safe on (lights-safe-level.test.ts)
    expect(hw.simulated?.outputs.door?.history).toEqual([{ active: true, atMs: Date.parse('2025-01-06T17:00:00Z') }]);
    hw.outputs.door.set(false);
    hw.allSafe();
    expect(hw.simulated?.outputs.door?.history.map((w) => w.active)).toEqual([true, false, true]);
    await hw.close();
  });

  it('detachReaders: from then on a tap or a PIN reaches nobody', async () => {
    const hw = await createHardware(
      HardwareConfigSchema.parse({ gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }], keypad: { driver: 'simulated' } }),
      { clock: fixedClock },
    );
    const heard: string[] = [];
    hw.readers[0]?.on('tap', () => heard.push('tap'));
    hw.keypad?.on('pin', () => heard.push('pin'));
    hw.simulated?.reader?.tap('04A1B2C3D4');
    hw.simulated?.keypad?.enter('1234');
    expect(heard).toEqual(['tap', 'pin']);
    hw.detachReaders();
    hw.simulated?.reader?.tap('04A1B2C3D4');
    hw.simulated?.keypad?.enter('1234');
    expect(heard).toEqual(['tap', 'pin']);
    await hw.close();
  });

  it('keep a bounded history', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(bench), { clock: fixedClock });
    for (let i = 0; i < 1000; i++) hw.outputs.sounder.set(i % 2 === 0);
    const history = hw.simulated?.outputs.sounder?.history ?? [];
    expect(history).toHaveLength(256);
    expect(history.at(-1)?.active).toBe(false);
    await hw.close();
  });
});

describe('outputs on sysfs GPIO (onoff)', () => {
  const sysfs = sysfsPerTest(PI4_KERNEL_66);

  const wiring = (root: string): HardwareConfigInput => ({
    gpio: { driver: 'sysfs', sysfsRoot: root },
    outputs: {
      // an active-low relay board on a fail-safe maglock: energised (pin low) holds the door locked
      door: { pin: 17, activeLevel: 'low', safe: 'active' },
      lights: { pin: 27 },
      sounder: { pin: 22, activeLevel: 'low' },
      ledGreen: { pin: 5 },
      ledRed: { pin: 6 },
    },
    inputs: { doorContact: { pin: 23, activeLevel: 'high' }, exitButton: { pin: 24 } },
    readers: [{ id: 'entry', driver: 'pcsc', role: 'entry' }],
  });

  it('writes every output safe before any input, reader or keypad exists, at the sysfs numbers of kernel 6.6', async () => {
    const ops: (GpioOp | { op: 'load-nfc' })[] = [];
    const world = fakeGpio(ops as GpioOp[]);
    const loadNfc = async (): Promise<NfcPcscModule> => {
      ops.push({ op: 'load-nfc' });
      throw new Error('not here');
    };
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc } });
    const firstInput = ops.findIndex((o) => o.op === 'export' && o.direction === 'in');
    const lastOutputWrite = ops.findLastIndex((o) => o.op === 'write');
    expect(lastOutputWrite).toBeLessThan(firstInput);
    expect(firstInput).toBeLessThan(ops.findIndex((o) => o.op === 'load-nfc'));
    // exported straight at the safe electrical level (no glitch), then written again
    expect(ops.slice(0, 2)).toEqual([
      { op: 'export', gpio: 529, direction: 'low', edge: undefined, activeLow: false },
      { op: 'write', gpio: 529, value: 0 },
    ]);
    expect(ops.filter((o) => o.op === 'export' && o.direction !== 'in').map((o) => (o as { gpio: number }).gpio)).toEqual([529, 539, 534, 517, 518]);
    // the sounder is active low and safe inactive: its pin idles high
    expect(world.pins.get(534)?.level).toBe(1);
    expect(hw.outputs.door.active).toBe(true);
    await hw.close();
  });

  it('inverts active-low outputs: active drives the pin low', async () => {
    const world = fakeGpio();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: async () => Promise.reject(new Error('x')) } });
    hw.outputs.sounder.set(true);
    expect(world.pins.get(534)?.level).toBe(0);
    hw.outputs.sounder.set(false);
    expect(world.pins.get(534)?.level).toBe(1);
    hw.outputs.lights.set(true);
    expect(world.pins.get(539)?.level).toBe(1);
    await hw.close();
  });

  it('returns every output to safe on allSafe even when one pin fails, and never throws', async () => {
    const world = fakeGpio();
    const { logger, lines } = recordingLogger();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { logger, drivers: { loadGpio: async () => world.Gpio, loadNfc: async () => Promise.reject(new Error('x')) } });
    hw.outputs.door.set(false); // unlock (pin high)
    hw.outputs.lights.set(true);
    hw.outputs.ledRed.set(true);
    world.failWrites.add(539); // the lights pin now fails
    expect(() => hw.allSafe()).not.toThrow();
    expect(world.pins.get(529)?.level).toBe(0); // door back to locked (energised, active low)
    expect(world.pins.get(518)?.level).toBe(0); // red LED, after the failing pin, still made safe
    expect(lines.some((l) => l.level === 'error' && l.obj.output === 'lights')).toBe(true);
    await hw.close();
  });

  it('on close writes the safe levels and releases only the inputs: an output pin stays exported and driven', async () => {
    const world = fakeGpio();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: async () => Promise.reject(new Error('x')) } });
    hw.outputs.door.set(false);
    const before = world.ops.length;
    await hw.close();
    const after = world.ops.slice(before);
    expect(after[0]).toEqual({ op: 'write', gpio: 529, value: 0 });
    // Only the two inputs: a released output may become an input, and the relay would follow the pin's pull.
    expect(after.filter((o) => o.op === 'unexport').map((o) => o.gpio).sort()).toEqual([535, 536]);
    expect(world.pins.get(529)?.level).toBe(0);
    expect(() => hw.outputs.door.set(false)).toThrow(/closed/);
    expect(() => hw.outputs.door.toSafe()).not.toThrow();
  });

  it('holds the outputs safe once told to: a later set writes the safe level again', async () => {
    const world = fakeGpio();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: async () => Promise.reject(new Error('x')) } });
    hw.outputs.door.set(false); // unlocked: pin high
    hw.outputs.lights.set(false); // the lights are safe on: off is what must not come back
    hw.holdSafe();
    expect(world.pins.get(529)?.level).toBe(0);
    hw.outputs.door.set(false);
    hw.outputs.lights.set(false);
    expect(world.pins.get(529)?.level).toBe(0);
    expect(world.pins.get(539)?.level).toBe(1);
    expect(hw.outputs.door.active).toBe(true);
    await hw.close();
  });

  it('leaves the outputs already created safe, and still driven, when a later pin cannot be exported', async () => {
    const world = fakeGpio();
    world.failExports.add(534); // the sounder
    await expect(
      createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio } }),
    ).rejects.toThrow(/EACCES/);
    expect(world.ops.filter((o) => o.op === 'unexport')).toEqual([]);
    expect(world.pins.get(529)?.level).toBe(0);
  });

  it('refuses to start without sysfs GPIO, naming the fix, before touching any pin', async () => {
    const world = fakeGpio();
    sysfs.cleanup();
    await expect(createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio } })).rejects.toThrow(
      /sysfs GPIO is absent.*gpio\.driver: simulated/,
    );
    expect(world.ops).toEqual([]);
  });

  it('says how to fix a missing onoff', async () => {
    await expect(
      createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), {
        drivers: { loadGpio: () => import('../../../firmware-bridge/gpio/onoff.js').then((m) => Promise.reject(new m.GpioUnavailableError(new Error("Cannot find package 'onoff'")))) },
      }),
    ).rejects.toThrow(/GPIO unavailable: onoff could not be loaded .*Cannot find package 'onoff'/);
  });

  it('a SysfsOutput with a stale active_low writes the physical level itself', () => {
    const world = fakeGpio();
    const out = new SysfsOutput('door', { activeLevel: 'low', safe: 'inactive' }, 529, world.Gpio, recordingLogger().logger);
    expect(world.ops[0]).toMatchObject({ op: 'export', direction: 'high', activeLow: false });
    out.set(true);
    expect(world.pins.get(529)?.level).toBe(0);
    out.close();
    expect(world.pins.get(529)?.level).toBe(1);
    expect(world.ops.filter((o) => o.op === 'unexport')).toEqual([]);
  });
});
