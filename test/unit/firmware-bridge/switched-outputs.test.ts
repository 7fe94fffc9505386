// Switched outputs (`hardware.switched`: public PCs, a kiosk, the heating) and the intruder-alarm panel's wiring
// (`hardware.intruderAlarm`): as safe as the door's relay from the first write to after the end, and a config that
// would put two things on one pin, or let a dying gateway set or unset the panel, refused before anything starts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootPinModes } from '../../../firmware-bridge/boot-config.js';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { realSysfsFiles } from '../../../firmware-bridge/gpio/sysfs-safe.js';
import { runOutputsSafe } from '../../../scripts/commands/outputs-safe.js';
import { fakeGpio, PI4_KERNEL_66, sysfsPerTest, type GpioOp } from './fakes.js';

function problems(input: unknown): string[] {
  const result = HardwareConfigSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const clock = { now: () => new Date('2026-12-01T16:00:00Z') };

/** A bench with the public PCs and a kiosk on relays, and an alarm panel. */
const bench = (extra: Record<string, unknown> = {}): HardwareConfigInput => ({
  gpio: { driver: 'simulated' },
  readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
  switched: [{ id: 'pcs', label: 'Public PCs, first floor' }, { id: 'kiosk' }],
  intruderAlarm: {},
  ...extra,
});

/** The branch's header under sysfs: the named outputs and a contact, plus what `extra` adds. */
const SYSFS_OUTPUTS = { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } };

describe('switched outputs and intruderAlarm config', () => {
  it('takes the defaults: relays off when the software is not in control, a 1 s panel contact', () => {
    const config = HardwareConfigSchema.parse(bench());
    expect(config.switched).toEqual([
      { id: 'pcs', label: 'Public PCs, first floor', activeLevel: 'high', safe: 'inactive' },
      { id: 'kiosk', activeLevel: 'high', safe: 'inactive' },
    ]);
    expect(config.intruderAlarm).toEqual({
      set: { activeLevel: 'high', safe: 'inactive' },
      unset: { activeLevel: 'high', safe: 'inactive' },
      status: { activeLevel: 'low', debounceMs: 30 },
      pulseMs: 1000,
    });
    expect(HardwareConfigSchema.parse(bench({ switched: undefined, intruderAlarm: undefined }))).toMatchObject({ switched: [], intruderAlarm: undefined });
    // heating that must stay on through a crash says so
    expect(HardwareConfigSchema.parse(bench({ switched: [{ id: 'heating', safe: 'active' }] })).switched[0]?.safe).toBe('active');
  });

  it('refuses a duplicate or badly formed id, a long label and more than 16 outputs, naming the field', () => {
    expect(problems(bench({ switched: [{ id: 'pcs' }, { id: 'kiosk' }, { id: 'pcs' }] }))).toEqual(['switched.2.id: duplicate switched output id "pcs"']);
    expect(problems(bench({ switched: [{ id: 'Public PCs' }] }))).toEqual(['switched.0.id: must be 1–32 lower case letters, digits or dashes']);
    expect(problems(bench({ switched: [{ id: 'pcs', label: 'x'.repeat(61) }] }))).toEqual(['switched.0.label: must be at most 60 characters']);
    expect(problems(bench({ switched: [{ id: 'pcs', label: 'PCs\nupstairs' }] }))).toEqual(['switched.0.label: must be one line of text, without control characters']);
    expect(problems(bench({ switched: Array.from({ length: 17 }, (_, i) => ({ id: `out-${i}` })) }))).toEqual(['switched: at most 16 switched outputs']);
    expect(problems(bench({ switched: [{ id: 'pcs', pinn: 4 }] }))).toEqual(['switched.0: Unrecognized key: "pinn"']);
  });

  it('refuses a pin another output or input has, naming both', () => {
    expect(problems(bench({ outputs: { door: { pin: 17 } }, switched: [{ id: 'pcs', pin: 17 }] }))).toEqual(['switched.0.pin: BCM 17 is already used by outputs.door']);
    expect(problems(bench({ doors: [{ id: 'meeting-room', relay: { pin: 12 } }], intruderAlarm: { status: { pin: 12 } } }))).toEqual([
      'intruderAlarm.status.pin: BCM 12 is already used by doors[0].relay',
    ]);
    expect(problems(bench({ switched: [{ id: 'pcs', pin: 20 }], intruderAlarm: { set: { pin: 21 }, unset: { pin: 20 } } }))).toEqual([
      'intruderAlarm.unset.pin: BCM 20 is already used by switched[0]',
    ]);
  });

  it('requires every pin under sysfs', () => {
    expect(
      problems({ gpio: { driver: 'sysfs' }, outputs: SYSFS_OUTPUTS, readers: [{ id: 'entry', driver: 'pcsc' }], switched: [{ id: 'pcs' }], intruderAlarm: { set: { pin: 20 }, unset: { pin: 21 } } }),
    ).toEqual(['switched.0.pin: required when gpio.driver is sysfs', 'intruderAlarm.status.pin: required when gpio.driver is sysfs']);
  });

  it('refuses safe: active on the panel contacts: a dead gateway must never set or unset the alarm', () => {
    expect(problems(bench({ intruderAlarm: { set: { safe: 'active' } } }))).toEqual([
      'intruderAlarm.set.safe: must be inactive: a gateway that stops or dies must never set or unset the alarm panel (docs/hardware.md)',
    ]);
    expect(problems(bench({ intruderAlarm: { unset: { safe: 'active' } } }))[0]).toMatch(/^intruderAlarm\.unset\.safe: must be inactive/);
    expect(problems(bench({ intruderAlarm: { pulseMs: 100 } }))).toEqual(['intruderAlarm.pulseMs: must be at least 200 (panels miss shorter contacts)']);
    expect(problems(bench({ intruderAlarm: { pulseMs: 6000 } }))).toEqual(['intruderAlarm.pulseMs: must be at most 5000']);
  });

  it('holds the switched and panel pins from the first second of boot (config.txt)', () => {
    const hardware = HardwareConfigSchema.parse(
      bench({
        switched: [{ id: 'pcs', pin: 13, activeLevel: 'low' }, { id: 'heating', pin: 19, safe: 'active' }],
        intruderAlarm: { set: { pin: 20, activeLevel: 'low' }, unset: { pin: 21 }, status: { pin: 26 } },
      }),
    );
    const modes = bootPinModes(hardware);
    // PCs off on an active-low board: high; heating on: high; the panel's contacts open; its status pulled up
    expect([13, 19, 20, 21, 26].map((pin) => modes.get(pin))).toEqual(['op,dh', 'op,dh', 'op,dh', 'op,dl', 'ip,pu']);
  });
});

