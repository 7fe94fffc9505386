// Config names pins by BCM number; sysfs numbers them from the gpiochip's base, which moved on
// Raspberry Pi OS kernel 6.6 (512 on a Pi 4, 571 for the RP1 chip of a Pi 5). Read the base, never assume it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Pi's header GPIOs live on these chips, best first (a Pi 5 also lists pinctrl-bcm2712, which is not the header). */
export const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface GpioChip {
  chip: string;
  label: string | undefined;
  base: number;
  ngpio: number | undefined;
}

export class SysfsGpioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SysfsGpioError';
  }
}

export function sysfsAbsentMessage(sysfsRoot: string): string {
  return (
    `sysfs GPIO is absent: ${sysfsRoot} does not exist (the kernel is built without CONFIG_GPIO_SYSFS, as Debian 13 kernels may be). ` +
    'Fix: use a kernel with sysfs GPIO enabled (Raspberry Pi OS kernels have it), or set `hardware.gpio.driver: simulated` to run without GPIO.'
  );
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function listGpioChips(sysfsRoot: string): GpioChip[] {
  if (!existsSync(sysfsRoot)) throw new SysfsGpioError(sysfsAbsentMessage(sysfsRoot));
  const chips: GpioChip[] = [];
  for (const name of readdirSync(sysfsRoot)) {
    if (!/^gpiochip\d+$/.test(name)) continue;
    const base = Number(readTrimmed(join(sysfsRoot, name, 'base')) ?? Number.NaN);
    if (!Number.isInteger(base)) continue;
    const ngpio = Number(readTrimmed(join(sysfsRoot, name, 'ngpio')) ?? Number.NaN);
    chips.push({ chip: name, label: readTrimmed(join(sysfsRoot, name, 'label')), base, ngpio: Number.isInteger(ngpio) ? ngpio : undefined });
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** The chip that carries the header's GPIOs. */
export function findHeaderChip(sysfsRoot: string): GpioChip {
  const chips = listGpioChips(sysfsRoot);
  for (const label of HEADER_CHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip !== undefined) return chip;
  }
  // Old kernels with one unlabelled chip numbered the header from 0.
  const only = chips[0];
  if (chips.length === 1 && only !== undefined && only.base === 0 && only.chip === 'gpiochip0') return only;
  const found = chips.length === 0 ? 'no gpiochip at all' : chips.map((c) => `${c.chip} "${c.label ?? '?'}" base ${c.base}`).join(', ');
  throw new SysfsGpioError(
    `unknown GPIO layout under ${sysfsRoot}: expected a gpiochip labelled ${HEADER_CHIP_LABELS.join(', ')} (found ${found}). ` +
      'Is this a Raspberry Pi? Otherwise set `hardware.gpio.driver: simulated`.',
  );
}

/** The sysfs number of BCM GPIO 0 on this machine. */
export function resolveSysfsBase(sysfsRoot = '/sys/class/gpio'): number {
  return findHeaderChip(sysfsRoot).base;
}

export function bcmToSysfs(bcm: number, base: number): number {
  if (!Number.isInteger(bcm) || bcm < 0 || bcm > 27) throw new RangeError(`BCM GPIO ${bcm} is not a header pin (0–27)`);
  return base + bcm;
}
