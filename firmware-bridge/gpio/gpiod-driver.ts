// Which GPIO backend runs: the config's `gpio.driver`, or for `auto` what this machine has. sysfs stays the choice
// wherever the kernel still has it (Raspberry Pi OS kernels do); the character device through the gpiod tools where
// it is gone (Debian 13's own kernels), provided the chip and the tools are there.
import { existsSync } from 'node:fs';
import type { HardwareConfig } from '../config.js';
import { probeGpiodTools, realGpiodSpawn, type GpiodSpawn, type GpiodTools } from './gpiod-tools.js';
import { sysfsAbsentMessage } from './sysfs-base.js';

export type GpioDriver = 'simulated' | 'sysfs' | 'gpiod';

export interface ResolvedGpioDriver {
  driver: GpioDriver;
  /** Set for gpiod: the tools found. */
  tools?: GpiodTools;
  /** For the log and `oag outputs-safe`: why auto chose what it chose. */
  reason: string;
}

export interface GpioDriverProbes {
  exists?: (path: string) => boolean;
  spawn?: GpiodSpawn;
}

/** The chip whose offsets are BCM numbers: `gpio.chip`, gpiochip0 when unset (the header's chip on every Pi since mid-2024 kernels). */
export function headerChip(gpio: HardwareConfig['gpio']): string {
  return gpio.chip ?? 'gpiochip0';
}

/** `gpiochip0` → `/dev/gpiochip0`. */
export function chipDevice(chip: string): string {
  return chip.startsWith('/dev/') ? chip : `/dev/${chip}`;
}

export async function resolveGpioDriver(gpio: HardwareConfig['gpio'], probes: GpioDriverProbes = {}): Promise<ResolvedGpioDriver> {
  const exists = probes.exists ?? existsSync;
  const spawn = probes.spawn ?? realGpiodSpawn;
  if (gpio.driver === 'simulated' || gpio.driver === 'sysfs') return { driver: gpio.driver, reason: `gpio.driver is ${gpio.driver}` };
  if (gpio.driver === 'gpiod') {
    if (!exists(chipDevice(headerChip(gpio)))) {
      throw new Error(`GPIO unavailable: ${chipDevice(headerChip(gpio))} does not exist. Fix: set gpio.chip to the header's chip (\`gpiodetect\` lists them: the one labelled pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 or pinctrl-bcm2835 on earlier Pis)`);
    }
    return { driver: 'gpiod', tools: await probeGpiodTools(spawn), reason: 'gpio.driver is gpiod' };
  }
  // auto
  if (exists(gpio.sysfsRoot)) return { driver: 'sysfs', reason: `auto: ${gpio.sysfsRoot} exists` };
  if (!exists(chipDevice(headerChip(gpio)))) {
    throw new Error(`${sysfsAbsentMessage(gpio.sysfsRoot)} Nor is there ${chipDevice(headerChip(gpio))} for gpio.driver auto to use instead: is this a Raspberry Pi, and gpio.chip its header's chip?`);
  }
  let tools: GpiodTools;
  try {
    tools = await probeGpiodTools(spawn);
  } catch (error) {
    throw new Error(`${sysfsAbsentMessage(gpio.sysfsRoot)} gpio.driver auto would use ${chipDevice(headerChip(gpio))}, but: ${(error as Error).message}`, { cause: error });
  }
  return { driver: 'gpiod', tools, reason: `auto: no ${gpio.sysfsRoot}, ${chipDevice(headerChip(gpio))} and gpioset ${tools.version}` };
}
