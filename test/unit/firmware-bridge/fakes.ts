// Test doubles for the hardware seams: an onoff-shaped Gpio class that records every operation in order,
// and sysfs folders laid out like each kernel's /sys/class/gpio.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { BinaryValue, GpioClass, GpioPin } from '../../../firmware-bridge/gpio/onoff.js';

export type GpioOp =
  | { op: 'export'; gpio: number; direction: string; edge: string | undefined; activeLow: boolean | undefined }
  | { op: 'write'; gpio: number; value: BinaryValue }
  | { op: 'unexport'; gpio: number };

export interface FakeGpioWorld {
  Gpio: GpioClass;
  ops: GpioOp[];
  pins: Map<number, FakePin>;
  /** Make writes to these sysfs numbers throw (a pin that fails). */
  failWrites: Set<number>;
  /** Make exporting these sysfs numbers throw. */
  failExports: Set<number>;
  /** The level an input reads when exported; default 1 (contacts open against a pull-up). */
  inputLevels: Map<number, BinaryValue>;
  /** Called after each write lands, inside the write: something that happens in that instant (a tap, a command). */
  afterWrite: ((gpio: number, value: BinaryValue) => void) | undefined;
}

export interface FakePin extends GpioPin {
  level: BinaryValue;
  /** Drive an input pin electrically and fire its interrupt. */
  drive(level: BinaryValue): void;
}

export function fakeGpio(shared: GpioOp[] = []): FakeGpioWorld {
  const pins = new Map<number, FakePin>();
  const failWrites = new Set<number>();
  const failExports = new Set<number>();
  const inputLevels = new Map<number, BinaryValue>();
  const world = { afterWrite: undefined as FakeGpioWorld['afterWrite'] };
  class FakeGpio implements FakePin {
    level: BinaryValue;
    private listeners: ((err: Error | null | undefined, value: BinaryValue) => void)[] = [];
    constructor(
      private readonly gpio: number,
      direction: string,
      edge?: string,
      options?: { activeLow?: boolean },
    ) {
      if (failExports.has(gpio)) throw new Error(`EACCES: export ${gpio}`);
      shared.push({ op: 'export', gpio, direction, edge, activeLow: options?.activeLow });
      this.level = direction === 'in' ? (inputLevels.get(gpio) ?? 1) : direction === 'high' ? 1 : 0;
      pins.set(gpio, this);
    }
    readSync(): BinaryValue {
      return this.level;
    }
    writeSync(value: BinaryValue): void {
      if (failWrites.has(this.gpio)) throw new Error(`EIO: write ${this.gpio}`);
      shared.push({ op: 'write', gpio: this.gpio, value });
      this.level = value;
      world.afterWrite?.(this.gpio, value);
    }
    watch(callback: (err: Error | null | undefined, value: BinaryValue) => void): void {
      this.listeners.push(callback);
    }
    unwatchAll(): void {
      this.listeners = [];
    }
    unexport(): void {
      shared.push({ op: 'unexport', gpio: this.gpio });
    }
    drive(level: BinaryValue): void {
      this.level = level;
      for (const listener of this.listeners) listener(null, level);
    }
  }
  return Object.assign(world, { Gpio: FakeGpio, ops: shared, pins, failWrites, failExports, inputLevels });
}

export interface ChipSpec {
  chip: string;
  label?: string;
  base: number;
  ngpio?: number;
}

/** A temp folder shaped like /sys/class/gpio with the given gpiochips (plus export/unexport files). */
export function sysfsLayout(chips: ChipSpec[]): { root: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'oag-sysfs-'));
  const root = join(dir, 'gpio');
  mkdirSync(root);
  writeFileSync(join(root, 'export'), '');
  writeFileSync(join(root, 'unexport'), '');
  for (const chip of chips) {
    mkdirSync(join(root, chip.chip));
    writeFileSync(join(root, chip.chip, 'base'), `${chip.base}\n`);
    if (chip.label !== undefined) writeFileSync(join(root, chip.chip, 'label'), `${chip.label}\n`);
    if (chip.ngpio !== undefined) writeFileSync(join(root, chip.chip, 'ngpio'), `${chip.ngpio}\n`);
  }
  return { root, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh sysfs layout for each test of the calling suite, removed after it; `root` is the current test's. */
export function sysfsPerTest(chips: ChipSpec[]): { readonly root: string; cleanup(): void } {
  let layout: ReturnType<typeof sysfsLayout> | undefined;
  beforeEach(() => {
    layout = sysfsLayout(chips);
  });
  afterEach(() => layout?.cleanup());
  return {
    get root() {
      if (layout === undefined) throw new Error('sysfsPerTest: root is only there inside a test');
      return layout.root;
    },
    cleanup: () => layout?.cleanup(),
  };
}

export const PI4_KERNEL_66: ChipSpec[] = [
  { chip: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
  { chip: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
];

export function recordingLogger(): { logger: { info: Log; warn: Log; error: Log }; lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string): Log => (obj, msg) => lines.push({ level, obj, msg });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

type Log = (obj: Record<string, unknown>, msg: string) => void;
