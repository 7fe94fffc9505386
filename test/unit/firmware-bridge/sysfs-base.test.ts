import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bcmToSysfs, findHeaderChip, resolveSysfsBase } from '../../../firmware-bridge/gpio/sysfs-base.js';
import { PI4_KERNEL_66, sysfsLayout, type ChipSpec } from './fakes.js';

describe('BCM to sysfs GPIO numbers', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  function layout(chips: ChipSpec[]): string {
    const { root, cleanup } = sysfsLayout(chips);
    cleanups.push(cleanup);
    return root;
  }

  it('uses base 0 on older kernels (gpiochip0, pinctrl-bcm2835)', () => {
    const root = layout([
      { chip: 'gpiochip0', label: 'pinctrl-bcm2835', base: 0, ngpio: 54 },
      { chip: 'gpiochip504', label: 'raspberrypi-exp-gpio', base: 504, ngpio: 8 },
    ]);
    expect(resolveSysfsBase(root)).toBe(0);
    expect(bcmToSysfs(17, resolveSysfsBase(root))).toBe(17);
  });

  it('falls back to base 0 when an old kernel lists a single unlabelled gpiochip0', () => {
    expect(resolveSysfsBase(layout([{ chip: 'gpiochip0', base: 0 }]))).toBe(0);
  });

  it('offsets by 512 on a Pi 4 with kernel 6.6 (gpiochip512, pinctrl-bcm2711)', () => {
    const root = layout(PI4_KERNEL_66);
    expect(findHeaderChip(root)).toEqual({ chip: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 });
    expect(bcmToSysfs(17, resolveSysfsBase(root))).toBe(529);
  });

  it("uses the RP1 chip's own base on a Pi 5, not the SoC's other chips", () => {
    const root = layout([
      { chip: 'gpiochip512', label: 'gpio-brcmstb@107d508500', base: 512, ngpio: 32 },
      { chip: 'gpiochip544', label: 'gpio-brcmstb@107d508520', base: 544, ngpio: 4 },
      { chip: 'gpiochip548', label: 'gpio-brcmstb@107d517c00', base: 548, ngpio: 17 },
      { chip: 'gpiochip565', label: 'gpio-brcmstb@107d517c20', base: 565, ngpio: 6 },
      { chip: 'gpiochip571', label: 'pinctrl-rp1', base: 571, ngpio: 54 },
    ]);
    expect(resolveSysfsBase(root)).toBe(571);
    expect(bcmToSysfs(4, 571)).toBe(575);
  });

  it('says sysfs GPIO is absent, and how to fix it, when /sys/class/gpio is missing', () => {
    const root = layout([]);
    rmSync(root, { recursive: true });
    expect(() => resolveSysfsBase(root)).toThrow(/sysfs GPIO is absent: .* does not exist/);
    expect(() => resolveSysfsBase(root)).toThrow(/gpio\.driver: simulated/);
    expect(() => resolveSysfsBase(join(root, 'nowhere'))).toThrow(/CONFIG_GPIO_SYSFS/);
  });

  it('refuses an unknown layout, listing what it found', () => {
    const root = layout([
      { chip: 'gpiochip0', label: 'INT34C5:00', base: 0, ngpio: 360 },
      { chip: 'gpiochip360', label: 'ftdi-cbus', base: 360, ngpio: 4 },
    ]);
    expect(() => resolveSysfsBase(root)).toThrow(
      /unknown GPIO layout .*expected a gpiochip labelled pinctrl-rp1, pinctrl-bcm2711, pinctrl-bcm2835 \(found gpiochip0 "INT34C5:00" base 0, gpiochip360 "ftdi-cbus" base 360\)/,
    );
    expect(() => resolveSysfsBase(layout([]))).toThrow(/found no gpiochip at all/);
  });

  it('maps only header pins', () => {
    expect(() => bcmToSysfs(28, 512)).toThrow(/not a header pin/);
    expect(() => bcmToSysfs(-1, 0)).toThrow(/not a header pin/);
    expect(bcmToSysfs(0, 512)).toBe(512);
    expect(bcmToSysfs(27, 512)).toBe(539);
  });
});
