// GPIO under sysfs, read from files laid out like /sys/class/gpio: each pin's level as the kernel shows it, an
// output away from its safe level told apart by whether the gateway runs, and a pin whose files are gone.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { withDoorSafeHardware } from '../../../gateway/config.js';
import { checkGpio, type GatewayPresence } from '../../../gateway/doctor/gpio-checks.js';
import { PI4_KERNEL_66, sysfsPerTest } from '../firmware-bridge/fakes.js';

const sysfs = sysfsPerTest(PI4_KERNEL_66);

function pin(gpio: number, direction: string, value: string): void {
  mkdirSync(join(sysfs.root, `gpio${gpio}`), { recursive: true });
  writeFileSync(join(sysfs.root, `gpio${gpio}`, 'direction'), `${direction}\n`);
  writeFileSync(join(sysfs.root, `gpio${gpio}`, 'value'), `${value}\n`);
}

// Active-low strike on BCM 17 (gpio529): locked (safe) is high. Lights on BCM 27 (gpio539), safe on (active high).
function check(gateway: GatewayPresence, extra: Record<string, unknown> = {}) {
  const hardware = HardwareConfigSchema.parse({
    gpio: { driver: 'sysfs', sysfsRoot: sysfs.root },
    outputs: { door: { pin: 17, activeLevel: 'low' }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } },
    inputs: { doorContact: { pin: 23 } },
    readers: [{ id: 'entry', driver: 'simulated' }],
    ...extra,
  });
  return checkGpio({ hardware: withDoorSafeHardware(hardware, 'fail-secure'), gateway, configPath: '/etc/oag/gateway.yaml' });
}

function allSafe(): void {
  pin(529, 'out', '1');
  pin(539, 'out', '1');
  for (const gpio of [534, 517, 518]) pin(gpio, 'out', '0');
}

describe('doctor: GPIO under sysfs', () => {
  it('reads every output at its safe level and the door contact, whatever the gateway does', async () => {
    allSafe();
    pin(535, 'in', '0');
    const findings = await check('stopped');
    expect(findings.map((f) => f.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(findings.find((f) => f.id === 'gpio.door')?.found).toBe('door (BCM 17, gpio529) reads inactive, its safe level');
    expect(findings.find((f) => f.id === 'gpio.doorContact')?.found).toBe('doorContact (BCM 23, gpio535) reads active');
  });

  it('fails a strike left energised with the gateway stopped, and says how to make it safe', async () => {
    allSafe();
    pin(529, 'out', '0');
    const door = (await check('stopped')).find((f) => f.id === 'gpio.door');
    expect(door).toMatchObject({ status: 'fail', found: 'door (BCM 17, gpio529) reads active, not its safe level (inactive), with the gateway stopped' });
    expect(door?.fix).toContain('sudo oag outputs-safe --config /etc/oag/gateway.yaml');
  });

  it('takes an output away from its safe level as the running gateway driving it', async () => {
    allSafe();
    pin(529, 'out', '0');
    expect((await check('running')).find((f) => f.id === 'gpio.door')).toMatchObject({ status: 'ok', found: expect.stringContaining('as the running gateway drives it') });
  });

  it('fails an output whose files are gone, or that became an input', async () => {
    allSafe();
    pin(539, 'in', '1');
    const findings = await check('running');
    expect(findings.find((f) => f.id === 'gpio.lights')).toMatchObject({ status: 'fail', found: expect.stringContaining("is an input: the relay follows the pin's pull") });
    expect(findings.find((f) => f.id === 'gpio.doorContact')).toMatchObject({ status: 'fail', found: expect.stringContaining('cannot be read') });
  });

  it('warns of an input not exported while the gateway is stopped: it exports its inputs at start', async () => {
    allSafe();
    expect((await check('stopped')).find((f) => f.id === 'gpio.doorContact')).toMatchObject({ status: 'warn' });
  });

  it('under gpio.driver auto, reads the pins through sysfs where the kernel has it', async () => {
    allSafe();
    pin(535, 'in', '1');
    const findings = await check('stopped', { gpio: { driver: 'auto', sysfsRoot: sysfs.root } });
    expect(findings[0]).toMatchObject({ id: 'gpio.driver', status: 'ok', found: `gpio.driver auto uses sysfs (auto: ${sysfs.root} exists)` });
    expect(findings.filter((f) => f.id.startsWith('gpio.') && f.id !== 'gpio.driver').map((f) => f.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('under gpiod, fails a chip that is not there with how to find the right one, and never reads a line', async () => {
    const hardware = HardwareConfigSchema.parse({ gpio: { driver: 'gpiod', chip: 'gpiochip4' }, outputs: { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } }, readers: [{ id: 'entry', driver: 'simulated' }] });
    const findings = await checkGpio({ hardware, gateway: 'running', configPath: 'gateway.yaml', gpiodProbes: { exists: () => false } });
    expect(findings).toEqual([expect.objectContaining({ id: 'gpio.driver', status: 'fail', found: 'gpio.driver gpiod: GPIO unavailable: /dev/gpiochip4 does not exist.', fix: expect.stringContaining('gpiodetect') })]);
  });

  it('fails a machine without the header chip, with what to do', async () => {
    const hardware = HardwareConfigSchema.parse({ gpio: { driver: 'sysfs', sysfsRoot: join(sysfs.root, 'nowhere') }, outputs: { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } }, readers: [{ id: 'entry', driver: 'simulated' }] });
    const [finding] = await checkGpio({ hardware, gateway: 'unknown', configPath: 'gateway.yaml' });
    expect(finding).toMatchObject({ id: 'gpio.chip', status: 'fail', found: expect.stringContaining('sysfs GPIO is absent') });
    expect(finding?.found).not.toContain('Fix:');
  });
});
