// `oag outputs-safe --config FILE`: every output to its safe level, from outside the gateway. The unit runs it as
// ExecStopPost, after any end of the service: a clean stop (the pins are already safe: the same level again), a crash,
// and the ends no handler sees (the watchdog's SIGABRT, SIGKILL after TimeoutStopSec, the OOM killer), which leave a
// strike mid-pulse energised until something writes the pin. It reads only `hardware` and `lock`, and needs no key,
// store or policy, so that whatever broke the gateway cannot break this too.
import type { Command } from 'commander';
import type { GpioDriverProbes } from '../../firmware-bridge/gpio/gpiod-driver.js';
import type { SysfsFiles } from '../../firmware-bridge/gpio/sysfs-safe.js';
import type { HardwareConfig } from '../../firmware-bridge/config.js';
import type { GpiodTools } from '../../firmware-bridge/gpio/gpiod-tools.js';
import { processIo, type CommandIo } from './schedule.js';

export interface OutputsSafeOptions {
  files?: SysfsFiles;
  exportWaitMs?: number;
  /** systemd's SERVICE_RESULT, EXIT_CODE and EXIT_STATUS, for the log line that says what ended the gateway. */
  env?: NodeJS.ProcessEnv;
  /** Under gpio.driver gpiod or auto: how gpioset runs, and what auto looks for. */
  gpiod?: GpioDriverProbes;
}

export async function runOutputsSafe(file: string, io: CommandIo, options: OutputsSafeOptions = {}): Promise<number> {
  const { loadDoorHardware, ConfigError } = await import('../../gateway/config.js');
  const { driveOutputsSafe } = await import('../../firmware-bridge/gpio/sysfs-safe.js');
  const env = options.env ?? process.env;
  const after = env.SERVICE_RESULT === undefined ? '' : ` after the gateway ended (${[env.SERVICE_RESULT, env.EXIT_CODE, env.EXIT_STATUS].filter(Boolean).join(' ')})`;
  let hardware;
  try {
    hardware = loadDoorHardware(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`outputs-safe: ${file}: cannot tell the outputs' safe levels, nothing written${after}\n`);
    for (const line of error.errors) io.err(`  ${line}\n`);
    return 1;
  }
  let result;
  try {
    const { resolveGpioDriver } = await import('../../firmware-bridge/gpio/gpiod-driver.js');
    const resolved = await resolveGpioDriver(hardware.gpio, options.gpiod);
    if (resolved.driver === 'gpiod' && resolved.tools !== undefined) return await gpiodSafe(hardware, resolved.tools, io, after, options.gpiod);
    // `auto` that chose sysfs drives through sysfs.
    const sysfs = resolved.driver === 'sysfs' ? { ...hardware, gpio: { ...hardware.gpio, driver: 'sysfs' as const } } : hardware;
    result = driveOutputsSafe(sysfs, { files: options.files, exportWaitMs: options.exportWaitMs });
  } catch (error) {
    io.err(`outputs-safe: ${(error as Error).message}${after}\n`);
    return 1;
  }
  if (result.driver === 'simulated') {
    io.out(`outputs-safe: gpio.driver is simulated: no pin to drive${after}\n`);
    return 0;
  }
  const done = result.writes.filter((w) => w.error === undefined).map((w) => `${w.output} BCM ${w.bcm} ${w.level === 1 ? 'high' : 'low'}`);
  const failed = result.writes.filter((w) => w.error !== undefined);
  if (done.length > 0) io.out(`outputs-safe: ${done.join(', ')} (${result.chip})${after}\n`);
  for (const w of failed) io.err(`outputs-safe: ${w.output} BCM ${w.bcm} (gpio${w.gpio}) could not be driven ${w.level === 1 ? 'high' : 'low'}: ${w.error}\n`);
  return failed.length > 0 ? 1 : 0;
}

/** Through gpioset, each line set and let go: the kernel and, in the end, the wiring keep it safe (docs/hardware.md). */
async function gpiodSafe(hardware: HardwareConfig, tools: GpiodTools, io: CommandIo, after: string, probes: GpioDriverProbes | undefined): Promise<number> {
  const { setOutputsSafeGpiod } = await import('../../firmware-bridge/gpio/gpiod-safe.js');
  const { headerChip } = await import('../../firmware-bridge/gpio/gpiod-driver.js');
  const { realGpiodSpawn } = await import('../../firmware-bridge/gpio/gpiod-tools.js');
  const writes = await setOutputsSafeGpiod(hardware, tools, probes?.spawn ?? realGpiodSpawn);
  const done = writes.filter((w) => w.error === undefined).map((w) => `${w.output} BCM ${w.bcm} ${w.level === 1 ? 'high' : 'low'}`);
  const failed = writes.filter((w) => w.error !== undefined);
  if (done.length > 0) io.out(`outputs-safe: ${done.join(', ')} (${headerChip(hardware.gpio)}, gpioset ${tools.version})${after}\n`);
  for (const w of failed) io.err(`outputs-safe: ${w.output} BCM ${w.bcm} (${headerChip(hardware.gpio)} line ${w.bcm}) could not be set ${w.level === 1 ? 'high' : 'low'}: ${w.error}\n`);
  return failed.length > 0 ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('outputs-safe')
    .description("drive every output to its safe level through sysfs or gpioset (the gateway unit's ExecStopPost)")
    .requiredOption('-c, --config <file>', 'gateway config file (YAML): only hardware and lock are read')
    .action(async (options: { config: string }) => {
      process.exitCode = await runOutputsSafe(options.config, processIo);
    });
}
