// The Raspberry Pi firmware's `config.txt` lines for a hardware config: what holds each pin from the first second of
// boot until the gateway takes over (20–60 s later), and what gives the inputs their pull-ups. sysfs can set neither,
// so the gateway config cannot: without these lines an output idles as an input with the SoC's default pull (BCM 0–8
// up, 9–27 down), and an active-low relay board on a pin driven low would be energised through every boot.
import { everyInputConfig, everyOutputConfig, type HardwareConfig } from './config.js';
import { levelFor } from './gpio/onoff.js';

/** `op,dh`: output, driven high; `op,dl`: driven low; `ip,pu`: input with its pull-up. */
export type BootPinMode = 'op,dh' | 'op,dl' | 'ip,pu';

/** Each pin the config uses, and how the firmware should hold it: outputs at their safe level, inputs pulled up. */
export function bootPinModes(hardware: HardwareConfig): Map<number, BootPinMode> {
  const modes = new Map<number, BootPinMode>();
  for (const [, output] of everyOutputConfig(hardware)) {
    if (output.pin === undefined) continue;
    modes.set(output.pin, levelFor(output.safe === 'active', output.activeLevel) === 1 ? 'op,dh' : 'op,dl');
  }
  // Every input is a contact to ground against the pull-up (docs/hardware.md, Inputs); a driven 3.3 V signal
  // overrides the pull.
  for (const [, input] of everyInputConfig(hardware)) {
    if (input.pin !== undefined) modes.set(input.pin, 'ip,pu');
  }
  return modes;
}

/** The lines themselves, one per mode, pins in order; under `[all]`, so that no model filter above them applies. */
export function bootConfigLines(hardware: HardwareConfig): string[] {
  const byMode = new Map<BootPinMode, number[]>();
  for (const [pin, mode] of bootPinModes(hardware)) byMode.set(mode, [...(byMode.get(mode) ?? []), pin]);
  const lines = ['[all]'];
  for (const mode of ['op,dh', 'op,dl', 'ip,pu'] as const) {
    const pins = byMode.get(mode);
    if (pins !== undefined) lines.push(`gpio=${pins.sort((a, b) => a - b).join(',')}=${mode}`);
  }
  return lines;
}

/**
 * The pins and modes of `gpio=` lines as config.txt has them (`gpio=17,27=op,dh`, `gpio=20-21=ip,pu`); other lines,
 * comments and sections are skipped. A pin named twice keeps its last mode, as the firmware does.
 */
export function parseBootConfigLines(text: string): Map<number, string> {
  const modes = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const match = /^\s*gpio=([\d,-]+)=([a-z,]+)\s*(?:#.*)?$/.exec(raw);
    if (match === null) continue;
    for (const part of match[1]!.split(',')) {
      const [from, to = from] = part.split('-').map(Number);
      for (let pin = from!; pin <= to!; pin++) modes.set(pin, match[2]!);
    }
  }
  return modes;
}
