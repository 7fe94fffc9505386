// Every output to its safe level through sysfs, from a fresh process: what the unit's ExecStopPost runs once the
// gateway has ended, whichever way it ended. A watchdog kill (SIGABRT) or a SIGKILL runs no handler of the gateway's
// own, and leaves each pin exported at whatever level it had, a strike mid-pulse included. Plain file writes, no
// onoff: nothing to load or build that could fail on the way to a safe relay.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { everyOutputConfig, type HardwareConfig } from '../config.js';
import type { OutputPinName } from '../types.js';
import { levelFor, type BinaryValue } from './onoff.js';
import { bcmToSysfs, findHeaderChip } from './sysfs-base.js';

/** What is done to the files; injectable, so that tests can play the kernel's side of `export`. */
export interface SysfsFiles {
  exists(path: string): boolean;
  write(path: string, text: string): void;
}

export const realSysfsFiles: SysfsFiles = {
  exists: (path) => existsSync(path),
  write: (path, text) => writeFileSync(path, text),
};

export interface SafeLevelWrite {
  output: OutputPinName;
  bcm: number;
  gpio: number;
  level: BinaryValue;
  /** Set when the pin could not be driven; the others are still tried. */
  error?: string | undefined;
}

export type SafeLevelsResult = { driver: 'simulated' } | { driver: 'sysfs'; chip: string; writes: SafeLevelWrite[] };

export interface DriveSafeOptions {
  files?: SysfsFiles;
  /** How long to wait for udev to hand a freshly exported pin's files to the gpio group. */
  exportWaitMs?: number;
}

/**
 * Writes `high` or `low` to each output pin's `direction`: output and level in one raw write (the kernel ignores
 * `active_low` for it), so a pin that is already an output at its safe level does not glitch. A pin not exported
 * (a first boot, another program unexported it) is exported first.
 */
export function driveOutputsSafe(config: HardwareConfig, options: DriveSafeOptions = {}): SafeLevelsResult {
  if (config.gpio.driver !== 'sysfs') return { driver: 'simulated' };
  const files = options.files ?? realSysfsFiles;
  const root = config.gpio.sysfsRoot;
  const chip = findHeaderChip(root);
  const writes: SafeLevelWrite[] = [];
  for (const [output, outputConfig] of everyOutputConfig(config)) {
    // The schema requires every pin under sysfs.
    if (outputConfig.pin === undefined) continue;
    const gpio = bcmToSysfs(outputConfig.pin, chip.base);
    const level = levelFor(outputConfig.safe === 'active', outputConfig.activeLevel);
    const write: SafeLevelWrite = { output, bcm: outputConfig.pin, gpio, level };
    try {
      const dir = join(root, `gpio${gpio}`);
      if (!files.exists(dir)) files.write(join(root, 'export'), String(gpio));
      writeUntil(files, join(dir, 'direction'), level === 1 ? 'high' : 'low', options.exportWaitMs ?? 2000);
    } catch (error) {
      write.error = error instanceof Error ? error.message : String(error);
    }
    writes.push(write);
  }
  return { driver: 'sysfs', chip: chip.chip, writes };
}

/** After an export, udev takes a moment to give the new files to the gpio group: retry until it has. */
function writeUntil(files: SysfsFiles, path: string, text: string, waitMs: number): void {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      files.write(path, text);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'EACCES' && code !== 'ENOENT') || Date.now() >= until) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
