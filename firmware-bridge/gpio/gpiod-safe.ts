// `oag outputs-safe` on the character device: each output's safe level set by a gpioset that sets it and exits.
// What holds the line afterwards is the kernel's business (a Raspberry Pi kernel leaves a released line driven at its
// last level; one that turns it into an input leaves it to the pull) and, in the end, the wiring's: a released line
// must mean the safe state (docs/hardware.md). Each line on its own, so that one busy line does not stop the others.
import { everyOutputConfig, type HardwareConfig } from '../config.js';
import type { OutputPinName } from '../types.js';
import { gpiosetOnceArgs, lastLine, runTool, describeExit, type GpiodSpawn, type GpiodTools } from './gpiod-tools.js';
import { headerChip } from './gpiod-driver.js';
import { levelFor, type BinaryValue } from './onoff.js';

export interface GpiodSafeWrite {
  output: OutputPinName;
  bcm: number;
  level: BinaryValue;
  /** Set when gpioset failed; the others are still tried. */
  error?: string | undefined;
}

export async function setOutputsSafeGpiod(config: HardwareConfig, tools: GpiodTools, spawn: GpiodSpawn): Promise<GpiodSafeWrite[]> {
  const writes: GpiodSafeWrite[] = [];
  for (const [output, outputConfig] of everyOutputConfig(config)) {
    // The schema requires every pin under gpiod.
    if (outputConfig.pin === undefined) continue;
    const level = levelFor(outputConfig.safe === 'active', outputConfig.activeLevel);
    const write: GpiodSafeWrite = { output, bcm: outputConfig.pin, level };
    try {
      const result = await runTool(spawn, 'gpioset', gpiosetOnceArgs(tools, headerChip(config.gpio), outputConfig.pin, level));
      if (result.code !== 0) write.error = `gpioset: ${describeExit(result.code, result.signal, lastLine(result.stderr))}`;
    } catch (error) {
      write.error = error instanceof Error ? error.message : String(error);
    }
    writes.push(write);
  }
  return writes;
}