describe('switched outputs and the panel on the simulated driver', () => {
  it('lists the switched outputs in config order, starts every one safe and puts them back on allSafe', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(bench({ intruderAlarm: { pulseMs: 500 } })), { clock });
    expect([...hw.switched.keys()]).toEqual(['pcs', 'kiosk']);
    expect(hw.switched.get('pcs')?.name).toBe('switched.pcs');
    expect(hw.intruderAlarm?.pulseMs).toBe(500);
    expect([hw.intruderAlarm?.set.name, hw.intruderAlarm?.unset.name, hw.intruderAlarm?.status.name]).toEqual([
      'intruderAlarm.set',
      'intruderAlarm.unset',
      'intruderAlarm.status',
    ]);
    hw.switched.get('pcs')!.set(true);
    hw.intruderAlarm!.set.set(true); // mid-pulse
    hw.allSafe();
    expect(hw.switched.get('pcs')?.active).toBe(false);
    expect(hw.intruderAlarm?.set.active).toBe(false);
    expect(hw.simulated?.switched.pcs?.history.map((w) => w.active)).toEqual([false, true, false]);
    await hw.close();
  });

  it('holds them safe on a stop: an extension winding down cannot switch the PCs on or pulse the panel', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(bench()), { clock });
    hw.holdSafe();
    hw.switched.get('kiosk')!.set(true);
    hw.intruderAlarm!.unset.set(true);
    expect(hw.switched.get('kiosk')?.active).toBe(false);
    expect(hw.intruderAlarm?.unset.active).toBe(false);
    expect(hw.simulated?.intruderAlarm?.unset.history.map((w) => w.active)).toEqual([false, false, false]);
    await hw.close();
  });

  it('has no panel when none is configured', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(bench({ intruderAlarm: undefined, switched: undefined })), { clock });
    expect(hw.intruderAlarm).toBeUndefined();
    expect(hw.switched.size).toBe(0);
    expect(hw.simulated?.intruderAlarm).toBeUndefined();
    await hw.close();
  });
});

