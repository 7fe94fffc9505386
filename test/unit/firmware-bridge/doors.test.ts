// A second door (`hardware.doors`): its relay is as safe as the main door's, from the first write to after the end,
// and a config that would leave a door unwired or two doors on one pin is refused before anything starts.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { bootPinModes } from '../../../firmware-bridge/boot-config.js';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { installSafeStateHandlers } from '../../../firmware-bridge/safety.js';
import { doorLocks, parseGatewayConfig, withDoorSafeHardware } from '../../../gateway/config.js';
import { fakeGpio, PI4_KERNEL_66, recordingLogger, sysfsPerTest, type GpioOp } from './fakes.js';

function problems(input: unknown): string[] {
  const result = HardwareConfigSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

/** The entrance (main) and a meeting room with its own reader, relay, contact and exit button. */
const twoDoors = (extra: Record<string, unknown> = {}): HardwareConfigInput => ({
  gpio: { driver: 'simulated' },
  readers: [
    { id: 'entrance', driver: 'simulated', role: 'entry' },
    { id: 'room', driver: 'simulated', role: 'entry', door: 'meeting-room' },
  ],
  doors: [{ id: 'meeting-room', relay: {}, contact: {}, exit: {} }],
  ...extra,
});

describe('hardware.doors config', () => {
  it('refuses a reader at an unknown door, a duplicate door id, and the id main, naming the field', () => {
    expect(problems({ ...twoDoors(), readers: [{ id: 'room', driver: 'simulated', door: 'meeting' }] })).toEqual([
      'readers.0.door: no door "meeting" (doors: main, meeting-room)',
    ]);
    expect(problems(twoDoors({ doors: [{ id: 'meeting-room' }, { id: 'meeting-room' }] }))).toEqual(['doors.1.id: duplicate door id "meeting-room"']);
    expect(problems(twoDoors({ doors: [{ id: 'main' }, { id: 'meeting-room' }] }))[0]).toMatch(/^doors\.0\.id: "main" is the door of outputs\.door/);
  });

  it('refuses two doors on one pin, and a door without its relay pin under sysfs', () => {
    expect(problems(twoDoors({ outputs: { door: { pin: 17 } }, doors: [{ id: 'meeting-room', relay: { pin: 17 } }] }))).toEqual([
      'doors.0.relay.pin: BCM 17 is already used by outputs.door',
    ]);
    expect(problems(twoDoors({ doors: [{ id: 'meeting-room', relay: { pin: 12 }, contact: { pin: 12 } }] }))).toEqual([
      'doors.0.contact.pin: BCM 12 is already used by doors[0].relay',
    ]);
    const sysfs = problems({
      gpio: { driver: 'sysfs' },
      outputs: { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } },
      readers: [{ id: 'entry', driver: 'pcsc' }],
      doors: [{ id: 'meeting-room', contact: { pin: 16 } }],
    });
    expect(sysfs).toEqual(['doors.0.relay.pin: required when gpio.driver is sysfs']);
  });

  it("takes each door's relay safe level from its own lock type, else the gateway's", () => {
    const config = parseGatewayConfig({
      site: 'town',
      policyFile: 'policy.yaml',
      lock: { type: 'fail-secure', unlockMs: 4000 },
      hardware: twoDoors({ doors: [{ id: 'meeting-room', lock: { type: 'fail-safe' } }, { id: 'back' }] }),
    });
    const hardware = withDoorSafeHardware(config.hardware, config.lock.type);
    expect(hardware.outputs.door.safe).toBe('inactive');
    expect(hardware.doors.map((d) => [d.id, d.relay.safe])).toEqual([
      ['meeting-room', 'active'],
      ['back', 'inactive'],
    ]);
    expect(doorLocks(config).map((d) => [d.id, d.lock.type, d.lock.unlockMs])).toEqual([
      ['main', 'fail-secure', 4000],
      ['meeting-room', 'fail-safe', 4000],
      ['back', 'fail-secure', 4000],
    ]);
  });

  it("holds each door relay and wires its inputs from the first second of boot (config.txt)", () => {
    const hardware = HardwareConfigSchema.parse(
      twoDoors({ outputs: { door: { pin: 17, activeLevel: 'low' } }, doors: [{ id: 'meeting-room', relay: { pin: 12, activeLevel: 'low' }, contact: { pin: 16 }, exit: { pin: 20 } }] }),
    );
    const modes = bootPinModes(withDoorSafeHardware(hardware, 'fail-secure'));
    // both strikes locked: relays off, pins high on an active-low board
    expect([modes.get(17), modes.get(12), modes.get(16), modes.get(20)]).toEqual(['op,dh', 'op,dh', 'ip,pu', 'ip,pu']);
  });
});

