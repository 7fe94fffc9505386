// GPIO, read only: the gateway may hold the lines right now, and doctor must not take them, export them or write a
// level. Under sysfs each configured pin's files are read: an output must be exported, an output, and, with the
// gateway stopped, at its safe level (what `oag outputs-safe` leaves); an input must read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { everyInputConfig, everyOutputConfig, type HardwareConfig, type InputConfig, type OutputConfig } from '../../firmware-bridge/config.js';
import { levelFor } from '../../firmware-bridge/gpio/onoff.js';
import { resolveGpioDriver, type GpioDriverProbes } from '../../firmware-bridge/gpio/gpiod-driver.js';
import { bcmToSysfs, findHeaderChip } from '../../firmware-bridge/gpio/sysfs-base.js';
import { fail, ok, warn, type Finding } from './findings.js';

/** Whether the gateway runs now (its console answered), which tells a level it drives from one left wrong. */
export type GatewayPresence = 'running' | 'stopped' | 'unknown';

export interface GpioCheckOptions {
  /** The hardware with each door relay's safe level from its lock type (withDoorSafeHardware). */
  hardware: HardwareConfig;
  gateway: GatewayPresence;
  configPath: string;
  /** What the gpiod backend's driver choice looks at (the chip device, the tools); the machine's by default. */
  gpiodProbes?: GpioDriverProbes | undefined;
}

export async function checkGpio(options: GpioCheckOptions): Promise<Finding[]> {
  const driver = options.hardware.gpio.driver;
  if (driver === 'simulated') return [ok('gpio.driver', 'gpio', 'gpio.driver is simulated: no pins to read (a test bench or the demo, never a branch door)')];
  if (driver === 'sysfs') return checkSysfs(options);
  return checkGpiod(options, driver);
}

/**
 * gpiod and auto: the backend's own choice of driver (firmware-bridge/gpio/gpiod-driver.ts: the chip and the tools
 * there). Its lines are not read: on the character device reading a line requests it, which the running gateway's
 * hold refuses and which would turn a stopped branch's output into an input; `gpioinfo` shows them without a request.
 */
async function checkGpiod(options: GpioCheckOptions, driver: 'gpiod' | 'auto'): Promise<Finding[]> {
  let resolved;
  try {
    resolved = await resolveGpioDriver(options.hardware.gpio, options.gpiodProbes);
  } catch (error) {
    const message = (error as Error).message;
    const [found, fix] = message.includes(' Fix: ') ? message.split(' Fix: ', 2) : [message, 'check hardware.gpio (docs/hardware.md, "Which GPIO backend")'];
    return [fail('gpio.driver', 'gpio', `gpio.driver ${driver}: ${found}`, fix!)];
  }
  if (resolved.driver === 'sysfs') return [ok('gpio.driver', 'gpio', `gpio.driver ${driver} uses sysfs (${resolved.reason})`), ...checkSysfs(options)];
  return [
    ok('gpio.driver', 'gpio', `gpio.driver ${driver} uses the character device (${resolved.reason}${resolved.tools === undefined ? '' : `, gpioset ${resolved.tools.version}`})`),
    warn('gpio.lines', 'gpio', 'the pins are not read under gpiod: reading a line would take it from the gateway', 'list them without taking them: gpioinfo (each configured line "used" by "oag" while the gateway runs)'),
  ];
}

function checkSysfs(options: GpioCheckOptions): Finding[] {
  const root = options.hardware.gpio.sysfsRoot;
  let base: number;
  try {
    const chip = findHeaderChip(root);
    base = chip.base;
    const findings = [ok('gpio.chip', 'gpio', `the header's GPIOs are ${chip.chip} (${chip.label ?? 'no label'}, base ${chip.base}) under ${root}`)];
    for (const [name, config] of everyOutputConfig(options.hardware)) if (config.pin !== undefined) findings.push(checkOutput(name, config, root, base, options));
    for (const [name, config] of everyInputConfig(options.hardware)) if (config.pin !== undefined) findings.push(checkInput(name, config, root, base, options.gateway));
    return findings;
  } catch (error) {
    return [fail('gpio.chip', 'gpio', (error as Error).message.replace(/ (Fix: |Is this).*$/, ''), 'use a Raspberry Pi OS kernel (it has sysfs GPIO), or set hardware.gpio.sysfsRoot to where the gpiochips are listed')];
  }
}

function readPinFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function describe(name: string, pin: number, gpio: number): string {
  return `${name} (BCM ${pin}, gpio${gpio})`;
}

function checkOutput(name: string, config: OutputConfig, root: string, base: number, options: GpioCheckOptions): Finding {
  const gpio = bcmToSysfs(config.pin!, base);
  const id = `gpio.${name}`;
  const pin = describe(name, config.pin!, gpio);
  const safeFix = `drive every output safe: sudo oag outputs-safe --config ${options.configPath} (or start the gateway), then check the wiring of BCM ${config.pin}`;
  const value = readPinFile(join(root, `gpio${gpio}`, 'value'));
  if (value === undefined) return fail(id, 'gpio', `${pin} cannot be read: its value file ${join(root, `gpio${gpio}`, 'value')} is missing or unreadable, so nothing holds the output at its safe level`, safeFix);
  const direction = readPinFile(join(root, `gpio${gpio}`, 'direction'));
  if (direction === 'in') return fail(id, 'gpio', `${pin} is an input: the relay follows the pin's pull, not its safe level`, safeFix);
  const safeLevel = levelFor(config.safe === 'active', config.activeLevel);
  const level = value === '1' ? 1 : 0;
  const state = level === levelFor(true, config.activeLevel) ? 'active' : 'inactive';
  if (level === safeLevel) return ok(id, 'gpio', `${pin} reads ${state}, its safe level`);
  if (options.gateway === 'running') return ok(id, 'gpio', `${pin} reads ${state}, as the running gateway drives it (safe: ${config.safe})`);
  const found = `${pin} reads ${state}, not its safe level (${config.safe})`;
  return options.gateway === 'stopped' ? fail(id, 'gpio', `${found}, with the gateway stopped`, safeFix) : warn(id, 'gpio', `${found}; fine only if the gateway runs and drives it`, safeFix);
}

function checkInput(name: string, config: InputConfig, root: string, base: number, gateway: GatewayPresence): Finding {
  const gpio = bcmToSysfs(config.pin!, base);
  const id = `gpio.${name}`;
  const pin = describe(name, config.pin!, gpio);
  const path = join(root, `gpio${gpio}`, 'value');
  const value = readPinFile(path);
  if (value === undefined) {
    if (gateway !== 'running') return warn(id, 'gpio', `${pin} is not exported: the gateway exports its inputs when it starts`);
    return fail(id, 'gpio', `${pin} cannot be read (${path}) though the gateway runs`, `see why in its log: sudo journalctl -u oag-gateway | grep ${name}; the service's user must be in the gpio group`);
  }
  const state = (value === '1' ? 1 : 0) === levelFor(true, config.activeLevel) ? 'active' : 'inactive';
  return ok(id, 'gpio', `${pin} reads ${state}`);
}