describe('switched outputs and the panel on sysfs GPIO', () => {
  const sysfs = sysfsPerTest(PI4_KERNEL_66);

  // Kernel 6.6 on a Pi 4: BCM n is gpio 512 + n. PCs 13 → 525, panel set 20 → 532, unset 21 → 533, status 26 → 538.
  const wiring = (root: string): HardwareConfigInput => ({
    gpio: { driver: 'sysfs', sysfsRoot: root },
    outputs: SYSFS_OUTPUTS,
    inputs: { doorContact: { pin: 23 } },
    readers: [{ id: 'entrance', driver: 'pcsc' }],
    switched: [{ id: 'pcs', pin: 13, activeLevel: 'low' }],
    intruderAlarm: { set: { pin: 20, activeLevel: 'low' }, unset: { pin: 21, activeLevel: 'low' }, status: { pin: 26 } },
  });
  const noPcsc = async (): Promise<never> => Promise.reject(new Error('not here'));

  it('writes the PCs and the panel contacts safe before any input exists', async () => {
    const ops: GpioOp[] = [];
    const world = fakeGpio(ops);
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: noPcsc } });
    const firstInput = ops.findIndex((o) => o.op === 'export' && o.direction === 'in');
    for (const gpio of [525, 532, 533]) {
      const exported = ops.findIndex((o) => o.op === 'export' && o.gpio === gpio);
      // active-low relays, off: pin high
      expect(ops[exported]).toMatchObject({ direction: 'high' });
      expect(exported).toBeLessThan(firstInput);
    }
    expect(ops.find((o) => o.op === 'export' && o.gpio === 538)).toMatchObject({ direction: 'in', edge: 'both' });
    hw.switched.get('pcs')!.set(true);
    expect(world.pins.get(525)?.level).toBe(0);
    await hw.close();
    expect(world.pins.get(525)?.level).toBe(1);
  });

  it('on close keeps the output pins exported and releases the panel status input', async () => {
    const world = fakeGpio();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: noPcsc } });
    world.pins.get(538)!.drive(0); // the panel's PGM says set
    await hw.close();
    // 535 the door contact, 538 the panel status: never an output pin
    expect(world.ops.filter((o) => o.op === 'unexport').map((o) => o.gpio).sort()).toEqual([535, 538]);
  });

  it("a failed export of the panel's status input leaves every output safe", async () => {
    const world = fakeGpio();
    world.failExports.add(538);
    await expect(createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: noPcsc } })).rejects.toThrow(/EACCES/);
    expect([525, 532, 533].map((gpio) => world.pins.get(gpio)?.level)).toEqual([1, 1, 1]);
    expect(world.ops.filter((o) => o.op === 'unexport').map((o) => o.gpio)).toEqual([535]);
  });

  it('oag outputs-safe drives the PCs off and the panel contacts open after the gateway died', async () => {
    // The gateway was killed with the PCs on and mid-pulse on the panel's set contact (active low: pins low).
    for (const gpio of [529, 539, 534, 517, 518, 525, 532, 533]) {
      mkdirSync(join(sysfs.root, `gpio${gpio}`));
      writeFileSync(join(sysfs.root, `gpio${gpio}`, 'direction'), 'out');
    }
    const path = join(sysfs.root, '..', 'gateway.yaml');
    writeFileSync(path, stringify({ site: 'town', policyFile: 'no-such-policy.yaml', hardware: wiring(sysfs.root) }));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runOutputsSafe(path, { out: (s) => out.push(s), err: (s) => err.push(s) }, { files: realSysfsFiles });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const direction = (gpio: number): string => readFileSync(join(sysfs.root, `gpio${gpio}`, 'direction'), 'utf8');
    expect([525, 532, 533].map(direction)).toEqual(['high', 'high', 'high']);
    expect(out.join('')).toMatch(/switched\.pcs BCM 13 high, intruderAlarm\.set BCM 20 high, intruderAlarm\.unset BCM 21 high/);
  });
});