describe('a second door on the simulated driver', () => {
  it('lists every door with its readers, main first, and holds the second relay safe on stop', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(twoDoors()));
    expect(hw.doors.map((d) => [d.id, d.readerIds, d.contact !== undefined, d.exit !== undefined])).toEqual([
      ['main', ['entrance'], false, false],
      ['meeting-room', ['room'], true, true],
    ]);
    const room = hw.doors[1]!;
    room.relay.set(true);
    hw.holdSafe();
    room.relay.set(true);
    expect(room.relay.active).toBe(false);
    expect(hw.simulated?.doors['meeting-room']?.relay.history.map((w) => w.active)).toEqual([false, true, false, false]);
    await hw.close();
  });

  it('on SIGTERM both doors lock before anything else runs', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(twoDoors()));
    const proc = new EventEmitter();
    const exits: number[] = [];
    const uninstall = installSafeStateHandlers(hw, recordingLogger().logger, { process: proc as unknown as NodeJS.Process, exit: (code) => exits.push(code) });
    hw.doors[0]!.relay.set(true);
    hw.doors[1]!.relay.set(true);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(hw.doors.map((d) => d.relay.active)).toEqual([false, false]);
    uninstall();
    await hw.close();
  });
});

describe('a second door on sysfs GPIO', () => {
  const sysfs = sysfsPerTest(PI4_KERNEL_66);

  const wiring = (root: string): HardwareConfigInput => ({
    gpio: { driver: 'sysfs', sysfsRoot: root },
    outputs: { door: { pin: 17, activeLevel: 'low' }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } },
    inputs: { doorContact: { pin: 23 } },
    readers: [{ id: 'entrance', driver: 'pcsc' }],
    // a fail-safe maglock on an active-low board: energised (pin low) holds it locked
    doors: [{ id: 'meeting-room', relay: { pin: 12, activeLevel: 'low', safe: 'active' }, contact: { pin: 16 }, exit: { pin: 20 } }],
  });
  const noPcsc = async (): Promise<never> => Promise.reject(new Error('not here'));

  it("writes the second door's relay safe before any input exists", async () => {
    const ops: GpioOp[] = [];
    const world = fakeGpio(ops);
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: noPcsc } });
    const firstInput = ops.findIndex((o) => o.op === 'export' && o.direction === 'in');
    const relayExport = ops.findIndex((o) => o.op === 'export' && o.gpio === 524);
    expect(ops[relayExport]).toMatchObject({ direction: 'low' });
    expect(relayExport).toBeLessThan(firstInput);
    expect(ops.findLastIndex((o) => o.op === 'write')).toBeLessThan(firstInput);
    expect(hw.doors[1]?.relay.active).toBe(true);
    await hw.close();
  });

  it('on close drives the second relay safe and keeps it exported, and releases its contact and exit', async () => {
    const world = fakeGpio();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: noPcsc } });
    hw.doors[1]!.relay.set(false); // released: pin high
    expect(world.pins.get(524)?.level).toBe(1);
    await hw.close();
    expect(world.pins.get(524)?.level).toBe(0);
    // 535 the main contact, 528 and 532 the meeting room's contact and exit: never an output pin
    expect(world.ops.filter((o) => o.op === 'unexport').map((o) => o.gpio).sort()).toEqual([528, 532, 535]);
  });

  it("a failed export of the second door's exit leaves every relay safe and its contact released", async () => {
    const world = fakeGpio();
    world.failExports.add(532);
    await expect(createHardware(HardwareConfigSchema.parse(wiring(sysfs.root)), { drivers: { loadGpio: async () => world.Gpio, loadNfc: noPcsc } })).rejects.toThrow(/EACCES/);
    expect(world.pins.get(524)?.level).toBe(0);
    expect(world.ops.filter((o) => o.op === 'unexport').map((o) => o.gpio).sort()).toEqual([528, 535]);
  });
});
